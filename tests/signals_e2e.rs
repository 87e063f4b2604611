//! A stop signal is never lost, even when authgate inherits SIGINT as
//! ignored (what a background job of a non-interactive shell gets): the
//! process restores the default action at start, so a SIGINT before any
//! handler of its own is installed stops it.

#![cfg(unix)]

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigint_stops_authgate_even_when_inherited_as_ignored() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authgate"));
    cmd.args(["echo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "echo must be running before the signal"
    );
    // SAFETY: signalling our own child by pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("SIGINT was ignored: the process kept running");
}
