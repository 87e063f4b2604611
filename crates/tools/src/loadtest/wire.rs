//! One keep-alive HTTP/1.1 connection written and read directly: the
//! request is encoded into a reused buffer and written in one call, the
//! response head is parsed with `httparse` (the parser hyper itself uses)
//! and its body read by `Content-Length`, chunked framing or to the close.
//! No task per connection, no channel between the worker and the socket,
//! no per-request allocation once warm: the tool's cost per request stays
//! near wrk's, so it does not become what a run measures.

use super::report::{Failure, Outcome};
use bytes::Bytes;
use http::Request;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most response headers read.
const MAX_HEADERS: usize = 64;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// How a response's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// This many bytes.
    Length(usize),
    /// Chunked transfer coding.
    Chunked,
    /// At the end of the connection.
    Close,
}

/// Why an exchange failed.
#[derive(Debug, PartialEq, Eq)]
enum WireError {
    /// The peer closed before any byte of the response (on a reused
    /// connection: it was closed while idle).
    ClosedBeforeResponse,
    /// Anything else: I/O, a malformed or truncated response.
    Broken,
}

impl From<std::io::Error> for WireError {
    fn from(_: std::io::Error) -> Self {
        WireError::Broken
    }
}

/// One keep-alive connection, opened on first use and reopened after an
/// error or when the server closes it.
pub struct Connection {
    stream: Option<TcpStream>,
    out: Vec<u8>,
    buf: Vec<u8>,
    timeout: Duration,
}

impl Connection {
    /// A connection (not yet open) whose requests time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            stream: None,
            out: Vec::with_capacity(1024),
            buf: Vec::with_capacity(16 * 1024),
            timeout,
        }
    }

    /// Open the connection now if it is not open (used to connect before
    /// the clock starts).
    pub async fn open(&mut self, addr: &str) -> Result<(), Failure> {
        if self.stream.is_none() {
            self.stream = Some(self.connect(addr).await?);
        }
        Ok(())
    }

    async fn connect(&self, addr: &str) -> Result<TcpStream, Failure> {
        let stream = tokio::time::timeout(self.timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| Failure::Connect)?
            .map_err(|_| Failure::Connect)?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Send `req` to `addr` and read the whole response.
    pub async fn send(&mut self, addr: &str, req: &Request<Bytes>) -> Outcome {
        encode(req, &mut self.out);
        // A connection the server closed while idle is replaced silently,
        // as any keep-alive client does; it is not a failed request.
        for attempt in 0..2 {
            let reused = self.stream.is_some();
            let mut stream = match self.stream.take() {
                Some(s) => s,
                None => match self.connect(addr).await {
                    Ok(s) => s,
                    Err(f) => return Outcome::Failed(f),
                },
            };
            let exchange = exchange(&mut stream, &self.out, &mut self.buf);
            match tokio::time::timeout(self.timeout, exchange).await {
                Ok(Ok((status, keep_alive))) => {
                    if keep_alive {
                        self.stream = Some(stream);
                    }
                    return Outcome::Status(status);
                }
                Ok(Err(WireError::ClosedBeforeResponse)) if reused && attempt == 0 => continue,
                Ok(Err(_)) => return Outcome::Failed(Failure::Io),
                // Mid-response: the connection cannot be reused.
                Err(_) => return Outcome::Failed(Failure::Timeout),
            }
        }
        Outcome::Failed(Failure::Io)
    }
}

/// `req` as HTTP/1.1 bytes into `out`: request line, headers, a
/// `Content-Length` when there is a body (or the method is POST), the body.
fn encode(req: &Request<Bytes>, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in req.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let body = req.body();
    if !body.is_empty() || req.method() == http::Method::POST {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Write `out`, read one response: its status and whether the connection
/// stays open.
async fn exchange(
    stream: &mut TcpStream,
    out: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(u16, bool), WireError> {
    // Until a byte of the response is in, any failure (a reset, a write to
    // a closed socket, an end of stream) means the server had closed the
    // connection before it read the request.
    stream
        .write_all(out)
        .await
        .map_err(|_| WireError::ClosedBeforeResponse)?;
    buf.clear();
    let (status, framing, keep_alive, head_len) = loop {
        let n = match read_more(stream, buf).await {
            Ok(n) => n,
            Err(_) if buf.is_empty() => return Err(WireError::ClosedBeforeResponse),
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Err(if buf.is_empty() {
                WireError::ClosedBeforeResponse
            } else {
                WireError::Broken
            });
        }
        if let Some(head) = parse_head(buf)? {
            break head;
        }
        if buf.len() > MAX_HEAD {
            return Err(WireError::Broken);
        }
    };
    match framing {
        Framing::Length(n) => {
            while buf.len() < head_len + n {
                if read_more(stream, buf).await? == 0 {
                    return Err(WireError::Broken);
                }
            }
        }
        Framing::Chunked => {
            let mut pos = head_len;
            loop {
                match chunks_end(buf, pos)? {
                    Progress::Done => break,
                    Progress::NeedMore(at) => pos = at,
                }
                if read_more(stream, buf).await? == 0 {
                    return Err(WireError::Broken);
                }
            }
        }
        Framing::Close => while read_more(stream, buf).await? > 0 {},
    }
    Ok((status, keep_alive && framing != Framing::Close))
}

/// Read what is available into the spare capacity of `buf`.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(16 * 1024);
    }
    stream.read_buf(buf).await
}

/// The response head in `buf`, once complete: status, body framing,
/// keep-alive, head length.
fn parse_head(buf: &[u8]) -> Result<Option<(u16, Framing, bool, usize)>, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(WireError::Broken),
    };
    let status = resp.code.ok_or(WireError::Broken)?;
    let mut length = None;
    let mut chunked = false;
    let mut keep_alive = resp.version == Some(1);
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(WireError::Broken)?;
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            let v = h.value.trim_ascii();
            if v.eq_ignore_ascii_case(b"close") {
                keep_alive = false;
            } else if v.eq_ignore_ascii_case(b"keep-alive") {
                keep_alive = true;
            }
        }
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    Ok(Some((status, framing, keep_alive, head_len)))
}

