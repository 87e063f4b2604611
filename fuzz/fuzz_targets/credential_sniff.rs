//! `credential::sniff` (prefix table and JWT shape) and the opaque-key
//! checksum (`credential::mint::checksum_ok`) on one credential.
//!
//! Input: the credential text (non-UTF-8 input is skipped: `extract` only
//! yields visible ASCII). The prefix table is `conf/authgate.toml`'s.
//! Checked against a plain re-statement of the rules:
//!
//! - the longest matching prefix decides (`Opaque` of that rule, or
//!   `Rejected` for a `reject` family);
//! - with no prefix, `Jwt` exactly when the text starts with `eyJ`, has two
//!   dots and only base64url bytes otherwise; else `Unknown`;
//! - a checksum passes only on `prefix + 36 alphanumerics`, and no longer
//!   once its last character is changed.

#![no_main]

use authgate::credential::mint::checksum_ok;
use authgate::credential::sniff::{looks_like_jwt, PrefixAction, PrefixRule, PrefixTable, Sniffed};
use authgate::credential::CredentialKind;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static TABLE: LazyLock<PrefixTable> = LazyLock::new(|| {
    let rule = |prefix: &str, action, checksum| PrefixRule {
        prefix: prefix.into(),
        action,
        checksum,
    };
    PrefixTable::new(vec![
        rule(
            "mantyx_",
            PrefixAction::Verify(CredentialKind::ApiKey),
            true,
        ),
        rule(
            "mantyx_at_",
            PrefixAction::Verify(CredentialKind::AccessToken),
            true,
        ),
        rule("mantyx_rt_", PrefixAction::Reject, false),
        rule(
            "sk_live_",
            PrefixAction::Verify(CredentialKind::ServerKey),
            false,
        ),
        rule(
            "sk_test_",
            PrefixAction::Verify(CredentialKind::ServerKey),
            true,
        ),
    ])
});

fn jwt_shape(s: &str) -> bool {
    s.starts_with("eyJ")
        && s.matches('.').count() == 2
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let longest = TABLE
        .rules()
        .iter()
        .filter(|r| s.starts_with(r.prefix.as_str()))
        .max_by_key(|r| r.prefix.len());
    let got = TABLE.sniff(s);
    match (longest, got) {
        (Some(r), Sniffed::Opaque(chosen)) => {
            assert_eq!(chosen, r, "not the longest prefix");
            assert!(matches!(r.action, PrefixAction::Verify(_)));
        }
        (Some(r), Sniffed::Rejected) => assert_eq!(r.action, PrefixAction::Reject),
        (None, Sniffed::Jwt) => assert!(jwt_shape(s), "not JWT-shaped: {s:?}"),
        (None, Sniffed::Unknown) => assert!(!jwt_shape(s), "JWT-shaped: {s:?}"),
        (l, g) => panic!("longest prefix {l:?}, sniffed {g:?}"),
    }
    assert_eq!(looks_like_jwt(s), jwt_shape(s));
    for rule in TABLE.rules() {
        if checksum_ok(s, &rule.prefix) {
            let rest = &s[rule.prefix.len()..];
            assert!(s.starts_with(rule.prefix.as_str()));
            assert!(rest.len() == 36 && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
            let last = if s.ends_with('A') { 'B' } else { 'A' };
            let typo = format!("{}{last}", &s[..s.len() - 1]);
            assert!(!checksum_ok(&typo, &rule.prefix), "typo passes: {typo}");
        }
    }
});
