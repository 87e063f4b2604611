//! A string that never shows itself in `Debug` or `Display` output.

use std::fmt;
use subtle::ConstantTimeEq;

/// A secret value (pepper, HMAC key, credential). `Debug` prints `Secret(***)`.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value itself; call sites are easy to audit with grep.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time equality with `other`.
    pub fn ct_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(&other.0)
    }
}

/// Open `path` for writing a secret: created (or truncated) readable and
/// writable by its owner only (0600), also when it already existed with a
/// wider mode.
pub fn create_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Write `bytes` to `path` as a secret file (see [`create_private`]).
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    create_private(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts() {
        let s = Secret::new("sk_live_topsecret".into());
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(s.ct_eq("sk_live_topsecret"));
        assert!(!s.ct_eq("sk_live_topsecreT"));
    }
}
