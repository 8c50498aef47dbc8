//! Who is calling and from where.
//!
//! [`Caller`] is SimpleJWT's `JWTAuthentication`: the Authorization header is
//! split on whitespace; no header, an empty one or one of another type means
//! "not provided"; a known type without exactly one token is malformed; the
//! token must be a live access (or sliding) token. [`ClientMeta`] is what a
//! session records about the client.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use warden_auth::model::ClientInfo;
use warden_auth::{Actor, AuthContext, AuthError, TokenError};

use crate::AppState;
use crate::error::ApiError;
use crate::proxies::TrustedProxies;

/// The authenticated caller of a protected route.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub AuthContext);

/// Python's `bytes.split()` separators.
fn is_python_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The raw token of an Authorization header, as SimpleJWT's `get_raw_token`.
pub(crate) fn raw_token<'h>(header: &'h [u8], types: &[String]) -> Result<&'h [u8], ApiError> {
    let parts: Vec<&[u8]> = header
        .split(|b| is_python_whitespace(*b))
        .filter(|p| !p.is_empty())
        .collect();
    let Some(first) = parts.first() else {
        return Err(ApiError::NotAuthenticated);
    };
    if !types.iter().any(|t| t.as_bytes() == *first) {
        return Err(ApiError::NotAuthenticated);
    }
    match parts.as_slice() {
        [_, token] => Ok(token),
        _ => Err(ApiError::BadAuthorizationHeader),
    }
}

fn bearer_error(e: AuthError) -> ApiError {
    match e {
        AuthError::Token(t) => ApiError::InvalidBearer(t),
        other => ApiError::from(other),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::NotAuthenticated);
        };
        let service = &state.service;
        let raw = raw_token(header.as_bytes(), &service.settings().AUTH_HEADER_TYPES)?;
        let Ok(token) = std::str::from_utf8(raw) else {
            return Err(ApiError::InvalidBearer(TokenError::Malformed));
        };
        let result = if service.authenticate_reads_store() {
            let service = service.clone();
            let token = token.to_string();
            tokio::task::spawn_blocking(move || service.authenticate(&token))
                .await
                .map_err(|e| ApiError::internal(format!("authentication task failed: {e}")))?
        } else {
            service.authenticate(token)
        };
        result.map(Caller).map_err(bearer_error)
    }
}

/// An authenticated caller who is active staff, checked once per request,
/// before the request's path, query or body is looked at (DRF checks
/// permissions before it parses `request.data`): 401 without a valid token,
/// 403 for anyone but active staff.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StaffCaller(pub Actor);

impl FromRequestParts<AppState> for StaffCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Caller(ctx) = Caller::from_request_parts(parts, state).await?;
        let proof = match state.service.cached_staff(ctx.user_id) {
            Some(proof) => proof?,
            None => {
                let service = state.service.clone();
                tokio::task::spawn_blocking(move || service.staff(ctx.user_id))
                    .await
                    .map_err(|e| ApiError::internal(format!("staff check failed: {e}")))??
            }
        };
        Ok(StaffCaller(Actor::Staff(proof)))
    }
}

/// Where a request came from, for the session record and the audit log.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientMeta(pub ClientInfo);

pub(crate) const DEVICE_HEADER: &str = "x-warden-device";
pub(crate) const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";
const MAX_DEVICE_LABEL_CHARS: usize = 100;
const MAX_USER_AGENT_CHARS: usize = 512;

/// Trimmed, at most `max` characters, `None` when empty.
pub(crate) fn clean_label(s: &str, max: usize) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    Some(
        t.chars()
            .take(max)
            .collect::<String>()
            .trim_end()
            .to_string(),
    )
}

pub(crate) fn device_label(s: &str) -> Option<String> {
    clean_label(s, MAX_DEVICE_LABEL_CHARS)
}

fn header_text(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The socket peer, or the client behind it when the peer is one of
/// `TRUSTED_PROXIES` (see [`TrustedProxies::client_address`]).
fn client_address(parts: &Parts, proxies: &TrustedProxies) -> Option<String> {
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    let forwarded = parts
        .headers
        .get_all(FORWARDED_FOR_HEADER)
        .iter()
        .map(HeaderValue::as_bytes);
    Some(proxies.client_address(peer.ip(), forwarded).to_string())
}

impl FromRequestParts<AppState> for ClientMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(ClientMeta(ClientInfo {
            device_label: header_text(&parts.headers, DEVICE_HEADER).and_then(device_label),
            user_agent: header_text(&parts.headers, header::USER_AGENT)
                .and_then(|v| clean_label(v, MAX_USER_AGENT_CHARS)),
            address: client_address(parts, &state.config.trusted_proxies),
        }))
    }
}

impl ClientMeta {
    /// The body's `device_label` wins over the `X-Warden-Device` header.
    pub(crate) fn with_device(mut self, label: Option<String>) -> ClientInfo {
        if let Some(l) = label.as_deref().and_then(device_label) {
            self.0.device_label = Some(l);
        }
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<String> {
        vec!["Bearer".into(), "JWT".into()]
    }

    #[test]
    fn authorization_header_parsing_matches_simplejwt() {
        let ok = |h: &str| raw_token(h.as_bytes(), &types()).map(|t| t.to_vec());
        assert_eq!(ok("Bearer abc").unwrap(), b"abc");
        assert_eq!(ok("JWT abc").unwrap(), b"abc");
        assert_eq!(ok("  Bearer \t abc  ").unwrap(), b"abc");
        assert_eq!(ok("Bearer\x0babc").unwrap(), b"abc");
        for h in ["", "   ", "Basic abc", "bearer abc", "Token abc def"] {
            assert!(matches!(ok(h), Err(ApiError::NotAuthenticated)), "{h:?}");
        }
        for h in ["Bearer", "Bearer a b", "JWT  a  b  c"] {
            assert!(
                matches!(ok(h), Err(ApiError::BadAuthorizationHeader)),
                "{h:?}"
            );
        }
    }

    #[test]
    fn labels_are_trimmed_and_capped() {
        assert_eq!(device_label("  laptop "), Some("laptop".into()));
        assert_eq!(device_label("   "), None);
        assert_eq!(device_label(&"é".repeat(150)).unwrap().chars().count(), 100);
    }
}
