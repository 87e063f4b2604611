//! The SQLite file's schema: its version, the migrations run when it is
//! opened, and the read-only probe `authgate check` makes.

use super::err;
use crate::schema;
use authgate_core::store::StoreError;
use rusqlite::Connection;
use std::path::Path;

pub(super) fn version(c: &Connection) -> rusqlite::Result<u32> {
    c.execute(schema::VERSION_TABLE, [])?;
    c.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM authgate_schema_version",
        [],
        |r| r.get(0),
    )
}

pub(super) fn migrate(c: &mut Connection) -> rusqlite::Result<u32> {
    let mut v = version(c)?;
    while (v as usize) < schema::SQLITE.len() {
        let tx = c.transaction()?;
        tx.execute_batch(schema::SQLITE[v as usize])?;
        tx.execute("DELETE FROM authgate_schema_version", [])?;
        tx.execute(
            "INSERT INTO authgate_schema_version (version) VALUES (?1)",
            [v + 1],
        )?;
        tx.commit()?;
        v += 1;
    }
    Ok(v)
}

/// Check the database at `path` without changing anything (for `authgate
/// check`): a missing file is fine when its directory exists or can be
/// made (it is created, 0600, on start); an existing one must open as a
/// SQLite database whose schema is not newer than this build's. Returns
/// what was found, for the report.
pub fn probe(path: &Path) -> Result<String, StoreError> {
    use rusqlite::OpenFlags;
    if !path.exists() {
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            if d.exists() {
                if !d.is_dir() {
                    return Err(StoreError::unavailable(format!(
                        "{} is not a directory",
                        d.display()
                    )));
                }
                break;
            }
            dir = d.parent();
        }
        return Ok(format!("{} (created on start)", path.display()));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    let has_table: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'authgate_schema_version'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| {
            StoreError::unavailable(format!("{}: not a SQLite database ({e})", path.display()))
        })?;
    let v: u32 = if has_table {
        conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM authgate_schema_version",
            [],
            |r| r.get(0),
        )
        .map_err(err)?
    } else {
        0
    };
    if v as usize > schema::SQLITE.len() {
        return Err(StoreError::unavailable(format!(
            "{}: schema version {v} is newer than this build's {}",
            path.display(),
            schema::SQLITE.len()
        )));
    }
    Ok(format!("{} (schema version {v})", path.display()))
}
