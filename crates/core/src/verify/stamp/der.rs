//! The DER ECDSA signatures stamps carry: `SEQUENCE { INTEGER r, INTEGER s }`.
//!
//! Accepted: canonical DER, and one documented variant. `@turnkey/crypto`'s
//! `toDerSignature`, which `@turnkey/wallet-stamper` uses to turn a wallet's
//! `r‖s‖v` into DER, writes each integer at a fixed 32-byte width (plus a
//! `0x00` sign byte when the top bit is set) without trimming leading zeros.
//! When `r` or `s` starts with `0x00` followed by a byte below `0x80` (about
//! 1 stamp in 256), that INTEGER is not minimal. So an INTEGER of exactly 32
//! content bytes may carry redundant leading zeros; every other INTEGER must
//! be minimal.
//!
//! Refused: anything else — a long-form or indefinite length, a length that
//! does not match, bytes after the SEQUENCE, a negative or empty INTEGER,
//! redundant zeros at any other width, more than 32 significant bytes. The
//! range checks (`0 < r, s < n`) are the curve's, after this.
//!
//! Extra spellings of one `(r, s)` cannot fool the replay guard: it digests
//! the decoded scalars, not these bytes.

use super::StampError;

/// The largest signature accepted: `30 44 02 21 00‖r 02 21 00‖s` is 70 bytes.
pub(super) const MAX_DER_BYTES: usize = 72;

/// Width of one scalar in bytes (both curves are 256-bit).
const SCALAR_BYTES: usize = 32;

/// Decode a DER ECDSA signature into big-endian, 32-byte `r` and `s`.
pub(super) fn decode(der: &[u8]) -> Result<([u8; 32], [u8; 32]), StampError> {
    let bad = StampError::BadSignatureEncoding;
    let (&tag, rest) = der.split_first().ok_or(bad)?;
    if tag != 0x30 {
        return Err(bad);
    }
    let (content, after) = read_len(rest)?;
    if !after.is_empty() {
        return Err(bad);
    }
    let (r, content) = read_integer(content)?;
    let (s, content) = read_integer(content)?;
    if !content.is_empty() {
        return Err(bad);
    }
    Ok((r, s))
}

/// Read a short-form length byte and split off that many bytes. Returns
/// `(content, remainder)`.
fn read_len(input: &[u8]) -> Result<(&[u8], &[u8]), StampError> {
    let (&len, rest) = input
        .split_first()
        .ok_or(StampError::BadSignatureEncoding)?;
    // Short form only: no ECDSA-256 signature needs 128 bytes, and DER forbids
    // the long form for lengths below 128.
    if len >= 0x80 || rest.len() < usize::from(len) {
        return Err(StampError::BadSignatureEncoding);
    }
    Ok(rest.split_at(usize::from(len)))
}

