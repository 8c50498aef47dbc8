//! The server's one error type and the one place it becomes a response.
//!
//! Every handler, extractor and middleware answers a failure with an
//! [`ApiError`]; [`ApiError::into_response`] writes the DRF/SimpleJWT body for
//! it. Internal failures are logged here with the request id and answered with
//! a generic body, so no store message, path or key detail reaches a client.
//! [`ConfigError`] is the other kind: a [`crate::ServerConfig`] value that
//! cannot be used, found before the server starts, never at request time.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use warden_auth::{AuthError, StoreError, TokenError};
use warden_proto::{
    ErrorBody, FieldErrors, LockedOutBody, NonFieldErrors, OAuthError, ServerErrorBody,
    TokenMessage, TokenType,
};

use crate::observe;

/// SimpleJWT's wording for a bad access token on a protected route.
pub(crate) const INVALID_BEARER: &str = "Given token not valid for any token type";
pub(crate) const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
pub(crate) const BAD_AUTH_HEADER: &str =
    "Authorization header must contain two space-delimited values";
pub(crate) const NO_ACTIVE_ACCOUNT: &str = "No active account found with the given credentials";
pub(crate) const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";
pub(crate) const NOT_FOUND: &str = "Not found.";
pub(crate) const REGISTRATION_CLOSED: &str = "Registration is closed.";
pub(crate) const INTERNAL: &str = "Internal server error";
pub(crate) const UNAVAILABLE: &str = "Service temporarily unavailable.";
pub(crate) const DISALLOWED_HOST: &str = "Invalid Host header.";
pub(crate) const FOREIGN_ORIGIN: &str = "Cross-origin request refused.";

/// A server setting that cannot be used; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// One entry of a list setting cannot be read.
    #[error("{key}: {entry:?} {reason}")]
    InvalidEntry {
        /// The setting.
        key: &'static str,
        /// The entry, as written.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A list setting that would refuse every request.
    #[error(
        "{key} is an empty list, which would refuse every request: list the host names \
         clients use, or leave {key} out for the loopback default"
    )]
    Empty {
        /// The setting.
        key: &'static str,
    },
    /// A non-loopback bind with the loopback-only default `ALLOWED_HOSTS`.
    #[error(
        "ALLOWED_HOSTS is not set and the server listens on {addr}, which is not a loopback \
         address: set ALLOWED_HOSTS to the host names clients reach this server by \
         (e.g. [\"warden.example.com\"])"
    )]
    AllowedHostsRequired {
        /// The address bound.
        addr: std::net::SocketAddr,
    },
}

/// Everything a request can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// A token in a request body was refused (token endpoints, logout): 401 `token_not_valid`.
    Token(TokenError),
    /// The Bearer token of a protected route was refused: 401 with SimpleJWT's `messages`.
    InvalidBearer(TokenError),
    /// No Authorization header, or one of another type: 401.
    NotAuthenticated,
    /// `Bearer` alone, or three parts: 401 `bad_authorization_header`.
    BadAuthorizationHeader,
    /// 401: SimpleJWT's "No active account found with the given credentials".
    InvalidCredentials,
    /// 429 `locked_out`, with `Retry-After`.
    LockedOut {
        /// Seconds until the next attempt is counted.
        retry_after: i64,
    },
    /// 401 `user_inactive`.
    UserInactive,
    /// 401 `user_not_found`.
    UserNotFound,
    /// 403 with DRF's permission message.
    Forbidden,
    /// 403: `ServerConfig::allow_registration` is off.
    RegistrationClosed,
    /// 404.
    NotFound,
    /// 400 field errors.
    Fields(FieldErrors),
    /// 400 `{"non_field_errors": [...]}`.
    NonField(String),
    /// 400 `{"detail": "JSON parse error - ..."}`.
    JsonParse(String),
    /// 400 `{"detail": ...}` for an unreadable body.
    BadRequest(String),
    /// 400 `{"error": "invalid_request"}` (RFC 7009 / RFC 7662 endpoints).
    OAuthInvalidRequest,
    /// 400 before routing: no `Host`, several, or one `ALLOWED_HOSTS` does not allow.
    DisallowedHost,
    /// 403 before routing: an `Origin` `CORS_ALLOWED_ORIGINS` does not list
    /// (or a browser's cross-site request without one).
    ForeignOrigin,
    /// 405 with the method in the message (the router sets `Allow`).
    MethodNotAllowed(String),
    /// 413.
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// 415 with the Content-Type as sent.
    UnsupportedMediaType(String),
    /// 431.
    HeadersTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// 503: the store cannot serve now (read-only, busy). Logged, generic body.
    Unavailable(String),
    /// 500: anything else. Logged with the request id, generic body.
    Internal(String),
}

