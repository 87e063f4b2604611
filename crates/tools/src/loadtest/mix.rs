//! `--mix`: which credential kinds a run sends, and in what proportion.
//!
//! The syntax is a comma-separated list of `kind=weight` (or a bare `kind`,
//! weight 1), e.g. `api_key=3,jwt_rs256=1`. Weights are whole numbers; a
//! kind's share is its weight over the sum.

use super::credentials::Kind;
use std::fmt;

/// A parsed, non-empty weighted mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    /// `(kind, cumulative weight)`, in the order given; only positive weights.
    cumulative: Vec<(Kind, u64)>,
}

/// Why a `--mix` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixError(pub String);

impl fmt::Display for MixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid --mix: {}", self.0)
    }
}

impl std::error::Error for MixError {}

/// Largest weight accepted; keeps sums far from overflow.
const MAX_WEIGHT: u64 = 1_000_000;

fn known_kinds() -> String {
    Kind::ALL.map(Kind::as_str).join(", ")
}

impl Mix {
    /// Parse `kind=weight,...`.
    pub fn parse(text: &str) -> Result<Mix, MixError> {
        let mut seen: Vec<Kind> = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0u64;
        for raw in text.split(',') {
            let entry = raw.trim();
            if entry.is_empty() {
                return Err(MixError(format!(
                    "empty entry in '{text}' (expected kind=weight, comma-separated)"
                )));
            }
            let (name, weight) = match entry.split_once('=') {
                Some((n, w)) => (n.trim(), Some(w.trim())),
                None => (entry, None),
            };
            let kind = Kind::parse(name).ok_or_else(|| {
                MixError(format!(
                    "unknown kind '{name}' (expected one of {})",
                    known_kinds()
                ))
            })?;
            let weight = match weight {
                None => 1,
                Some(w) => w
                    .parse::<u64>()
                    .ok()
                    .filter(|w| *w <= MAX_WEIGHT)
                    .ok_or_else(|| {
                        MixError(format!(
                            "weight '{w}' of {kind} is not a whole number from 0 to {MAX_WEIGHT}"
                        ))
                    })?,
            };
            if seen.contains(&kind) {
                return Err(MixError(format!("{kind} is listed twice")));
            }
            seen.push(kind);
            if weight > 0 {
                total += weight;
                cumulative.push((kind, total));
            }
        }
        if cumulative.is_empty() {
            return Err(MixError("every weight is zero".into()));
        }
        Ok(Mix { cumulative })
    }

    /// Every kind in `kinds`, weight 1 each; `None` when `kinds` is empty.
    pub fn uniform(kinds: impl IntoIterator<Item = Kind>) -> Option<Mix> {
        let cumulative: Vec<_> = kinds
            .into_iter()
            .enumerate()
            .map(|(i, k)| (k, i as u64 + 1))
            .collect();
        (!cumulative.is_empty()).then_some(Mix { cumulative })
    }

    /// The kinds with a positive weight.
    pub fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        self.cumulative.iter().map(|(k, _)| *k)
    }

    /// Sum of the weights.
    pub fn total(&self) -> u64 {
        self.cumulative.last().map(|(_, c)| *c).unwrap_or(0)
    }

    /// The kind for a ticket `r` in `0..total()`; out-of-range tickets wrap.
    pub fn pick(&self, r: u64) -> Kind {
        let r = r % self.total().max(1);
        // At most one entry per kind: a scan beats a binary search here.
        self.cumulative
            .iter()
            .find(|(_, c)| r < *c)
            .or(self.cumulative.last())
            .map(|(k, _)| *k)
            .unwrap_or(Kind::ApiKey)
    }

    /// Share of each kind, for display.
    pub fn shares(&self) -> Vec<(Kind, f64)> {
        let total = self.total().max(1) as f64;
        let mut prev = 0;
        self.cumulative
            .iter()
            .map(|(k, c)| {
                let w = c - prev;
                prev = *c;
                (*k, w as f64 / total)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Kind::*;

    #[test]
    fn parse_table() {
        let ok: &[(&str, &[(Kind, u64)])] = &[
            ("api_key", &[(ApiKey, 1)]),
            ("api_key=3", &[(ApiKey, 3)]),
            ("api_key=3,jwt_rs256=1", &[(ApiKey, 3), (JwtRs256, 1)]),
            (" api_key = 2 , server_key ", &[(ApiKey, 2), (ServerKey, 1)]),
            ("api_key=0,jwt_eddsa=5", &[(JwtEddsa, 5)]),
            ("stamp_ed25519=2,api_key", &[(StampEd25519, 2), (ApiKey, 1)]),
            (
                "api_key,access_token,server_key,jwt_hs256,jwt_rs256,jwt_es256,jwt_eddsa",
                &[
                    (ApiKey, 1),
                    (AccessToken, 1),
                    (ServerKey, 1),
                    (JwtHs256, 1),
                    (JwtRs256, 1),
                    (JwtEs256, 1),
                    (JwtEddsa, 1),
                ],
            ),
        ];
        for (text, want) in ok {
            let mix = Mix::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let got: Vec<(Kind, u64)> = mix
                .shares()
                .iter()
                .map(|(k, s)| (*k, (s * mix.total() as f64).round() as u64))
                .collect();
            assert_eq!(&got, want, "{text}");
        }
    }

    #[test]
    fn bad_inputs_are_refused_with_a_reason() {
        let bad = [
            ("", "empty entry"),
            ("api_key,", "empty entry"),
            ("jwt=1", "unknown kind 'jwt'"),
            ("API_KEY=1", "unknown kind"),
            ("api_key=x", "not a whole number"),
            ("api_key=-1", "not a whole number"),
            ("api_key=1.5", "not a whole number"),
            ("api_key=99999999", "not a whole number"),
            ("api_key=", "not a whole number"),
            ("api_key=1,api_key=2", "listed twice"),
            ("api_key=0", "every weight is zero"),
            ("api_key=1=2", "not a whole number"),
        ];
        for (text, want) in bad {
            let err = Mix::parse(text).expect_err(text).to_string();
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(err.starts_with("invalid --mix"), "{err}");
        }
    }

    #[test]
    fn pick_follows_the_weights() {
        let mix = Mix::parse("api_key=3,jwt_rs256=1").unwrap();
        assert_eq!(mix.total(), 4);
        let picks: Vec<Kind> = (0..8).map(|r| mix.pick(r)).collect();
        assert_eq!(
            picks,
            [ApiKey, ApiKey, ApiKey, JwtRs256, ApiKey, ApiKey, ApiKey, JwtRs256]
        );
        let uni = Mix::uniform([ServerKey, JwtHs256]).unwrap();
        assert_eq!(uni.pick(0), ServerKey);
        assert_eq!(uni.pick(1), JwtHs256);
        assert!(Mix::uniform([]).is_none());
    }
}
