//! Wallet proofs for sign-in: Ethereum addresses (EIP-55), `personal_sign`
//! signature recovery (EIP-191 over secp256k1) and Sign-In with Ethereum
//! messages (EIP-4361). Pure functions with precise errors; the sign-in
//! endpoints, nonces and sessions that use them live above the core.

pub mod address;
pub mod personal;
pub mod siwe;

pub use address::Address;
pub use personal::recover;
pub use siwe::SiweMessage;

/// Why a wallet proof was refused. Every variant is a client error (400 or
/// 401 above); none is a server fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// Not `0x` + 40 hex digits, or a mixed-case address whose EIP-55
    /// checksum is wrong.
    #[error("invalid address: {0}")]
    Address(&'static str),
    /// Not 65 bytes of hex (r ‖ s ‖ v), a v outside {0, 1, 27, 28}, or a
    /// high-S (malleable) signature.
    #[error("invalid signature format: {0}")]
    SignatureFormat(&'static str),
    /// Well formed, but no public key recovers from it.
    #[error("signature does not recover a key")]
    Unrecoverable,
    /// The message is not a well-formed EIP-4361 message.
    #[error("invalid sign-in message: {0}")]
    Message(String),
}
