//! Signing-key credentials: ed25519 keys that `prepare` mints and registers
//! as `kind = "stamp"` keys, and the pool `run` signs with, either as an
//! `X-Stamp` (`stamp_ed25519`) or as an RFC 9421 message signature
//! (`httpsig_ed25519`, [`super::httpsig`]; its `keyid` is the public key).
//!
//! A stamp is good once (`docs/contracts.md` §4): authgate checks the body's
//! `timestampMs` against its window and remembers every signature it
//! accepted. So every request gets a new body,
//! `{"timestampMs":<now>,"n":<counter>}`, and a new `X-Stamp` over it
//! ([`crate::demo::ed25519_stamp`]). The counter is shared by the workers
//! and starts at a random value, so no two requests of a run (or of two
//! runs) sign the same bytes with the same key. Signing costs the load tool
//! about 20 µs per request (release build); that is not the target's time.
//!
//! Forgeries (`--invalid`) are signed correctly over a fresh body, by a
//! fresh key nobody registered: authgate checks the signature and the
//! timestamp, then looks the key up and misses — the most work an unknown
//! stamp can cost it — and no two forgeries share a key, so the negative
//! cache does not absorb them.

use super::credentials::{parse_path, CredentialLine, Kind};
use super::httpsig;
use crate::config::model::KeySection;
use bytes::Bytes;
use ed25519_dalek::SigningKey;
use http::{HeaderName, HeaderValue, Uri};
use rand::Rng;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The header stamps travel in.
pub const STAMP_HEADER: &str = "x-stamp";
/// Scope of every minted stamp key: the create-run route requires it.
pub const STAMP_SCOPE: &str = "runs:write";

/// The header a signing-key kind is named by in the credentials file.
fn header_of(kind: Kind) -> &'static str {
    match kind {
        Kind::HttpsigEd25519 => "signature-input",
        _ => STAMP_HEADER,
    }
}

/// Mint signing key number `i` of `kind` (`stamp_ed25519` or
/// `httpsig_ed25519`) for `workspace`: its `[[keys]]` record (public key
/// only) and its credentials-file line (the private seed, hex) for `path`.
pub fn mint(
    kind: Kind,
    i: usize,
    workspace: &str,
    path: String,
    rng: &mut impl Rng,
) -> (KeySection, CredentialLine) {
    let key = SigningKey::from_bytes(&rng.gen());
    let record = KeySection {
        id: format!("lt_{kind}_{i}"),
        digest: None,
        kind: "stamp".into(),
        public_key: Some(hex::encode(key.verifying_key().to_bytes())),
        scheme: Some("ed25519".into()),
        subject: format!("{kind}-subject-{i}"),
        workspace: Some(workspace.into()),
        scopes: vec![STAMP_SCOPE.into()],
        allow: vec![],
        usage: None,
        expires_at: None,
        disabled: false,
        rate_limit: None,
    };
    let line = CredentialLine {
        kind,
        credential: hex::encode(key.to_bytes()),
        path,
        header: header_of(kind).into(),
    };
    (record, line)
}

/// One signed request: where it goes, its signature headers (`X-Stamp`,
/// or `Signature-Input`, `Signature` and `Content-Digest`) and the body
/// they sign.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Request path (origin form).
    pub path: Uri,
    /// The signature headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The exact body signed.
    pub body: Bytes,
}

struct Signer {
    key: SigningKey,
    path: Uri,
}

/// Signing keys of one kind handed out round-robin (one cursor for every
/// worker, so a run uses every key), each request signed afresh.
pub struct StampPool {
    kind: Kind,
    signers: Vec<Signer>,
    cursor: AtomicUsize,
    counter: AtomicU64,
}

impl std::fmt::Debug for StampPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the signing keys.
        f.debug_struct("StampPool")
            .field("kind", &self.kind)
            .field("keys", &self.signers.len())
            .finish_non_exhaustive()
    }
}

