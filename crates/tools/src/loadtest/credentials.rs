//! The credentials file (`credentials.jsonl`) and the pools the driver draws
//! from.
//!
//! One JSON object per line: `{"kind", "credential", "path", "header"}`.
//! [`Pool`] turns the lines of one kind into ready-to-send header values and
//! hands them out round-robin (one cursor shared by every worker, so a run
//! touches every distinct credential). [`forge_invalid`] makes credentials
//! that look right but that no issuer or key store knows, each one distinct,
//! so that they defeat authgate's negative cache the way a real flood would.
//!
//! Signing-key lines (`stamp_ed25519`, `httpsig_ed25519`) hold a signing
//! key rather than a header value: each request needs a new signature over
//! a new body, so they are not pooled here but by
//! [`super::stamps::StampPool`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{HeaderName, HeaderValue, Uri};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The kinds of credential the load tool knows, one per verifier path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Workspace API key (`mantyx_…`).
    ApiKey,
    /// OAuth access token (`mantyx_at_…`).
    AccessToken,
    /// Backend secret key (`sk_live_…`), sent in `x-server-key`.
    ServerKey,
    /// JWT signed with HMAC-SHA256.
    JwtHs256,
    /// JWT signed with RSA PKCS#1 v1.5 / SHA-256.
    JwtRs256,
    /// JWT signed with ECDSA P-256.
    JwtEs256,
    /// JWT signed with Ed25519.
    JwtEddsa,
    /// Ed25519 `X-Stamp` over a fresh body per request; the credential is
    /// the hex of the key's 32-byte seed.
    StampEd25519,
    /// Ed25519 RFC 9421 message signature (`Signature-Input`, `Signature`,
    /// `Content-Digest`) over a fresh body per request; the credential is
    /// the hex of the key's 32-byte seed.
    HttpsigEd25519,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 9] = [
        Kind::ApiKey,
        Kind::AccessToken,
        Kind::ServerKey,
        Kind::JwtHs256,
        Kind::JwtRs256,
        Kind::JwtEs256,
        Kind::JwtEddsa,
        Kind::StampEd25519,
        Kind::HttpsigEd25519,
    ];

    /// The spelling used in the credentials file, `--mix` and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ApiKey => "api_key",
            Kind::AccessToken => "access_token",
            Kind::ServerKey => "server_key",
            Kind::JwtHs256 => "jwt_hs256",
            Kind::JwtRs256 => "jwt_rs256",
            Kind::JwtEs256 => "jwt_es256",
            Kind::JwtEddsa => "jwt_eddsa",
            Kind::StampEd25519 => "stamp_ed25519",
            Kind::HttpsigEd25519 => "httpsig_ed25519",
        }
    }

    /// Parse [`Kind::as_str`]'s spelling.
    pub fn parse(s: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether credentials of this kind are JWTs.
    pub fn is_jwt(self) -> bool {
        matches!(
            self,
            Kind::JwtHs256 | Kind::JwtRs256 | Kind::JwtEs256 | Kind::JwtEddsa
        )
    }

    /// Whether credentials of this kind are signing keys (stamps or RFC
    /// 9421 signatures, see [`super::stamps`]) rather than header values.
    pub fn is_stamp(self) -> bool {
        matches!(self, Kind::StampEd25519 | Kind::HttpsigEd25519)
    }

    /// Position in [`Kind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One line of `credentials.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialLine {
    /// What the credential is.
    pub kind: Kind,
    /// The plaintext credential.
    pub credential: String,
    /// Request path that this credential is allowed on.
    pub path: String,
    /// Header carrying it: `authorization` (sent as `Bearer …`) or any other
    /// header name (sent raw, e.g. `x-server-key`; `x-stamp` for stamps).
    pub header: String,
}

/// Write `lines` as JSON Lines. The file holds live secrets, so on Unix it
/// is created readable by its owner only.
pub fn write_jsonl(path: &Path, lines: &[CredentialLine]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(crate::secret::create_private(path)?);
    for line in lines {
        serde_json::to_writer(&mut out, line).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Read a credentials file; blank lines are skipped, errors name the line.
pub fn read_jsonl(path: &Path) -> Result<Vec<CredentialLine>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_jsonl(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parse JSON Lines text (see [`read_jsonl`]).
pub fn parse_jsonl(text: &str) -> Result<Vec<CredentialLine>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: CredentialLine =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        out.push(parsed);
    }
    Ok(out)
}

/// A credential ready to be put on a request.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Header name.
    pub header: HeaderName,
    /// Header value (`Bearer …` for `authorization`).
    pub value: HeaderValue,
    /// Request path (origin form).
    pub path: Uri,
}

