//! The whole check for one request, in a fixed order: body size, envelope
//! and key/signature decoding ([`parse_bytes`]), scheme allow-list,
//! signature ([`verify`]), freshness ([`check_freshness`]), then replay
//! ([`ReplayGuard`]) — last, so only stamps that passed everything else are
//! remembered.
//!
//! What the stamp proves is possession of the key; whether that key is
//! registered, and for whom, is the caller's lookup by
//! [`VerifiedStamp::key_id`].

use super::freshness::{check_freshness, DEFAULT_TIMESTAMP_FIELD};
use super::replay::ReplayGuard;
use super::{parse_bytes, verify, NormalisedKey, StampError, StampScheme};
use std::time::Duration;

/// What a route accepts from stamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampPolicy {
    /// Accepted schemes (allow-list). Default: all three.
    pub schemes: Vec<StampScheme>,
    /// Largest body that is verified. Default: 1 MiB.
    pub max_body_bytes: usize,
    /// Dotted path of the body's millisecond timestamp. Default: `timestampMs`.
    pub timestamp_field: String,
    /// How old a timestamp may be. Default: 5 minutes.
    pub window: Duration,
    /// Clock skew allowed both ways. Default: 30 seconds.
    pub leeway: Duration,
    /// Refuse bodies without a timestamp. Default: true. Without timestamps,
    /// replay protection lasts only as long as the replay guard's TTL.
    pub require_timestamp: bool,
    /// Replay guard capacity (entries). Default: 100,000, enough for about
    /// 270 accepted stamps per second over the default TTL of 6 minutes.
    pub replay_capacity: u64,
}

impl Default for StampPolicy {
    fn default() -> Self {
        Self {
            schemes: StampScheme::ALL.to_vec(),
            max_body_bytes: 1024 * 1024,
            timestamp_field: DEFAULT_TIMESTAMP_FIELD.to_string(),
            window: Duration::from_secs(300),
            leeway: Duration::from_secs(30),
            require_timestamp: true,
            replay_capacity: 100_000,
        }
    }
}

/// A stamp that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedStamp {
    /// Its scheme.
    pub scheme: StampScheme,
    /// The signer's key, normalised.
    pub key: NormalisedKey,
}

impl VerifiedStamp {
    /// Lower-case hex of the normalised key, for the store lookup.
    pub fn key_id(&self) -> String {
        self.key.to_hex()
    }
}

/// Policy plus its replay guard. Cheap to clone; clones share the guard.
#[derive(Debug, Clone)]
pub struct StampVerifier {
    policy: StampPolicy,
    replay: ReplayGuard,
}

impl StampVerifier {
    /// A verifier with a fresh replay guard sized from `policy`.
    pub fn new(policy: StampPolicy) -> Self {
        let replay = ReplayGuard::for_window(policy.window, policy.leeway, policy.replay_capacity);
        Self { policy, replay }
    }

    /// A verifier sharing an existing guard (e.g. across a config reload, so
    /// stamps seen before the reload stay refused).
    pub fn with_guard(policy: StampPolicy, replay: ReplayGuard) -> Self {
        Self { policy, replay }
    }

    /// The policy.
    pub fn policy(&self) -> &StampPolicy {
        &self.policy
    }

    /// The replay guard.
    pub fn replay_guard(&self) -> &ReplayGuard {
        &self.replay
    }

    /// Check one request: `header` is the raw `X-Stamp` value, `body` the
    /// exact body bytes, `now_ms` the current time in Unix milliseconds.
    pub fn verify_request(
        &self,
        header: &[u8],
        body: &[u8],
        now_ms: u64,
    ) -> Result<VerifiedStamp, StampError> {
        let p = &self.policy;
        if body.len() > p.max_body_bytes {
            return Err(StampError::BodyTooLarge);
        }
        let stamp = parse_bytes(header)?;
        if !p.schemes.contains(&stamp.scheme()) {
            return Err(StampError::SchemeNotAllowed);
        }
        verify(&stamp, body)?;
        check_freshness(
            body,
            &p.timestamp_field,
            now_ms,
            p.window,
            p.leeway,
            p.require_timestamp,
        )?;
        self.replay.check_and_remember(&stamp)?;
        Ok(VerifiedStamp {
            scheme: stamp.scheme(),
            key: *stamp.public_key(),
        })
    }
}
