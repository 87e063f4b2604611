//! A raw TCP upstream for the tests that must see the exact request head
//! authgate wrote (request line, header-name spelling) or that need an
//! upstream misbehaving on purpose (reset, stall, close).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the upstream does with each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Read one request head, record it, answer 200 `{"ok":true}` and close.
    Answer,
    /// Read the request head, then reset the connection (RST).
    Reset,
    /// Read the request head and never answer (until the test ends).
    Stall,
    /// Accept and close at once, before reading anything.
    Close,
    /// Read the request head, wait this many milliseconds, then answer.
    Delay(u64),
}

/// A raw upstream on an ephemeral loopback port.
pub struct RawUpstream {
    pub addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
}

impl RawUpstream {
    /// Start one that behaves as `behaviour` for every connection.
    pub fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind raw upstream");
        let addr = listener.local_addr().expect("addr");
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let seen = seen.clone();
                // One thread a connection: concurrent requests overlap.
                std::thread::spawn(move || serve(conn, behaviour, &seen));
            }
        });
        Self { addr, heads }
    }

    /// Request heads received so far, as text.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

fn serve(mut conn: TcpStream, behaviour: Behaviour, seen: &Mutex<Vec<String>>) {
    if behaviour == Behaviour::Close {
        return;
    }
    let head = read_head(&mut conn);
    seen.lock().unwrap().push(head);
    match behaviour {
        Behaviour::Answer | Behaviour::Delay(_) => {
            if let Behaviour::Delay(ms) = behaviour {
                std::thread::sleep(Duration::from_millis(ms));
            }
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                  content-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}",
            );
        }
        // SO_LINGER 0: close sends RST instead of FIN.
        Behaviour::Reset => {
            let _ = socket_linger_zero(conn);
        }
        // Hold the connection open, silent, until the test process ends.
        Behaviour::Stall => std::thread::sleep(Duration::from_secs(3600)),
        Behaviour::Close => {}
    }
}

fn read_head(conn: &mut TcpStream) -> String {
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn socket_linger_zero(conn: TcpStream) -> std::io::Result<()> {
    socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO))
}

/// The header names (lower-cased) and values of a raw request head.
pub fn header_pairs(head: &str) -> Vec<(String, String)> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}
