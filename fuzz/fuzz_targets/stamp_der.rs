//! `verify::stamp::decode_der_signature`: the DER ECDSA signature decoder
//! of stamps (canonical DER, plus the fixed 32-byte INTEGER width that
//! `@turnkey/crypto`'s `toDerSignature` writes).
//!
//! Input: the DER bytes. Properties:
//!
//! - no panic, and nothing over 72 bytes is accepted;
//! - render → parse: the canonical DER of a decoded `(r, s)` decodes to the
//!   same pair;
//! - an accepted input is exactly one of the spellings the module allows:
//!   each INTEGER either minimal, or `r`/`s` at the fixed 32-byte width
//!   when that width needs no sign byte. Any other accepted spelling would
//!   be a second encoding of a signature the decoder is meant to refuse.

#![no_main]

use authgate::verify::stamp::decode_der_signature;
use authgate_fuzz::{der_int_minimal, der_seq};
use libfuzzer_sys::fuzz_target;

/// The INTEGER contents the decoder may accept for `x`.
fn spellings(x: &[u8; 32]) -> Vec<Vec<u8>> {
    let mut v = vec![der_int_minimal(x)];
    if x[0] & 0x80 == 0 && v[0].len() != 32 {
        v.push(x.to_vec());
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let Ok((r, s)) = decode_der_signature(data) else {
        return;
    };
    assert!(data.len() <= 72, "accepted {} bytes", data.len());
    let canonical = der_seq(&der_int_minimal(&r), &der_int_minimal(&s));
    assert_eq!(
        decode_der_signature(&canonical),
        Ok((r, s)),
        "canonical form"
    );
    let allowed = spellings(&r)
        .iter()
        .any(|rs| spellings(&s).iter().any(|ss| der_seq(rs, ss) == data));
    assert!(
        allowed,
        "accepted a spelling outside the documented ones: {data:02x?}"
    );
});
