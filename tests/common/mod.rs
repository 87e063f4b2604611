//! End-to-end harness: start the real `authgate` binary on ephemeral
//! loopback ports in front of a recording echo upstream, and talk to it.
#![allow(dead_code)]

pub mod httpsig;
pub mod named_keys;
pub mod pg;
pub mod raw;
pub mod redis_server;
pub mod terminator;
pub mod wallet;

use authgate::demo::MANTYX_PREFIXES;
use authgate::echo::Recorder;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port for a server the test starts.
///
/// Not from the kernel's ephemeral range (32768 and up): a port asked of
/// the kernel with `:0` and released could be handed to another socket
/// bound to `:0` (an upstream of a test running in parallel) before the
/// gate binds it, and the test would then talk to someone else's server.
/// Each test process takes ports from its own block of 200 below 32000,
/// never the same twice (until the block wraps), skipping any in use.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 20_000 + (std::process::id() % 60) * 200;
    for _ in 0..200 {
        let port = (base + NEXT.fetch_add(1, Ordering::Relaxed) % 200) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 127.0.0.1:{base}..{}", base + 200)
}

/// A recording echo upstream on an ephemeral port.
pub struct Upstream {
    pub addr: SocketAddr,
    pub recorder: Recorder,
}

impl Upstream {
    pub fn start() -> Self {
        let (addr, recorder) =
            authgate::echo::spawn_recording("127.0.0.1:0").expect("echo upstream");
        Self { addr, recorder }
    }

    /// Requests the upstream received.
    pub fn seen(&self) -> Vec<serde_json::Value> {
        self.recorder.requests()
    }
}

/// Path to a fixture file.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The common head of test configs: listeners, prefix families, a fast reload.
pub fn base_config(port: u16, admin: u16, upstream: SocketAddr) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{port}"]
threads = 1
grace_period = "1s"
watch_interval = "200ms"

[admin]
listen = "127.0.0.1:{admin}"

[log]
level = "warn"

[upstreams.echo]
backends = ["{upstream}"]
connect_timeout = "1s"

{MANTYX_PREFIXES}
"#
    )
}

/// A read-write admin token `ops` and its `[[admin.tokens]]` stanza.
pub fn admin_token() -> (String, String) {
    use sha2::Digest;
    let t = format!("agadm_{:032x}", rand::random::<u128>());
    let digest = hex::encode(sha2::Sha256::digest(t.as_bytes()));
    let stanza = format!(
        "[[admin.tokens]]\nid = \"ops\"\ndigest = \"sha256:{digest}\"\nscopes = [\"keys:read\", \"keys:write\"]\n"
    );
    (t, stanza)
}

/// A running authgate process.
pub struct Gate {
    child: Child,
    pub port: u16,
    pub admin: u16,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Gate {
    /// Write `config` (which must use `port`/`admin`) and start `authgate serve`.
    pub fn start_with(config: &str, port: u16, admin: u16) -> Self {
        Self::spawn(config, port, admin, false)
    }

    /// Like [`Gate::start`], with access logs (JSON) captured to `log.txt`.
    pub fn start_logged(upstream: &Upstream, extra: &str) -> Self {
        let (port, admin) = (free_port(), free_port());
        let cfg = format!("{}\n{}", base_config(port, admin, upstream.addr), extra).replace(
            "[log]\nlevel = \"warn\"",
            "[log]\nformat = \"json\"\nlevel = \"warn,access=info\"",
        );
        Self::spawn(&cfg, port, admin, true)
    }

    /// The captured log (see [`Gate::start_logged`]).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log.txt")).unwrap_or_default()
    }

