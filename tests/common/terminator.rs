//! A TLS upstream for tests of authgate's upstream TLS: it serves the test
//! certificate only to a client that asks for the expected SNI name, records
//! the SNI of every handshake and how each handshake ended, and answers any
//! request with `200` and a JSON body naming the SNI it was reached with.

use pingora::tls::{
    sign::CertifiedKey, ClientHello, CryptoProvider, ResolvesServerCert, ServerConfig, TlsAcceptor,
};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The running terminator (serves until the test's runtime stops).
pub struct Terminator {
    /// Where it listens.
    pub addr: SocketAddr,
    outcomes: Arc<Mutex<Vec<Result<(), String>>>>,
    resolver: Arc<BySni>,
}

impl Terminator {
    /// Listen on an ephemeral loopback port; present `tests/fixtures/tls`'s
    /// certificate when the client's SNI is `name`, abort the handshake otherwise.
    pub async fn start(name: &str) -> Self {
        pingora::tls::install_default_crypto_provider();
        let provider = CryptoProvider::get_default().expect("crypto provider");
        let cert = super::fixture("tls/cert.pem");
        let key = super::fixture("tls/key.pem");
        let (chain, key) =
            pingora::tls::load_certs_and_key_files(cert.to_str().unwrap(), key.to_str().unwrap())
                .expect("read the TLS fixture")
                .expect("a certificate and a key");
        let certified = CertifiedKey::from_der(chain, key, provider).expect("certified key");
        let resolver = Arc::new(BySni {
            name: name.to_string(),
            key: Arc::new(certified),
            snis: Mutex::default(),
        });
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let record = outcomes.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, record) = (acceptor.clone(), record.clone());
                tokio::spawn(async move {
                    let result = acceptor.accept(tcp).await;
                    let outcome = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
                    record.lock().unwrap().push(outcome);
                    if let Ok(tls) = result {
                        let sni = tls.get_ref().1.server_name().unwrap_or("").to_string();
                        answer(tls, sni).await;
                    }
                });
            }
        });
        Self {
            addr,
            outcomes,
            resolver,
        }
    }

    /// The SNI of every handshake so far (`None`: no SNI extension sent).
    pub fn snis(&self) -> Vec<Option<String>> {
        self.resolver.snis.lock().unwrap().clone()
    }

    /// How every finished handshake ended: `Ok`, or the server side's error text.
    pub fn outcomes(&self) -> Vec<Result<(), String>> {
        self.outcomes.lock().unwrap().clone()
    }
}

/// Serve requests on one connection: `200 {"sni": …}` to each.
async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut tls: S, sni: String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = tls.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        // Requests in these tests carry no body: the head ends the request.
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            let body = serde_json::json!({ "sni": sni }).to_string();
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            if tls.write_all(resp.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

/// Presents the certificate only for `name`; remembers every SNI asked for.
#[derive(Debug)]
struct BySni {
    name: String,
    key: Arc<CertifiedKey>,
    snis: Mutex<Vec<Option<String>>>,
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name().map(str::to_string);
        let ok = sni.as_deref() == Some(self.name.as_str());
        self.snis.lock().unwrap().push(sni);
        ok.then(|| self.key.clone())
    }
}
