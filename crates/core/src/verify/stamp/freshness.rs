//! Freshness: a stamp signs only the body, so the body's own timestamp is
//! what bounds how long a captured stamp stays usable.
//!
//! The timestamp is found by a dotted path (default `timestampMs`, as in
//! Turnkey bodies) and read as milliseconds since the Unix epoch, either a
//! JSON integer or a string of ASCII digits (Turnkey sends a string). It is
//! fresh when `now - window - leeway <= ts <= now + leeway`.
//!
//! Only the path is deserialised (everything else is skipped without being
//! built). A member that appears twice on the path is refused rather than
//! letting "last one wins" here disagree with the upstream's parser.

use super::StampError;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::time::Duration;

/// The default field path.
pub const DEFAULT_TIMESTAMP_FIELD: &str = "timestampMs";

/// Longest numeric string accepted (`u64::MAX` has 20 digits).
const MAX_DIGITS: usize = 20;

/// Check that `body`'s timestamp at `field_path` lies within
/// `[now_ms - window - leeway, now_ms + leeway]`.
///
/// - Missing (no member, or body not JSON / not an object): `Ok(())` unless
///   `required`, then [`StampError::MissingTimestamp`].
/// - Present but not a non-negative integer / digit string, or duplicated:
///   [`StampError::BadTimestamp`], required or not.
/// - Outside the window (too old, or ahead by more than `leeway`):
///   [`StampError::Stale`].
///
/// An empty path or a path with an empty segment never matches.
pub fn check_freshness(
    body: &[u8],
    field_path: &str,
    now_ms: u64,
    window: Duration,
    leeway: Duration,
    required: bool,
) -> Result<(), StampError> {
    let ts = match find_timestamp(body, field_path) {
        Lookup::Found(ts) => ts,
        Lookup::Missing if required => return Err(StampError::MissingTimestamp),
        Lookup::Missing => return Ok(()),
        Lookup::Bad => return Err(StampError::BadTimestamp),
    };
    let (ts, now) = (u128::from(ts), u128::from(now_ms));
    let (window, leeway) = (window.as_millis(), leeway.as_millis());
    if ts > now + leeway || ts + window + leeway < now {
        return Err(StampError::Stale);
    }
    Ok(())
}

/// What the path led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    Missing,
    Found(u64),
    Bad,
}

/// Find the timestamp at `path` in `body` (JSON), without building the document.
fn find_timestamp(body: &[u8], path: &str) -> Lookup {
    let segments: Vec<&str> = path.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Lookup::Missing;
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    match Find(&segments).deserialize(&mut de) {
        Ok(found) if de.end().is_ok() => found,
        _ => Lookup::Missing, // not JSON
    }
}

/// Seed/visitor walking the remaining path segments (never empty).
struct Find<'p>(&'p [&'p str]);

impl<'de> DeserializeSeed<'de> for Find<'_> {
    type Value = Lookup;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Lookup, D::Error> {
        d.deserialize_any(self)
    }
}

/// Every non-object value on the way: the path does not exist.
macro_rules! not_an_object {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name<E: de::Error>(self, _v: $ty) -> Result<Lookup, E> {
            Ok(Lookup::Missing)
        }
    )*};
}

impl<'de> Visitor<'de> for Find<'_> {
    type Value = Lookup;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    not_an_object!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);

    fn visit_unit<E: de::Error>(self) -> Result<Lookup, E> {
        Ok(Lookup::Missing)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lookup, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Lookup::Missing)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Lookup, A::Error> {
        let Some((head, rest)) = self.0.split_first() else {
            return Ok(Lookup::Missing);
        };
        let mut found: Option<Lookup> = None;
        while let Some(is_head) = map.next_key_seed(KeyIs(head))? {
            if !is_head {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let here = if rest.is_empty() {
                map.next_value_seed(Leaf)?
            } else {
                map.next_value_seed(Find(rest))?
            };
            // A second member of the same name makes the path ambiguous.
            found = Some(if found.is_some() { Lookup::Bad } else { here });
        }
        Ok(found.unwrap_or(Lookup::Missing))
    }
}

/// Compares a key with one path segment without allocating when borrowed.
struct KeyIs<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

/// The timestamp value itself.
struct Leaf;

impl<'de> DeserializeSeed<'de> for Leaf {
    type Value = Lookup;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Lookup, D::Error> {
        d.deserialize_any(self)
    }
}

/// Every value that is not an integer or digit string: present but unusable.
macro_rules! bad_leaf {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name<E: de::Error>(self, _v: $ty) -> Result<Lookup, E> {
            Ok(Lookup::Bad)
        }
    )*};
}

