//! `authgate demo`: the newcomer's first command. Starts authgate on the
//! embedded default (no database, no external service) in front of the
//! built-in echo upstream, mints one demo credential of each kind, and
//! prints `curl` lines for an allowed request and each refusal.

use crate::config::reload::ConfigHandle;
use crate::credential::cli::{mint_record, stanza, CreateArgs};
use crate::credential::digest::Digester;
use crate::credential::CredentialKind;
use crate::secret::Secret;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `authgate demo`.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Proxy listener.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Admin listener (metrics, health).
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub admin: String,
    /// Directory for the generated config (default: a fresh temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Demo credentials, by role.
pub struct DemoCredentials {
    /// Workspace API key for `acme`.
    pub api_key: Secret,
    /// OAuth access token for `acme` with `runs:read` only.
    pub access_token: Secret,
    /// Backend secret key.
    pub server_key: Secret,
    /// HS256 JWT for `acme` with `runs:read runs:write`.
    pub jwt: Secret,
    /// A JSON body and its ed25519 `X-Stamp` (valid once, for the stamp window).
    pub stamped: (String, String),
    /// An admin API token (`keys:read`, `keys:write`).
    pub admin_token: Secret,
    /// A workspace API key issued into the embedded SQLite store (id `key_demo_db`).
    pub db_key: Secret,
    /// A server key in the store (id `key_demo_minter`) that mints `ek_`/`rk_` keys.
    pub minter: Secret,
}

/// A demo key for the SQLite store.
fn store_key(
    id: &str,
    kind: CredentialKind,
    subject: &str,
    secret: &str,
) -> authgate_store::NewKey {
    authgate_store::NewKey {
        id: id.into(),
        digest: Digester::Sha256.digest(secret),
        kind,
        subject: subject.into(),
        workspace: Some("acme".into()),
        scopes: vec![],
        allow: vec![],
        usage: None,
        expires_at: None,
        scheme: None,
        public_key: None,
        metadata: serde_json::json!({"issued_by": "authgate demo"}),
        rotated_from: None,
        minted: None,
        rate_limit: None,
        quota: None,
    }
}

/// Issue the demo's database keys into the SQLite store at `db`.
fn seed_store(db: &std::path::Path, keys: Vec<authgate_store::NewKey>) -> std::io::Result<()> {
    let store = authgate_store::sqlite::SqliteStore::open(db).map_err(std::io::Error::other)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        use authgate_store::KeyStore;
        for key in keys {
            match store.create(key).await {
                Ok(_) | Err(authgate_store::WriteError::Conflict(_)) => {}
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        Ok(())
    })
}

/// Sign `body` with `key` as an `SIGNATURE_SCHEME_TK_API_ED25519` stamp.
pub fn ed25519_stamp(key: &ed25519_dalek::SigningKey, body: &str) -> String {
    use base64::Engine;
    use ed25519_dalek::Signer;
    let doc = serde_json::json!({
        "publicKey": hex::encode(key.verifying_key().to_bytes()),
        "scheme": "SIGNATURE_SCHEME_TK_API_ED25519",
        "signature": hex::encode(key.sign(body.as_bytes()).to_bytes()),
    });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(doc.to_string())
}

const ISSUER: &str = "https://demo.authgate.local";

/// Routes of the Mantyx-style surface (`docs/contracts.md` §3) on the `echo`
/// upstream, shared by the demo and the load tool: agent runs (reading needs
/// `runs:read`, creating `runs:write`; creating also accepts a stamped
/// body), a backend-only route for server keys, and a public route.
pub const MANTYX_RUN_ROUTES: &str = r#"[[routes]]
name = "list runs"
path = "/api/v1/workspaces/{workspace}/agent-runs"
methods = ["GET"]
upstream = "echo"
auth = { accept = ["api_key", "access_token", "jwt"], scopes = ["runs:read"] }

[[routes]]
name = "create run"
path = "/api/v1/workspaces/{workspace}/agent-runs"
methods = ["POST"]
upstream = "echo"
auth = { accept = ["api_key", "access_token", "jwt", "stamp"], scopes = ["runs:write"] }

[[routes]]
name = "backend"
path = "/internal/{*rest}"
upstream = "echo"
auth = { accept = ["server_key"] }

[[routes]]
name = "public"
path = "/public/{*rest}"
upstream = "echo"
auth = { public = true }
"#;

/// The Mantyx-style prefix families (`docs/contracts.md` §2) used by the demo,
/// the load tool and the tests: API keys, access tokens, refresh tokens
/// (rejected) and live server keys.
pub const MANTYX_PREFIXES: &str = r#"[[credentials.prefixes]]
prefix = "mantyx_"
kind = "api_key"

