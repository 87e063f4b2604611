//! Sign-In with Ethereum (EIP-4361) messages: built for a challenge and
//! parsed strictly back from what the wallet signed, line by line as the
//! EIP's grammar orders them, so that every field the server checks (domain,
//! address, URI, chain id, nonce, times, resources) is the one in the
//! signed text. Built messages are byte-identical to viem's
//! `createSiweMessage` for the same fields (tested against its output).

use super::{Address, WalletError};

const HEADER: &str = " wants you to sign in with your Ethereum account:";

/// The resource that binds an ed25519 session public key (hex) to a
/// sign-in message, so the key cannot be swapped after signing.
pub const SESSION_KEY_URN: &str = "urn:authgate:session-key:ed25519:";

/// The fields of an EIP-4361 message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SiweMessage {
    /// URI scheme of the origin, when given (`https`).
    pub scheme: Option<String>,
    /// RFC 3986 authority asking for the sign-in (`app.example.com`).
    pub domain: String,
    /// The signing account, as written in the message.
    pub address: String,
    /// Human-readable assertion (one line), if any.
    pub statement: Option<String>,
    /// The resource the sign-in is for.
    pub uri: String,
    /// Always `1`.
    pub version: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Server-issued nonce (at least 8 alphanumerics).
    pub nonce: String,
    /// RFC 3339 time of issue.
    pub issued_at: String,
    /// RFC 3339 time after which the message is void.
    pub expiration_time: Option<String>,
    /// RFC 3339 time before which the message is not yet valid.
    pub not_before: Option<String>,
    /// Free-form request id.
    pub request_id: Option<String>,
    /// URIs the sign-in covers.
    pub resources: Vec<String>,
}

fn bad(what: impl Into<String>) -> WalletError {
    WalletError::Message(what.into())
}

fn field<'a>(line: Option<&'a str>, tag: &str) -> Result<&'a str, WalletError> {
    line.and_then(|l| l.strip_prefix(tag))
        .ok_or_else(|| bad(format!("expected the line '{tag}…'")))
}

impl SiweMessage {
    /// The message text, as the wallet is asked to sign it.
    pub fn to_message(&self) -> String {
        let origin = match &self.scheme {
            Some(s) => format!("{s}://{}", self.domain),
            None => self.domain.clone(),
        };
        let mut m = format!("{origin}{HEADER}\n{}\n\n", self.address);
        if let Some(s) = &self.statement {
            m.push_str(s);
            m.push('\n');
        }
        m.push_str(&format!(
            "\nURI: {}\nVersion: {}\nChain ID: {}\nNonce: {}\nIssued At: {}",
            self.uri, self.version, self.chain_id, self.nonce, self.issued_at
        ));
        if let Some(t) = &self.expiration_time {
            m.push_str(&format!("\nExpiration Time: {t}"));
        }
        if let Some(t) = &self.not_before {
            m.push_str(&format!("\nNot Before: {t}"));
        }
        if let Some(r) = &self.request_id {
            m.push_str(&format!("\nRequest ID: {r}"));
        }
        if !self.resources.is_empty() {
            m.push_str("\nResources:");
            for r in &self.resources {
                m.push_str(&format!("\n- {r}"));
            }
        }
        m
    }

