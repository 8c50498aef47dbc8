//! The engine's errors. Token rejections keep their precise cause (for the
//! developer tools and the audit log) and map to SimpleJWT's wording on the wire.

use warden_proto::{Reason, TokenType};

use crate::clock::UnixTime;
use crate::model::RevocationReason;
use crate::settings::SettingsError;
use crate::store::StoreError;

/// Why a token was refused, one variant per validation step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is {len} bytes, over the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("token is not three base64url parts separated by dots")]
    Malformed,
    #[error("token header is not valid: {0}")]
    BadHeader(String),
    #[error("token header has a `crit` parameter, which Warden does not support")]
    CriticalHeader,
    #[error("algorithm `{0}` is not allowed")]
    AlgorithmNotAllowed(String),
    #[error("token header has no `kid`")]
    MissingKid,
    #[error("no verifying key has kid `{0}`")]
    UnknownKid(String),
    #[error("token says `{header}` but key `{kid}` is pinned to `{key}`")]
    AlgorithmMismatch {
        kid: String,
        header: String,
        key: String,
    },
    #[error("signature does not verify")]
    BadSignature,
    #[error("token payload is not valid: {0}")]
    BadPayload(String),
    #[error("token has no `{0}` claim")]
    MissingClaim(&'static str),
    #[error("token expired at {exp} (now {now})")]
    Expired { exp: UnixTime, now: UnixTime },
    #[error("token is not valid before {nbf} (now {now})")]
    NotYetValid { nbf: UnixTime, now: UnixTime },
    #[error("token was issued in the future ({iat}, now {now})")]
    IssuedInFuture { iat: UnixTime, now: UnixTime },
    #[error("token issuer does not match")]
    WrongIssuer,
    #[error("token audience does not match")]
    WrongAudience,
    #[error("token has no type")]
    NoType,
    #[error("token is a {found} token where {expected} was expected")]
    WrongType { expected: String, found: String },
    #[error("token has no id")]
    NoId,
    #[error("token id or session id is not one Warden issues")]
    BadId,
    #[error("token is blacklisted ({})", .0.map(|r| r.as_str()).unwrap_or("rotated away"))]
    Blacklisted(Option<RevocationReason>),
    #[error("token was never issued by this server")]
    NotOutstanding,
}

impl TokenError {
    /// SimpleJWT's message for the same rejection (`detail` on the wire).
    pub fn simplejwt_message(&self) -> &'static str {
        match self {
            TokenError::Expired { .. } => "Token is expired",
            TokenError::Blacklisted(_) => "Token is blacklisted",
            TokenError::WrongType { .. } => "Token has wrong type",
            TokenError::NoType => "Token has no type",
            TokenError::NoId => "Token has no id",
            _ => "Token is invalid",
        }
    }

    /// A stable machine-readable cause, sent as Warden's `reason` field.
    /// The wire `reason` for this refusal.
    pub fn reason(&self) -> Reason {
        match self {
            TokenError::TooLarge { .. } => Reason::TooLarge,
            TokenError::Malformed => Reason::Malformed,
            TokenError::BadHeader(_) => Reason::BadHeader,
            TokenError::CriticalHeader => Reason::CriticalHeader,
            TokenError::AlgorithmNotAllowed(_) => Reason::AlgorithmNotAllowed,
            TokenError::MissingKid => Reason::MissingKid,
            TokenError::UnknownKid(_) => Reason::UnknownKid,
            TokenError::AlgorithmMismatch { .. } => Reason::AlgorithmMismatch,
            TokenError::BadSignature => Reason::BadSignature,
            TokenError::BadPayload(_) => Reason::BadPayload,
            TokenError::MissingClaim(_) => Reason::MissingClaim,
            TokenError::Expired { .. } => Reason::Expired,
            TokenError::NotYetValid { .. } => Reason::NotYetValid,
            TokenError::IssuedInFuture { .. } => Reason::IssuedInFuture,
            TokenError::WrongIssuer => Reason::WrongIssuer,
            TokenError::WrongAudience => Reason::WrongAudience,
            TokenError::NoType => Reason::NoType,
            TokenError::WrongType { .. } => Reason::WrongType,
            TokenError::NoId => Reason::NoId,
            TokenError::BadId => Reason::BadId,
            TokenError::Blacklisted(Some(r)) => Reason::Ended(*r),
            TokenError::Blacklisted(None) => Reason::Rotated,
            TokenError::NotOutstanding => Reason::NotOutstanding,
        }
    }

    pub fn wrong_type(expected: TokenType, found: TokenType) -> Self {
        TokenError::WrongType {
            expected: expected.as_str().into(),
            found: found.as_str().into(),
        }
    }
}

/// Key material that cannot be loaded or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key for {alg} is not usable: {message}")]
    Invalid { alg: String, message: String },
    #[error("cannot generate a {alg} key: {message}")]
    Generate { alg: String, message: String },
    #[error("signing failed: {0}")]
    Sign(String),
    /// The set of keys is inconsistent (no active key, two active keys, a duplicate kid).
    #[error("key ring: {0}")]
    Ring(String),
}

/// Every way an engine operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Wrong password, unknown user, or a right password for an account that
    /// cannot sign in (inactive, locked by staff, e-mail not verified): one
    /// error for all, so that none of them tells a right password from a
    /// wrong one.
    #[error("No active account found with the given credentials")]
    InvalidCredentials,
    /// Refused unchecked by the failed-login counters (see [`crate::lockout`]).
    #[error("too many failed logins; try again in {retry_after} seconds")]
    LockedOut { retry_after: i64 },
    #[error("User is inactive")]
    UserInactive,
    #[error("User not found")]
    UserNotFound,
    /// The caller may not do this (not staff, not the owner).
    #[error("permission denied: {0}")]
    Forbidden(&'static str),
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("{field}: {message}")]
    InvalidInput {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl AuthError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AuthError::InvalidInput {
            field,
            message: message.into(),
        }
    }
}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;
