//! One error type for the embedded backend.

/// What can stop the embedded backend from starting, or refuse what it is asked.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot use the data directory {path}: {message}")]
    DataDir { path: String, message: String },
    #[error("cannot open the database: {0}")]
    Store(#[from] warden_auth::StoreError),
    #[error("the engine refused to start: {0}")]
    Auth(#[from] warden_auth::AuthError),
    #[error("signing keys: {0}")]
    Keys(#[from] crate::keystore::KeyStoreError),
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(std::io::Error),
    #[error("cannot keep the port while offline: {0}")]
    HoldPort(std::io::Error),
    /// The engine refused the new account (name taken, weak password, …).
    #[error("{0}")]
    Account(#[source] warden_auth::AuthError),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, EmbeddedError>;
