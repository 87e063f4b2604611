//! A stored key's own limits: its rate limit and its usage quota, as the
//! admin API reads and writes them, and as seven columns of
//! `authgate_keys` (schema version 6).
//!
//! A quota is a number of uses left (`remaining`), spent one per admitted
//! request by one conditional `UPDATE` (so every instance sharing the
//! database spends from the same count, and none below zero), and
//! optionally refilled to `amount` at the start of each UTC day or month:
//! the spend that first sees a new period resets the count before taking
//! from it.

use authgate_core::limits_keys::{KeyLimits, KeyRate};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The columns, in the order of [`LimitColumns`].
pub const LIMIT_COLUMNS: &str = "rl_rate, rl_per_ms, rl_burst, quota_remaining, \
    quota_refill_amount, quota_refill_interval, quota_refilled_at";

/// A key's own rate limit: `rate` requests per `per`, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRateLimit {
    /// Requests per `per`, sustained (1 to 1,000,000,000).
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub rate: u32,
    /// The period of `rate`: 1–999 seconds (`"30s"`), 1–59 minutes
    /// (`"5m"`), 1–24 hours (`"1h"`) or one day (`"1d"`); each of them
    /// valid for any `rate` up to 10^9. Written back in the largest unit
    /// that divides it (`"120s"` reads back as `"2m"`).
    #[serde(with = "per")]
    #[schema(value_type = String, example = "1s", pattern = "^([1-9][0-9]{0,2}s|([1-9]|[1-5][0-9])m|([1-9]|1[0-9]|2[0-4])h|1d)$")]
    pub per: Duration,
    /// Requests allowed at once (default: `rate`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_opt"
    )]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub burst: Option<u32>,
}

impl KeyRateLimit {
    /// What is wrong with it, if anything.
    pub fn problem(&self) -> Option<&'static str> {
        if !(1..=1_000_000_000).contains(&self.rate) {
            return Some("rate_limit.rate: 1 to 1000000000");
        }
        if self.per < Duration::from_millis(1) || self.per > Duration::from_secs(86_400) {
            return Some("rate_limit.per: from 1ms to 1 day");
        }
        if self
            .burst
            .is_some_and(|b| !(1..=1_000_000_000).contains(&b))
        {
            return Some("rate_limit.burst: 1 to 1000000000");
        }
        if self.per.checked_div(self.rate).is_none_or(|d| d.is_zero()) {
            return Some("rate_limit: more than one request per nanosecond");
        }
        None
    }

    /// The limit the verifiers count.
    pub fn rate(&self) -> KeyRate {
        KeyRate {
            rate: self.rate,
            per: self.per,
            burst: self.burst.unwrap_or(self.rate),
        }
    }
}

/// A rate limit's period: `<n>s` (1–999), `<n>m` (1–59), `<n>h` (1–24)
/// or `1d`, and written back in the largest unit that divides it.
mod per {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Parse one period of the grammar above.
    pub fn parse(text: &str) -> Option<Duration> {
        let split = text.find(|c: char| !c.is_ascii_digit())?;
        let (digits, unit) = text.split_at(split);
        if digits.starts_with('0') {
            return None;
        }
        let n: u64 = digits.parse().ok()?;
        let (max, secs) = match unit {
            "s" => (999, 1),
            "m" => (59, 60),
            "h" => (24, 3600),
            "d" => (1, 86_400),
            _ => return None,
        };
        (1..=max)
            .contains(&n)
            .then(|| Duration::from_secs(n * secs))
    }

    /// The period in the largest unit that divides it.
    pub fn format(d: &Duration) -> String {
        let secs = d.as_secs();
        if d.subsec_nanos() != 0 || secs == 0 {
            return format!("{}ms", d.as_millis());
        }
        match secs {
            86_400 => "1d".into(),
            s if s % 3600 == 0 => format!("{}h", s / 3600),
            s if s % 60 == 0 && s / 60 <= 59 => format!("{}m", s / 60),
            s => format!("{s}s"),
        }
    }

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "rate_limit.per: 1-999s, 1-59m, 1-24h or 1d, not {text:?}"
            ))
        })
    }
}

