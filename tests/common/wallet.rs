//! Test wallets for the sign-in tests: deterministic secp256k1 keys (never
//! real accounts), their addresses and `personal_sign`.

use authgate::wallet::Address;

/// Test wallet `n`.
pub fn wallet(n: u8) -> k256::ecdsa::SigningKey {
    k256::ecdsa::SigningKey::from_slice(&[n; 32]).unwrap()
}

/// The address of `w`.
pub fn address(w: &k256::ecdsa::SigningKey) -> Address {
    Address::from_public_key(w.verifying_key())
}

/// `personal_sign`: r ‖ s ‖ (27 + recovery id), hex with 0x.
pub fn personal_sign(w: &k256::ecdsa::SigningKey, message: &str) -> String {
    let digest = authgate::verify::stamp::eip191_digest(message.as_bytes());
    let (sig, id) = w.sign_prehash_recoverable(&digest).unwrap();
    let mut raw = sig.to_bytes().to_vec();
    raw.push(27 + id.to_byte());
    format!("0x{}", hex::encode(raw))
}