impl ApiError {
    /// [`ApiError::Internal`] with `message` (logged, never sent).
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::Internal(message.into())
    }

    /// The status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Token(_)
            | ApiError::InvalidBearer(_)
            | ApiError::NotAuthenticated
            | ApiError::BadAuthorizationHeader
            | ApiError::InvalidCredentials
            | ApiError::UserInactive
            | ApiError::UserNotFound => StatusCode::UNAUTHORIZED,
            ApiError::LockedOut { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Forbidden | ApiError::RegistrationClosed | ApiError::ForeignOrigin => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Fields(_)
            | ApiError::NonField(_)
            | ApiError::JsonParse(_)
            | ApiError::BadRequest(_)
            | ApiError::OAuthInvalidRequest
            | ApiError::DisallowedHost => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Token(t) => ApiError::Token(t),
            AuthError::InvalidCredentials => ApiError::InvalidCredentials,
            AuthError::LockedOut { retry_after } => ApiError::LockedOut { retry_after },
            AuthError::UserInactive => ApiError::UserInactive,
            AuthError::UserNotFound => ApiError::UserNotFound,
            AuthError::Forbidden(_) => ApiError::Forbidden,
            AuthError::NotFound(_) => ApiError::NotFound,
            AuthError::InvalidInput { field, message } => {
                ApiError::Fields(FieldErrors::one(field, message))
            }
            AuthError::Conflict(message) => {
                let field = if message.contains("email") {
                    "email"
                } else {
                    "username"
                };
                ApiError::Fields(FieldErrors::one(field, message))
            }
            AuthError::Store(StoreError::ReadOnly(m) | StoreError::Unavailable(m)) => {
                ApiError::Unavailable(m)
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

fn lockout_message(retry_after: i64) -> String {
    let seconds = retry_after.max(1);
    if seconds < 60 {
        // The identifier ceiling's delays are seconds long.
        return if seconds == 1 {
            "Too many failed login attempts. Try again in 1 second.".to_string()
        } else {
            format!("Too many failed login attempts. Try again in {seconds} seconds.")
        };
    }
    let minutes = seconds.saturating_add(59) / 60;
    if minutes == 1 {
        "Too many failed login attempts. Try again in 1 minute.".to_string()
    } else {
        format!("Too many failed login attempts. Try again in {minutes} minutes.")
    }
}

fn token_body(e: &TokenError) -> ErrorBody {
    ErrorBody {
        reason: Some(e.reason()),
        ..ErrorBody::coded(e.simplejwt_message(), "token_not_valid")
    }
}

fn bearer_body(e: &TokenError) -> ErrorBody {
    ErrorBody {
        detail: INVALID_BEARER.to_string(),
        code: Some("token_not_valid".to_string()),
        messages: Some(vec![TokenMessage {
            token_class: TokenType::Access.token_class().to_string(),
            token_type: TokenType::Access.as_str().to_string(),
            message: e.simplejwt_message().to_string(),
        }]),
        reason: Some(e.reason()),
    }
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = |d: &str| json(status, &ErrorBody::detail(d));
        let coded = |d: &str, code: &str| json(status, &ErrorBody::coded(d, code));
        let mut response = match &self {
            ApiError::Token(e) => json(status, &token_body(e)),
            ApiError::InvalidBearer(e) => json(status, &bearer_body(e)),
            ApiError::NotAuthenticated => detail(NOT_AUTHENTICATED),
            ApiError::BadAuthorizationHeader => coded(BAD_AUTH_HEADER, "bad_authorization_header"),
            ApiError::InvalidCredentials => detail(NO_ACTIVE_ACCOUNT),
            ApiError::LockedOut { retry_after } => {
                let retry_after = (*retry_after).max(1);
                let mut r = json(
                    status,
                    &LockedOutBody {
                        detail: lockout_message(retry_after),
                        code: "locked_out".to_string(),
                        retry_after,
                    },
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                r
            }
            ApiError::UserInactive => coded("User is inactive", "user_inactive"),
            ApiError::UserNotFound => coded("User not found", "user_not_found"),
            ApiError::Forbidden => detail(PERMISSION_DENIED),
            ApiError::RegistrationClosed => detail(REGISTRATION_CLOSED),
            ApiError::NotFound => detail(NOT_FOUND),
            ApiError::Fields(errors) => json(status, errors),
            ApiError::NonField(message) => json(
                status,
                &NonFieldErrors {
                    non_field_errors: vec![message.clone()],
                },
            ),
            ApiError::JsonParse(message) => detail(&format!("JSON parse error - {message}")),
            ApiError::BadRequest(message) => detail(message),
            ApiError::OAuthInvalidRequest => json(
                status,
                &OAuthError {
                    error: "invalid_request".to_string(),
                },
            ),
            ApiError::DisallowedHost => coded(DISALLOWED_HOST, "disallowed_host"),
            ApiError::ForeignOrigin => coded(FOREIGN_ORIGIN, "origin_not_allowed"),
            ApiError::MethodNotAllowed(method) => {
                detail(&format!("Method \"{method}\" not allowed."))
            }
            ApiError::PayloadTooLarge { limit } => {
                detail(&format!("Request body is larger than {limit} bytes."))
            }
            ApiError::UnsupportedMediaType(media_type) => detail(&format!(
                "Unsupported media type \"{media_type}\" in request."
            )),
            ApiError::HeadersTooLarge { limit } => {
                detail(&format!("Request headers are larger than {limit} bytes."))
            }
            ApiError::Unavailable(message) => {
                let request_id = observe::current_request_id();
                tracing::warn!(request_id = %request_id, error = %message, "store unavailable");
                json(
                    status,
                    &ServerErrorBody {
                        detail: UNAVAILABLE.to_string(),
                        request_id,
                    },
                )
            }
            ApiError::Internal(message) => {
                let request_id = observe::current_request_id();
                tracing::error!(request_id = %request_id, error = %message, "internal error");
                json(
                    status,
                    &ServerErrorBody {
                        detail: INTERNAL.to_string(),
                        request_id,
                    },
                )
            }
        };
        if status == StatusCode::UNAUTHORIZED {
            add_www_authenticate(response.headers_mut());
        }
        response
    }
}

/// SimpleJWT answers every 401 with `WWW-Authenticate: <first header type> realm="api"`.
fn add_www_authenticate(headers: &mut HeaderMap) {
    let value = format!("{} realm=\"api\"", observe::current_auth_header_type());
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(header::WWW_AUTHENTICATE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_messages_round_minutes_up() {
        assert_eq!(
            lockout_message(1),
            "Too many failed login attempts. Try again in 1 second."
        );
        assert_eq!(
            lockout_message(0),
            "Too many failed login attempts. Try again in 1 second."
        );
        assert_eq!(
            lockout_message(32),
            "Too many failed login attempts. Try again in 32 seconds."
        );
        assert_eq!(
            lockout_message(60),
            "Too many failed login attempts. Try again in 1 minute."
        );
        assert_eq!(
            lockout_message(61),
            "Too many failed login attempts. Try again in 2 minutes."
        );
        assert_eq!(
            lockout_message(900),
            "Too many failed login attempts. Try again in 15 minutes."
        );
        assert!(lockout_message(i64::MAX).ends_with("minutes."));
    }

    #[test]
    fn engine_errors_map_to_statuses() {
        let cases: Vec<(AuthError, StatusCode)> = vec![
            (TokenError::NoId.into(), StatusCode::UNAUTHORIZED),
            (AuthError::InvalidCredentials, StatusCode::UNAUTHORIZED),
            (
                AuthError::LockedOut { retry_after: 5 },
                StatusCode::TOO_MANY_REQUESTS,
            ),
            (AuthError::Forbidden("x"), StatusCode::FORBIDDEN),
            (AuthError::NotFound("x"), StatusCode::NOT_FOUND),
            (AuthError::invalid("reason", "x"), StatusCode::BAD_REQUEST),
            (AuthError::Conflict("x".into()), StatusCode::BAD_REQUEST),
            (
                StoreError::ReadOnly("disk".into()).into(),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                StoreError::Unavailable("busy".into()).into(),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                StoreError::Corrupt("bad".into()).into(),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                AuthError::Hash("x".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (e, status) in cases {
            let shown = format!("{e:?}");
            assert_eq!(ApiError::from(e).status(), status, "{shown}");
        }
    }
}