/// A whole number, also written with a zero fraction (`349.0`, which JSON
/// Schema counts as an integer); any other fraction, or a number out of
/// the field's range, is an error.
fn whole<'de, D: serde::Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<T, D::Error> {
    use serde::de::Error;
    let n = serde_json::Number::deserialize(d)?;
    let i = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => i,
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => f as i64,
        _ => return Err(D::Error::custom(format!("a whole number, not {n}"))),
    };
    T::try_from(i).map_err(|_| D::Error::custom(format!("{i} is out of range")))
}

/// [`whole`], optional (`null` or absent: `None`).
fn whole_opt<'de, D: serde::Deserializer<'de>, T: TryFrom<i64>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    #[derive(Deserialize)]
    struct W<T: TryFrom<i64>>(#[serde(deserialize_with = "whole")] T);
    Ok(Option::<W<T>>::deserialize(d)?.map(|w| w.0))
}

/// How often a quota refills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RefillInterval {
    /// At 00:00 UTC every day.
    Daily,
    /// At 00:00 UTC on the first of every month.
    Monthly,
}

impl RefillInterval {
    fn as_str(self) -> &'static str {
        match self {
            RefillInterval::Daily => "daily",
            RefillInterval::Monthly => "monthly",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "daily" => Some(RefillInterval::Daily),
            "monthly" => Some(RefillInterval::Monthly),
            _ => None,
        }
    }

    /// The start of the period containing `at` (Unix seconds, UTC).
    pub fn period_start(self, at: i64) -> i64 {
        let day = at.div_euclid(86_400) * 86_400;
        match self {
            RefillInterval::Daily => day,
            RefillInterval::Monthly => time::OffsetDateTime::from_unix_timestamp(day)
                .ok()
                .and_then(|d| d.replace_day(1).ok())
                .map_or(day, |d| d.unix_timestamp()),
        }
    }

    /// The start of the period after the one containing `at`.
    pub fn next_start(self, at: i64) -> i64 {
        match self {
            RefillInterval::Daily => self.period_start(at) + 86_400,
            // 32 days past the first of a month is always in the next one.
            RefillInterval::Monthly => self.period_start(self.period_start(at) + 32 * 86_400),
        }
    }
}

/// A quota's refill: back to `amount` uses at the start of each period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaRefill {
    /// Uses after a refill (0 to 10^15).
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub amount: i64,
    /// `daily` or `monthly` (UTC).
    pub interval: RefillInterval,
}

/// A key's usage quota as stored and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KeyQuota {
    /// Uses left (as last spent; a refill due applies at the next use).
    pub remaining: i64,
    /// How it refills, if it does.
    pub refill: Option<QuotaRefill>,
    /// When it was last set or refilled (Unix seconds).
    pub refilled_at: Option<i64>,
}

/// A quota to set (create or update): the uses left now, and the refill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaSetting {
    /// Uses left from now (0 to 10^15).
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub remaining: i64,
    /// How it refills, if it does.
    #[serde(default)]
    pub refill: Option<QuotaRefill>,
}

const MAX_USES: i64 = 1_000_000_000_000_000;

impl QuotaSetting {
    /// What is wrong with it, if anything.
    pub fn problem(&self) -> Option<&'static str> {
        if !(0..=MAX_USES).contains(&self.remaining) {
            return Some("quota.remaining: 0 to 10^15");
        }
        if self
            .refill
            .is_some_and(|r| !(0..=MAX_USES).contains(&r.amount))
        {
            return Some("quota.refill.amount: 0 to 10^15");
        }
        None
    }

    /// The stored quota, set at `at`.
    pub fn quota(&self, at: i64) -> KeyQuota {
        KeyQuota {
            remaining: self.remaining,
            refill: self.refill,
            refilled_at: Some(at),
        }
    }
}

