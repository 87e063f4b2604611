//! A tiny echo upstream (HTTP/1.1 and h2c): it answers every request with a
//! JSON document of the method, path, query, headers and body it received.
//! Used by `authgate demo`, by `authgate echo`, and by the tests.
//!
//! With `--fixed` (benchmarks) it answers every request with the same small
//! body instead, so the response, and the upstream's own work, do not grow
//! with the headers a proxy adds.

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Map, Value};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// Keeps every request description the echo served (tests assert on it).
#[derive(Clone, Default, Debug)]
pub struct Recorder(Arc<Mutex<Vec<Value>>>);

impl Recorder {
    /// All requests seen so far.
    pub fn requests(&self) -> Vec<Value> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Number of requests seen.
    pub fn len(&self) -> usize {
        self.0.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Whether no request was seen.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forget what was seen.
    pub fn clear(&self) {
        if let Ok(mut v) = self.0.lock() {
            v.clear();
        }
    }

    fn push(&self, doc: Value) {
        if let Ok(mut v) = self.0.lock() {
            v.push(doc);
        }
    }
}

/// Describe a request as JSON. Header values appear as a string, or an array
/// when the header was sent more than once.
pub fn describe(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Value {
    let mut h = Map::new();
    for name in headers.keys() {
        let values: Vec<Value> = headers
            .get_all(name)
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let v = if values.len() == 1 {
            values.into_iter().next().unwrap_or(Value::Null)
        } else {
            Value::Array(values)
        };
        h.insert(name.as_str().to_string(), v);
    }
    let body = match std::str::from_utf8(body) {
        Ok(s) => json!({"text": s}),
        Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(body)}),
    };
    json!({"method": method, "path": path, "query": query, "headers": h, "body": body})
}

/// What the echo answers.
#[derive(Clone, Debug)]
enum Mode {
    /// The request described as JSON, optionally recorded.
    Describe(Option<Recorder>),
    /// [`FIXED_BODY`], whatever the request.
    Fixed,
}

/// The body of every `--fixed` response.
pub const FIXED_BODY: &str = r#"{"ok":true}"#;

async fn handle(req: Request<Incoming>, mode: Mode) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let recorder = match mode {
        Mode::Describe(recorder) => recorder,
        Mode::Fixed => return Ok(json_response(Bytes::from_static(FIXED_BODY.as_bytes()))),
    };
    let doc = describe(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        &body,
    );
    if let Some(r) = &recorder {
        r.push(doc.clone());
    }
    Ok(json_response(Bytes::from(doc.to_string())))
}

fn json_response(body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Serve echo on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener) {
    serve_with(listener, None).await
}

/// Answer every request on `listener` with [`FIXED_BODY`] (a fast upstream
/// for benchmarks) until the task is dropped.
pub async fn serve_fixed(listener: TcpListener) {
    accept_loop(listener, Mode::Fixed).await
}

/// Serve echo on `listener`, recording requests into `recorder` if given.
pub async fn serve_with(listener: TcpListener, recorder: Option<Recorder>) {
    accept_loop(listener, Mode::Describe(recorder)).await
}

async fn accept_loop(listener: TcpListener, mode: Mode) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mode = mode.clone();
        tokio::spawn(async move {
            let io = TokioIo::new(stream);
            let svc = hyper::service::service_fn(move |req| handle(req, mode.clone()));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(io, svc)
                .await;
        });
    }
}

/// Start echo on its own thread and runtime; returns the bound address.
pub fn spawn(addr: &str) -> std::io::Result<std::net::SocketAddr> {
    spawn_with(addr, None)
}

/// Start a recording echo on its own thread; returns the address and the recorder.
pub fn spawn_recording(addr: &str) -> std::io::Result<(std::net::SocketAddr, Recorder)> {
    let r = Recorder::default();
    spawn_with(addr, Some(r.clone())).map(|a| (a, r))
}

fn spawn_with(addr: &str, recorder: Option<Recorder>) -> std::io::Result<std::net::SocketAddr> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let local = std_listener.local_addr()?;
    std::thread::Builder::new()
        .name("echo-upstream".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "echo upstream runtime failed");
                    return;
                }
            };
            rt.block_on(async move {
                match TcpListener::from_std(std_listener) {
                    Ok(l) => serve_with(l, recorder).await,
                    Err(e) => tracing::error!(error = %e, "echo upstream listener failed"),
                }
            });
        })?;
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(serve: fn(TcpListener) -> tokio::task::JoinHandle<()>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = serve(listener);
        let body = reqwest::Client::new()
            .get(format!("http://{addr}/a/b?c=d"))
            .header("x-probe", "seen")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        server.abort();
        body
    }

    #[tokio::test]
    async fn fixed_mode_answers_the_same_body_whatever_the_request() {
        let described = get(|l| tokio::spawn(serve(l))).await;
        assert!(described.contains(r#""x-probe":"seen""#), "{described}");
        assert!(described.contains(r#""path":"/a/b""#), "{described}");
        let fixed = get(|l| tokio::spawn(serve_fixed(l))).await;
        assert_eq!(fixed, FIXED_BODY);
    }
}