impl<'de> Visitor<'de> for Leaf {
    type Value = Lookup;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("milliseconds as an integer or a digit string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lookup, E> {
        Ok(Lookup::Found(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Lookup, E> {
        let digits =
            !v.is_empty() && v.len() <= MAX_DIGITS && v.bytes().all(|b| b.is_ascii_digit());
        Ok(match v.parse::<u64>() {
            Ok(ms) if digits => Lookup::Found(ms),
            _ => Lookup::Bad,
        })
    }

    bad_leaf!(visit_bool: bool, visit_i64: i64, visit_f64: f64);

    fn visit_unit<E: de::Error>(self) -> Result<Lookup, E> {
        Ok(Lookup::Bad)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lookup, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Lookup::Bad)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Lookup, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Lookup::Bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_030_000;
    const W: Duration = Duration::from_secs(300);
    const L: Duration = Duration::from_secs(30);

    fn check(body: &str, path: &str, required: bool) -> Result<(), StampError> {
        check_freshness(body.as_bytes(), path, NOW, W, L, required)
    }

    #[test]
    fn lookup_table() {
        use Lookup::*;
        let cases: &[(&str, &str, Lookup)] = &[
            (
                r#"{"timestampMs":"1700000000000"}"#,
                "timestampMs",
                Found(1_700_000_000_000),
            ),
            (
                r#"{"timestampMs":1700000000000}"#,
                "timestampMs",
                Found(1_700_000_000_000),
            ),
            (r#"{"a":{"b":{"ts":"5"}},"ts":"9"}"#, "a.b.ts", Found(5)),
            (
                r#"{"x":[1,{"timestampMs":"1"}],"timestampMs":"2"}"#,
                "timestampMs",
                Found(2),
            ),
            (r#"{"other":1}"#, "timestampMs", Missing),
            (r#"["timestampMs", 1]"#, "timestampMs", Missing),
            (r#""timestampMs""#, "timestampMs", Missing),
            ("not json", "timestampMs", Missing),
            (r#"{"timestampMs":"1"} trailing"#, "timestampMs", Missing),
            ("", "timestampMs", Missing),
            (r#"{"a":5}"#, "a.b", Missing),
            (r#"{"timestampMs":"1"}"#, "", Missing),
            (r#"{"timestampMs":"1"}"#, "timestampMs.", Missing),
            (
                r#"{"timestampMs":"1","timestampMs":"1"}"#,
                "timestampMs",
                Bad,
            ),
            (r#"{"timestampMs":-1}"#, "timestampMs", Bad),
            (r#"{"timestampMs":1.5}"#, "timestampMs", Bad),
            (r#"{"timestampMs":1e12}"#, "timestampMs", Bad),
            (r#"{"timestampMs":"+1"}"#, "timestampMs", Bad),
            (r#"{"timestampMs":" 1"}"#, "timestampMs", Bad),
            (r#"{"timestampMs":""}"#, "timestampMs", Bad),
            (
                r#"{"timestampMs":"99999999999999999999"}"#,
                "timestampMs",
                Bad,
            ),
            (r#"{"timestampMs":"0x10"}"#, "timestampMs", Bad),
            (r#"{"timestampMs":null}"#, "timestampMs", Bad),
            (r#"{"timestampMs":true}"#, "timestampMs", Bad),
            (r#"{"timestampMs":{"ms":1}}"#, "timestampMs", Bad),
            (r#"{"timestampMs":[1]}"#, "timestampMs", Bad),
            (r#"{"time\u0073tampMs":"7"}"#, "timestampMs", Found(7)),
        ];
        for (body, path, want) in cases {
            assert_eq!(
                find_timestamp(body.as_bytes(), path),
                *want,
                "{body} @ {path}"
            );
        }
    }

    #[test]
    fn window_edges() {
        let at = |ts: u64| format!(r#"{{"timestampMs":"{ts}"}}"#);
        let oldest = NOW - 330_000;
        let newest = NOW + 30_000;
        assert_eq!(check(&at(oldest), "timestampMs", true), Ok(()));
        assert_eq!(
            check(&at(oldest - 1), "timestampMs", true),
            Err(StampError::Stale)
        );
        assert_eq!(check(&at(newest), "timestampMs", true), Ok(()));
        assert_eq!(
            check(&at(newest + 1), "timestampMs", true),
            Err(StampError::Stale)
        );
        assert_eq!(check(&at(0), "timestampMs", true), Err(StampError::Stale));
        assert_eq!(
            check(&at(u64::MAX), "timestampMs", true),
            Err(StampError::Stale)
        );
        // seconds instead of milliseconds are simply stale
        assert_eq!(
            check(&at(NOW / 1000), "timestampMs", true),
            Err(StampError::Stale)
        );
    }

    #[test]
    fn required_and_bad() {
        assert_eq!(
            check("{}", "timestampMs", true),
            Err(StampError::MissingTimestamp)
        );
        assert_eq!(check("{}", "timestampMs", false), Ok(()));
        assert_eq!(
            check("plain text", "timestampMs", true),
            Err(StampError::MissingTimestamp)
        );
        assert_eq!(check("plain text", "timestampMs", false), Ok(()));
        let bad = r#"{"timestampMs":"soon"}"#;
        assert_eq!(
            check(bad, "timestampMs", false),
            Err(StampError::BadTimestamp)
        );
        assert_eq!(
            check(bad, "timestampMs", true),
            Err(StampError::BadTimestamp)
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        // Skipped values are walked without recursion; the walk along the
        // path recurses only once per path segment.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            check(&deep, "timestampMs", true),
            Err(StampError::MissingTimestamp)
        );
        let deep_obj = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
        assert_eq!(check(&deep_obj, "a.a", true), Err(StampError::BadTimestamp));
        let beside = format!(
            r#"{{"x":{}{},"timestampMs":"1700000000000"}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(check(&beside, "timestampMs", true), Ok(()));
    }
}
