//! Warden's wire types.
//!
//! Everything that crosses HTTP between a Warden server, a SimpleJWT server and
//! Warden's clients is defined here, with serde only. The shapes follow
//! `djangorestframework-simplejwt` 5.5 (see `WIRE.md`); Warden's own additions
//! live beside them and never change a SimpleJWT shape.
#![forbid(unsafe_code)]

mod reason;

pub use reason::{Reason, RevocationReason};
use serde::{Deserialize, Serialize};

/// `POST api/token/` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObtainRequest {
    pub username: String,
    pub password: String,
}

/// `POST api/token/` answer; also `api/token/refresh/` when rotating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPairResponse {
    pub refresh: String,
    pub access: String,
}

/// `POST api/token/refresh/` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh: String,
}

/// `POST api/token/refresh/` answer: `refresh` is present only when the server rotates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshResponse {
    pub access: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
}

/// `POST api/token/verify/` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyRequest {
    pub token: String,
}

/// Sliding-token answer (`api/token/sliding/`, `api/token/sliding/refresh/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlidingTokenResponse {
    pub token: String,
}

/// The kinds of token SimpleJWT and Warden mint, as written in the `token_type` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
    Sliding,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
            TokenType::Sliding => "sliding",
        }
    }

    /// SimpleJWT's class name for the type, as used in `messages[].token_class`.
    pub fn token_class(self) -> &'static str {
        match self {
            TokenType::Access => "AccessToken",
            TokenType::Refresh => "RefreshToken",
            TokenType::Sliding => "SlidingToken",
        }
    }

    pub fn parse(s: &str) -> Option<TokenType> {
        match s {
            "access" => Some(TokenType::Access),
            "refresh" => Some(TokenType::Refresh),
            "sliding" => Some(TokenType::Sliding),
            _ => None,
        }
    }
}

/// The claims Warden puts in every token it mints.
///
/// `user_id` is a string, as SimpleJWT sends it. `sid` (the session, or token
/// family) is Warden's addition: it lets a revoked session kill its access
/// tokens at once. `refresh_exp` is present on sliding tokens only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub user_id: String,
    pub sid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_exp: Option<i64>,
}

/// SimpleJWT's `messages[]` entry in an authentication failure on a protected route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMessage {
    pub token_class: String,
    pub token_type: String,
    pub message: String,
}

/// The error body SimpleJWT and DRF send: `detail`, and `code` when there is one.
///
/// Warden adds `reason` (a stable machine-readable cause such as
/// `reuse_detected` or `session_revoked`) so its clients can say *why*; SimpleJWT
/// clients ignore unknown keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<TokenMessage>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// One session (token family) as a user or a staff member sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub user_id: String,
    pub device_label: Option<String>,
    pub user_agent: Option<String>,
    pub address: Option<String>,
    pub created_at: i64,
    pub last_rotated_at: Option<i64>,
    pub rotation_count: u32,
    /// When the newest refresh token of the session expires.
    pub expires_at: i64,
    /// The absolute cap: rotation cannot keep the session alive past this.
    pub max_expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    /// True for the session the request itself belongs to.
    #[serde(default)]
    pub current: bool,
}

/// What a server offers beyond SimpleJWT, so a client can degrade gracefully.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub server: String,
    pub version: String,
    pub features: Vec<String>,
    pub rotate_refresh_tokens: bool,
    pub blacklist_after_rotation: bool,
    pub access_token_lifetime: u64,
    pub refresh_token_lifetime: u64,
    pub auth_header_types: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_response_omits_refresh_when_not_rotating() {
        let r = RefreshResponse {
            access: "a".into(),
            refresh: None,
        };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"access":"a"}"#);
    }

    #[test]
    fn error_body_matches_simplejwt_shape() {
        let e = ErrorBody {
            detail: "Token is invalid".into(),
            code: Some("token_not_valid".into()),
            messages: None,
            reason: None,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"detail":"Token is invalid","code":"token_not_valid"}"#
        );
    }

    #[test]
    fn token_type_round_trips() {
        for t in [TokenType::Access, TokenType::Refresh, TokenType::Sliding] {
            assert_eq!(TokenType::parse(t.as_str()), Some(t));
        }
        assert_eq!(TokenType::parse("Access"), None);
    }
}
