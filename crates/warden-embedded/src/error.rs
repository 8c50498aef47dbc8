//! One error type for the embedded backend.

/// What can stop the embedded backend from starting, or refuse what it is asked.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The data directory cannot be created or used.
    #[error("cannot use the data directory {path}: {message}")]
    DataDir {
        /// The directory.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The SQLite store did not open (or a read for the backend failed).
    #[error("cannot open the database: {0}")]
    Store(#[from] warden_auth::StoreError),
    /// The engine refused its settings or keys.
    #[error("the engine refused to start: {0}")]
    Auth(#[from] warden_auth::AuthError),
    /// The signing keys could not be loaded or stored.
    #[error("signing keys: {0}")]
    Keys(#[from] crate::keystore::KeyStoreError),
    /// No loopback port could be bound.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(std::io::Error),
    /// Going offline, the port could not be kept bound.
    #[error("cannot keep the port while offline: {0}")]
    HoldPort(std::io::Error),
    /// The engine refused the new account (name taken, weak password, …).
    #[error("{0}")]
    Account(#[source] warden_auth::AuthError),
    /// Something that should not fail did (a blocking task, binding the router to its address).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The embedded backend's results.
pub type Result<T> = std::result::Result<T, EmbeddedError>;
