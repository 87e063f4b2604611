//! Versioned schema migrations, one list per backend. Version `n` is the
//! `n`-th entry; `authgate_schema_version` holds the version in force. A
//! migration runs in one transaction with the version bump, so a crash
//! leaves the previous version whole.

/// SQLite migrations.
pub const SQLITE: &[&str] = &[r#"
CREATE TABLE authgate_keys (
    id           TEXT PRIMARY KEY,
    digest       BLOB NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    workspace    TEXT,
    scopes       TEXT NOT NULL DEFAULT '[]',
    allow        TEXT NOT NULL DEFAULT '[]',
    usage        TEXT,
    expires_at   INTEGER,
    disabled     INTEGER NOT NULL DEFAULT 0,
    scheme       TEXT,
    public_key   TEXT,
    metadata     TEXT NOT NULL DEFAULT '{}',
    rotated_from TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX authgate_keys_workspace ON authgate_keys (workspace, id);
CREATE INDEX authgate_keys_subject ON authgate_keys (subject, id);
CREATE TABLE authgate_key_changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    digest BLOB NOT NULL,
    at     INTEGER NOT NULL
);
"#];

/// PostgreSQL migrations.
pub const POSTGRES: &[&str] = &[r#"
CREATE TABLE authgate_keys (
    id           TEXT PRIMARY KEY,
    digest       BYTEA NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    workspace    TEXT,
    scopes       TEXT[] NOT NULL DEFAULT '{}',
    allow        TEXT[] NOT NULL DEFAULT '{}',
    usage        TEXT,
    expires_at   BIGINT,
    disabled     BOOLEAN NOT NULL DEFAULT FALSE,
    scheme       TEXT,
    public_key   TEXT,
    metadata     JSONB NOT NULL DEFAULT '{}',
    rotated_from TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX authgate_keys_workspace ON authgate_keys (workspace, id);
CREATE INDEX authgate_keys_subject ON authgate_keys (subject, id);
CREATE TABLE authgate_key_changes (
    seq    BIGSERIAL PRIMARY KEY,
    digest BYTEA NOT NULL,
    at     BIGINT NOT NULL
);
"#];

/// The version table, created before any migration.
pub const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS authgate_schema_version (version INTEGER NOT NULL)";
