//! SimpleJWT's routes: obtain, refresh, verify, blacklist, sliding.

use axum::Json;
use axum::extract::State;
use warden_auth::LoginRequest;
use warden_proto::{
    Empty, ErrorBody, FieldErrors, LockedOutBody, ObtainRequest, RefreshRequest, RefreshResponse,
    SlidingToken, TokenPair, TokenRequest,
};

use super::blocking;
use crate::AppState;
use crate::auth::ClientMeta;
use crate::body::RawBody;
use crate::error::ApiError;
use crate::requests::ReadBody;

fn login(req: ObtainRequest, meta: ClientMeta) -> LoginRequest {
    let client = meta.with_device(req.device_label);
    LoginRequest {
        identifier: req.username,
        password: req.password,
        client,
    }
}

/// Log in: a new session with a refresh and an access token.
///
/// Wrong password, unknown user and inactive user get the same answer. After
/// too many failures the username is locked out (429), known or not.
#[utoipa::path(
    post,
    path = "/api/token/",
    tag = "simplejwt",
    request_body(content(
        (ObtainRequest = "application/json"),
        (ObtainRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "A new session", body = TokenPair),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "No active account found with the given credentials", body = ErrorBody),
        (status = 429, description = "Locked out; see Retry-After", body = LockedOutBody),
    )
)]
pub(crate) async fn obtain_pair(
    State(state): State<AppState>,
    meta: ClientMeta,
    body: RawBody,
) -> Result<Json<TokenPair>, ApiError> {
    let req = login(ObtainRequest::read(&body.data()?)?, meta);
    let pair = blocking(&state, move |s| Ok(s.obtain_pair(&req)?)).await?;
    Ok(Json(TokenPair {
        refresh: pair.refresh.token,
        access: pair.access.token,
    }))
}

/// A new access token; with `ROTATE_REFRESH_TOKENS` also a new refresh token.
///
/// Exactly one of concurrent refreshes of one token wins. A rotated-away token
/// presented again revokes its whole session (reuse detection), unless it is a
/// retry within `REFRESH_GRACE_PERIOD`, which gets the same successor.
#[utoipa::path(
    post,
    path = "/api/token/refresh/",
    tag = "simplejwt",
    request_body(content(
        (RefreshRequest = "application/json"),
        (RefreshRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "`refresh` only when rotating", body = RefreshResponse),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "Token refused (`token_not_valid`), or its user inactive or gone", body = ErrorBody),
    )
)]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    meta: ClientMeta,
    body: RawBody,
) -> Result<Json<RefreshResponse>, ApiError> {
    let req = RefreshRequest::read(&body.data()?)?;
    let client = meta.0;
    let done = blocking(&state, move |s| Ok(s.refresh(&req.refresh, &client)?)).await?;
    Ok(Json(RefreshResponse {
        access: done.access.token,
        refresh: done.refresh.map(|r| r.token),
    }))
}

/// Whether a token is valid: signed, unexpired, not revoked; refresh and
/// sliding tokens must also be outstanding.
#[utoipa::path(
    post,
    path = "/api/token/verify/",
    tag = "simplejwt",
    request_body(content(
        (TokenRequest = "application/json"),
        (TokenRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "Valid", body = Empty),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "Refused; `Token is blacklisted` for revoked tokens", body = ErrorBody),
    )
)]
pub(crate) async fn verify(
    State(state): State<AppState>,
    body: RawBody,
) -> Result<Json<Empty>, ApiError> {
    let req = TokenRequest::read(&body.data()?)?;
    // Access tokens (and refresh tokens whose answer cannot have changed)
    // need no I/O: answered here, without a hop to the blocking pool.
    match state.service.verify_in_memory(&req.token) {
        Some(result) => {
            result?;
        }
        None => {
            blocking(&state, move |s| Ok(s.verify(&req.token)?)).await?;
        }
    }
    Ok(Json(Empty {}))
}

/// Ends the refresh token's session; its access tokens are refused at once.
#[utoipa::path(
    post,
    path = "/api/token/blacklist/",
    tag = "simplejwt",
    request_body(content(
        (RefreshRequest = "application/json"),
        (RefreshRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "Blacklisted", body = Empty),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "Token refused", body = ErrorBody),
    )
)]
pub(crate) async fn blacklist(
    State(state): State<AppState>,
    meta: ClientMeta,
    body: RawBody,
) -> Result<Json<Empty>, ApiError> {
    let req = RefreshRequest::read(&body.data()?)?;
    let client = meta.0;
    blocking(&state, move |s| Ok(s.blacklist(&req.refresh, &client)?)).await?;
    Ok(Json(Empty {}))
}

/// Log in with a sliding token.
#[utoipa::path(
    post,
    path = "/api/token/sliding/",
    tag = "simplejwt",
    request_body(content(
        (ObtainRequest = "application/json"),
        (ObtainRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "A new sliding session", body = SlidingToken),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "No active account found with the given credentials", body = ErrorBody),
        (status = 429, description = "Locked out; see Retry-After", body = LockedOutBody),
    )
)]
pub(crate) async fn obtain_sliding(
    State(state): State<AppState>,
    meta: ClientMeta,
    body: RawBody,
) -> Result<Json<SlidingToken>, ApiError> {
    let req = login(ObtainRequest::read(&body.data()?)?, meta);
    let (token, _) = blocking(&state, move |s| Ok(s.obtain_sliding(&req)?)).await?;
    Ok(Json(SlidingToken { token: token.token }))
}

/// A sliding token with a new `exp`, never past its `refresh_exp`.
#[utoipa::path(
    post,
    path = "/api/token/sliding/refresh/",
    tag = "simplejwt",
    request_body(content(
        (TokenRequest = "application/json"),
        (TokenRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "Refreshed", body = SlidingToken),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "Token refused", body = ErrorBody),
    )
)]
pub(crate) async fn refresh_sliding(
    State(state): State<AppState>,
    body: RawBody,
) -> Result<Json<SlidingToken>, ApiError> {
    let req = TokenRequest::read(&body.data()?)?;
    let token = blocking(&state, move |s| Ok(s.refresh_sliding(&req.token)?)).await?;
    Ok(Json(SlidingToken { token: token.token }))
}
