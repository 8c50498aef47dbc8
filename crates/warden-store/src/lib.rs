//! Warden's storage: the engine's [`warden_auth::Store`] over SQLite.
//!
//! [`SqliteStore`] keeps one database file in WAL mode with embedded, ordered
//! migrations (crate `warden-migrations`, tracked by `PRAGMA user_version`). Writes
//! go through one writer thread that commits concurrent callers together
//! (group commit: one transaction and one fsync for
//! every write that arrived while the previous commit ran); reads use read-only connections beside it.
//! The behavioural test suite any `Store` must pass is the dev-only crate
//! `warden-store-conformance`, shared with the PostgreSQL store.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod audit;
mod error;
mod feed;
mod housekeeping;
mod rows;
mod schema;
mod sessions;
mod store;
mod throttle;
mod users;
mod writer;

pub use store::SqliteStore;
pub use writer::WriteStats;

/// The schema version this build creates and expects.
pub fn schema_version() -> i64 {
    schema::latest_version()
}
