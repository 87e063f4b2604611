//! Credentials as they arrive: which kinds exist, where they are carried
//! ([`extract`]), what their prefix says ([`sniff`]), how authgate mints them
//! ([`mint`]) and how they are digested for lookup ([`digest`]).

pub mod digest;
pub mod extract;
pub mod mint;
pub mod sniff;

use std::fmt;

/// What a credential is, decided by its prefix or shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// Workspace API key (machine credential).
    ApiKey,
    /// Backend-only secret key.
    ServerKey,
    /// Opaque OAuth access token (user + workspace, scoped).
    AccessToken,
    /// A JSON Web Token from a configured issuer.
    Jwt,
    /// A signed request (`X-Stamp`) by a registered public key.
    Stamp,
    /// A signed request by a wallet sign-in's ed25519 session key.
    Session,
    /// Publishable key (`pk_`): safe in a browser, accepted only on
    /// browser surfaces.
    PublishableKey,
    /// Ephemeral per-user key (`ek_`) minted by a server key.
    EphemeralKey,
    /// Restricted agent capability (`rk_`) minted by a server key.
    RestrictedKey,
}

impl CredentialKind {
    /// All kinds, in display order.
    pub const ALL: [CredentialKind; 9] = [
        CredentialKind::ApiKey,
        CredentialKind::ServerKey,
        CredentialKind::AccessToken,
        CredentialKind::Jwt,
        CredentialKind::Stamp,
        CredentialKind::Session,
        CredentialKind::PublishableKey,
        CredentialKind::EphemeralKey,
        CredentialKind::RestrictedKey,
    ];

    /// The config and header spelling.
    #[inline]
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ApiKey => "api_key",
            CredentialKind::ServerKey => "server_key",
            CredentialKind::AccessToken => "access_token",
            CredentialKind::Jwt => "jwt",
            CredentialKind::Stamp => "stamp",
            CredentialKind::Session => "session",
            CredentialKind::PublishableKey => "publishable_key",
            CredentialKind::EphemeralKey => "ephemeral_key",
            CredentialKind::RestrictedKey => "restricted_key",
        }
    }

    /// Parse the config spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether records of this kind live in the store (as opposed to self-contained tokens).
    pub fn is_opaque(self) -> bool {
        !matches!(
            self,
            CredentialKind::Jwt | CredentialKind::Stamp | CredentialKind::Session
        )
    }

    /// Whether records of this kind live in the store (opaque kinds, stamp
    /// keys and session keys).
    pub fn is_stored(self) -> bool {
        self != CredentialKind::Jwt
    }

    /// The names of the kinds a stored record can have, in display order.
    pub fn stored_names() -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|k| k.is_stored())
            .map(Self::as_str)
            .collect()
    }

    /// Whether keys of this kind are minted by a server key through a
    /// minting door (and carry the actor who holds them).
    pub fn is_minted(self) -> bool {
        matches!(
            self,
            CredentialKind::EphemeralKey | CredentialKind::RestrictedKey
        )
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl serde::Serialize for CredentialKind {
    /// As its config name (`api_key`, `server_key`, …).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A small set of kinds (what a route accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KindSet(u16);

impl KindSet {
    /// The empty set.
    pub const EMPTY: KindSet = KindSet(0);

    /// Add a kind.
    pub fn insert(&mut self, kind: CredentialKind) {
        self.0 |= kind.bit();
    }

    /// Whether `kind` is in the set.
    #[inline]
    pub fn contains(self, kind: CredentialKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// Whether the two sets share a kind.
    #[inline]
    pub fn intersects(self, other: KindSet) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Comma-separated names, for error bodies.
    pub fn describe(self) -> String {
        CredentialKind::ALL
            .into_iter()
            .filter(|k| self.contains(*k))
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl FromIterator<CredentialKind> for KindSet {
    fn from_iter<T: IntoIterator<Item = CredentialKind>>(iter: T) -> Self {
        let mut s = KindSet::EMPTY;
        for k in iter {
            s.insert(k);
        }
        s
    }
}
