//! Sign-in input from the wallet side: EIP-4361 (SIWE) messages, EIP-191
//! `personal_sign` signatures and addresses.
//!
//! Input: line 1 is a signature (hex), line 2 an address, the rest a SIWE
//! message.
//!
//! Property: no panic; a message that parses, written again and parsed
//! again, gives the same fields (the parser reads exactly what the builder
//! writes); an address that parses shows a checksum that parses to it.

#![no_main]

use authgate::wallet::{personal, Address, SiweMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (sig, rest) = text.split_once('\n').unwrap_or((text, ""));
    let (addr, message) = rest.split_once('\n').unwrap_or((rest, ""));
    if let Ok(a) = Address::parse(addr) {
        assert_eq!(Address::parse(&a.checksummed()), Ok(a));
    }
    let _ = personal::recover(message.as_bytes(), sig);
    if let Ok(m) = SiweMessage::parse(message) {
        let again = SiweMessage::parse(&m.to_message()).expect("a built message parses");
        assert_eq!(again, m);
        let _ = m.session_key();
        let _ = m.check_time(1_700_000_000_000);
    }
});
