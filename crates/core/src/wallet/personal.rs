//! `personal_sign` (EIP-191) signature recovery: the signer's address from
//! a message and a 65-byte `r ‖ s ‖ v` signature. Accepted as wallets send
//! it: hex with or without `0x`, v as 27/28 or 0/1. High-S signatures are
//! refused (a malleated copy of a valid one is not a second proof).

use super::{Address, WalletError};
use crate::verify::stamp::eip191_digest;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

/// Parse a `personal_sign` signature into its signature and recovery id.
pub fn parse_signature(sig: &str) -> Result<(Signature, RecoveryId), WalletError> {
    let hex_part = sig
        .trim()
        .strip_prefix("0x")
        .or_else(|| sig.trim().strip_prefix("0X"))
        .unwrap_or(sig.trim());
    if hex_part.len() != 130 {
        return Err(WalletError::SignatureFormat(
            "expected 65 bytes of hex (r, s, v)",
        ));
    }
    let mut raw = [0u8; 65];
    hex::decode_to_slice(hex_part, &mut raw)
        .map_err(|_| WalletError::SignatureFormat("expected 65 bytes of hex (r, s, v)"))?;
    let v = match raw[64] {
        27 | 28 => raw[64] - 27,
        0 | 1 => raw[64],
        _ => return Err(WalletError::SignatureFormat("v must be 27, 28, 0 or 1")),
    };
    let signature = Signature::from_slice(&raw[..64])
        .map_err(|_| WalletError::SignatureFormat("r or s out of range"))?;
    if signature.normalize_s().is_some() {
        return Err(WalletError::SignatureFormat("high-S signature"));
    }
    let id = RecoveryId::from_byte(v).ok_or(WalletError::SignatureFormat("bad recovery id"))?;
    Ok((signature, id))
}

/// The address that signed `message` with `personal_sign`.
pub fn recover(message: &[u8], signature: &str) -> Result<Address, WalletError> {
    let (sig, id) = parse_signature(signature)?;
    let key = VerifyingKey::recover_from_prehash(&eip191_digest(message), &sig, id)
        .map_err(|_| WalletError::Unrecoverable)?;
    Ok(Address::from_public_key(&key))
}