[[credentials.prefixes]]
prefix = "mantyx_at_"
kind = "access_token"

[[credentials.prefixes]]
prefix = "mantyx_rt_"
kind = "reject"

[[credentials.prefixes]]
prefix = "sk_live_"
kind = "server_key"
"#;

/// Write the demo config (and JWT secret) into `dir` for an upstream at
/// `upstream`; returns the config path and the credentials.
pub fn write_config(
    dir: &std::path::Path,
    listen: &str,
    admin: &str,
    upstream: &str,
) -> std::io::Result<(PathBuf, DemoCredentials)> {
    std::fs::create_dir_all(dir)?;
    let d = Digester::Sha256;
    let mut api_args = CreateArgs::new(
        CredentialKind::ApiKey,
        "key_demo_api",
        "svc-reporting",
        "acme",
        &[],
    );
    api_args.usage = Some("developer_api".into());
    let api = mint_record("mantyx_", CredentialKind::ApiKey, &d, &api_args);
    let tok = mint_record(
        "mantyx_at_",
        CredentialKind::AccessToken,
        &d,
        &CreateArgs::new(
            CredentialKind::AccessToken,
            "tok_demo_reader",
            "user-42",
            "acme",
            &["runs:read"],
        ),
    );
    let srv = mint_record(
        "sk_live_",
        CredentialKind::ServerKey,
        &d,
        &CreateArgs::new(
            CredentialKind::ServerKey,
            "sk_demo_backend",
            "app-backend",
            "acme",
            &[],
        ),
    );
    let secret = crate::credential::mint::mint("demo_hs256_");
    crate::secret::write_private(&dir.join("jwt.secret"), secret.as_ref())?;
    crate::assertion::generate_key(&dir.join("assertion.pem"))?;
    let now = crate::verify::unix_now();
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": "authgate", "sub": "user-7", "namespace": "acme",
        "scope": "runs:read runs:write", "iat": now, "exp": now + 86_400, "jti": "demo-jwt-1",
    });
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(std::io::Error::other)?;
    let wallet = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let stamp_key = crate::config::model::KeySection {
        id: "wallet_demo".into(),
        digest: None,
        kind: "stamp".into(),
        public_key: Some(hex::encode(wallet.verifying_key().to_bytes())),
        scheme: Some("ed25519".into()),
        subject: "wallet-1".into(),
        workspace: Some("acme".into()),
        scopes: vec![],
        allow: vec![],
        usage: None,
        expires_at: None,
        disabled: false,
        rate_limit: None,
    };
    let body = format!(
        r#"{{"type":"ACTIVITY_TYPE_DEMO","timestampMs":"{}"}}"#,
        now * 1000
    );
    let stamped = (body.clone(), ed25519_stamp(&wallet, &body));
    let keys = stanza(&[api.record, tok.record, srv.record, stamp_key]);
    let admin_token = crate::credential::mint::mint("agadm_");
    let admin_digest = hex::encode(crate::credential::digest::sha256(admin_token.as_bytes()));
    let db_key = crate::credential::mint::mint("mantyx_");
    let minter = crate::credential::mint::mint("sk_live_");
    seed_store(
        &dir.join("keys.db"),
        vec![
            store_key(
                "key_demo_db",
                CredentialKind::ApiKey,
                "svc-from-the-store",
                &db_key,
            ),
            store_key(
                "key_demo_minter",
                CredentialKind::ServerKey,
                "app-backend",
                &minter,
            ),
        ],
    )?;
    let signin = crate::signin_client::DEMO_SIGNIN;
    let wallet_tokens = crate::signin_tokens::DEMO_WALLET_TOKENS;
    let text = format!(
        r#"# Generated by `authgate demo`. Edit and save: authgate reloads it live.
[server]
listen = ["{listen}"]
threads = 2
grace_period = "1s"

[admin]
listen = "{admin}"

# The key API (/admin/v1/), on the embedded SQLite store below.
[[admin.tokens]]
id = "demo"
digest = "sha256:{admin_digest}"
scopes = ["keys:read", "keys:write"]

[store]
url = "sqlite:keys.db"

[upstreams.echo]
backends = ["{upstream}"]
health_check = {{ kind = "tcp", interval = "2s" }}

[identity.assertion]
key_file = "assertion.pem"
kid = "demo-1"

{MANTYX_PREFIXES}

[[jwt.issuers]]
name = "demo"
issuer = "{ISSUER}"
audiences = ["authgate"]
algorithms = ["HS256"]
secret_file = "jwt.secret"
workspace_claim = "namespace"

{MANTYX_RUN_ROUTES}

[[routes]]
name = "billing"
path = "/api/v1/workspaces/{{workspace}}/billing"
upstream = "echo"
auth = {{ accept = ["api_key"], usage = "billing" }}

[[routes]]
name = "activities"
path = "/api/v1/workspaces/{{workspace}}/activities"
methods = ["POST"]
upstream = "echo"
auth = {{ accept = ["stamp", "session"] }}

# Minting doors (docs/minting.md): a server key in the store mints short-lived
# keys for one user (ek_) or one agent (rk_); revoking it revokes them.
[[credentials.prefixes]]
prefix = "ek_"
kind = "ephemeral_key"
checksum = true

[[credentials.prefixes]]
prefix = "rk_"
kind = "restricted_key"
checksum = true

[minting]
workspaces = ["acme"]
models = {{ tasks = ["create", "read", "update", "delete"], comments = ["create", "read"] }}

[[routes]]
name = "mint ephemeral key"
path = "/auth/ephemeral-keys"
methods = ["POST"]
handler = "mint_ephemeral"
auth = {{ accept = ["server_key"] }}

[[routes]]
name = "mint capability"
path = "/auth/capability"
methods = ["POST"]
handler = "mint_capability"
auth = {{ accept = ["server_key"] }}

[[routes]]
name = "tasks"
path = "/api/v1/workspaces/{{workspace}}/tasks"
upstream = "echo"
auth = {{ accept = ["ephemeral_key", "restricted_key"] }}

# Wallet sign-in with session keys (docs/signin.md): try `authgate signin-client`.
{signin}
# Wallet sign-in with tokens (docs/signin.md): try `authgate signin-client --dialect wallet-tokens`.
{wallet_tokens}
{keys}"#
    );
    let path = dir.join("authgate.toml");
    std::fs::write(&path, text)?;
    Ok((
        path,
        DemoCredentials {
            api_key: api.credential,
            access_token: tok.credential,
            server_key: srv.credential,
            jwt: Secret::new(jwt),
            stamped,
            admin_token: Secret::new(admin_token),
            db_key: Secret::new(db_key),
            minter: Secret::new(minter),
        },
    ))
}

