//! Both stores' schema history, from one directory (`migrations/`):
//! `sqlite/NNNN_*.sql` for [`crate::SqliteStore`] (tracked by `PRAGMA
//! user_version`) and `postgres/NNNN_*.sql` for the PostgreSQL store
//! (crate `warden-store-pg`, tracked in its `warden_schema` table). In order:
//! the index + 1 is the schema version a migration produces.

pub const SQLITE: &[&str] = &[
    include_str!("../migrations/sqlite/0001_init.sql"),
    include_str!("../migrations/sqlite/0002_revocation_feed.sql"),
    include_str!("../migrations/sqlite/0003_throttle_scopes.sql"),
];

pub const POSTGRES: &[&str] = &[
    include_str!("../migrations/postgres/0001_init.sql"),
    include_str!("../migrations/postgres/0002_throttle_scopes.sql"),
];
