//! The store's internal error, and how it becomes the engine's [`StoreError`].
//!
//! Query code uses `?` on rusqlite calls; the classification into the
//! engine's variants happens once, here.

use rusqlite::ffi::ErrorCode;
use warden_auth::{Conflict, StoreError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
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
    /// The writer thread is gone; nothing was written.
    #[error("the database writer has stopped")]
    WriterStopped,
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

/// A rotation the engine's `decide` would not describe is an inconsistent
/// request, like any other the store refuses.
impl From<warden_auth::rotation::RotationError> for Error {
    fn from(err: warden_auth::rotation::RotationError) -> Error {
        Error::Invalid(err.to_string())
    }
}

impl From<Error> for StoreError {
    fn from(err: Error) -> StoreError {
        match err {
            Error::Sqlite(e) => from_sqlite(e),
            Error::Io(e) => match e.kind() {
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                    StoreError::ReadOnly(e.to_string())
                }
                _ => StoreError::Unavailable(e.to_string()),
            },
            Error::Conflict(m) => StoreError::Conflict(m),
            Error::Corrupt(m) => StoreError::Corrupt(m),
            Error::Schema(m) => StoreError::Backend(m),
            Error::Invalid(m) => StoreError::Backend(m),
            Error::WriterStopped => StoreError::Unavailable(Error::WriterStopped.to_string()),
        }
    }
}

fn from_sqlite(e: rusqlite::Error) -> StoreError {
    let msg = e.to_string();
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::ReadOnly | ErrorCode::DiskFull | ErrorCode::PermissionDenied => {
                StoreError::ReadOnly(msg)
            }
            ErrorCode::CannotOpen
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::OutOfMemory => StoreError::Unavailable(msg),
            ErrorCode::ConstraintViolation => StoreError::Conflict(Conflict::Other(msg)),
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => StoreError::Corrupt(msg),
            _ => StoreError::Backend(msg),
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => StoreError::Corrupt(msg),
        _ => StoreError::Backend(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> Error {
        Error::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(code),
            None,
        ))
    }

    fn class(e: &StoreError) -> &'static str {
        match e {
            StoreError::Conflict(_) => "conflict",
            StoreError::ReadOnly(_) => "read-only",
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Backend(_) => "backend",
        }
    }

    #[test]
    fn sqlite_codes_map_to_the_engine_variants() {
        use rusqlite::ffi;
        let cases = [
            (ffi::SQLITE_READONLY, "read-only"),
            (ffi::SQLITE_FULL, "read-only"),
            (ffi::SQLITE_CANTOPEN, "unavailable"),
            (ffi::SQLITE_BUSY, "unavailable"),
            (ffi::SQLITE_CONSTRAINT_UNIQUE, "conflict"),
            (ffi::SQLITE_CORRUPT, "corrupt"),
            (ffi::SQLITE_ERROR, "backend"),
        ];
        for (code, expected) in cases {
            let mapped = StoreError::from(failure(code));
            assert_eq!(class(&mapped), expected, "code {code}: {mapped:?}");
        }
    }

    #[test]
    fn undecodable_values_are_corrupt() {
        let e = Error::Sqlite(rusqlite::Error::IntegralValueOutOfRange(0, -1));
        assert!(matches!(StoreError::from(e), StoreError::Corrupt(_)));
    }
}
