//! Parsed verification keys, and the JWKS cache for issuers with a URL.
//!
//! Every key is parsed into a [`VerifyingKey`] when the set is built (config
//! load, JWKS fetch); a key that does not parse is skipped then, with a
//! warning, instead of failing every request that selects it.
//!
//! The cache refreshes in the background, fetches one at a time
//! (single-flight: waiters re-check after the lock), refetches on an unknown
//! `kid` at most once per cooldown, and keeps serving the last good set when
//! a fetch fails.

use super::jws::VerifyingKey;
use crate::credential::digest::sha256;
use crate::metrics::METRICS;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use jsonwebtoken::jwk::{JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One verification key.
pub struct KeyEntry {
    /// `kid`, if the key has one.
    pub kid: Option<String>,
    /// The key, parsed.
    pub key: VerifyingKey,
    /// Algorithm pinned by the JWK's `alg`, if any.
    pub alg: Option<Algorithm>,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

/// A set of keys.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<Arc<KeyEntry>>,
}

impl KeySet {
    /// One key without `kid`.
    pub fn single(key: VerifyingKey) -> Self {
        Self {
            keys: vec![Arc::new(KeyEntry {
                kid: None,
                key,
                alg: None,
            })],
        }
    }

    /// Parse a JWKS document (or a single JWK); keys of unsupported types are skipped.
    pub fn from_jwks_json(bytes: &[u8]) -> Result<Self, String> {
        let set: JwkSet = match serde_json::from_slice::<JwkSet>(bytes) {
            Ok(set) => set,
            Err(e) => match serde_json::from_slice::<jsonwebtoken::jwk::Jwk>(bytes) {
                Ok(jwk) => JwkSet { keys: vec![jwk] },
                Err(_) => return Err(format!("not a JWKS document or a JWK: {e}")),
            },
        };
        let mut keys = Vec::new();
        for jwk in &set.keys {
            // `alg` and `use` are optional (RFC 7517): skip only keys that are
            // declared for encryption, and symmetric keys, which a public
            // document must never be trusted to supply.
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                continue;
            }
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            if key.family() == AlgorithmFamily::Hmac {
                continue;
            }
            let key = match VerifyingKey::from_decoding_key(&key) {
                Ok(key) => key,
                Err(e) => {
                    tracing::warn!(kid = ?jwk.common.key_id, error = %e, "skipping unusable JWK");
                    continue;
                }
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| Algorithm::from_str_opt(&a.to_string()));
            keys.push(Arc::new(KeyEntry {
                kid: jwk.common.key_id.clone(),
                key,
                alg,
            }));
        }
        if keys.is_empty() {
            return Err("the JWKS holds no usable key".into());
        }
        Ok(Self { keys })
    }

    /// The key for a token: by `kid` when the token has one and the set uses
    /// kids; otherwise the only key that can check the algorithm (its family
    /// and, for EC, its curve). `None` when
    /// the choice is not unique, which the caller treats as unknown `kid`.
    pub fn select(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<KeyEntry>> {
        let fits = |k: &&Arc<KeyEntry>| k.key.serves(alg) && k.alg.is_none_or(|a| a == alg);
        let set_has_kids = self.keys.iter().any(|k| k.kid.is_some());
        if let (Some(kid), true) = (kid, set_has_kids) {
            return self
                .keys
                .iter()
                .filter(fits)
                .find(|k| k.kid.as_deref() == Some(kid))
                .cloned();
        }
        let mut candidates = self.keys.iter().filter(fits);
        match (candidates.next(), candidates.next()) {
            (Some(only), None) if !set_has_kids || self.keys.len() == 1 => Some(only.clone()),
            _ => None,
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

trait FromStrOpt: Sized {
    fn from_str_opt(s: &str) -> Option<Self>;
}

impl FromStrOpt for Algorithm {
    fn from_str_opt(s: &str) -> Option<Self> {
        <Algorithm as std::str::FromStr>::from_str(s).ok()
    }
}

/// Bumped whenever any issuer's fetched key set changes; part of the cache
/// key of every JWT verdict, so a key removed from a JWKS URL stops
/// verifying at the next refresh instead of after `cache.ttl`.
static JWKS_EPOCH: AtomicU64 = AtomicU64::new(0);

/// The current JWKS epoch (see [`JWKS_EPOCH`]).
pub fn jwks_epoch() -> u64 {
    JWKS_EPOCH.load(Ordering::Acquire)
}

/// How a JWKS document is fetched: the core has no HTTP client; the proxy
/// supplies one (and tests may supply their own).
#[async_trait]
pub trait JwksFetch: Send + Sync {
    /// The body of a successful GET of `url`, or why there is none.
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, String>;
}

/// Keys fetched from a JWKS URL.
pub struct JwksCache {
    issuer: String,
    url: String,
    fetcher: Arc<dyn JwksFetch>,
    refresh: Duration,
    cooldown: Duration,
    keys: ArcSwap<KeySet>,
    last_attempt: Stamp,
    /// SHA-256 of the last document stored, to notice a changed set.
    last_doc: std::sync::Mutex<Option<[u8; 32]>>,
    fetch: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("issuer", &self.issuer)
            .field("url", &self.url)
            .finish()
    }
}

/// The time of the last fetch attempt.
#[derive(Default)]
struct Stamp(std::sync::Mutex<Option<Instant>>);

impl Stamp {
    fn get(&self) -> Option<Instant> {
        self.0.lock().map(|g| *g).unwrap_or(None)
    }

    fn set(&self, t: Instant) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(t);
        }
    }
}

impl JwksCache {
    /// A cache for `url` fetched with `fetcher`; nothing is fetched until
    /// the first use or refresh.
    pub fn new(
        issuer: &str,
        url: &str,
        refresh: Duration,
        cooldown: Duration,
        fetcher: Arc<dyn JwksFetch>,
    ) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err("the JWKS URL must be http or https".into());
        }
        Ok(Self {
            issuer: issuer.to_string(),
            url: url.to_string(),
            fetcher,
            refresh,
            cooldown,
            keys: ArcSwap::from_pointee(KeySet::default()),
            last_attempt: Default::default(),
            last_doc: std::sync::Mutex::new(None),
            fetch: tokio::sync::Mutex::new(()),
        })
    }

    /// Select a key; on a miss, refetch (single-flight, once per cooldown) and retry.
    pub async fn select(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<KeyEntry>> {
        let before = self.keys.load_full();
        if let Some(k) = before.select(kid, alg) {
            return Some(k);
        }
        let _guard = self.fetch.lock().await;
        // Someone else may have fetched while we waited.
        let now_keys = self.keys.load_full();
        if !Arc::ptr_eq(&before, &now_keys) {
            return now_keys.select(kid, alg);
        }
        if self
            .last_attempt
            .get()
            .is_some_and(|t| t.elapsed() < self.cooldown)
        {
            return None;
        }
        self.fetch_now().await;
        self.keys.load().select(kid, alg)
    }

    /// Fetch now if the refresh period has passed (background refresh).
    pub async fn refresh_if_due(&self) {
        if self
            .last_attempt
            .get()
            .is_some_and(|t| t.elapsed() < self.refresh)
        {
            return;
        }
        let _guard = self.fetch.lock().await;
        if self
            .last_attempt
            .get()
            .is_some_and(|t| t.elapsed() < self.refresh)
        {
            return;
        }
        self.fetch_now().await;
    }

    /// Number of keys held now.
    pub fn key_count(&self) -> usize {
        self.keys.load().len()
    }

    /// Fetch and swap in the set; on failure keep the last good set. Caller holds `fetch`.
    async fn fetch_now(&self) {
        self.last_attempt.set(Instant::now());
        let result = match self.fetcher.fetch(&self.url).await {
            Ok(body) => KeySet::from_jwks_json(&body).map(|set| (set, sha256(&body))),
            Err(e) => Err(e),
        };
        match result {
            Ok((set, digest)) => {
                let changed = match self.last_doc.lock() {
                    Ok(mut last) => last.replace(digest) != Some(digest),
                    Err(_) => true,
                };
                let n = set.len();
                self.keys.store(Arc::new(set));
                if changed {
                    // Verdicts cached under the old set (a token signed by a
                    // key that left it) must not outlive it.
                    JWKS_EPOCH.fetch_add(1, Ordering::Release);
                }
                tracing::info!(issuer = %self.issuer, keys = n, "jwks fetched");
                METRICS
                    .jwks_fetches
                    .with_label_values(&[&self.issuer, "ok"])
                    .inc();
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "jwks fetch failed; keeping last good set");
                METRICS
                    .jwks_fetches
                    .with_label_values(&[&self.issuer, "error"])
                    .inc();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"kid":"ec256-1","kty":"EC","crv":"P-256","alg":"ES256",
        "x":"rVxc1M4g_5cLJ3Fopv54TnVmmbokt8HgllR1t0HoT2g",
        "y":"_yJuFEKH-dXM8GpKHJ9KcE3DC0tptvtSVsuTR00zjGE"}"#;
    // Well-formed base64, but not a point on P-256.
    const OFF_CURVE: &str = r#"{"kid":"bad","kty":"EC","crv":"P-256",
        "x":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc",
        "y":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"}"#;

    #[test]
    fn without_kids_each_ec_algorithm_finds_the_key_on_its_curve() {
        // No kid and no alg: the curve alone decides.
        let p256 = r#"{"kty":"EC","crv":"P-256",
            "x":"rVxc1M4g_5cLJ3Fopv54TnVmmbokt8HgllR1t0HoT2g",
            "y":"_yJuFEKH-dXM8GpKHJ9KcE3DC0tptvtSVsuTR00zjGE"}"#;
        let p384 = r#"{"kty":"EC","crv":"P-384",
            "x":"LgiiNqN0i97KMSyOTbWwqjaX6ShP9-EmGHcc4dZYjwVChnc-6Y6yI8e6HKXBr5Zi",
            "y":"N79SsSCUIo27rlM8NXwOU0PP771bxR6Hv50LcYxKTFanGgzvL6do8ImxhyFcQcEi"}"#;
        let doc = format!(r#"{{"keys":[{p256},{p384}]}}"#);
        let set = KeySet::from_jwks_json(doc.as_bytes()).unwrap();
        assert_eq!(set.len(), 2);
        let es256 = set.select(None, Algorithm::ES256).unwrap();
        let es384 = set.select(None, Algorithm::ES384).unwrap();
        assert!(es256.key.serves(Algorithm::ES256) && es384.key.serves(Algorithm::ES384));
        assert!(set.select(None, Algorithm::RS256).is_none());
    }

    #[test]
    fn unusable_jwks_are_skipped_when_the_set_is_built() {
        let doc = format!(r#"{{"keys":[{OFF_CURVE},{GOOD}]}}"#);
        let set = KeySet::from_jwks_json(doc.as_bytes()).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.select(Some("bad"), Algorithm::ES256).is_none());
        assert!(set.select(Some("ec256-1"), Algorithm::ES256).is_some());
        let only_bad = format!(r#"{{"keys":[{OFF_CURVE}]}}"#);
        assert!(KeySet::from_jwks_json(only_bad.as_bytes()).is_err());
    }
}