/// The seven columns of a key's limits, as both databases store them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitColumns {
    /// `rl_rate`.
    pub rate: Option<i64>,
    /// `rl_per_ms`.
    pub per_ms: Option<i64>,
    /// `rl_burst`.
    pub burst: Option<i64>,
    /// `quota_remaining`.
    pub remaining: Option<i64>,
    /// `quota_refill_amount`.
    pub refill_amount: Option<i64>,
    /// `quota_refill_interval`.
    pub refill_interval: Option<String>,
    /// `quota_refilled_at`.
    pub refilled_at: Option<i64>,
}

impl LimitColumns {
    /// The columns of `rate` and `quota`.
    pub fn of(rate: Option<&KeyRateLimit>, quota: Option<&KeyQuota>) -> Self {
        let refill = quota.and_then(|q| q.refill);
        Self {
            rate: rate.map(|r| i64::from(r.rate)),
            per_ms: rate.map(|r| r.per.as_millis().min(i64::MAX as u128) as i64),
            burst: rate.and_then(|r| r.burst).map(i64::from),
            remaining: quota.map(|q| q.remaining),
            refill_amount: refill.map(|r| r.amount),
            refill_interval: refill.map(|r| r.interval.as_str().to_string()),
            refilled_at: quota.and_then(|q| q.refilled_at),
        }
    }

    /// The columns of a stored key's rate limit and quota.
    pub fn of_key(k: &crate::model::StoredKey) -> Self {
        Self::of(k.rate_limit.as_ref(), k.quota.as_ref())
    }

    /// The rate limit and quota they hold; `None` for unreadable values.
    #[allow(clippy::type_complexity)]
    pub fn read(&self) -> Option<(Option<KeyRateLimit>, Option<KeyQuota>)> {
        let rate = match (self.rate, self.per_ms) {
            (Some(rate), Some(ms)) => Some(KeyRateLimit {
                rate: u32::try_from(rate).ok()?,
                per: Duration::from_millis(u64::try_from(ms).ok()?),
                burst: match self.burst {
                    Some(b) => Some(u32::try_from(b).ok()?),
                    None => None,
                },
            }),
            _ => None,
        };
        let refill = match (self.refill_amount, &self.refill_interval) {
            (Some(amount), Some(i)) => Some(QuotaRefill {
                amount,
                interval: RefillInterval::parse(i)?,
            }),
            _ => None,
        };
        let quota = self.remaining.map(|remaining| KeyQuota {
            remaining,
            refill,
            refilled_at: self.refilled_at,
        });
        Some((rate, quota))
    }
}

/// What the verifiers read of a key's limits.
pub fn key_limits(rate: Option<&KeyRateLimit>, quota: Option<&KeyQuota>) -> KeyLimits {
    KeyLimits {
        rate: rate.map(KeyRateLimit::rate),
        quota: quota.is_some(),
    }
}

/// The period starts a spend at `at` compares `quota_refilled_at` with:
/// (start of today, start of this month), UTC.
pub fn period_starts(at: i64) -> (i64, i64) {
    (
        RefillInterval::Daily.period_start(at),
        RefillInterval::Monthly.period_start(at),
    )
}

