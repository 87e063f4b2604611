//! `authgate loadtest prepare`: a complete authgate config with many minted
//! credentials, and the matching `credentials.jsonl` for `loadtest run`.
//!
//! The config has the same shape as the one `authgate demo` writes: prefix
//! families, `[[keys]]` holding digests only, JWT issuers and routes. Opaque
//! keys are minted with [`mint_record`]; JWTs are signed here with four
//! issuers, one per algorithm family, each with its own `iss`; ed25519
//! stamp keys are minted by [`super::stamps::mint`] (public keys in the key
//! file, seeds in `credentials.jsonl`) and sign on the create-run route.
//!
//! The RS256, ES256 and EdDSA issuers use the **test key pairs** checked in
//! under `tests/fixtures/jwt/keys/`, embedded in the binary. Their private
//! halves are public, so a config made here must never guard anything real.
//! The HS256 secret is random per run.

use super::credentials::{write_jsonl, CredentialLine, Kind};
use super::stamps;
use super::PrepareArgs;
use crate::config::model::KeySection;
use crate::credential::cli::{mint_record, CreateArgs};
use crate::credential::digest::Digester;
use crate::credential::CredentialKind;
use crate::demo::{MANTYX_PREFIXES, MANTYX_RUN_ROUTES};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::Rng;
use std::fmt::Write as _;
use std::path::PathBuf;

// Test keys only: these private keys are committed to the repository.
const RSA_KEY: &[u8] = include_bytes!("../../../../tests/fixtures/jwt/keys/rsa.key.pem");
const RSA_PUB: &[u8] = include_bytes!("../../../../tests/fixtures/jwt/keys/rsa.pub.pem");
const EC256_KEY: &[u8] = include_bytes!("../../../../tests/fixtures/jwt/keys/ec256.key.pem");
const EC256_PUB: &[u8] = include_bytes!("../../../../tests/fixtures/jwt/keys/ec256.pub.pem");
const ED25519_KEY: &[u8] = include_bytes!("../../../../tests/fixtures/jwt/keys/ed25519.key.pem");
const ED25519_PUB: &[u8] = include_bytes!("../../../../tests/fixtures/jwt/keys/ed25519.pub.pem");

/// Audience of every minted JWT.
pub const AUDIENCE: &str = "authgate";
/// Lifetime of minted JWTs.
pub const JWT_LIFETIME_SECS: u64 = 7 * 24 * 3600;
/// Path of the backend-only route that server keys are sent to.
pub const BACKEND_PATH: &str = "/internal/jobs";

/// The workspace route for `slug`.
pub fn workspace_path(slug: &str) -> String {
    format!("/api/v1/workspaces/{slug}/agent-runs")
}

/// One JWT issuer of the generated config.
struct IssuerSpec {
    kind: Kind,
    name: &'static str,
    alg: Algorithm,
    /// File written into the output dir and referenced by the config.
    file: &'static str,
}

const ISSUERS: [IssuerSpec; 4] = [
    IssuerSpec {
        kind: Kind::JwtHs256,
        name: "loadtest-hs256",
        alg: Algorithm::HS256,
        file: "jwt-hs256.secret",
    },
    IssuerSpec {
        kind: Kind::JwtRs256,
        name: "loadtest-rs256",
        alg: Algorithm::RS256,
        file: "jwt-rs256.pub.pem",
    },
    IssuerSpec {
        kind: Kind::JwtEs256,
        name: "loadtest-es256",
        alg: Algorithm::ES256,
        file: "jwt-es256.pub.pem",
    },
    IssuerSpec {
        kind: Kind::JwtEddsa,
        name: "loadtest-eddsa",
        alg: Algorithm::EdDSA,
        file: "jwt-eddsa.pub.pem",
    },
];

impl IssuerSpec {
    /// Distinct per issuer: authgate picks the issuer by `iss`.
    fn iss(&self) -> String {
        format!("https://{}.authgate.invalid", self.name)
    }
}

/// What `prepare` wrote.
#[derive(Debug)]
pub struct Prepared {
    /// The config file.
    pub config: PathBuf,
    /// The credentials file.
    pub credentials: PathBuf,
    /// Number of credentials written per kind.
    pub counts: Vec<(Kind, usize)>,
}

fn create_args(kind: &str, id: String, subject: String, ws: &str, scopes: &[&str]) -> CreateArgs {
    CreateArgs {
        kind: kind.into(),
        prefix: None,
        config: None,
        id: Some(id),
        subject,
        workspace: Some(ws.into()),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        allow: vec![],
        usage: None,
        expires_at: None,
        admin: None,
        store: false,
    }
}

fn line(kind: Kind, credential: String, path: String) -> CredentialLine {
    let header = if kind == Kind::ServerKey {
        "x-server-key"
    } else {
        "authorization"
    };
    CredentialLine {
        kind,
        credential,
        path,
        header: header.into(),
    }
}

use crate::secret::write_private;