impl StampPool {
    /// A pool of the `kind` lines (`stamp_ed25519` or `httpsig_ed25519`),
    /// at least one; paths are joined onto `base_path`, or replaced by
    /// `path_override`, as for other kinds.
    pub fn from_lines(
        kind: Kind,
        lines: Vec<CredentialLine>,
        base_path: &str,
        path_override: Option<&str>,
    ) -> Result<StampPool, String> {
        let mut signers = Vec::with_capacity(lines.len());
        for (i, line) in lines.into_iter().enumerate() {
            let ctx = |e: &str| format!("signing key {} ({}): {e}", i + 1, line.kind);
            if line.kind != kind || !kind.is_stamp() {
                return Err(ctx(&format!("not a {kind} key")));
            }
            if !line.header.eq_ignore_ascii_case(header_of(kind)) {
                return Err(ctx(&format!(
                    "{kind} keys are named by {}",
                    header_of(kind)
                )));
            }
            let mut seed = [0u8; 32];
            hex::decode_to_slice(&line.credential, &mut seed)
                .map_err(|_| ctx("the credential must be a 32-byte seed in hex"))?;
            let path = format!("{base_path}{}", path_override.unwrap_or(&line.path));
            let path = parse_path(&path).map_err(|e| ctx(&e))?;
            signers.push(Signer {
                key: SigningKey::from_bytes(&seed),
                path,
            });
        }
        if signers.is_empty() {
            return Err(format!("no {kind} keys"));
        }
        Ok(StampPool {
            kind,
            signers,
            cursor: AtomicUsize::new(0),
            counter: AtomicU64::new(u64::from(rand::thread_rng().gen::<u32>())),
        })
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.signers.len()
    }

    /// Whether the pool is empty (never true for a pool from [`StampPool::from_lines`]).
    pub fn is_empty(&self) -> bool {
        self.signers.is_empty()
    }

    /// A new body signed by the next key in rotation, for a request to
    /// `authority` (what an RFC 9421 signature covers as `@authority`).
    pub fn next(&self, authority: &str) -> Signed {
        let i = self.cursor.fetch_add(1, Ordering::Relaxed) % self.signers.len();
        let s = &self.signers[i];
        self.sign(&s.key, &s.path, authority)
    }

    /// A new body, correctly signed by a fresh key that nobody registered,
    /// sent where a real key of the pool would go.
    pub fn invalid(&self, rng: &mut impl Rng, authority: &str) -> Signed {
        let key = SigningKey::from_bytes(&rng.gen());
        let path = &self.signers[rng.gen_range(0..self.signers.len())].path;
        self.sign(&key, path, authority)
    }

    fn sign(&self, key: &SigningKey, path: &Uri, authority: &str) -> Signed {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let now = now_ms();
        let body = body(now, n);
        let headers = if self.kind == Kind::HttpsigEd25519 {
            httpsig::sign(key, authority, path, body.as_bytes(), now / 1000, n).to_vec()
        } else {
            let stamp = crate::demo::ed25519_stamp(key, &body);
            // base64url is visible ASCII, so this cannot fail; an empty
            // stamp (refused by authgate, and counted) beats a panic on
            // the hot path.
            let stamp = HeaderValue::from_str(&stamp).unwrap_or(HeaderValue::from_static(""));
            vec![(HeaderName::from_static(STAMP_HEADER), stamp)]
        };
        Signed {
            path: path.clone(),
            headers,
            body: Bytes::from(body),
        }
    }
}