/// Build the header value for `credential` carried in `header`.
fn header_value(header: &HeaderName, credential: &str) -> Result<HeaderValue, String> {
    let text = if header == http::header::AUTHORIZATION {
        format!("Bearer {credential}")
    } else {
        credential.to_string()
    };
    HeaderValue::from_str(&text).map_err(|_| "credential is not a valid header value".to_string())
}

/// Parse an origin-form path such as `/api/v1/x?y=1`.
pub fn parse_path(path: &str) -> Result<Uri, String> {
    if !path.starts_with('/') {
        return Err(format!("path '{path}' must start with '/'"));
    }
    path.parse::<Uri>()
        .map_err(|e| format!("path '{path}' is not a valid request path: {e}"))
}

/// All credentials of one kind, handed out round-robin.
#[derive(Debug)]
pub struct Pool {
    kind: Kind,
    items: Vec<Prepared>,
    /// The plaintext of the first credential, the template for forgeries.
    sample: String,
    cursor: AtomicUsize,
}

impl Pool {
    /// The kind of every credential in the pool.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Number of distinct credentials.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the pool is empty (never true for pools built by [`pools`]).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The next credential in rotation.
    pub fn next(&self) -> &Prepared {
        let i = self.cursor.fetch_add(1, Ordering::Relaxed) % self.items.len();
        &self.items[i]
    }

    /// A fresh, well-formed credential of this kind that nobody issued,
    /// sent on the same path and header as the real ones.
    pub fn invalid(&self, rng: &mut impl Rng) -> Prepared {
        let template = &self.items[0];
        let forged = forge_invalid(self.kind, &self.sample, rng);
        // A forgery is built from the sample's own characters plus base62 or
        // base64url text, so it is always a valid header value; fall back to
        // the sample's value rather than panic if that ever changes.
        let value =
            header_value(&template.header, &forged).unwrap_or_else(|_| template.value.clone());
        Prepared {
            header: template.header.clone(),
            value,
            path: template.path.clone(),
        }
    }
}

/// Group `lines` into one pool per kind, with `path_override` (if any)
/// replacing each credential's own path. Paths are joined onto `base_path`
/// (the path of `--url`, without a trailing slash). Stamp lines are refused:
/// they belong in a [`super::stamps::StampPool`].
pub fn pools(
    lines: Vec<CredentialLine>,
    base_path: &str,
    path_override: Option<&str>,
) -> Result<BTreeMap<Kind, Pool>, String> {
    let mut by_kind: BTreeMap<Kind, Pool> = BTreeMap::new();
    for (i, line) in lines.into_iter().enumerate() {
        let ctx = |e: String| format!("credential {} ({}): {e}", i + 1, line.kind);
        if line.kind.is_stamp() {
            return Err(ctx("stamp keys are not header values".into()));
        }
        let header = HeaderName::from_bytes(line.header.as_bytes())
            .map_err(|_| ctx(format!("'{}' is not a header name", line.header)))?;
        let value = header_value(&header, &line.credential).map_err(ctx)?;
        let path = format!("{base_path}{}", path_override.unwrap_or(&line.path));
        let path = parse_path(&path).map_err(ctx)?;
        let pool = by_kind.entry(line.kind).or_insert_with(|| Pool {
            kind: line.kind,
            items: Vec::new(),
            sample: line.credential.clone(),
            cursor: AtomicUsize::new(0),
        });
        pool.items.push(Prepared {
            header,
            value,
            path,
        });
    }
    Ok(by_kind)
}

/// Characters of authgate's opaque credential body and checksum.
const OPAQUE_TAIL: usize = 36;

