//! SimpleJWT's token routes (obtain, refresh, verify, blacklist, sliding), the
//! RFC 7009 / 7662 bodies, and the claims inside the tokens.
//!
//! The doc comments on the body types are the descriptions of the OpenAPI
//! document the server serves at `api/schema/`: changing one changes that
//! document.

use serde::{Deserialize, Serialize};

/// `POST api/token/` and `api/token/sliding/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObtainRequest {
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(format = Password))]
    pub password: String,
    /// Warden: a name for the session (also `X-Warden-Device`), at most 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_label: Option<String>,
}

/// `api/token/`: a new session's pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenPair {
    pub refresh: String,
    pub access: String,
}

/// `POST api/token/refresh/`, `api/token/blacklist/`, `api/logout/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    pub refresh: String,
}

/// `api/token/refresh/`: `refresh` only when rotating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshResponse {
    pub access: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
}

/// `POST api/token/verify/`, `api/token/sliding/refresh/`, `api/token/introspect/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRequest {
    pub token: String,
}

/// A sliding token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlidingToken {
    pub token: String,
}

/// `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Empty {}

/// `POST api/token/revoke/` (RFC 7009).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeRequest {
    pub token: String,
    /// `access_token` or `refresh_token`; a hint only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type_hint: Option<String>,
}

/// RFC 7662 answer: `{"active": false}`, or the token's claims.
// Every field defaults, so an answer with less than Warden's still reads;
// Warden always sends `active`, which is why the document requires it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Introspection {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub active: bool,
    /// `access`, `refresh` or `sliding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
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
    fn token_type_round_trips() {
        for t in [TokenType::Access, TokenType::Refresh, TokenType::Sliding] {
            assert_eq!(TokenType::parse(t.as_str()), Some(t));
        }
        assert_eq!(TokenType::parse("Access"), None);
    }

    #[test]
    fn introspection_of_an_inactive_token_is_active_false_alone() {
        assert_eq!(
            serde_json::to_string(&Introspection::default()).unwrap(),
            r#"{"active":false}"#
        );
        // Another server's terse answer still reads.
        assert_eq!(
            serde_json::from_str::<Introspection>("{}").unwrap(),
            Introspection::default()
        );
    }

    #[test]
    fn optional_request_fields_are_left_out_when_absent() {
        let r = RevokeRequest {
            token: "t".into(),
            token_type_hint: None,
        };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"token":"t"}"#);
        let o: ObtainRequest = serde_json::from_str(r#"{"username":"a","password":"b"}"#).unwrap();
        assert_eq!(o.device_label, None);
    }
}
