//! Ethereum addresses: parsed case-insensitively from `0x` + 40 hex digits,
//! with an EIP-55 checksum enforced when the input mixes cases (all-lower
//! and all-upper carry no checksum), and shown checksummed.

use super::WalletError;
use sha3::{Digest, Keccak256};
use std::fmt;

/// A 20-byte Ethereum address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address of an uncompressed secp256k1 public key (the last 20
    /// bytes of keccak256 of its 64-byte `x ‖ y`).
    pub fn from_public_key(key: &k256::ecdsa::VerifyingKey) -> Self {
        let point = key.to_encoded_point(false);
        let hash = Keccak256::digest(&point.as_bytes()[1..]);
        let mut a = [0u8; 20];
        a.copy_from_slice(&hash[12..]);
        Address(a)
    }

    /// Parse `0x` + 40 hex digits (the `0x` is optional).
    pub fn parse(s: &str) -> Result<Self, WalletError> {
        let hex_part = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        if hex_part.len() != 40 {
            return Err(WalletError::Address("expected 0x and 40 hex digits"));
        }
        let mut a = [0u8; 20];
        hex::decode_to_slice(hex_part, &mut a)
            .map_err(|_| WalletError::Address("expected 0x and 40 hex digits"))?;
        let addr = Address(a);
        let lower = hex_part.bytes().any(|b| b.is_ascii_lowercase());
        let upper = hex_part.bytes().any(|b| b.is_ascii_uppercase());
        if lower && upper && addr.checksummed()[2..] != *hex_part {
            return Err(WalletError::Address("EIP-55 checksum mismatch"));
        }
        Ok(addr)
    }

    /// The EIP-55 checksummed form, `0x…`.
    pub fn checksummed(&self) -> String {
        let lower = hex::encode(self.0);
        let hash = Keccak256::digest(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
            if c.is_ascii_alphabetic() && nibble >= 8 {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
        }
        out
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.checksummed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip55_examples_round_trip() {
        // The examples of EIP-55 itself.
        for a in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let parsed = Address::parse(a).unwrap();
            assert_eq!(parsed.checksummed(), a);
            assert_eq!(Address::parse(&a.to_lowercase()).unwrap(), parsed);
            assert_eq!(Address::parse(&a[2..].to_uppercase()).unwrap(), parsed);
        }
    }

    #[test]
    fn bad_addresses_are_refused_precisely() {
        let flipped = "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        assert_eq!(
            Address::parse(flipped),
            Err(WalletError::Address("EIP-55 checksum mismatch"))
        );
        for bad in ["", "0x", "0x1234", "0xzz", &format!("0x{}", "g".repeat(40))] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
        assert!(Address::parse(&format!("0x{}", "0".repeat(41))).is_err());
    }
}
