//! The client's one error type, and the one place a server's answer becomes it.
//!
//! DRF and SimpleJWT say what went wrong in a JSON body (`detail`, `code`,
//! `messages`, field errors); Warden adds `reason`. [`ClientError::from_response`]
//! reads every shape listed in WIRE.md and interop/README.md into a variant a
//! program can match on. No variant ever holds a token or a password.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Serialize;
use serde_json::Value;
use warden_proto::{Reason, RevocationReason};

use crate::config::Feature;
use crate::state::SignOutReason;
use crate::vault::VaultError;

/// The client's results: [`ClientError`] unless said otherwise.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// DRF field errors: each field in error with its messages (`non_field_errors` included).
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// SimpleJWT's wording for a refused token on a token endpoint or a protected route.
pub(crate) const TOKEN_EXPIRED: &str = "Token is expired";
pub(crate) const TOKEN_BLACKLISTED: &str = "Token is blacklisted";
/// SimpleJWT's answer to bad credentials (wrong password, unknown or inactive user).
pub(crate) const NO_ACTIVE_ACCOUNT: &str = "No active account found with the given credentials";
/// SimpleJWT's answer to a refresh token of a deactivated user (401, no `code`).
pub(crate) const NO_ACTIVE_ACCOUNT_FOR_TOKEN: &str = "No active account found for the given token.";

/// Why a request never got an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkKind {
    /// Nothing listens, DNS failed, TLS failed: the server was not reached.
    Connect,
    /// No complete answer within the configured timeout.
    Timeout,
    /// The connection broke, or the body could not be read.
    Other,
}

impl NetworkKind {
    /// The name in [`ClientError::code`] and the timeline's `error_code`.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkKind::Connect => "connect",
            NetworkKind::Timeout => "timeout",
            NetworkKind::Other => "network",
        }
    }
}

/// Everything a request or the session manager can fail with, by what a
/// program would do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// 401 `token_not_valid`: `message` is SimpleJWT's (`Token is expired`,
    /// `Token is blacklisted`, ...), `reason` Warden's cause when the server sent one.
    #[error("token not valid: {message}")]
    TokenNotValid {
        /// SimpleJWT's message.
        message: String,
        /// Warden's `reason`; `None` from other servers.
        reason: Option<Reason>,
    },
    /// Warden refused a rotated-away refresh token and revoked its whole session.
    #[error("a rotated-away refresh token was used again; the session was revoked")]
    ReuseDetected,
    /// `user_inactive`: the token's user is deactivated.
    #[error("the account is inactive")]
    UserInactive,
    /// `user_not_found`: the token's user was deleted.
    #[error("the account no longer exists")]
    UserNotFound,
    /// Wrong password, unknown or inactive user: SimpleJWT does not say which.
    #[error("no active account found with the given credentials")]
    InvalidCredentials,
    /// Warden's `locked_out`: too many failed logins for this account or address.
    #[error("too many failed logins; try again in {retry_after} s")]
    LockedOut {
        /// Seconds until a login may be tried again.
        retry_after: u64,
    },
    /// 429 other than a lockout (DRF throttling).
    #[error("too many requests")]
    Throttled {
        /// The `Retry-After` header, in seconds, when there was one.
        retry_after: Option<u64>,
    },
    /// 401 without a usable token: no header, another scheme, a malformed header.
    #[error("not authenticated: {detail}")]
    NotAuthenticated {
        /// The server's `detail`.
        detail: String,
    },
    /// 403: signed in, but not allowed (a staff route for a non-staff user).
    #[error("forbidden: {detail}")]
    Forbidden {
        /// The server's `detail`.
        detail: String,
    },
    /// 404, or an id that cannot be a path segment.
    #[error("not found")]
    NotFound,
    /// 400 with DRF field errors.
    #[error("invalid input: {}", field_summary(.0))]
    Validation(FieldErrors),
    /// 400 with a `detail` (unreadable JSON) or an OAuth `error` (RFC 7009/7662).
    #[error("bad request: {detail}")]
    BadRequest {
        /// The `detail` or the OAuth `error`.
        detail: String,
    },
    /// No answer came.
    #[error("network error ({}): {message}", .kind.as_str())]
    Network {
        /// Where it failed.
        kind: NetworkKind,
        /// reqwest's description.
        message: String,
    },
    /// 5xx. `request_id` is Warden's, for finding the server's log line.
    #[error("server error (HTTP {status})")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The body's `request_id` or the `X-Request-Id` header.
        request_id: Option<String>,
    },
    /// Any other refusal (405, 413, 415, an unexpected 4xx).
    #[error("HTTP {status}: {}", .detail.as_deref().unwrap_or("no detail"))]
    Http {
        /// The HTTP status.
        status: u16,
        /// The server's `detail`, when it sent one.
        detail: Option<String>,
    },
    /// The server does not offer this (a plain SimpleJWT server has no Warden routes).
    #[error("not available on this server: {}", .0.as_str())]
    Unavailable(Feature),
    /// A success answer whose body is not what the route returns.
    #[error("unexpected answer from the server (HTTP {status}): {message}")]
    UnexpectedBody {
        /// The HTTP status.
        status: u16,
        /// What serde_json found wrong.
        message: String,
    },
    /// A token that is not a JWT this client can decode.
    #[error("token cannot be read: {0}")]
    MalformedToken(String),
    /// A [`ClientConfig`](crate::ClientConfig) the client cannot use (bad URL, header type, label).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The session manager holds no session.
    #[error("not signed in")]
    NotSignedIn,
    /// The session manager's session ended, for this reason.
    #[error("signed out: {0}")]
    SignedOut(SignOutReason),
    /// A login while a session is held.
    #[error("already signed in; log out first")]
    AlreadySignedIn,
    /// Restore found no refresh token in the vault.
    #[error("no stored session for this server and user")]
    NoStoredSession,
    /// The access token has expired and the server cannot be reached to rotate it.
    #[error("offline; retrying in {} s", .retry_in.as_secs())]
    Offline {
        /// When the manager tries the server again.
        retry_in: Duration,
    },
    /// The vault could not keep or read the refresh token.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// An OAuth 2.0 error answer from an OpenID provider (typed code, description).
    #[error("the provider refused: {0}")]
    OAuth(crate::oidc::OAuthError),
    /// An OpenID provider broke the protocol, or its answer failed a check
    /// (issuer, state, nonce, ID token signature).
    #[error("OpenID Connect: {0}")]
    OpenId(String),
}