/// The JSON body of a stamped request: `{"timestampMs":<ms>,"n":<n>}`.
pub fn body(timestamp_ms: u64, n: u64) -> String {
    format!(r#"{{"timestampMs":{timestamp_ms},"n":{n}}}"#)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::stamp::{check_freshness, parse, verify, StampScheme};
    use std::collections::HashSet;
    use std::time::Duration;

    fn pool(n: usize) -> (Vec<KeySection>, StampPool) {
        let mut rng = rand::thread_rng();
        let (records, lines): (Vec<_>, Vec<_>) = (0..n)
            .map(|i| mint(Kind::StampEd25519, i, "ws-000", format!("/w/{i}"), &mut rng))
            .unzip();
        (
            records,
            StampPool::from_lines(Kind::StampEd25519, lines, "/base", None).unwrap(),
        )
    }

    /// The stamp parses, verifies over the body, and the body is fresh.
    fn check(s: &Signed) -> String {
        assert_eq!(s.headers.len(), 1);
        assert_eq!(s.headers[0].0, STAMP_HEADER);
        let stamp = parse(s.headers[0].1.to_str().unwrap()).unwrap();
        assert_eq!(stamp.scheme(), StampScheme::Ed25519);
        verify(&stamp, &s.body).unwrap();
        let window = Duration::from_secs(60);
        check_freshness(&s.body, "timestampMs", now_ms(), window, window, true).unwrap();
        stamp.key_id()
    }

    #[test]
    fn every_request_is_signed_afresh_by_a_registered_key() {
        let (records, pool) = pool(3);
        let registered: HashSet<String> = records
            .iter()
            .filter_map(|r| r.public_key.clone())
            .collect();
        assert_eq!(registered.len(), 3);
        assert!(records
            .iter()
            .all(|r| r.kind == "stamp" && r.digest.is_none() && r.scopes == [STAMP_SCOPE]));
        let mut keys = HashSet::new();
        let mut bodies = HashSet::new();
        let mut stamps = HashSet::new();
        for _ in 0..6 {
            let s = pool.next("127.0.0.1:1");
            let key = check(&s);
            assert!(registered.contains(&key), "{key} not registered");
            assert!(s.path.path().starts_with("/base/w/"), "{}", s.path);
            keys.insert(key);
            bodies.insert(s.body.clone());
            stamps.insert(s.headers[0].1.clone());
        }
        assert_eq!(keys.len(), 3, "rotation skips keys");
        assert_eq!(
            (bodies.len(), stamps.len()),
            (6, 6),
            "a body or stamp repeats"
        );
    }

    #[test]
    fn forgeries_are_valid_signatures_by_unknown_distinct_keys() {
        let (records, pool) = pool(2);
        let registered: HashSet<String> = records
            .iter()
            .filter_map(|r| r.public_key.clone())
            .collect();
        let mut rng = rand::thread_rng();
        let forged: HashSet<String> = (0..20)
            .map(|_| check(&pool.invalid(&mut rng, "127.0.0.1:1")))
            .collect();
        assert_eq!(forged.len(), 20);
        assert!(forged.is_disjoint(&registered));
    }

    #[test]
    fn bad_lines_are_refused() {
        let (_, line) = mint(
            Kind::StampEd25519,
            0,
            "ws",
            "/p".into(),
            &mut rand::thread_rng(),
        );
        type Edit = fn(&mut CredentialLine);
        let edits: [(&str, Edit); 5] = [
            ("not a stamp_ed25519 key", |l| l.kind = Kind::ApiKey),
            ("x-stamp", |l| l.header = "authorization".into()),
            ("32-byte seed", |l| l.credential.truncate(10)),
            ("32-byte seed", |l| l.credential = "zz".repeat(32)),
            ("must start with '/'", |l| l.path = "p".into()),
        ];
        for (want, edit) in edits {
            let mut l = line.clone();
            edit(&mut l);
            let err = StampPool::from_lines(Kind::StampEd25519, vec![l], "", None).unwrap_err();
            assert!(err.contains(want), "{want}: {err}");
        }
        assert!(StampPool::from_lines(Kind::StampEd25519, vec![], "", None).is_err());
        let err =
            StampPool::from_lines(Kind::HttpsigEd25519, vec![line.clone()], "", None).unwrap_err();
        assert!(err.contains("not a httpsig_ed25519 key"), "{err}");
        let p = StampPool::from_lines(Kind::StampEd25519, vec![line], "", Some("/other")).unwrap();
        assert_eq!(p.next("h").path, "/other");
        assert_eq!(body(12, 3), r#"{"timestampMs":12,"n":3}"#);
    }

    #[test]
    fn httpsig_keys_sign_message_signatures() {
        let mut rng = rand::thread_rng();
        let (record, line) = mint(Kind::HttpsigEd25519, 4, "ws-1", "/w".into(), &mut rng);
        assert_eq!(
            (record.kind.as_str(), line.header.as_str()),
            ("stamp", "signature-input")
        );
        assert_eq!(record.id, "lt_httpsig_ed25519_4");
        let pool = StampPool::from_lines(Kind::HttpsigEd25519, vec![line], "", None).unwrap();
        let s = pool.next("127.0.0.1:8080");
        let names: Vec<&str> = s.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["signature-input", "signature", "content-digest"]);
        let input = s.headers[0].1.to_str().unwrap();
        let key = record.public_key.unwrap();
        assert!(input.contains(&format!("keyid=\"{key}\"")), "{input}");
    }
}
