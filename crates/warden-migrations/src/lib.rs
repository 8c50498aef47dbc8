//! Both stores' schema history, from one directory (`migrations/`):
//! `sqlite/NNNN_*.sql` for the SQLite store (crate `warden-store`, tracked by
//! `PRAGMA user_version`) and `postgres/NNNN_*.sql` for the PostgreSQL store
//! (crate `warden-store-pg`, tracked in its `warden_schema` table). In order:
//! the index + 1 is the schema version a migration produces.
//!
//! A crate of its own so that neither store depends on the other to find its
//! schema, and the two histories, numbered alike, stay side by side.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The SQLite store's migrations, oldest first.
pub const SQLITE: &[&str] = &[
    include_str!("../migrations/sqlite/0001_init.sql"),
    include_str!("../migrations/sqlite/0002_revocation_feed.sql"),
    include_str!("../migrations/sqlite/0003_throttle_scopes.sql"),
    include_str!("../migrations/sqlite/0004_revoked_sessions.sql"),
    include_str!("../migrations/sqlite/0005_rotation_indexes.sql"),
    include_str!("../migrations/sqlite/0006_rotation_btrees.sql"),
    include_str!("../migrations/sqlite/0007_token_jti_index.sql"),
];

/// The PostgreSQL store's migrations, oldest first.
pub const POSTGRES: &[&str] = &[
    include_str!("../migrations/postgres/0001_init.sql"),
    include_str!("../migrations/postgres/0002_throttle_scopes.sql"),
    include_str!("../migrations/postgres/0003_revoked_sessions.sql"),
    include_str!("../migrations/postgres/0004_rotation_indexes.sql"),
];
