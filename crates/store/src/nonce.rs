//! Sign-in challenges: a nonce the server issued, with the exact message
//! the wallet must sign and what it was issued for. Stored so every
//! instance sharing the store accepts it once; consumed only after a
//! successful verification; bounded per address, client and IP and in
//! total (expired ones are purged as new ones are issued).

use crate::WriteError;
use authgate_core::store::StoreError;

/// One pending challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nonce {
    /// The nonce (alphanumeric).
    pub nonce: String,
    /// The wallet address it was issued to (checksummed).
    pub address: String,
    /// The sign-in client.
    pub client_id: String,
    /// The EIP-155 chain id.
    pub chain_id: i64,
    /// The ed25519 session public key (hex) the message binds.
    pub session_key: String,
    /// The client IP that asked.
    pub ip: String,
    /// The exact message to sign.
    pub message: String,
    /// Unix seconds after which it is void.
    pub expires_at: i64,
}

/// Most pending challenges at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceCaps {
    /// In all.
    pub total: i64,
    /// For one address.
    pub per_address: i64,
    /// For one client.
    pub per_client: i64,
    /// From one IP.
    pub per_ip: i64,
}

/// Which bound a new challenge would exceed, as `(column, value, cap)`
/// triples to count; the message names the bound.
pub(crate) fn bounds<'a>(n: &'a Nonce, caps: &NonceCaps) -> [(&'static str, &'a str, i64); 3] {
    [
        ("address", n.address.as_str(), caps.per_address),
        ("client_id", n.client_id.as_str(), caps.per_client),
        ("ip", n.ip.as_str(), caps.per_ip),
    ]
}

/// The refusal for a full table or bound.
pub(crate) fn full(what: &str) -> WriteError {
    WriteError::Conflict(format!("too many pending challenges for this {what}"))
}

/// Columns in the order [`Nonce`] is read.
pub(crate) const COLUMNS: &str =
    "nonce, address, client_id, chain_id, session_key, ip, message, expires_at";

/// A store error for a nonce row that does not read back.
pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(format!("authgate_nonces: {e}"))
}