fn print_guide(listen: &str, admin: &str, c: &DemoCredentials, config: &std::path::Path) {
    let base = format!("http://{listen}");
    let ws = format!("{base}/api/v1/workspaces/acme/agent-runs");
    println!("authgate demo is running: proxy http://{listen}, admin http://{admin}");
    println!(
        "config: {} (edit it; authgate reloads on save)\n",
        config.display()
    );
    println!("# 200 allowed: the echo upstream shows the x-auth-* identity headers it received");
    println!(
        "curl -s {ws} -H 'Authorization: Bearer {}'",
        c.api_key.expose()
    );
    println!("curl -s {ws} -H 'X-API-Key: {}'", c.access_token.expose());
    println!(
        "curl -s -X POST {ws} -H 'Authorization: Bearer {}' -d '{{\"task\":\"demo\"}}'",
        c.jwt.expose()
    );
    println!(
        "curl -s {base}/internal/jobs -H 'x-server-key: {}'",
        c.server_key.expose()
    );
    println!(
        "\n# 200 once: an ed25519-stamped body (X-Stamp signs the exact body; valid for 5 minutes)"
    );
    let stamp_line = format!(
        "curl -s -X POST {base}/api/v1/workspaces/acme/activities -H 'X-Stamp: {}' --data-binary '{}'",
        c.stamped.1, c.stamped.0
    );
    println!("{stamp_line}");
    println!("\n# 401 the same stamp again: refused as replayed");
    println!("{}", stamp_line.replace("curl -s ", "curl -si "));
    println!("\n# 401: no credential, and an unknown key");
    println!("curl -si {ws}");
    println!(
        "curl -si {ws} -H 'Authorization: Bearer mantyx_000000000000000000000000000000000000'"
    );
    println!(
        "\n# 403 insufficient_scope: the access token has runs:read, creating needs runs:write"
    );
    println!(
        "curl -si -X POST {ws} -H 'Authorization: Bearer {}' -d '{{}}'",
        c.access_token.expose()
    );
    println!("\n# 404: workspace 'other' is not the credential's workspace");
    println!(
        "curl -si {base}/api/v1/workspaces/other/agent-runs -H 'Authorization: Bearer {}'",
        c.api_key.expose()
    );
    println!("\n# 403: the API key is tagged for developer_api, not the billing surface");
    println!(
        "curl -si {base}/api/v1/workspaces/acme/billing -H 'Authorization: Bearer {}'",
        c.api_key.expose()
    );
    println!("\n# 401: an API key on the backend-only route, which accepts server keys only");
    println!(
        "curl -si {base}/internal/jobs -H 'Authorization: Bearer {}'",
        c.api_key.expose()
    );
    let keys = format!("http://{admin}/admin/v1/keys");
    let token = c.admin_token.expose();
    println!("\n# 200: a key issued into the embedded SQLite store (keys.db beside the config)");
    println!(
        "curl -s {ws} -H 'Authorization: Bearer {}'",
        c.db_key.expose()
    );
    println!(
        "\n# 201: issue another one over the key API (the secret is in the answer, shown once)"
    );
    println!(
        "curl -s -X POST {keys} -H 'Authorization: Bearer {token}' -H 'content-type: application/json' -d '{{\"kind\":\"api_key\",\"subject\":\"svc-new\",\"workspace\":\"acme\"}}'"
    );
    println!("\n# 200: list the store's keys (digests only, never a secret)");
    println!("curl -s '{keys}?workspace=acme' -H 'Authorization: Bearer {token}'");
    println!("\n# 200: revoke the store's first key over the key API");
    println!("curl -s -X POST {keys}/key_demo_db/revoke -H 'Authorization: Bearer {token}'");
    println!("\n# 401: revoked, refused by the very next request");
    println!(
        "curl -si {ws} -H 'Authorization: Bearer {}'",
        c.db_key.expose()
    );
    let ek_file = config.with_file_name("ek.json");
    let ek_file = ek_file.display();
    let ek = format!("$(grep -o 'ek_[0-9A-Za-z]\\{{36\\}}' {ek_file})");
    let tasks = format!("{base}/api/v1/workspaces/acme/tasks");
    println!(
        "\n# 200 minting: the app backend's server key (in the store) mints a 15-minute key for user u_123 (saved to {ek_file})"
    );
    println!(
        "curl -s -X POST {base}/auth/ephemeral-keys -H 'x-server-key: {}' -H 'content-type: application/json' -d '{{\"user\":{{\"id\":\"u_123\"}}}}' -o {ek_file}",
        c.minter.expose()
    );
    println!("\n# 200: the ek_ passes; the upstream sees x-auth-actor-kind: user, x-auth-actor-id: u_123 and x-auth-parent-credential-id: key_demo_minter");
    println!("curl -s {tasks} -H \"Authorization: Bearer {ek}\"");
    println!("\n# 200: revoke the server key; every key it minted is revoked with it");
    println!("curl -s -X POST {keys}/key_demo_minter/revoke -H 'Authorization: Bearer {token}'");
    println!("\n# 401: the ek_ is refused");
    println!("curl -si {tasks} -H \"Authorization: Bearer {ek}\"");
    println!(
        "\n# sign-in: a throwaway wallet signs in, signs a request with its session key, refreshes, revokes"
    );
    println!("authgate signin-client --url {base}");
    println!(
        "\n# sign-in with tokens: the wallet signs a nonce, gets an access JWT and a refresh token, refreshes; the spent token again revokes the family"
    );
    println!("authgate signin-client --url {base} --dialect wallet-tokens");
    println!("\n# the key that signs x-auth-assertion (verify it upstream), and metrics");
    println!("curl -s http://{admin}/.well-known/jwks.json");
    println!("curl -s http://{admin}/metrics | grep authgate_requests_total");
    println!("\nCtrl-C stops the demo.");
}

/// Run the demo until Ctrl-C.
pub fn run(args: DemoArgs) -> ExitCode {
    // The tour invites edits of the config: show the reload lines too.
    crate::logging::init(
        crate::logging::LogFormat::Text,
        "warn,access=info,authgate_proxy::config::reload=info",
    );
    let upstream = match crate::echo::spawn("127.0.0.1:0") {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cannot start the echo upstream: {e}");
            return ExitCode::from(1);
        }
    };
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("authgate-demo-{}", std::process::id()))
    });
    let (path, creds) = match write_config(&dir, &args.listen, &args.admin, &upstream.to_string()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("cannot write the demo config in {}: {e}", dir.display());
            return ExitCode::from(1);
        }
    };
    let handle = match ConfigHandle::load(path.clone()) {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("demo config invalid (a bug): {e}");
            return ExitCode::from(1);
        }
    };
    let server = match crate::server::build(handle) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    print_guide(&args.listen, &args.admin, &creds, &path);
    server.run(pingora::server::RunArgs::default());
    // A directory the demo made for itself holds a JWT secret and a signing
    // key: remove it (one given with --dir is the user's to keep).
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    ExitCode::SUCCESS
}
