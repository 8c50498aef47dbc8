//! What a request must pass before it is routed, in this order:
//!
//! 1. its `Host` (and an absolute-form URI's authority): 400 unless
//!    `ALLOWED_HOSTS` allows it, so a DNS-rebinding page gets nothing;
//! 2. its `Origin`: 403 unless `CORS_ALLOWED_ORIGINS` lists it, and 403 for a
//!    browser's cross-site request that carries none (`Sec-Fetch-Site:
//!    cross-site`), so a foreign page cannot post a form to `api/token/`;
//! 3. the size guards: 431 for headers, 413 for a declared body length.
//!
//! A CORS preflight from an allowed origin is then answered here, never
//! routed. Nothing here parses a body (a refused one is only read and dropped,
//! see [`drain`]), so a refused request costs no password
//! hash, counts no attempt and touches no store.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use crate::ServerConfig;
use crate::error::ApiError;
use crate::hosts;

/// django-cors-headers' `CORS_ALLOW_METHODS` default.
pub(crate) const CORS_ALLOW_METHODS: &str = "DELETE, GET, OPTIONS, PATCH, POST, PUT";
/// django-cors-headers' `CORS_ALLOW_HEADERS` default plus the headers Warden reads.
pub(crate) const CORS_ALLOW_HEADERS: &str = "accept, authorization, content-type, user-agent, \
     x-csrftoken, x-requested-with, x-request-id, x-warden-device";
/// django-cors-headers' `CORS_PREFLIGHT_MAX_AGE` default (one day).
pub(crate) const CORS_MAX_AGE: &str = "86400";

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// What to do with a request.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Answered here (refused, or a preflight).
    Respond(Response),
    /// On to the router.
    Route,
}

/// The CORS headers every answer past the Host check gets.
#[derive(Debug, Default)]
pub(crate) struct Cors {
    /// `Vary: Origin`: the answer depends on it whenever origins are configured.
    vary: bool,
    /// The request's own `Origin`, echoed when it is allowed.
    allow_origin: Option<HeaderValue>,
}