/// Forge a credential shaped like `sample` but unknown to authgate:
///
/// - a JWT keeps `sample`'s header and claims and gets a random signature of
///   the same length, so authgate has to run the full signature check;
/// - an opaque key in authgate's format (`<prefix><30 base62><6 checksum>`)
///   is re-minted with the same prefix and a valid checksum, so it passes the
///   checksum filter and reaches the key store;
/// - any other opaque value gets its last 16 characters randomised.
pub fn forge_invalid(kind: Kind, sample: &str, rng: &mut impl Rng) -> String {
    if kind.is_jwt() {
        if let Some((signed, sig)) = sample.rsplit_once('.') {
            let len = URL_SAFE_NO_PAD
                .decode(sig)
                .map(|b| b.len())
                .unwrap_or(sig.len() * 3 / 4)
                .max(16);
            let mut bytes = vec![0u8; len];
            rng.fill_bytes(&mut bytes);
            return format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes));
        }
    }
    let tail_ok = sample.len() > OPAQUE_TAIL
        && sample.as_bytes()[sample.len() - OPAQUE_TAIL..]
            .iter()
            .all(u8::is_ascii_alphanumeric);
    if tail_ok {
        let prefix = &sample[..sample.len() - OPAQUE_TAIL];
        return crate::credential::mint::mint_with(prefix, rng);
    }
    let keep = sample.len().saturating_sub(16);
    // `keep` may fall inside a multi-byte character of a foreign credential.
    let keep = (0..=keep)
        .rev()
        .find(|i| sample.is_char_boundary(*i))
        .unwrap_or(0);
    let mut out = String::with_capacity(sample.len().max(16));
    out.push_str(&sample[..keep]);
    while out.len() < sample.len().max(keep + 16) {
        out.push(rng.sample(rand::distributions::Alphanumeric) as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::mint::{checksum_ok, mint};
    use rand::SeedableRng;
    use std::collections::HashSet;

    fn line(kind: Kind, credential: &str) -> CredentialLine {
        CredentialLine {
            kind,
            credential: credential.into(),
            path: "/api/v1/workspaces/ws-000/agent-runs".into(),
            header: if kind == Kind::ServerKey {
                "x-server-key".into()
            } else {
                "authorization".into()
            },
        }
    }

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(Kind::ALL[k.index()], k);
        }
        assert_eq!(Kind::parse("jwt"), None);
    }

    #[test]
    fn jsonl_round_trip_and_errors() {
        let lines = vec![
            line(Kind::ApiKey, "mantyx_a"),
            line(Kind::ServerKey, "sk_1"),
        ];
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.jsonl");
        write_jsonl(&p, &lines).unwrap();
        assert_eq!(read_jsonl(&p).unwrap(), lines);
        let err = parse_jsonl(
            "\n{\"kind\":\"nope\",\"credential\":\"x\",\"path\":\"/\",\"header\":\"a\"}",
        )
        .unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
    }

    #[test]
    fn pools_rotate_through_every_credential() {
        let lines: Vec<_> = (0..5)
            .map(|i| line(Kind::ApiKey, &format!("mantyx_{i}")))
            .chain([line(Kind::ServerKey, "sk_live_x")])
            .collect();
        let pools = pools(lines, "/base", None).unwrap();
        let api = &pools[&Kind::ApiKey];
        assert_eq!(api.len(), 5);
        let seen: HashSet<_> = (0..5).map(|_| api.next().value.clone()).collect();
        assert_eq!(seen.len(), 5);
        assert_eq!(api.next().value, "Bearer mantyx_0");
        assert_eq!(
            api.next().path.to_string(),
            "/base/api/v1/workspaces/ws-000/agent-runs"
        );
        let sk = pools[&Kind::ServerKey].next();
        assert_eq!(sk.header, "x-server-key");
        assert_eq!(sk.value, "sk_live_x");
    }

    #[test]
    fn pools_reject_bad_lines() {
        let mut bad_header = line(Kind::ApiKey, "k");
        bad_header.header = "bad header".into();
        let mut bad_path = line(Kind::ApiKey, "k");
        bad_path.path = "no-slash".into();
        let stamp = line(Kind::StampEd25519, &"00".repeat(32));
        for l in [bad_header, bad_path, line(Kind::ApiKey, "k\nx"), stamp] {
            assert!(pools(vec![l], "", None).is_err());
        }
        assert!(pools(vec![line(Kind::ApiKey, "k")], "", Some("/other")).is_ok());
    }

    #[test]
    fn forgeries_are_well_formed_distinct_and_unknown() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let key = mint("mantyx_at_");
        let mut seen = HashSet::new();
        for _ in 0..100 {
            let f = forge_invalid(Kind::AccessToken, &key, &mut rng);
            assert!(
                f.starts_with("mantyx_at_") && checksum_ok(&f, "mantyx_at_"),
                "{f}"
            );
            assert_ne!(f, key);
            assert!(seen.insert(f));
        }
        let jwt =
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLWJ5dGVzLTMyLWxvbmctLS0tLS0tLS0";
        let f = forge_invalid(Kind::JwtHs256, jwt, &mut rng);
        let (head, sig) = f.rsplit_once('.').unwrap();
        assert_eq!(head, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0");
        assert_eq!(sig.len(), jwt.rsplit_once('.').unwrap().1.len());
        assert_ne!(f, jwt);
        let other = forge_invalid(Kind::ApiKey, "ak_short:ns", &mut rng);
        assert_ne!(other, "ak_short:ns");
        assert!(other.len() >= 16);
    }
}
