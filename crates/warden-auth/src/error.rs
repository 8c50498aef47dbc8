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
    /// Longer than `MAX_TOKEN_BYTES`.
    #[error("token is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The token's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not three base64url parts separated by dots.
    #[error("token is not three base64url parts separated by dots")]
    Malformed,
    /// The header is not base64url JSON of the expected shape.
    #[error("token header is not valid: {0}")]
    BadHeader(String),
    /// The header has `crit`: extensions the engine would have to understand.
    #[error("token header has a `crit` parameter, which Warden does not support")]
    CriticalHeader,
    /// The `alg` is not one Warden knows (`none` included).
    #[error("algorithm `{0}` is not allowed")]
    AlgorithmNotAllowed(String),
    /// The header has no `kid`, so no key can be picked.
    #[error("token header has no `kid`")]
    MissingKid,
    /// No key of the ring (still verifying) has this `kid`.
    #[error("no verifying key has kid `{0}`")]
    UnknownKid(String),
    /// The token's `alg` is not the one its key is pinned to.
    #[error("token says `{header}` but key `{kid}` is pinned to `{key}`")]
    AlgorithmMismatch {
        /// The key's id.
        kid: String,
        /// The token's `alg`.
        header: String,
        /// The key's algorithm.
        key: String,
    },
    /// The signature does not verify with the key.
    #[error("signature does not verify")]
    BadSignature,
    /// The payload is not base64url JSON claims of the right types.
    #[error("token payload is not valid: {0}")]
    BadPayload(String),
    /// A claim every token must carry is absent.
    #[error("token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// `exp` has passed, leeway included.
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp`.
        exp: UnixTime,
        /// The engine's time.
        now: UnixTime,
    },
    /// `nbf` has not come yet, leeway included.
    #[error("token is not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: UnixTime,
        /// The engine's time.
        now: UnixTime,
    },
    /// `iat` is later than now, leeway included.
    #[error("token was issued in the future ({iat}, now {now})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: UnixTime,
        /// The engine's time.
        now: UnixTime,
    },
    /// `iss` is not `ISSUER`.
    #[error("token issuer does not match")]
    WrongIssuer,
    /// `aud` does not include `AUDIENCE`.
    #[error("token audience does not match")]
    WrongAudience,
    /// No `token_type` claim.
    #[error("token has no type")]
    NoType,
    /// Another kind of token than the route takes.
    #[error("token is a {found} token where {expected} was expected")]
    WrongType {
        /// The type the route takes.
        expected: String,
        /// The token's type.
        found: String,
    },
    /// No `jti` claim.
    #[error("token has no id")]
    NoId,
    /// The `jti` or `sid` is not in the form Warden mints.
    #[error("token id or session id is not one Warden issues")]
    BadId,
    /// Revoked: the session ended (for this reason), or `None` for a refresh
    /// token rotated away.
    #[error("token is blacklisted ({})", .0.map(|r| r.as_str()).unwrap_or("rotated away"))]
    Blacklisted(Option<RevocationReason>),
    /// A refresh or sliding token the store does not hold.
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

    /// [`TokenError::WrongType`] for two types.
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
    /// A key that does not parse, or does not suit its algorithm (too short a secret).
    #[error("key for {alg} is not usable: {message}")]
    Invalid {
        /// The algorithm the key is for.
        alg: String,
        /// What is wrong with it.
        message: String,
    },
    /// Generating a key failed.
    #[error("cannot generate a {alg} key: {message}")]
    Generate {
        /// The algorithm asked for.
        alg: String,
        /// What failed.
        message: String,
    },
    /// The signing library refused to sign.
    #[error("signing failed: {0}")]
    Sign(String),
    /// The set of keys is inconsistent (no active key, two active keys, a duplicate kid).
    #[error("key ring: {0}")]
    Ring(String),
}

/// Every way an engine operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A token was refused.
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
    LockedOut {
        /// Seconds until the next attempt is counted.
        retry_after: i64,
    },
    /// A valid token of a deactivated user.
    #[error("User is inactive")]
    UserInactive,
    /// A valid token of a deleted user.
    #[error("User not found")]
    UserNotFound,
    /// The caller may not do this (not staff, not the owner).
    #[error("permission denied: {0}")]
    Forbidden(&'static str),
    /// No such thing (named: `user`, `session`), or not one the caller may see.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A request field the engine refuses (a weak password, an over-long label).
    #[error("{field}: {message}")]
    InvalidInput {
        /// The field, as the request names it.
        field: &'static str,
        /// Why, in the words the client shows.
        message: String,
    },
    /// A username or e-mail already taken; the text says which, in DRF's words.
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A signing key is unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The settings are inconsistent.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// Argon2, or the randomness for its salt, failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl AuthError {
    /// [`AuthError::InvalidInput`] for `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AuthError::InvalidInput {
            field,
            message: message.into(),
        }
    }
}

/// The engine's results.
pub type Result<T, E = AuthError> = std::result::Result<T, E>;