/// Write `authgate.toml`, `credentials.jsonl`, the HS256 secret and the
/// public PEMs into `args.out` (created if missing; files are overwritten).
pub fn prepare(args: &PrepareArgs) -> Result<Prepared, String> {
    let dir = &args.out;
    let io = |what: &str, e: std::io::Error| format!("{}: cannot write {what}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(|e| io("the directory", e))?;
    let workspaces: Vec<String> = (0..args.workspaces.max(1))
        .map(|i| format!("ws-{i:03}"))
        .collect();
    let ws = |i: usize| workspaces[i % workspaces.len()].as_str();

    let d = Digester::Sha256;
    let mut records: Vec<KeySection> = Vec::with_capacity(args.api_keys * 3 + args.stamps * 2);
    let mut lines: Vec<CredentialLine> = Vec::new();
    let opaque = [
        (Kind::ApiKey, "mantyx_", CredentialKind::ApiKey, &[][..]),
        (
            Kind::AccessToken,
            "mantyx_at_",
            CredentialKind::AccessToken,
            &["runs:read", "runs:write"][..],
        ),
        (
            Kind::ServerKey,
            "sk_live_",
            CredentialKind::ServerKey,
            &[][..],
        ),
    ];
    for (kind, prefix, ckind, scopes) in opaque {
        for i in 0..args.api_keys {
            let a = create_args(
                ckind.as_str(),
                format!("lt_{kind}_{i}"),
                format!("{kind}-subject-{i}"),
                ws(i),
                scopes,
            );
            let m = mint_record(prefix, ckind, &d, &a);
            let path = if kind == Kind::ServerKey {
                BACKEND_PATH.to_string()
            } else {
                workspace_path(ws(i))
            };
            lines.push(line(kind, m.credential.expose().to_string(), path));
            records.push(m.record);
        }
    }

    let mut rng = rand::thread_rng();
    for kind in [Kind::StampEd25519, Kind::HttpsigEd25519] {
        for i in 0..args.stamps {
            let (record, line) = stamps::mint(kind, i, ws(i), workspace_path(ws(i)), &mut rng);
            records.push(record);
            lines.push(line);
        }
    }

    // A random, printable HS256 secret (authgate requires ≥ 32 bytes).
    let hs_secret = crate::credential::mint::mint("lt_hs256_");
    write_private(&dir.join(ISSUERS[0].file), hs_secret.as_bytes())
        .map_err(|e| io(ISSUERS[0].file, e))?;
    for (spec, pem) in ISSUERS[1..].iter().zip([RSA_PUB, EC256_PUB, ED25519_PUB]) {
        std::fs::write(dir.join(spec.file), pem).map_err(|e| io(spec.file, e))?;
    }
    let keys = [
        EncodingKey::from_secret(hs_secret.as_bytes()),
        EncodingKey::from_rsa_pem(RSA_KEY).map_err(|e| format!("embedded RSA test key: {e}"))?,
        EncodingKey::from_ec_pem(EC256_KEY).map_err(|e| format!("embedded EC test key: {e}"))?,
        EncodingKey::from_ed_pem(ED25519_KEY)
            .map_err(|e| format!("embedded Ed25519 test key: {e}"))?,
    ];
    let now = crate::verify::unix_now();
    let run_id: u64 = rng.gen();
    for (spec, key) in ISSUERS.iter().zip(&keys) {
        let header = Header::new(spec.alg);
        for i in 0..args.jwts {
            let claims = serde_json::json!({
                "iss": spec.iss(), "aud": AUDIENCE,
                "sub": format!("{}-user-{i}", spec.kind), "workspace": ws(i),
                "scope": "runs:read runs:write",
                "iat": now, "nbf": now, "exp": now + JWT_LIFETIME_SECS,
                "jti": format!("{}-{run_id:016x}-{i}", spec.kind),
            });
            let token = jsonwebtoken::encode(&header, &claims, key)
                .map_err(|e| format!("signing a {} token: {e}", spec.kind))?;
            lines.push(line(spec.kind, token, workspace_path(ws(i))));
        }
    }

    // Keys go to a JSON Lines file: TOML is slow to parse at a million keys.
    let mut keys_jsonl = String::with_capacity(records.len() * 200);
    for r in &records {
        keys_jsonl.push_str(
            &serde_json::to_string(r).map_err(|e| io("keys.jsonl", std::io::Error::other(e)))?,
        );
        keys_jsonl.push('\n');
    }
    std::fs::write(dir.join("keys.jsonl"), keys_jsonl).map_err(|e| io("keys.jsonl", e))?;
    let config = dir.join("authgate.toml");
    std::fs::write(&config, config_text(args)).map_err(|e| io("authgate.toml", e))?;
    let credentials = dir.join("credentials.jsonl");
    write_jsonl(&credentials, &lines).map_err(|e| io("credentials.jsonl", e))?;
    let counts = Kind::ALL
        .iter()
        .map(|k| (*k, lines.iter().filter(|l| l.kind == *k).count()))
        .collect();
    Ok(Prepared {
        config,
        credentials,
        counts,
    })
}

fn config_text(args: &PrepareArgs) -> String {
    let (listen, admin, upstream, threads) =
        (&args.listen, &args.admin, &args.upstream, args.threads);
    let mut issuers = String::new();
    for spec in &ISSUERS {
        let source = if spec.alg == Algorithm::HS256 {
            "secret_file"
        } else {
            "public_key_file"
        };
        // Writing to a String cannot fail.
        let _ = write!(
            issuers,
            r#"
[[jwt.issuers]]
name = "{name}"
issuer = "{iss}"
audiences = ["{AUDIENCE}"]
algorithms = ["{alg:?}"]
{source} = "{file}"
"#,
            name = spec.name,
            iss = spec.iss(),
            alg = spec.alg,
            file = spec.file,
        );
    }
    format!(
        r#"# Generated by `authgate loadtest prepare` for load testing only.
# The RS256/ES256/EdDSA issuers use authgate's published TEST keys
# (tests/fixtures/jwt/keys): never reuse this file in front of anything real.
#
# Access logs are off (one line per request would dominate a load test);
# set level = "warn,access=info" to measure with them.
[server]
listen = ["{listen}"]
threads = {threads}
grace_period = "1s"

[admin]
listen = "{admin}"

[log]
level = "warn"

[upstreams.echo]
backends = ["{upstream}"]
health_check = {{ kind = "tcp", interval = "2s" }}

{MANTYX_PREFIXES}
{issuers}
{MANTYX_RUN_ROUTES}

[store]
keys_file = "keys.jsonl"
"#
    )
}
