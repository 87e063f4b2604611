//! A refused request keeps its connection when its body is small: the
//! body is drained, so the next request on the same connection is read
//! correctly. A large declared body closes the connection instead (refusing
//! must stay cheap).

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const ROUTE: &str =
    "[[routes]]\npath = \"/k\"\nupstream = \"echo\"\nauth = { accept = [\"api_key\"] }\n";

/// Read one response (head + Content-Length body); `None` when the
/// connection closed first.
fn response(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some(head)
}

#[test]
fn a_refused_post_with_a_small_body_keeps_the_connection() {
    let up = Upstream::start();
    let gate = Gate::start(&up, ROUTE);
    let mut s = TcpStream::connect(("127.0.0.1", gate.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = "{\"task\":\"x\"}".repeat(100);
    write!(
        s,
        "POST /k HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let first = response(&mut s).expect("the refusal");
    assert!(first.starts_with("HTTP/1.1 401"), "{first}");
    assert!(
        !first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );
    write!(s, "GET /k HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let second = response(&mut s).expect("the connection survived the refused POST");
    assert!(second.starts_with("HTTP/1.1 401"), "{second}");
}

#[test]
fn a_refused_request_with_a_large_body_closes_the_connection() {
    let up = Upstream::start();
    let gate = Gate::start(&up, ROUTE);
    let mut s = TcpStream::connect(("127.0.0.1", gate.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Declares 1 MiB and sends only the head: nothing is read for it.
    write!(
        s,
        "POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n"
    )
    .unwrap();
    let first = response(&mut s).expect("the refusal");
    assert!(first.starts_with("HTTP/1.1 401"), "{first}");
    assert!(
        first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );
}