    /// Parse a signed message; anything out of the EIP's order or shape is
    /// refused with the line it stopped at.
    pub fn parse(text: &str) -> Result<Self, WalletError> {
        if text.len() > 16 * 1024 {
            return Err(bad("longer than 16 KiB"));
        }
        let mut lines = text.split('\n').peekable();
        let first = lines.next().unwrap_or_default();
        let origin = first
            .strip_suffix(HEADER)
            .ok_or_else(|| bad("the first line must end with the EIP-4361 header"))?;
        let (scheme, domain) = match origin.split_once("://") {
            Some((s, d)) => (Some(s.to_string()), d),
            None => (None, origin),
        };
        if domain.is_empty() || domain.contains(char::is_whitespace) {
            return Err(bad("domain: an RFC 3986 authority"));
        }
        let address = lines.next().unwrap_or_default();
        Address::parse(address)?;
        if lines.next() != Some("") {
            return Err(bad("expected an empty line after the address"));
        }
        let statement = match lines.next() {
            Some("") => None,
            Some(s) if !s.starts_with("URI: ") => {
                if lines.next() != Some("") {
                    return Err(bad("expected an empty line after the statement"));
                }
                Some(s.to_string())
            }
            _ => return Err(bad("expected an empty line before 'URI: '")),
        };
        let uri = field(lines.next(), "URI: ")?;
        let version = field(lines.next(), "Version: ")?;
        if version != "1" {
            return Err(bad("Version must be 1"));
        }
        let chain = field(lines.next(), "Chain ID: ")?;
        let chain_id = chain
            .parse::<u64>()
            .ok()
            .filter(|_| !chain.starts_with('+') && !chain.starts_with('0') || chain == "0")
            .ok_or_else(|| bad("Chain ID: a decimal EIP-155 chain id"))?;
        let nonce = field(lines.next(), "Nonce: ")?;
        if nonce.len() < 8 || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad("Nonce: at least 8 letters or digits"));
        }
        let issued_at = field(lines.next(), "Issued At: ")?;
        parse_time(issued_at)?;
        let mut m = SiweMessage {
            scheme,
            domain: domain.to_string(),
            address: address.to_string(),
            statement,
            uri: uri.to_string(),
            version: version.to_string(),
            chain_id,
            nonce: nonce.to_string(),
            issued_at: issued_at.to_string(),
            ..Default::default()
        };
        if let Some(t) = lines.next_if(|l| l.starts_with("Expiration Time: ")) {
            let t = &t["Expiration Time: ".len()..];
            parse_time(t)?;
            m.expiration_time = Some(t.to_string());
        }
        if let Some(t) = lines.next_if(|l| l.starts_with("Not Before: ")) {
            let t = &t["Not Before: ".len()..];
            parse_time(t)?;
            m.not_before = Some(t.to_string());
        }
        if let Some(r) = lines.next_if(|l| l.starts_with("Request ID: ")) {
            m.request_id = Some(r["Request ID: ".len()..].to_string());
        }
        if lines.next_if(|l| *l == "Resources:").is_some() {
            for l in lines.by_ref() {
                let r = l
                    .strip_prefix("- ")
                    .ok_or_else(|| bad("Resources: each line '- <URI>'"))?;
                m.resources.push(r.to_string());
            }
        }
        if let Some(extra) = lines.next() {
            return Err(bad(format!(
                "unexpected line '{}'",
                extra.chars().take(40).collect::<String>()
            )));
        }
        Ok(m)
    }

    /// The ed25519 session public key (32 bytes) bound in the resources,
    /// if exactly one is.
    pub fn session_key(&self) -> Result<[u8; 32], WalletError> {
        let mut found = self
            .resources
            .iter()
            .filter_map(|r| r.strip_prefix(SESSION_KEY_URN));
        let hex_key = found.next().ok_or_else(|| bad("no session key resource"))?;
        if found.next().is_some() {
            return Err(bad("more than one session key resource"));
        }
        let mut key = [0u8; 32];
        hex::decode_to_slice(hex_key, &mut key).map_err(|_| bad("session key: 64 hex digits"))?;
        Ok(key)
    }

    /// Whether the message is valid at `now_ms` (Unix milliseconds): not
    /// expired, not before its start.
    pub fn check_time(&self, now_ms: i64) -> Result<(), WalletError> {
        if let Some(t) = &self.expiration_time {
            if now_ms >= parse_time(t)? {
                return Err(bad("the message has expired"));
            }
        }
        if let Some(t) = &self.not_before {
            if now_ms < parse_time(t)? {
                return Err(bad("the message is not valid yet"));
            }
        }
        Ok(())
    }
}

/// An RFC 3339 time (`Z` or a `±hh:mm` offset) as Unix milliseconds.
pub fn parse_time(s: &str) -> Result<i64, WalletError> {
    let invalid = || {
        bad(format!(
            "'{}' is not an RFC 3339 time",
            s.chars().take(40).collect::<String>()
        ))
    };
    let (base, offset_s) = if let Some(b) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        (b, 0i64)
    } else {
        // Byte slicing below: only on ASCII, never inside a character.
        if s.len() < 6 || !s.is_char_boundary(s.len() - 6) {
            return Err(invalid());
        }
        let (b, off) = s.split_at(s.len() - 6);
        if !off.is_ascii() {
            return Err(invalid());
        }
        let ob = off.as_bytes();
        if !matches!(ob[0], b'+' | b'-') || ob[3] != b':' {
            return Err(invalid());
        }
        let h: i64 = off[1..3].parse().map_err(|_| invalid())?;
        let m: i64 = off[4..6].parse().map_err(|_| invalid())?;
        if h > 23 || m > 59 {
            return Err(invalid());
        }
        let sign = if ob[0] == b'-' { -1 } else { 1 };
        (b, sign * (h * 3600 + m * 60))
    };
    let t = humantime::parse_rfc3339(&format!("{base}Z")).map_err(|_| invalid())?;
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| invalid())?
        .as_millis() as i64;
    Ok(ms - offset_s * 1000)
}