/// How far a chunked body in `buf` has come.
#[derive(Debug, PartialEq, Eq)]
enum Progress {
    /// The last chunk and the trailers are in.
    Done,
    /// More is needed; resume parsing at this offset.
    NeedMore(usize),
}

/// Walk the chunks of a body starting at `pos` in `buf`.
fn chunks_end(buf: &[u8], mut pos: usize) -> Result<Progress, WireError> {
    loop {
        let (size_len, size) = match httparse::parse_chunk_size(&buf[pos..]) {
            Ok(httparse::Status::Complete(c)) => c,
            Ok(httparse::Status::Partial) => return Ok(Progress::NeedMore(pos)),
            Err(_) => return Err(WireError::Broken),
        };
        let size = usize::try_from(size).map_err(|_| WireError::Broken)?;
        if size == 0 {
            // Trailers end with an empty line; without trailers that is
            // the CRLF right after the last chunk's size line.
            let rest = &buf[pos + size_len..];
            if rest.starts_with(b"\r\n") {
                return Ok(Progress::Done);
            }
            return match rest.windows(4).position(|w| w == b"\r\n\r\n") {
                Some(_) => Ok(Progress::Done),
                None => Ok(Progress::NeedMore(pos)),
            };
        }
        let end = pos + size_len + size + 2;
        if buf.len() < end {
            return Ok(Progress::NeedMore(pos));
        }
        pos = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_encoded_as_http_1_1() {
        let mut req = Request::new(Bytes::from_static(b"{}"));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = "/a?b=1".parse().unwrap();
        req.headers_mut()
            .insert(http::header::HOST, "h:1".parse().unwrap());
        let mut out = Vec::new();
        encode(&req, &mut out);
        assert_eq!(
            out,
            b"POST /a?b=1 HTTP/1.1\r\nhost: h:1\r\ncontent-length: 2\r\n\r\n{}"
        );
        let get = Request::new(Bytes::new());
        encode(&get, &mut out);
        assert_eq!(out, b"GET / HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn heads_give_status_framing_and_keep_alive() {
        let h = |s: &str| parse_head(s.as_bytes());
        assert_eq!(
            h("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"),
            Ok(Some((200, Framing::Length(5), true, 38)))
        );
        assert_eq!(h("HTTP/1.1 200 OK\r\ncontent-le"), Ok(None));
        assert_eq!(
            h("HTTP/1.1 401 U\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"),
            Ok(Some((401, Framing::Chunked, false, 65)))
        );
        assert_eq!(
            h("HTTP/1.0 200 OK\r\n\r\n"),
            Ok(Some((200, Framing::Close, false, 19)))
        );
        assert_eq!(
            h("HTTP/1.1 204 No\r\ncontent-length: 9\r\n\r\n"),
            Ok(Some((204, Framing::Length(0), true, 38)))
        );
        assert_eq!(
            h("HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n"),
            Err(WireError::Broken)
        );
        assert_eq!(h("garbage\r\n\r\n"), Err(WireError::Broken));
    }

    /// A server that answers each connection's first request with
    /// `answer`, then closes it.
    async fn one_shot_server(answer: &'static [u8]) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(answer).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_connection_closed_while_idle_is_replaced_not_failed() {
        // Keep-alive by its headers, closed by the server after one answer,
        // the body chunked in two pieces.
        let addr = one_shot_server(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        )
        .await;
        let mut c = Connection::new(Duration::from_secs(2));
        let req = Request::new(Bytes::new());
        for _ in 0..3 {
            assert_eq!(c.send(&addr, &req).await, Outcome::Status(200));
        }
        // A server that answers garbage, or a body cut short by the close,
        // is an I/O failure, not a status.
        for answer in [
            &b"nonsense\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
        ] {
            let addr = one_shot_server(answer).await;
            assert_eq!(
                Connection::new(Duration::from_secs(2))
                    .send(&addr, &req)
                    .await,
                Outcome::Failed(Failure::Io),
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
    }

    #[test]
    fn chunked_bodies_end_at_the_last_chunk() {
        let body = b"5\r\nhello\r\n0\r\n\r\n";
        assert_eq!(chunks_end(body, 0), Ok(Progress::Done));
        assert_eq!(chunks_end(&body[..9], 0), Ok(Progress::NeedMore(0)));
        assert_eq!(chunks_end(&body[..12], 0), Ok(Progress::NeedMore(10)));
        let trailers = b"0\r\nx-t: 1\r\n\r\n";
        assert_eq!(chunks_end(trailers, 0), Ok(Progress::Done));
        assert_eq!(chunks_end(&trailers[..8], 0), Ok(Progress::NeedMore(0)));
        assert_eq!(chunks_end(b"zz\r\n", 0), Err(WireError::Broken));
    }
}
