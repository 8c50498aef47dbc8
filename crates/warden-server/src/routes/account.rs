//! Warden's own routes for the signed-in user: logout, sessions, account.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use warden_auth::{Actor, NewAccount};
use warden_proto::{
    ChangePasswordRequest, Empty, ErrorBody, FieldErrors, Me, RefreshRequest, RegisterRequest,
    Registered, RevokedCount, RevokedFlag, SessionInfo, WhoAmI,
};

use super::{PathParam, blocking};
use crate::AppState;
use crate::auth::{Caller, ClientMeta};
use crate::body::{RawBody, parse_bool};
use crate::error::ApiError;
use crate::requests::ReadBody;

/// Ends the session of the given refresh token, which must be the caller's.
#[utoipa::path(
    post,
    path = "/api/logout/",
    tag = "warden",
    security(("jwt" = [])),
    request_body(content(
        (RefreshRequest = "application/json"),
        (RefreshRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "Logged out", body = Empty),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "Not authenticated, or the refresh token was refused", body = ErrorBody),
        (status = 403, description = "The refresh token belongs to another user", body = ErrorBody),
    )
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    Caller(ctx): Caller,
    meta: ClientMeta,
    body: RawBody,
) -> Result<Json<Empty>, ApiError> {
    let req = RefreshRequest::read(&body.data()?)?;
    let client = meta.0;
    blocking(&state, move |s| {
        Ok(s.logout(&ctx, &req.refresh, &client)?)
    })
    .await?;
    Ok(Json(Empty {}))
}

/// Ends every session of the caller, this one included.
#[utoipa::path(
    post,
    path = "/api/logout-all/",
    tag = "warden",
    security(("jwt" = [])),
    responses(
        (status = 200, description = "How many sessions ended", body = RevokedCount),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub(crate) async fn logout_all(
    State(state): State<AppState>,
    Caller(ctx): Caller,
    meta: ClientMeta,
) -> Result<Json<RevokedCount>, ApiError> {
    let client = meta.0;
    let summary = blocking(&state, move |s| {
        Ok(s.end_sessions(&Actor::User(ctx.user_id), ctx.user_id, "", &client)?)
    })
    .await?;
    Ok(Json(RevokedCount {
        revoked: summary.count(),
    }))
}

/// Reads `include_revoked` from a query string.
fn include_revoked(query: Option<&str>) -> Result<bool, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    match pairs.iter().rev().find(|(k, _)| k == "include_revoked") {
        None => Ok(false),
        Some((_, v)) if v.is_empty() => Ok(false),
        Some((_, v)) => parse_bool(v).ok_or_else(|| {
            ApiError::Fields(FieldErrors::one(
                "include_revoked",
                crate::body::NOT_A_BOOLEAN,
            ))
        }),
    }
}

/// The caller's sessions, newest first; the one of this request is `current`.
#[utoipa::path(
    get,
    path = "/api/sessions/",
    tag = "warden",
    security(("jwt" = [])),
    params(("include_revoked" = Option<bool>, Query, description = "Also list ended sessions")),
    responses(
        (status = 200, description = "Sessions", body = Vec<SessionInfo>),
        (status = 400, description = "Bad query parameter", body = FieldErrors),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub(crate) async fn list_sessions(
    State(state): State<AppState>,
    Caller(ctx): Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let include = include_revoked(query.as_deref())?;
    let sessions = blocking(&state, move |s| Ok(s.my_sessions(&ctx, include)?)).await?;
    Ok(Json(sessions))
}

/// Ends one of the caller's sessions. Someone else's session is "not found".
#[utoipa::path(
    delete,
    path = "/api/sessions/{id}/",
    tag = "warden",
    security(("jwt" = [])),
    params(("id" = String, Path, description = "Session id (32 hex digits)")),
    responses(
        (status = 200, description = "`revoked` is false when the session had already ended", body = RevokedFlag),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such session of the caller", body = ErrorBody),
    )
)]
pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    Caller(ctx): Caller,
    meta: ClientMeta,
    id: PathParam,
) -> Result<Json<RevokedFlag>, ApiError> {
    let sid = id.session_id().ok_or(ApiError::NotFound)?;
    let client = meta.0;
    let revoked = blocking(&state, move |s| {
        Ok(s.revoke_session(&Actor::User(ctx.user_id), sid, "", &client)?)
    })
    .await?;
    Ok(Json(RevokedFlag { revoked }))
}