    /// Start `authgate serve` on a config file written elsewhere (e.g. by
    /// `authgate loadtest prepare`) that listens on `port` and `admin`.
    pub fn serve_file(config: &Path, port: u16, admin: u16) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::launch(dir, config.to_path_buf(), port, admin, false)
    }

    /// Like [`Gate::start_logged`] (log captured when `capture`), with extra
    /// environment variables for the process (`SSL_CERT_FILE`, peppers, secrets).
    pub fn start_env(
        upstream: &Upstream,
        extra: &str,
        env: &[(&str, &str)],
        capture: bool,
    ) -> Self {
        let (port, admin) = (free_port(), free_port());
        let mut cfg = format!("{}\n{}", base_config(port, admin, upstream.addr), extra);
        if capture {
            cfg = cfg.replace(
                "[log]\nlevel = \"warn\"",
                "[log]\nformat = \"json\"\nlevel = \"warn,access=info\"",
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("authgate.toml");
        std::fs::write(&path, cfg).expect("write config");
        Self::launch_env(dir, path, port, admin, capture, env)
    }

    fn spawn(config: &str, port: u16, admin: u16, capture: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("authgate.toml");
        std::fs::write(&path, config).expect("write config");
        Self::launch(dir, path, port, admin, capture)
    }

    fn launch(dir: tempfile::TempDir, path: PathBuf, port: u16, admin: u16, capture: bool) -> Self {
        Self::launch_env(dir, path, port, admin, capture, &[])
    }

    fn launch_env(
        dir: tempfile::TempDir,
        path: PathBuf,
        port: u16,
        admin: u16,
        capture: bool,
        env: &[(&str, &str)],
    ) -> Self {
        let stderr = if capture {
            Stdio::from(std::fs::File::create(dir.path().join("log.txt")).expect("log file"))
        } else {
            Stdio::inherit()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_authgate"))
            .args(["serve", "--config"])
            .arg(&path)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn authgate");
        let mut gate = Self {
            child,
            port,
            admin,
            dir,
            config: path,
        };
        gate.wait_ready();
        gate
    }

    /// Start with `base_config` + `extra` in front of `upstream`.
    pub fn start(upstream: &Upstream, extra: &str) -> Self {
        let (port, admin) = (free_port(), free_port());
        let cfg = format!("{}\n{}", base_config(port, admin, upstream.addr), extra);
        Self::start_with(&cfg, port, admin)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("authgate exited at start: {status}");
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && TcpStream::connect(("127.0.0.1", self.admin)).is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "authgate did not start listening on {} / {}",
            self.port, self.admin
        );
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Admin URL.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin)
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Replace the config file (hot reload picks it up).
    pub fn rewrite(&self, config: &str) {
        // Write then rename so the watcher never sees a half-written file.
        let tmp = self.dir.path().join("authgate.toml.tmp");
        std::fs::write(&tmp, config).expect("write");
        std::fs::rename(&tmp, &self.config).expect("rename");
    }

    /// Wait until the config watcher is running: its baseline is taken when
    /// its background service starts, a moment after the listeners, and a
    /// change before that would go unseen. Touches the config (a trailing
    /// comment) until one reload is counted; afterwards
    /// `authgate_config_reloads_total{outcome="ok"}` is 1.
    pub async fn until_watching(&self) {
        let c = client();
        let text = std::fs::read_to_string(&self.config).expect("read config");
        let deadline = Instant::now() + Duration::from_secs(5);
        for n in 0.. {
            assert!(
                Instant::now() < deadline,
                "the config watcher never reloaded"
            );
            self.rewrite(&format!("{text}\n# touch {n}\n"));
            let counted = eventually(Duration::from_millis(500), || async {
                let Ok(r) = c.get(self.admin_url("/metrics")).send().await else {
                    return false;
                };
                let text = r.text().await.unwrap_or_default();
                text.contains(r#"authgate_config_reloads_total{outcome="ok"} 1"#)
            })
            .await;
            if counted {
                return;
            }
        }
    }

    /// Send a signal by name (`HUP`, `INT`).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.signal("INT");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP/1.1 client that never reuses state between tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Poll `url` until it answers `status` (within 5 s).
pub async fn wait_for_status(c: &reqwest::Client, url: &str, status: u16) -> bool {
    eventually(Duration::from_secs(5), || async move {
        c.get(url)
            .send()
            .await
            .map(|r| r.status() == status)
            .unwrap_or(false)
    })
    .await
}

/// Poll `f` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Mint a key of `kind` with `prefix` and return (credential, `[[keys]]` stanza).
pub fn key(
    prefix: &str,
    kind: &str,
    id: &str,
    workspace: &str,
    scopes: &[&str],
    extra: &str,
) -> (String, String) {
    let k = authgate::credential::CredentialKind::parse(kind).expect("kind");
    let mut args = authgate::credential::cli::CreateArgs::new(
        k,
        id,
        &format!("subject-{id}"),
        workspace,
        scopes,
    );
    args.kind = kind.into();
    let m = authgate::credential::cli::mint_record(
        prefix,
        k,
        &authgate::credential::digest::Digester::Sha256,
        &args,
    );
    let mut stanza = authgate::credential::cli::stanza(&[m.record]);
    stanza.push_str(extra);
    stanza.push('\n');
    (m.credential.expose().to_string(), stanza)
}

/// Send one raw HTTP/1.1 request (bypassing client-side path normalisation)
/// and return the status code and the whole response text.
pub fn raw_request(port: u16, request: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.write_all(request.as_bytes()).expect("write");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A token of `tests/fixtures/jwt/cases.json` (made by PyJWT), by name.
pub fn fixture_token(name: &str) -> String {
    let cases: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(fixture("jwt/cases.json")).expect("cases.json"))
            .expect("cases.json is JSON");
    cases
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["token"].as_str())
        .unwrap_or_else(|| panic!("no fixture token {name}"))
        .to_string()
}

/// The admin listener's `/metrics` text.
pub async fn metrics(c: &reqwest::Client, gate: &Gate) -> String {
    c.get(gate.admin_url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

/// The value of the sample `series` (name and labels exactly as rendered).
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Wait until `gate` has applied every change entry written to `db` so
/// far (`authgate_store_changes_total` reaches their number; the instance
/// must have started on the empty feed). A key written and then used at
/// once can be cached before its own change entry arrives and dropped when
/// it does; a test that needs the key cached (to survive a cut) waits for
/// this before using it.
pub async fn feed_applied(db: &pg::TempDb, gate: &Gate) {
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(conn);
    let written: i64 = client
        .query_one("SELECT count(*) FROM authgate_key_changes", &[])
        .await
        .expect("count change entries")
        .get(0);
    let c = self::client();
    let applied = eventually(Duration::from_secs(10), || async {
        sample(&metrics(&c, gate).await, "authgate_store_changes_total").unwrap_or(0.0)
            >= written as f64
    })
    .await;
    assert!(
        applied,
        "the instance did not apply {written} change entries"
    );
}

/// Wait until `gate` has reached its database store (and, with
/// `auto_migrate`, migrated it): `authgate_store_up` reads 1.
pub async fn store_ready(gate: &Gate, store_url: &str) {
    let name = if store_url.starts_with("sqlite") {
        "sqlite"
    } else {
        "postgres"
    };
    let c = client();
    let series = format!("authgate_store_up{{store=\"{name}\"}}");
    let ok = eventually(Duration::from_secs(10), || async {
        sample(&metrics(&c, gate).await, &series) == Some(1.0)
    })
    .await;
    assert!(ok, "the store never came up");
}

/// Run `authgate check` on the config `text`; it must refuse it. Returns
/// what it printed on stderr (the errors, each named by its key).
pub fn check_refuses(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("authgate.toml");
    std::fs::write(&config, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success(), "accepted:\n{text}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