/// Read one non-negative INTEGER into 32 big-endian bytes.
fn read_integer(input: &[u8]) -> Result<([u8; 32], &[u8]), StampError> {
    let bad = StampError::BadSignatureEncoding;
    let (&tag, rest) = input.split_first().ok_or(bad)?;
    if tag != 0x02 {
        return Err(bad);
    }
    let (content, rest) = read_len(rest)?;
    let (&first, tail) = content.split_first().ok_or(bad)?;
    if first & 0x80 != 0 {
        return Err(bad); // negative
    }
    let redundant_zero = first == 0 && tail.first().is_some_and(|b| b & 0x80 == 0);
    if redundant_zero && content.len() != SCALAR_BYTES {
        return Err(bad); // not minimal, and not the fixed-width variant
    }
    let significant = match content.iter().position(|&b| b != 0) {
        Some(i) => &content[i..],
        None => &[][..],
    };
    if significant.len() > SCALAR_BYTES {
        return Err(bad);
    }
    let mut out = [0u8; SCALAR_BYTES];
    out[SCALAR_BYTES - significant.len()..].copy_from_slice(significant);
    Ok((out, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(content: &[u8]) -> Vec<u8> {
        let mut v = vec![0x02, content.len() as u8];
        v.extend_from_slice(content);
        v
    }

    fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = parts.concat();
        let mut v = vec![0x30, body.len() as u8];
        v.extend(body);
        v
    }

    fn scalar(first: u8, fill: u8) -> [u8; 32] {
        let mut s = [fill; 32];
        s[0] = first;
        s
    }

    #[test]
    fn accepted_forms() {
        let high = scalar(0x81, 0x11);
        let low = scalar(0x7f, 0x22);
        let mut sign_byte = vec![0u8];
        sign_byte.extend_from_slice(&high);
        // canonical: 33-byte INTEGER with a sign byte, 32-byte INTEGER
        assert_eq!(decode(&seq(&[int(&sign_byte), int(&low)])), Ok((high, low)));
        // canonical: short INTEGERs are left-padded
        let mut small = [0u8; 32];
        small[31] = 5;
        assert_eq!(decode(&seq(&[int(&[5]), int(&low)])), Ok((small, low)));
        // fixed-width (toDerSignature): 32 bytes starting 00 0x (x < 8)
        let fixed = scalar(0x00, 0x33);
        assert_eq!(decode(&seq(&[int(&fixed), int(&low)])), Ok((fixed, low)));
        let mut two_zeros = scalar(0x00, 0x44);
        two_zeros[1] = 0;
        assert_eq!(
            decode(&seq(&[int(&low), int(&two_zeros)])),
            Ok((low, two_zeros))
        );
    }

    #[test]
    fn refused_forms() {
        let low = scalar(0x7f, 0x22);
        let ok = seq(&[int(&low), int(&low)]);
        assert!(decode(&ok).is_ok());
        let mut trailing = ok.clone();
        trailing.push(0);
        let mut long_form = vec![0x30, 0x81, ok[1]];
        long_form.extend_from_slice(&ok[2..]);
        let mut short_len = ok.clone();
        short_len[1] -= 1;
        let mut long_len = ok.clone();
        long_len[1] += 1;
        let mut wrong_tag = ok.clone();
        wrong_tag[0] = 0x31;
        let mut int_tag = ok.clone();
        int_tag[2] = 0x03;
        let mut padded31 = vec![0u8];
        padded31.extend_from_slice(&low[1..]); // 32 bytes: 00 22.. is fine (fixed width)
        let mut over_padded = vec![0u8];
        over_padded.extend_from_slice(&low); // 33 bytes: 00 7f.. is not minimal
        let mut neg = low;
        neg[0] = 0x80;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("only tag", vec![0x30]),
            ("trailing byte", trailing),
            ("long-form length", long_form),
            ("length too short", short_len),
            ("length too long", long_len),
            ("not a SEQUENCE", wrong_tag),
            ("not an INTEGER", int_tag),
            ("one INTEGER", seq(&[int(&low)])),
            ("three INTEGERs", seq(&[int(&low), int(&low), int(&[1])])),
            ("empty INTEGER", seq(&[int(&[]), int(&low)])),
            ("negative", seq(&[int(&neg), int(&low)])),
            (
                "33 bytes, redundant zero",
                seq(&[int(&over_padded), int(&low)]),
            ),
            ("2 bytes, redundant zero", seq(&[int(&[0, 1]), int(&low)])),
            ("33 significant bytes", seq(&[int(&[0x01; 33]), int(&low)])),
            ("garbage", vec![0xde, 0xad, 0xbe, 0xef]),
        ];
        for (name, der) in cases {
            assert_eq!(
                decode(&der),
                Err(StampError::BadSignatureEncoding),
                "{name}"
            );
        }
        assert!(decode(&seq(&[int(&padded31), int(&low)])).is_ok());
    }

    #[test]
    fn never_panics_on_truncations() {
        let mut sign_byte = vec![0u8];
        sign_byte.extend_from_slice(&scalar(0x90, 0x01));
        let der = seq(&[int(&sign_byte), int(&sign_byte)]);
        for cut in 0..der.len() {
            assert!(decode(&der[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&der).is_ok());
    }
}
