//! Versioned schema migrations, one list per backend. Version `n` is the
//! `n`-th entry; `authgate_schema_version` holds the version in force. A
//! migration runs in one transaction with the version bump, so a crash
//! leaves the previous version whole. Version 1: keys and the change feed;
//! version 2: sign-in nonces; version 3: minted keys (actor and parent
//! columns, the indexes the cascade and the purge use); version 4: refresh
//! tokens of the wallet-token sign-in; version 5: fleet-wide replay claims; version 6: keys' own rate
//! limits and usage quotas.

/// Version 3, the same in both dialects: minted keys' actor and parent,
/// and the indexes the cascade and the purge use.
const MINTED_KEYS: &str = r#"
ALTER TABLE authgate_keys ADD COLUMN actor_kind TEXT;
ALTER TABLE authgate_keys ADD COLUMN actor_id TEXT;
ALTER TABLE authgate_keys ADD COLUMN parent_id TEXT;
CREATE INDEX authgate_keys_parent ON authgate_keys (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX authgate_keys_minted_expiry ON authgate_keys (expires_at) WHERE parent_id IS NOT NULL;
CREATE INDEX authgate_key_changes_at ON authgate_key_changes (at);
"#;

/// Version 4, the same in both dialects: refresh tokens by digest (hex),
/// their family (for reuse detection) and the lookups logout makes.
const REFRESH_TOKENS: &str = r#"
CREATE TABLE authgate_refresh_tokens (
    digest     TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT
);
CREATE INDEX authgate_refresh_family ON authgate_refresh_tokens (family);
CREATE INDEX authgate_refresh_subject ON authgate_refresh_tokens (subject, namespace);
CREATE INDEX authgate_refresh_expires ON authgate_refresh_tokens (expires_at);
"#;

/// Version 5, the same in both dialects: replay claims of signed requests
/// (digest in hex, until when).
const REPLAY: &str = r#"
CREATE TABLE authgate_replay (
    digest     TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX authgate_replay_expires ON authgate_replay (expires_at);
"#;

/// Version 6, the same in both dialects: a key's own rate limit and its
/// usage quota.
const KEY_LIMITS: &str = r#"
ALTER TABLE authgate_keys ADD COLUMN rl_rate BIGINT;
ALTER TABLE authgate_keys ADD COLUMN rl_per_ms BIGINT;
ALTER TABLE authgate_keys ADD COLUMN rl_burst BIGINT;
ALTER TABLE authgate_keys ADD COLUMN quota_remaining BIGINT;
ALTER TABLE authgate_keys ADD COLUMN quota_refill_amount BIGINT;
ALTER TABLE authgate_keys ADD COLUMN quota_refill_interval TEXT;
ALTER TABLE authgate_keys ADD COLUMN quota_refilled_at BIGINT;
"#;

/// SQLite migrations.
pub const SQLITE: &[&str] = &[
    r#"
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
"#,
    r#"
CREATE TABLE authgate_nonces (
    nonce       TEXT PRIMARY KEY,
    address     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    chain_id    INTEGER NOT NULL,
    session_key TEXT NOT NULL,
    ip          TEXT NOT NULL,
    message     TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX authgate_nonces_expires ON authgate_nonces (expires_at);
CREATE INDEX authgate_nonces_address ON authgate_nonces (address);
CREATE INDEX authgate_nonces_client ON authgate_nonces (client_id);
CREATE INDEX authgate_nonces_ip ON authgate_nonces (ip);
"#,
    MINTED_KEYS,
    REFRESH_TOKENS,
    REPLAY,
    KEY_LIMITS,
];

/// PostgreSQL migrations.
pub const POSTGRES: &[&str] = &[
    r#"
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
"#,
    r#"
CREATE TABLE authgate_nonces (
    nonce       TEXT PRIMARY KEY,
    address     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    chain_id    BIGINT NOT NULL,
    session_key TEXT NOT NULL,
    ip          TEXT NOT NULL,
    message     TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX authgate_nonces_expires ON authgate_nonces (expires_at);
CREATE INDEX authgate_nonces_address ON authgate_nonces (address);
CREATE INDEX authgate_nonces_client ON authgate_nonces (client_id);
CREATE INDEX authgate_nonces_ip ON authgate_nonces (ip);
"#,
    MINTED_KEYS,
    REFRESH_TOKENS,
    REPLAY,
    KEY_LIMITS,
];

/// The version table, created before any migration.
pub const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS authgate_schema_version (version INTEGER NOT NULL)";
