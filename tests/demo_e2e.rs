//! `authgate demo` serves, and every curl line it prints behaves as its
//! comment says (the status each comment block starts with).

mod common;

use common::free_port;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn demo_curl_lines_behave_as_printed() {
    if Command::new("curl").arg("--version").output().is_err() {
        panic!("curl is required for this test (apt-get install curl)");
    }
    let (port, admin) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args([
            "demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--admin",
            &format!("127.0.0.1:{admin}"),
            "--dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let done = line.contains("Ctrl-C");
        lines.push(line.trim_end().to_string());
        if done {
            break;
        }
    }
    // Wait until the proxy accepts connections.
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut expected: Option<u16> = None;
    let mut checked = 0;
    let mut tools = 0;
    let mut statuses = std::collections::BTreeSet::new();
    for line in &lines {
        if let Some(comment) = line.strip_prefix("# ") {
            expected = comment
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok());
            continue;
        }
        if let Some(args) = line.strip_prefix("authgate signin-client ") {
            // A tool line (the sign-in walk-through): it must succeed.
            let out = Command::new(env!("CARGO_BIN_EXE_authgate"))
                .arg("signin-client")
                .args(args.split_whitespace())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "demo line failed: {line}\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(text.contains("every step answered as expected"), "{text}");
            let last = if args.contains("wallet-tokens") {
                "7. the fresh token, revoked with its family → 401"
            } else {
                "7. the same request after revoke → 401"
            };
            assert!(text.contains(last), "{text}");
            tools += 1;
            continue;
        }
        let Some(rest) = line.strip_prefix("curl ") else {
            continue;
        };
        let Some(want) = expected else {
            // A block without a status: only the lines known here, each
            // checked for what it shows; any other line fails the test.
            check_informational(line, &mut checked);
            continue;
        };
        let rest = rest.trim_start_matches("-si ").trim_start_matches("-s ");
        // A line that saves its answer (`-o FILE`, read by the next lines)
        // keeps its own output file.
        let cmd = if rest.split_whitespace().rev().nth(1) == Some("-o") {
            format!("curl -s -w '%{{http_code}}' {rest}")
        } else {
            format!("curl -s -o /dev/null -w '%{{http_code}}' {rest}")
        };
        let out = Command::new("sh").arg("-c").arg(&cmd).output().unwrap();
        let got: u16 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        assert_eq!(got, want, "demo line did not behave as printed: {line}");
        statuses.insert(got);
        checked += 1;
    }
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    assert!(
        checked >= 9,
        "too few curl lines checked ({checked}):\n{}",
        lines.join("\n")
    );
    assert_eq!(tools, 2, "both sign-in walk-through lines ran");
    for s in [200, 401, 403, 404] {
        assert!(statuses.contains(&s), "the demo shows no {s}");
    }
}

/// Run a demo line printed under a comment without a status: the admin's
/// JWKS (a key set with one key) and the metrics grep (the requests just
/// sent, counted). Any other line is a line this test does not check.
fn check_informational(line: &str, checked: &mut usize) {
    let out = Command::new("sh").arg("-c").arg(line).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if line.ends_with("/.well-known/jwks.json") {
        let jwks: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{line}: not JSON ({e}): {text}"));
        assert_eq!(
            jwks["keys"].as_array().map(Vec::len),
            Some(1),
            "{line}: {text}"
        );
        assert_eq!(jwks["keys"][0]["kty"], "OKP", "{line}: {text}");
    } else if line.ends_with("/metrics | grep authgate_requests_total") {
        assert!(
            text.lines()
                .any(|l| l.starts_with("authgate_requests_total{") && l.contains("status=\"200\"")),
            "{line}: {text}"
        );
    } else {
        panic!("demo line with no expectation, not checked: {line}");
    }
    *checked += 1;
}