impl Cors {
    pub(crate) fn decorate(&self, response: &mut Response) {
        let headers = response.headers_mut();
        if let Some(origin) = &self.allow_origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
        let already = headers
            .get_all(header::VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case("origin") || v.trim() == "*");
        if self.vary && !already {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

/// Where a header value is shown in a log line: visible ASCII, at most 100
/// characters. Host and Origin carry no secrets, but a client chooses them.
fn shown(v: &[u8]) -> String {
    v.iter()
        .take(100)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

/// The Host check: every `Host` field and an absolute-form URI's authority
/// must be allowed, and at least one of them must be there. Returns (and
/// logs) why not.
fn host_refusal(config: &ServerConfig, request: &Request) -> Option<&'static str> {
    let mut fields = request.headers().get_all(header::HOST).iter();
    let first = fields.next();
    if fields.next().is_some() {
        tracing::info!("refused: several Host fields");
        return Some("several Host fields");
    }
    let authority = request.uri().authority();
    if first.is_none() && authority.is_none() {
        tracing::info!("refused: no Host");
        return Some("no Host");
    }
    let allowed = |raw: &str| config.allowed_hosts.allows(raw);
    if let Some(h) = first {
        match h.to_str() {
            Ok(h) if allowed(h) => {}
            _ => {
                tracing::info!(host = %shown(h.as_bytes()), "refused: Host not in ALLOWED_HOSTS");
                return Some("Host not allowed");
            }
        }
    }
    if let Some(a) = authority
        && !allowed(a.as_str())
    {
        tracing::info!(
            authority = %shown(a.as_str().as_bytes()),
            "refused: request URI authority not in ALLOWED_HOSTS"
        );
        return Some("URI authority not allowed");
    }
    None
}

/// The Origin check. `Ok(Some(origin))` for an allowed origin (to echo),
/// `Ok(None)` for a request without one, `Err` for a refusal.
fn origin_check(config: &ServerConfig, headers: &HeaderMap) -> Result<Option<HeaderValue>, ()> {
    let mut fields = headers.get_all(header::ORIGIN).iter();
    let Some(origin) = fields.next() else {
        let cross_site = headers
            .get(SEC_FETCH_SITE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("cross-site"));
        if cross_site {
            tracing::info!("refused: a cross-site browser request without Origin");
            return Err(());
        }
        return Ok(None);
    };
    if fields.next().is_some() {
        tracing::info!("refused: several Origin fields");
        return Err(());
    }
    match origin.to_str() {
        Ok(o) if hosts::origin_allowed(&config.cors_allowed_origins, o) => Ok(Some(origin.clone())),
        _ => {
            tracing::info!(
                origin = %shown(origin.as_bytes()),
                "refused: Origin not in CORS_ALLOWED_ORIGINS"
            );
            Err(())
        }
    }
}

/// Total size of the header block as sent (`name: value\r\n` per field).
pub(crate) fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

fn size_refusal(config: &ServerConfig, headers: &HeaderMap) -> Option<ApiError> {
    let limit = config.max_header_bytes;
    if header_bytes(headers) > limit {
        return Some(ApiError::HeadersTooLarge { limit });
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let limit = config.max_body_bytes;
    if declared.is_some_and(|n| n > limit as u64) {
        return Some(ApiError::PayloadTooLarge { limit });
    }
    None
}

fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// django-cors-headers' preflight answer: 200, empty, the allowed methods
/// and headers, cached for a day. No `Allow-Credentials`: Warden's clients
/// send bearer tokens, never cookies.
fn preflight() -> Response {
    let mut r = StatusCode::OK.into_response();
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(CORS_ALLOW_METHODS),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(CORS_ALLOW_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(CORS_MAX_AGE),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

/// The most of a refused request's body [`drain`] reads.
const DRAIN_BYTES: usize = 64 << 20;
/// The longest [`drain`] waits for it.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads and drops what a client is still sending of a request refused here
/// (at most [`DRAIN_BYTES`], for at most [`DRAIN_TIME`]), so that the refusal
/// reaches it. A connection closed with unread data makes the kernel send a
/// reset, and a reset can destroy the answer before the client reads it: a
/// 1 MiB body refused with 413 was seen once as a transport error instead.
/// nginx's "lingering close" does the same. Nothing read is looked at.
pub(crate) async fn drain(body: Body) {
    let mut body = body;
    let mut read = 0usize;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while read < DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
                Some(Err(_)) | None => break,
            }
        }
    })
    .await;
}

/// Decides what happens to `request` before routing, and which CORS headers
/// its answer gets.
pub(crate) fn admit(config: &ServerConfig, request: &Request) -> (Verdict, Cors) {
    if host_refusal(config, request).is_some() {
        return (
            Verdict::Respond(ApiError::DisallowedHost.into_response()),
            Cors::default(),
        );
    }
    let mut cors = Cors {
        vary: !config.cors_allowed_origins.is_empty(),
        allow_origin: None,
    };
    match origin_check(config, request.headers()) {
        Ok(origin) => cors.allow_origin = origin,
        Err(()) => {
            return (
                Verdict::Respond(ApiError::ForeignOrigin.into_response()),
                cors,
            );
        }
    }
    if let Some(refused) = size_refusal(config, request.headers()) {
        return (Verdict::Respond(refused.into_response()), cors);
    }
    if cors.allow_origin.is_some() && is_preflight(request) {
        return (Verdict::Respond(preflight()), cors);
    }
    (Verdict::Route, cors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_count_names_values_and_separators() {
        let mut h = HeaderMap::new();
        h.insert("a", HeaderValue::from_static("bc"));
        assert_eq!(header_bytes(&h), 1 + 2 + 4);
    }

    #[test]
    fn log_values_are_visible_ascii_and_short() {
        assert_eq!(shown(b"evil.example:80"), "evil.example:80");
        assert_eq!(shown(b"a\tb\xffc"), "a?b?c");
        assert_eq!(shown("x".repeat(500).as_bytes()).len(), 100);
    }

    #[test]
    fn vary_is_added_once() {
        let cors = Cors {
            vary: true,
            allow_origin: None,
        };
        let mut r = StatusCode::OK.into_response();
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        cors.decorate(&mut r);
        cors.decorate(&mut r);
        let vary: Vec<_> = r.headers().get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["accept-encoding", "Origin"]);
    }
}
