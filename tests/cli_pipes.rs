//! `authgate loadtest run` piped into a reader that stops early (`| head`)
//! ends quietly, like other Unix tools, instead of panicking on EPIPE.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

#[test]
fn loadtest_output_into_a_closed_pipe_exits_quietly() {
    let up = common::Upstream::start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args(["loadtest", "run", "--url", &format!("http://{}", up.addr)])
        .args(["--requests", "50", "--warmup", "0s", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end at once: every write to stdout then fails with EPIPE.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(up.recorder.len() >= 50, "the run happened");
}