/// Creates an account on the embedded user store (when the server allows it).
#[utoipa::path(
    post,
    path = "/api/register/",
    tag = "warden",
    request_body(content(
        (RegisterRequest = "application/json"),
        (RegisterRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 201, description = "Created", body = Registered),
        (status = 400, description = "Field errors, e.g. a username that is taken", body = FieldErrors),
        (status = 403, description = "Registration is closed.", body = ErrorBody),
    )
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    body: RawBody,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    if !state.config.allow_registration {
        return Err(ApiError::RegistrationClosed);
    }
    let req = RegisterRequest::read(&body.data()?)?;
    let account = NewAccount {
        username: req.username,
        email: req.email,
        password: req.password,
        is_staff: false,
        email_verified: false,
    };
    let user = blocking(&state, move |s| Ok(s.create_user(&account, None)?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            id: user.id,
            username: user.username,
            email: user.email,
        }),
    ))
}

/// Changes the caller's password; every other session of theirs ends.
#[utoipa::path(
    post,
    path = "/api/password/change/",
    tag = "warden",
    security(("jwt" = [])),
    request_body(content(
        (ChangePasswordRequest = "application/json"),
        (ChangePasswordRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "How many other sessions ended", body = RevokedCount),
        (status = 400, description = "Field errors (wrong old password, weak new one)", body = FieldErrors),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    Caller(ctx): Caller,
    meta: ClientMeta,
    body: RawBody,
) -> Result<Json<RevokedCount>, ApiError> {
    let req = ChangePasswordRequest::read(&body.data()?)?;
    let client = meta.0;
    let summary = blocking(&state, move |s| {
        s.change_password(&ctx, &req.old_password, &req.new_password, &client)
            .map_err(|e| match ApiError::from(e) {
                ApiError::Fields(f) => ApiError::Fields(f.rename("password", "new_password")),
                other => other,
            })
    })
    .await?;
    Ok(Json(RevokedCount {
        revoked: summary.count(),
    }))
}

/// The caller's account.
#[utoipa::path(
    get,
    path = "/api/me/",
    tag = "warden",
    security(("jwt" = [])),
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub(crate) async fn me(
    State(state): State<AppState>,
    Caller(ctx): Caller,
) -> Result<Json<Me>, ApiError> {
    let session_id = ctx.session_id.to_string();
    let id = ctx.user_id;
    // From memory when this node holds the user (no I/O, so no hop to the
    // blocking pool); otherwise one store read, which fills the cache.
    let user = match state.service.cached_user(id) {
        Some(user) => user,
        None => {
            blocking(&state, move |s| {
                s.load_user(id).map_err(|e| match ApiError::from(e) {
                    ApiError::NotFound => ApiError::UserNotFound,
                    other => other,
                })
            })
            .await?
        }
    };
    Ok(Json(Me {
        id: user.id,
        username: user.username.clone(),
        email: user.email.clone(),
        is_staff: Some(user.is_staff),
        is_active: Some(user.is_active),
        date_joined: Some(user.created_at),
        last_login: user.last_login,
        session_id: Some(session_id),
    }))
}

/// The caller as its access token says: the token is checked (signature,
/// claims, type) and so is the revocation set, but the user is not read from
/// the database, so a deactivated or deleted user's token still answers here
/// until a revocation reaches the set (deactivation and deletion revoke the
/// user's sessions). The cheapest authenticated route, for services that only
/// need "who is this and is the session alive".
#[utoipa::path(
    get,
    path = "/api/whoami/",
    tag = "warden",
    security(("jwt" = [])),
    responses(
        (status = 200, description = "The caller's user id and session", body = WhoAmI),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub(crate) async fn whoami(Caller(ctx): Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        user_id: ctx.user_id,
        session_id: ctx.session_id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_revoked_reads_drf_booleans() {
        assert!(!include_revoked(None).unwrap());
        assert!(include_revoked(Some("include_revoked=true")).unwrap());
        assert!(include_revoked(Some("include_revoked=1")).unwrap());
        assert!(!include_revoked(Some("include_revoked=False")).unwrap());
        assert!(!include_revoked(Some("include_revoked=")).unwrap());
        assert!(include_revoked(Some("include_revoked=maybe")).is_err());
    }
}
