//! What every request goes through before routing: a request id, a tracing
//! span (method, path, status, latency; never headers or bodies), and the
//! checks of [`crate::guard`] (Host, Origin, sizes) with their CORS headers.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::AppState;
use crate::guard::{self, Verdict};

pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Debug, Clone)]
struct RequestContext {
    id: Arc<str>,
    auth_header_type: Arc<str>,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The id of the request being served, for error bodies and logs ("-" outside a request).
pub(crate) fn current_request_id() -> String {
    CONTEXT
        .try_with(|c| c.id.to_string())
        .unwrap_or_else(|_| "-".to_string())
}

/// The first of `AUTH_HEADER_TYPES`, for `WWW-Authenticate`.
pub(crate) fn current_auth_header_type() -> String {
    CONTEXT
        .try_with(|c| c.auth_header_type.to_string())
        .unwrap_or_else(|_| "Bearer".to_string())
}

/// A client's own request id is kept when it is short and plain; anything else is replaced.
fn request_id(headers: &HeaderMap) -> String {
    let supplied = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    match supplied {
        Some(id) => id.to_string(),
        None => uuid::Uuid::new_v4().simple().to_string(),
    }
}

pub(crate) async fn middleware(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id(request.headers());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let context = RequestContext {
        id: Arc::from(id.as_str()),
        auth_header_type: Arc::from(
            state
                .service
                .settings()
                .AUTH_HEADER_TYPES
                .first()
                .map(String::as_str)
                .unwrap_or("Bearer"),
        ),
    };
    let serve = async move {
        let (verdict, cors) = guard::admit(&state.config, &request);
        let mut response = match verdict {
            Verdict::Respond(response) => {
                guard::drain(request.into_body()).await;
                response
            }
            Verdict::Route => next.run(request).await,
        };
        cors.decorate(&mut response);
        response
    };
    let mut response = CONTEXT.scope(context, serve.instrument(span.clone())).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, latency_ms, "served");
        } else {
            tracing::info!(status, latency_ms, "served");
        }
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_request_ids_are_kept_only_when_plain() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID_HEADER, HeaderValue::from_static("abc-123_x.y"));
        assert_eq!(request_id(&h), "abc-123_x.y");
        h.insert(REQUEST_ID_HEADER, HeaderValue::from_static("has space"));
        assert_eq!(request_id(&h).len(), 32);
        h.insert(
            REQUEST_ID_HEADER,
            HeaderValue::from_str(&"a".repeat(65)).unwrap(),
        );
        assert_eq!(request_id(&h).len(), 32);
        assert_eq!(request_id(&HeaderMap::new()).len(), 32);
    }

    #[test]
    fn outside_a_request_the_context_has_defaults() {
        assert_eq!(current_request_id(), "-");
        assert_eq!(current_auth_header_type(), "Bearer");
    }
}