fn oauth_code_str(c: &crate::oidc::OAuthErrorCode) -> &'static str {
    use crate::oidc::OAuthErrorCode as C;
    match c {
        C::InvalidGrant => "invalid_grant",
        C::InvalidClient => "invalid_client",
        C::InvalidDpopProof => "invalid_dpop_proof",
        C::UseDpopNonce => "use_dpop_nonce",
        C::LoginRequired => "login_required",
        C::SlowDown => "slow_down",
        C::AuthorizationPending => "authorization_pending",
        C::AccessDenied => "access_denied",
        C::ExpiredToken => "expired_token",
        C::InvalidRequest => "invalid_request",
        C::InvalidScope => "invalid_scope",
        C::UnauthorizedClient => "unauthorized_client",
        C::UnsupportedGrantType => "unsupported_grant_type",
        C::InvalidToken => "invalid_token",
        C::Other(_) => "oauth_error",
    }
}

fn field_summary(errors: &FieldErrors) -> String {
    errors
        .iter()
        .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ClientError {
    /// A short stable name for timelines and logs.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::TokenNotValid { .. } => "token_not_valid",
            ClientError::ReuseDetected => "reuse_detected",
            ClientError::UserInactive => "user_inactive",
            ClientError::UserNotFound => "user_not_found",
            ClientError::InvalidCredentials => "invalid_credentials",
            ClientError::LockedOut { .. } => "locked_out",
            ClientError::Throttled { .. } => "throttled",
            ClientError::NotAuthenticated { .. } => "not_authenticated",
            ClientError::Forbidden { .. } => "forbidden",
            ClientError::NotFound => "not_found",
            ClientError::Validation(_) => "validation",
            ClientError::BadRequest { .. } => "bad_request",
            ClientError::Network { kind, .. } => kind.as_str(),
            ClientError::Server { .. } => "server_error",
            ClientError::Http { .. } => "http_error",
            ClientError::Unavailable(_) => "unavailable",
            ClientError::UnexpectedBody { .. } => "unexpected_body",
            ClientError::MalformedToken(_) => "malformed_token",
            ClientError::InvalidConfig(_) => "invalid_config",
            ClientError::NotSignedIn => "not_signed_in",
            ClientError::SignedOut(_) => "signed_out",
            ClientError::AlreadySignedIn => "already_signed_in",
            ClientError::NoStoredSession => "no_stored_session",
            ClientError::Offline { .. } => "offline",
            ClientError::Vault(_) => "vault",
            ClientError::OAuth(e) => match &e.code {
                crate::oidc::OAuthErrorCode::Other(_) => "oauth_error",
                c => oauth_code_str(c),
            },
            ClientError::OpenId(_) => "openid",
        }
    }

    /// Worth retrying later with the same credentials: the server was not
    /// reached, failed, or asked to slow down. Nothing was refused.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::Network { .. }
                | ClientError::Server { .. }
                | ClientError::Throttled { .. }
                | ClientError::Offline { .. }
        )
    }

    /// True for a refused token whose message or reason says it expired.
    pub fn is_token_expired(&self) -> bool {
        match self {
            ClientError::TokenNotValid { message, reason } => {
                *reason == Some(Reason::Expired) || message == TOKEN_EXPIRED
            }
            _ => false,
        }
    }

    /// Warden's `reason`, when the server sent one.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            ClientError::TokenNotValid { reason, .. } => reason.clone(),
            ClientError::ReuseDetected => Some(Reason::Ended(RevocationReason::ReuseDetected)),
            _ => None,
        }
    }

    /// The error for an answer that is not a success, from its status, headers and body.
    pub fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ClientError {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let obj = json.as_ref().and_then(Value::as_object);
        let get_str = |key: &str| obj.and_then(|o| o.get(key)).and_then(Value::as_str);
        let detail = get_str("detail").map(str::to_string);
        let code = get_str("code");
        let reason = get_str("reason").map(Reason::parse);
        let request_id = get_str("request_id").map(str::to_string).or_else(|| {
            headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
        let s = status.as_u16();

        if status.is_server_error() {
            return ClientError::Server {
                status: s,
                request_id,
            };
        }
        match code {
            Some("token_not_valid") => {
                if reason == Some(Reason::Ended(RevocationReason::ReuseDetected)) {
                    return ClientError::ReuseDetected;
                }
                // On a protected route the specific message is in `messages[0]`.
                let message = obj
                    .and_then(|o| o.get("messages"))
                    .and_then(Value::as_array)
                    .and_then(|m| m.first())
                    .and_then(|m| m.get("message"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or(detail)
                    .unwrap_or_else(|| "Token is invalid".to_string());
                return ClientError::TokenNotValid { message, reason };
            }
            Some("user_inactive") => return ClientError::UserInactive,
            Some("user_not_found") => return ClientError::UserNotFound,
            Some("locked_out") => {
                let retry_after = obj
                    .and_then(|o| o.get("retry_after"))
                    .and_then(Value::as_u64)
                    .or_else(|| retry_after_header(headers))
                    .unwrap_or(0);
                return ClientError::LockedOut { retry_after };
            }
            _ => {}
        }
        match status {
            StatusCode::UNAUTHORIZED => match detail.as_deref() {
                Some(NO_ACTIVE_ACCOUNT) => ClientError::InvalidCredentials,
                Some(NO_ACTIVE_ACCOUNT_FOR_TOKEN) => ClientError::UserInactive,
                Some(d) => ClientError::NotAuthenticated {
                    detail: d.to_string(),
                },
                None => ClientError::NotAuthenticated {
                    detail: "401 without a body".to_string(),
                },
            },
            StatusCode::TOO_MANY_REQUESTS => ClientError::Throttled {
                retry_after: retry_after_header(headers),
            },
            StatusCode::FORBIDDEN => ClientError::Forbidden {
                detail: detail.unwrap_or_else(|| "forbidden".to_string()),
            },
            StatusCode::NOT_FOUND => ClientError::NotFound,
            StatusCode::BAD_REQUEST => bad_request(obj, detail),
            _ => ClientError::Http { status: s, detail },
        }
    }
}

fn retry_after_header(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

fn bad_request(
    obj: Option<&serde_json::Map<String, Value>>,
    detail: Option<String>,
) -> ClientError {
    let Some(obj) = obj else {
        return ClientError::BadRequest {
            detail: "400 without a JSON body".to_string(),
        };
    };
    if let Some(detail) = detail {
        return ClientError::BadRequest { detail };
    }
    if let Some(error) = obj.get("error").and_then(Value::as_str) {
        return ClientError::BadRequest {
            detail: error.to_string(),
        };
    }
    let mut fields = FieldErrors::new();
    for (field, messages) in obj {
        let list = match messages {
            Value::Array(items) => items
                .iter()
                .map(|m| match m {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            Value::String(s) => vec![s.clone()],
            other => vec![other.to_string()],
        };
        fields.insert(field.clone(), list);
    }
    // SimpleJWT's verify answers a blacklisted token with a 400 non-field error.
    if fields.len() == 1
        && let Some(messages) = fields.get("non_field_errors")
        && let [message] = messages.as_slice()
        && message.starts_with("Token ")
    {
        return ClientError::TokenNotValid {
            message: message.clone(),
            reason: None,
        };
    }
    ClientError::Validation(fields)
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        let kind = if e.is_timeout() {
            NetworkKind::Timeout
        } else if e.is_connect() {
            NetworkKind::Connect
        } else {
            NetworkKind::Other
        };
        // The URL holds no secret, but the chain is more useful than reqwest's summary.
        let e = e.without_url();
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        ClientError::Network { kind, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn map(status: u16, body: &str) -> ClientError {
        ClientError::from_response(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    fn token(message: &str, reason: Option<&str>) -> ClientError {
        ClientError::TokenNotValid {
            message: message.into(),
            reason: reason.map(Reason::parse),
        }
    }

    #[test]
    fn simplejwt_token_endpoint_errors() {
        for m in [
            "Token is invalid",
            "Token is expired",
            "Token is blacklisted",
            "Token has wrong type",
            "Token has no id",
            "Token has no type",
        ] {
            let body = format!(r#"{{"detail":"{m}","code":"token_not_valid"}}"#);
            assert_eq!(map(401, &body), token(m, None), "{m}");
        }
        assert!(
            map(
                401,
                r#"{"detail":"Token is expired","code":"token_not_valid"}"#
            )
            .is_token_expired()
        );
        assert!(
            !map(
                401,
                r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#
            )
            .is_token_expired()
        );
    }

    #[test]
    fn protected_route_errors_use_the_specific_message() {
        let body = r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is expired"}]}"#;
        let e = map(401, body);
        assert_eq!(e, token("Token is expired", None));
        assert!(e.is_token_expired());
        let body = r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"}]}"#;
        assert_eq!(map(401, body), token("Token has wrong type", None));
    }

    #[test]
    fn warden_reasons_are_kept() {
        let body = r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is blacklisted"}],"reason":"logout_all"}"#;
        let e = map(401, body);
        assert_eq!(e, token("Token is blacklisted", Some("logout_all")));
        assert_eq!(e.reason(), Some(Reason::Ended(RevocationReason::LogoutAll)));
        let e = map(
            401,
            r#"{"detail":"Token is expired","code":"token_not_valid","reason":"expired"}"#,
        );
        assert!(e.is_token_expired());
        assert_eq!(
            map(
                401,
                r#"{"detail":"Token is blacklisted","code":"token_not_valid","reason":"reuse_detected"}"#
            ),
            ClientError::ReuseDetected
        );
        assert_eq!(
            map(
                401,
                r#"{"detail":"Token is invalid","code":"token_not_valid","reason":"bad_signature"}"#
            ),
            token("Token is invalid", Some("bad_signature"))
        );
    }

    #[test]
    fn credential_and_account_errors() {
        let bad = r#"{"detail":"No active account found with the given credentials"}"#;
        assert_eq!(map(401, bad), ClientError::InvalidCredentials);
        assert_eq!(
            map(
                401,
                r#"{"detail":"User is inactive","code":"user_inactive"}"#
            ),
            ClientError::UserInactive
        );
        assert_eq!(
            map(
                401,
                r#"{"detail":"User not found","code":"user_not_found"}"#
            ),
            ClientError::UserNotFound
        );
        assert_eq!(
            map(
                401,
                r#"{"detail":"No active account found for the given token."}"#
            ),
            ClientError::UserInactive
        );
        assert_eq!(
            map(
                401,
                r#"{"detail":"Authentication credentials were not provided."}"#
            ),
            ClientError::NotAuthenticated {
                detail: "Authentication credentials were not provided.".into()
            }
        );
        assert!(matches!(
            map(
                401,
                r#"{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}"#
            ),
            ClientError::NotAuthenticated { .. }
        ));
        assert!(matches!(map(401, ""), ClientError::NotAuthenticated { .. }));
    }

    #[test]
    fn lockout_reads_the_body_then_the_header() {
        let body = r#"{"detail":"Too many failed login attempts. Try again in 15 minutes.","code":"locked_out","retry_after":900}"#;
        assert_eq!(map(429, body), ClientError::LockedOut { retry_after: 900 });
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("42"));
        let e = ClientError::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            br#"{"detail":"locked","code":"locked_out"}"#,
        );
        assert_eq!(e, ClientError::LockedOut { retry_after: 42 });
        let e = ClientError::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            br#"{"detail":"Request was throttled."}"#,
        );
        assert_eq!(
            e,
            ClientError::Throttled {
                retry_after: Some(42)
            }
        );
        assert!(e.is_transient());
    }

    #[test]
    fn field_errors() {
        let e = map(
            400,
            r#"{"username":["This field is required."],"password":["This field is required."]}"#,
        );
        let ClientError::Validation(fields) = e else {
            panic!("{e:?}")
        };
        assert_eq!(fields["username"], vec!["This field is required."]);
        assert_eq!(fields["password"], vec!["This field is required."]);
        for (body, field, msg) in [
            (
                r#"{"username":["This field may not be blank."]}"#,
                "username",
                "This field may not be blank.",
            ),
            (
                r#"{"username":["Not a valid string."]}"#,
                "username",
                "Not a valid string.",
            ),
            (
                r#"{"new_password":["This password is too short."]}"#,
                "new_password",
                "This password is too short.",
            ),
            (
                r#"{"non_field_errors":["Body must be a JSON object."]}"#,
                "non_field_errors",
                "Body must be a JSON object.",
            ),
        ] {
            assert_eq!(
                map(400, body),
                ClientError::Validation(FieldErrors::from([(
                    field.to_string(),
                    vec![msg.to_string()]
                )]))
            );
        }
        assert_eq!(
            map(
                400,
                r#"{"detail":"JSON parse error - Expecting value: line 1 column 13 (char 12)"}"#
            ),
            ClientError::BadRequest {
                detail: "JSON parse error - Expecting value: line 1 column 13 (char 12)".into()
            }
        );
        assert_eq!(
            map(400, r#"{"error":"invalid_request"}"#),
            ClientError::BadRequest {
                detail: "invalid_request".into()
            }
        );
    }

    #[test]
    fn simplejwt_verify_of_a_blacklisted_token_is_a_token_error() {
        assert_eq!(
            map(400, r#"{"non_field_errors":["Token is blacklisted"]}"#),
            token("Token is blacklisted", None)
        );
    }

    #[test]
    fn other_statuses() {
        assert_eq!(
            map(
                403,
                r#"{"detail":"You do not have permission to perform this action."}"#
            ),
            ClientError::Forbidden {
                detail: "You do not have permission to perform this action.".into()
            }
        );
        assert_eq!(
            map(403, r#"{"detail":"Registration is closed."}"#),
            ClientError::Forbidden {
                detail: "Registration is closed.".into()
            }
        );
        assert_eq!(
            map(404, r#"{"detail":"Not found."}"#),
            ClientError::NotFound
        );
        assert_eq!(map(404, "<html>Not Found</html>"), ClientError::NotFound);
        assert_eq!(
            map(405, r#"{"detail":"Method \"GET\" not allowed."}"#),
            ClientError::Http {
                status: 405,
                detail: Some("Method \"GET\" not allowed.".into())
            }
        );
        assert_eq!(
            map(
                415,
                r#"{"detail":"Unsupported media type \"text/plain\" in request."}"#
            ),
            ClientError::Http {
                status: 415,
                detail: Some("Unsupported media type \"text/plain\" in request.".into())
            }
        );
        let e = map(500, "<h1>Server Error (500)</h1>");
        assert_eq!(
            e,
            ClientError::Server {
                status: 500,
                request_id: None
            }
        );
        assert!(e.is_transient());
        assert_eq!(
            map(
                503,
                r#"{"detail":"Service temporarily unavailable.","request_id":"r-1"}"#
            ),
            ClientError::Server {
                status: 503,
                request_id: Some("r-1".into())
            }
        );
    }

    #[test]
    fn transient_errors_are_the_ones_that_refused_nothing() {
        assert!(
            ClientError::Network {
                kind: NetworkKind::Connect,
                message: "refused".into()
            }
            .is_transient()
        );
        assert!(!ClientError::ReuseDetected.is_transient());
        assert!(!token("Token is blacklisted", None).is_transient());
        assert!(!ClientError::InvalidCredentials.is_transient());
    }
}
