//! The handlers, grouped by what they serve. Each is documented with
//! `#[utoipa::path]`; [`crate::api`] routes exactly the documented operations.

pub(crate) mod account;
pub(crate) mod meta;
pub(crate) mod oauth;
pub(crate) mod staff;
pub(crate) mod tokens;

use axum::extract::{FromRequestParts, Path};
use axum::http::Method;
use axum::http::request::Parts;
use warden_auth::{AuthService, SessionId, UserId};

use crate::AppState;
use crate::error::ApiError;

/// Runs an engine call that may touch the store on a blocking thread.
pub(crate) async fn blocking<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&AuthService) -> Result<T, ApiError> + Send + 'static,
{
    let service = state.service.clone();
    match tokio::task::spawn_blocking(move || f(&service)).await {
        Ok(result) => result,
        Err(e) => Err(ApiError::internal(format!("blocking task failed: {e}"))),
    }
}

/// A path segment; a segment that cannot even be decoded is "not found".
#[derive(Debug, Clone)]
pub(crate) struct PathParam(pub String);

impl FromRequestParts<AppState> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(s)| PathParam(s))
            .map_err(|_| ApiError::NotFound)
    }
}

impl PathParam {
    /// A user id: digits only (no sign, no spaces), or `None`.
    pub(crate) fn user_id(&self) -> Option<UserId> {
        if self.0.is_empty() || !self.0.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.0.parse().ok()
    }

    pub(crate) fn session_id(&self) -> Option<SessionId> {
        SessionId::parse(&self.0)
    }
}

/// The fallback of every routed path: 405 with the method named (the router adds `Allow`).
pub(crate) async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}

/// The router's fallback: DRF's 404.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}
