//! The store's internal error, and how it becomes the engine's [`StoreError`].

use postgres::error::SqlState;
use warden_auth::{Conflict, StoreError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error(transparent)]
    Pg(#[from] postgres::Error),
    /// A uniqueness rule, checked before the insert so the message can name it.
    #[error("{0}")]
    Conflict(Conflict),
    /// A stored value the engine's types cannot represent.
    #[error("{0}")]
    Corrupt(String),
    /// The schema is not one this build knows how to use.
    #[error("{0}")]
    Schema(String),
    /// The caller handed the store something inconsistent.
    #[error("{0}")]
    Invalid(String),
    /// No connection could be had in time.
    #[error("{0}")]
    Unavailable(String),
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

/// A rotation the engine's `decide` would not describe is an inconsistent
/// request, like any other the store refuses.
impl From<warden_auth::rotation::RotationError> for Error {
    fn from(err: warden_auth::rotation::RotationError) -> Error {
        Error::Invalid(err.to_string())
    }
}

impl Error {
    /// A serialization failure or deadlock: the transaction did nothing and
    /// may simply be run again.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Error::Pg(e) => matches!(
                e.code(),
                Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == SqlState::T_R_DEADLOCK_DETECTED
            ),
            _ => false,
        }
    }
}

impl From<Error> for StoreError {
    fn from(err: Error) -> StoreError {
        match err {
            Error::Pg(e) => from_pg(&e),
            Error::Conflict(m) => StoreError::Conflict(m),
            Error::Corrupt(m) => StoreError::Corrupt(m),
            Error::Schema(m) | Error::Invalid(m) => StoreError::Backend(m),
            Error::Unavailable(m) => StoreError::Unavailable(m),
        }
    }
}

fn from_pg(e: &postgres::Error) -> StoreError {
    let msg = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    };
    let Some(code) = e.code() else {
        // No SQLSTATE: the connection (refused, closed, timed out) or a value
        // that does not convert to the engine's types.
        if !e.is_closed() && msg.contains("deserializ") {
            return StoreError::Corrupt(msg);
        }
        return StoreError::Unavailable(msg);
    };
    let class = &code.code()[..2];
    if *code == SqlState::UNIQUE_VIOLATION {
        StoreError::Conflict(Conflict::Other(msg))
    } else if *code == SqlState::READ_ONLY_SQL_TRANSACTION
        || *code == SqlState::DISK_FULL
        || *code == SqlState::INSUFFICIENT_PRIVILEGE
        || class == "53"
    {
        // 53: insufficient resources (disk full, out of memory, too many connections).
        if *code == SqlState::TOO_MANY_CONNECTIONS {
            StoreError::Unavailable(msg)
        } else {
            StoreError::ReadOnly(msg)
        }
    } else if class == "08" // connection exception
        || class == "57" // operator intervention (shutdown, cannot connect now)
        || class == "40"
    // transaction rollback (retries exhausted)
    {
        StoreError::Unavailable(msg)
    } else if class == "XX" {
        StoreError::Corrupt(msg)
    } else {
        StoreError::Backend(msg)
    }
}
