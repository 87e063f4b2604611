//! Decide what a credential is from its prefix or shape, without any lookup
//! and without allocating.
//!
//! The prefix table comes from config (`[[credentials.prefixes]]`); the
//! longest matching prefix wins, so `mantyx_at_` beats `mantyx_`. A JWT is
//! recognised by shape: three base64url segments whose header starts with
//! `eyJ` (the encoding of `{"`). Anything else is unknown and refused.

use super::CredentialKind;

/// What a prefix family means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixAction {
    /// Verify as this kind.
    Verify(CredentialKind),
    /// Never authenticates a request (e.g. refresh tokens).
    Reject,
}

/// One configured prefix family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixRule {
    /// The literal prefix.
    pub prefix: String,
    /// What the family is.
    pub action: PrefixAction,
    /// Whether credentials of the family end in an authgate checksum.
    pub checksum: bool,
}

/// The result of sniffing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed<'r> {
    /// An opaque credential of a configured family.
    Opaque(&'r PrefixRule),
    /// A family that must never authenticate.
    Rejected,
    /// Shaped like a JWT.
    Jwt,
    /// Nothing we know.
    Unknown,
}

/// Prefix rules sorted longest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefixTable {
    rules: Vec<PrefixRule>,
}

impl PrefixTable {
    /// Build the table; rules are reordered longest prefix first.
    pub fn new(mut rules: Vec<PrefixRule>) -> Self {
        rules.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Self { rules }
    }

    /// The rules, longest prefix first.
    pub fn rules(&self) -> &[PrefixRule] {
        &self.rules
    }

    /// Classify a credential.
    ///
    /// ```
    /// use authgate_core::credential::sniff::{PrefixAction, PrefixRule, PrefixTable, Sniffed};
    /// use authgate_core::credential::CredentialKind;
    /// let rule = |p: &str, action| PrefixRule { prefix: p.into(), action, checksum: false };
    /// let table = PrefixTable::new(vec![
    ///     rule("mantyx_", PrefixAction::Verify(CredentialKind::ApiKey)),
    ///     rule("mantyx_rt_", PrefixAction::Reject),
    /// ]);
    /// assert_eq!(table.sniff("mantyx_rt_abc"), Sniffed::Rejected); // longest prefix wins
    /// assert!(matches!(table.sniff("mantyx_abc"), Sniffed::Opaque(_)));
    /// assert_eq!(table.sniff("eyJhbGciOiJIUzI1NiJ9.e30.sig"), Sniffed::Jwt);
    /// assert_eq!(table.sniff("pk_live_x"), Sniffed::Unknown);
    /// ```
    pub fn sniff(&self, credential: &str) -> Sniffed<'_> {
        for rule in &self.rules {
            if credential.starts_with(rule.prefix.as_str()) {
                return match rule.action {
                    PrefixAction::Reject => Sniffed::Rejected,
                    PrefixAction::Verify(_) => Sniffed::Opaque(rule),
                };
            }
        }
        if looks_like_jwt(credential) {
            Sniffed::Jwt
        } else {
            Sniffed::Unknown
        }
    }
}

/// Three non-empty base64url segments (the third may be empty only to be
/// refused later as `alg: none`), header starting with `eyJ`.
pub fn looks_like_jwt(s: &str) -> bool {
    if !s.starts_with("eyJ") {
        return false;
    }
    // Branch-free over the whole token (it is hundreds of bytes): 0 marks a
    // byte outside base64url, 2 a dot.
    let (valid, dots) = s.bytes().fold((true, 0usize), |(valid, dots), b| {
        let class = JWT_BYTES[b as usize];
        (valid & (class != 0), dots + usize::from(class == 2))
    });
    valid && dots == 2
}

/// Byte classes for [`looks_like_jwt`]: 1 base64url, 2 `.`, 0 anything else.
static JWT_BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
            t[b] = 1;
        }
        b += 1;
    }
    t[b'.' as usize] = 2;
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PrefixTable {
        let r = |p: &str, a, checksum| PrefixRule {
            prefix: p.into(),
            action: a,
            checksum,
        };
        PrefixTable::new(vec![
            r(
                "mantyx_",
                PrefixAction::Verify(CredentialKind::ApiKey),
                true,
            ),
            r(
                "mantyx_at_",
                PrefixAction::Verify(CredentialKind::AccessToken),
                true,
            ),
            r("mantyx_rt_", PrefixAction::Reject, false),
            r(
                "sk_",
                PrefixAction::Verify(CredentialKind::ServerKey),
                false,
            ),
            r(
                "sk_live_",
                PrefixAction::Verify(CredentialKind::ServerKey),
                true,
            ),
        ])
    }

    fn kind(s: Sniffed<'_>) -> String {
        match s {
            Sniffed::Opaque(r) => format!("{:?}:{}", r.action, r.prefix),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn sniff_table() {
        let t = table();
        let cases = [
            ("mantyx_abc", "Verify(ApiKey):mantyx_"),
            ("mantyx_at_abc", "Verify(AccessToken):mantyx_at_"),
            ("mantyx_rt_abc", "Rejected"),
            ("sk_test_x", "Verify(ServerKey):sk_"),
            ("sk_live_x", "Verify(ServerKey):sk_live_"),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig", "Jwt"),
            ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "Jwt"),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0", "Unknown"),
            ("eyJ.a.b.c", "Unknown"),
            ("eyJ*.a.b", "Unknown"),
            ("eyJä.a.b", "Unknown"),
            ("eyJa.b.c~", "Unknown"),
            ("pk_live_x", "Unknown"),
            ("", "Unknown"),
        ];
        for (input, want) in cases {
            assert_eq!(kind(t.sniff(input)), want, "input {input}");
        }
    }
}
