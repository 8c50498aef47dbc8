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
    /// The login identifier (the username, or the e-mail where the server signs in by e-mail).
    pub username: String,
    /// The account's password.
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
    /// The refresh token: trades for new access tokens.
    pub refresh: String,
    /// The access token: the `Authorization` header's credential.
    pub access: String,
}

/// `POST api/token/refresh/`, `api/token/blacklist/`, `api/logout/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    /// A refresh token.
    pub refresh: String,
}

/// `api/token/refresh/`: `refresh` only when rotating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshResponse {
    /// A new access token.
    pub access: String,
    /// The new refresh token, which replaces the one sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
}

/// `POST api/token/verify/`, `api/token/sliding/refresh/`, `api/token/introspect/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRequest {
    /// The token, as issued.
    pub token: String,
}

/// A sliding token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlidingToken {
    /// Both the credential and what refreshes it.
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
    /// The token to revoke.
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
    /// The token is valid and its session live; when false, nothing else is sent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub active: bool,
    /// `access`, `refresh` or `sliding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry, Unix time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at, Unix time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not before, Unix time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The token's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The subject: the user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The user id, as SimpleJWT's claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The owner's username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The issuer, when the server sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The audience, when the server sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// The kinds of token SimpleJWT and Warden mint, as written in the `token_type` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// Short-lived; sent with every request.
    Access,
    /// Long-lived; only trades for new tokens.
    Refresh,
    /// Both at once (SimpleJWT's sliding tokens).
    Sliding,
}

impl TokenType {
    /// The claim's value: `access`, `refresh`, `sliding`.
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

    /// The type named `s` (exact, lowercase), if it is one.
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
    /// What the token may be used for.
    pub token_type: TokenType,
    /// Expiry, Unix time.
    pub exp: i64,
    /// Issued at, Unix time.
    pub iat: i64,
    /// The token's id.
    pub jti: String,
    /// The owner: their id, or their username under `USER_ID_FIELD = username`.
    pub user_id: String,
    /// The session (token family).
    pub sid: String,
    /// Not before, Unix time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The issuer (`ISSUER`), when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The audience (`AUDIENCE`), when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// When a sliding token stops being refreshable, Unix time.
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