/// When an exhausted quota refills next, if it does.
pub fn next_refill(interval: Option<&str>, at: i64) -> Option<i64> {
    interval
        .and_then(RefillInterval::parse)
        .map(|i| i.next_start(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_at_utc_midnight_and_the_first_of_the_month() {
        // 2026-12-03T04:30:00Z
        let at = 1_796_272_200;
        assert_eq!(RefillInterval::Daily.period_start(at), 1_796_256_000);
        assert_eq!(RefillInterval::Daily.next_start(at), 1_796_342_400);
        // 2026-12-01T00:00:00Z, and 2027-01-01T00:00:00Z next.
        assert_eq!(RefillInterval::Monthly.period_start(at), 1_796_083_200);
        assert_eq!(RefillInterval::Monthly.next_start(at), 1_798_761_600);
        // The start itself belongs to its period.
        assert_eq!(
            RefillInterval::Monthly.period_start(1_796_083_200),
            1_796_083_200
        );
    }

    #[test]
    fn columns_round_trip_and_bad_ones_are_refused() {
        let rate = KeyRateLimit {
            rate: 5,
            per: Duration::from_secs(1),
            burst: Some(2),
        };
        let quota = KeyQuota {
            remaining: 7,
            refill: Some(QuotaRefill {
                amount: 100,
                interval: RefillInterval::Monthly,
            }),
            refilled_at: Some(10),
        };
        let cols = LimitColumns::of(Some(&rate), Some(&quota));
        assert_eq!(cols.read(), Some((Some(rate), Some(quota))));
        assert_eq!(LimitColumns::default().read(), Some((None, None)));
        let bad = LimitColumns {
            refill_interval: Some("weekly".into()),
            ..cols.clone()
        };
        assert_eq!(bad.read(), None);
        let negative = LimitColumns {
            rate: Some(-1),
            ..cols
        };
        assert_eq!(negative.read(), None);
    }

    #[test]
    fn whole_numbers_may_carry_a_zero_fraction_and_nothing_else() {
        let q: QuotaSetting = serde_json::from_str(r#"{"remaining": 349.0}"#).unwrap();
        assert_eq!(q.remaining, 349);
        assert!(serde_json::from_str::<QuotaSetting>(r#"{"remaining": 3.5}"#).is_err());
        let r: KeyRateLimit =
            serde_json::from_str(r#"{"rate": 5.0, "per": "1s", "burst": 2.0}"#).unwrap();
        assert_eq!((r.rate, r.burst), (5, Some(2)));
        let r: KeyRateLimit =
            serde_json::from_str(r#"{"rate": 5, "per": "1s", "burst": null}"#).unwrap();
        assert_eq!(r.burst, None);
        assert!(serde_json::from_str::<KeyRateLimit>(r#"{"rate": -1, "per": "1s"}"#).is_err());
        assert!(
            serde_json::from_str::<KeyRateLimit>(r#"{"rate": 5000000000, "per": "1s"}"#).is_err()
        );
    }

    #[test]
    fn periods_read_the_documented_grammar_and_write_back_in_it() {
        for (text, secs, back) in [
            ("1s", 1, "1s"),
            ("999s", 999, "999s"),
            ("120s", 120, "2m"),
            ("59m", 3540, "59m"),
            ("24h", 86_400, "1d"),
            ("2h", 7200, "2h"),
            ("1d", 86_400, "1d"),
        ] {
            let d = per::parse(text).unwrap();
            assert_eq!(d, Duration::from_secs(secs), "{text}");
            assert_eq!(per::format(&d), back);
            assert!(per::parse(&per::format(&d)).is_some(), "{back} reads back");
        }
        for bad in [
            "0s", "1000s", "60m", "25h", "2d", "01s", "1", "s", "1.5s", "1h 30m", "100ms", "",
        ] {
            assert!(per::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn settings_are_bounded() {
        let ok = KeyRateLimit {
            rate: 10,
            per: Duration::from_secs(1),
            burst: None,
        };
        assert_eq!(ok.problem(), None);
        assert_eq!(ok.rate().burst, 10);
        assert!(KeyRateLimit { rate: 0, ..ok }.problem().is_some());
        // Sub-nanosecond intervals are refused with a precise error.
        let fast = KeyRateLimit {
            rate: 999_999_999,
            per: Duration::from_millis(72),
            burst: None,
        };
        assert_eq!(
            fast.problem(),
            Some("rate_limit: more than one request per nanosecond")
        );
        assert_eq!(
            KeyRateLimit {
                per: Duration::from_secs(1),
                ..fast
            }
            .problem(),
            None
        );
        assert!(KeyRateLimit {
            per: Duration::from_secs(2 * 86_400),
            ..ok
        }
        .problem()
        .is_some());
        let q = QuotaSetting {
            remaining: -1,
            refill: None,
        };
        assert!(q.problem().is_some());
    }
}
