//! What the config watcher compares between polls: the config file and
//! every file it references, each by path, size and modification time
//! (cheap even for a keys file of a million records; replacing or editing a
//! file changes its mtime).
//!
//! The files are stamped *before* a load or reload reads them, and what the
//! config handle remembers afterwards is built from those stamps: an edit
//! that lands while a reload runs (after the reload read the file, before
//! it finished) then differs from what was remembered, and the next poll
//! reloads again. Stamping after the reload would take that edit for
//! already read and miss it until the file changed once more.

use crate::credential::digest::sha256;
use std::path::{Path, PathBuf};

/// A file's size and modification time (nanoseconds since the epoch);
/// `None` when it cannot be read.
pub(super) type Stamp = Option<(u64, u128)>;

/// The files the watcher follows: `main`, then `watched`, each stamped now.
pub(super) fn stamps(main: &Path, watched: &[PathBuf]) -> Vec<(PathBuf, Stamp)> {
    std::iter::once(main)
        .chain(watched.iter().map(PathBuf::as_path))
        .map(|p| (p.to_path_buf(), stamp(p)))
        .collect()
}

/// The files as a load that started from `before` read them, when it left
/// `watched` in force: a file stamped before keeps that stamp (a later edit
/// is then seen); a file the new config started to reference is stamped
/// now.
pub(super) fn as_read(
    before: &[(PathBuf, Stamp)],
    main: &Path,
    watched: &[PathBuf],
) -> Vec<(PathBuf, Stamp)> {
    std::iter::once(main)
        .chain(watched.iter().map(PathBuf::as_path))
        .map(|p| {
            let s = before
                .iter()
                .find(|(q, _)| q == p)
                .map_or_else(|| stamp(p), |(_, s)| *s);
            (p.to_path_buf(), s)
        })
        .collect()
}

/// One digest of `stamps`, compared between polls.
pub(super) fn digest(stamps: &[(PathBuf, Stamp)]) -> [u8; 32] {
    let mut all = Vec::new();
    for (p, s) in stamps {
        all.extend_from_slice(p.to_string_lossy().as_bytes());
        if let Some((len, mtime)) = s {
            all.extend_from_slice(&len.to_le_bytes());
            all.extend_from_slice(&mtime.to_le_bytes());
        }
    }
    sha256(&all)
}

fn stamp(p: &Path) -> Stamp {
    let meta = std::fs::metadata(p).ok()?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Some((meta.len(), mtime))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(p: &Path, text: &str) {
        // A different size, so a coarse mtime cannot hide the change.
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn an_edit_during_a_reload_is_seen_at_the_next_poll() {
        let dir = tempfile::tempdir().unwrap();
        let (main, keys) = (dir.path().join("a.toml"), dir.path().join("k.jsonl"));
        rewrite(&main, "x = 1\n");
        rewrite(&keys, "{}\n");
        let watched = vec![keys.clone()];
        let before = stamps(&main, &watched);
        // The reload reads the files here; then the config is edited.
        rewrite(&main, "x = 22\n");
        let remembered = digest(&as_read(&before, &main, &watched));
        assert_ne!(
            remembered,
            digest(&stamps(&main, &watched)),
            "the next poll must see the edit"
        );
        // Same for a referenced file.
        let before = stamps(&main, &watched);
        rewrite(&keys, "{}\n{}\n");
        let remembered = digest(&as_read(&before, &main, &watched));
        assert_ne!(remembered, digest(&stamps(&main, &watched)));
    }

    #[test]
    fn nothing_edited_means_nothing_to_reload() {
        let dir = tempfile::tempdir().unwrap();
        let (main, keys) = (dir.path().join("a.toml"), dir.path().join("k.jsonl"));
        rewrite(&main, "x = 1\n");
        rewrite(&keys, "{}\n");
        let before = stamps(&main, &[]);
        // The new config references the keys file: it is stamped now.
        let watched = vec![keys.clone(), dir.path().join("missing")];
        let remembered = digest(&as_read(&before, &main, &watched));
        assert_eq!(remembered, digest(&stamps(&main, &watched)));
        // A file that cannot be read counts, and so does its appearing.
        rewrite(&dir.path().join("missing"), "now here\n");
        assert_ne!(remembered, digest(&stamps(&main, &watched)));
    }
}
