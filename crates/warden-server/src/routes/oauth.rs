//! RFC 7009 revocation and RFC 7662 introspection, for an authenticated caller.

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value};
use warden_proto::{Empty, ErrorBody, Introspection, OAuthError, RevokeRequest, TokenRequest};

use super::blocking;
use crate::AppState;
use crate::auth::{Caller, ClientMeta};
use crate::body::RawBody;
use crate::error::ApiError;
use crate::requests::ReadBody;

/// RFC 7009/7662 read `token` strictly: absent, blank or not a string is `invalid_request`.
fn oauth_token(data: &Map<String, Value>) -> Result<String, ApiError> {
    match data.get("token") {
        Some(Value::String(t)) if !t.trim().is_empty() => Ok(t.trim().to_string()),
        _ => Err(ApiError::OAuthInvalidRequest),
    }
}

/// The body of an RFC 7009/7662 request: one that cannot be read as a form or
/// a JSON object is `invalid_request` too (RFC 6749 §5.2), as documented;
/// a wrong media type or an oversized body keep their own 415/413.
fn oauth_data(body: &RawBody) -> Result<Map<String, Value>, ApiError> {
    body.data().map_err(|e| match e {
        ApiError::JsonParse(_) | ApiError::NonField(_) | ApiError::BadRequest(_) => {
            ApiError::OAuthInvalidRequest
        }
        other => other,
    })
}

impl ReadBody for RevokeRequest {
    fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        Ok(RevokeRequest {
            token: oauth_token(data)?,
            token_type_hint: data
                .get("token_type_hint")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

/// Revokes a token (RFC 7009): a refresh or sliding token ends its session, an
/// access token is refused from now on.
///
/// The answer is the same `200 {}` for a token that was revoked, one that was
/// invalid or unknown, and one of another user (which is left alone unless the
/// caller is staff), so it tells nothing about the token.
#[utoipa::path(
    post,
    path = "/api/token/revoke/",
    tag = "warden",
    security(("jwt" = [])),
    request_body(content(
        (RevokeRequest = "application/x-www-form-urlencoded"),
        (RevokeRequest = "application/json")
    )),
    responses(
        (status = 200, description = "Done, or nothing to do", body = Empty),
        (status = 400, description = "No token: `invalid_request`", body = OAuthError),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Caller(ctx): Caller,
    meta: ClientMeta,
    body: RawBody,
) -> Result<Json<Empty>, ApiError> {
    let req = RevokeRequest::read(&oauth_data(&body)?)?;
    // RFC 7009 §2.1: the hint may speed up a lookup; Warden reads the token's own type.
    tracing::debug!(hint = ?req.token_type_hint, "token revocation");
    let client = meta.0;
    blocking(&state, move |s| {
        match s
            .revoke_token(&ctx, &req.token, &client)
            .map_err(ApiError::from)
        {
            Ok(_) => Ok(()),
            // Bad input of any kind, and someone else's token, look alike.
            Err(
                ApiError::Token(_)
                | ApiError::Forbidden
                | ApiError::UserNotFound
                | ApiError::UserInactive
                | ApiError::NotFound,
            ) => Ok(()),
            Err(other) => Err(other),
        }
    })
    .await?;
    Ok(Json(Empty {}))
}

/// Whether a token is active (RFC 7662), with its claims when it is the caller's
/// own (or the caller is staff); any other token is `{"active": false}`.
#[utoipa::path(
    post,
    path = "/api/token/introspect/",
    tag = "warden",
    security(("jwt" = [])),
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
        (TokenRequest = "application/json")
    )),
    responses(
        (status = 200, description = "`active` and, when active, the claims", body = Introspection),
        (status = 400, description = "No token: `invalid_request`", body = OAuthError),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub(crate) async fn introspect(
    State(state): State<AppState>,
    Caller(ctx): Caller,
    body: RawBody,
) -> Result<Json<Introspection>, ApiError> {
    let token = oauth_token(&oauth_data(&body)?)?;
    let found = blocking(&state, move |s| Ok(s.introspect(&ctx, &token)?)).await?;
    let Some(claims) = found.claims.filter(|_| found.active) else {
        return Ok(Json(Introspection::default()));
    };
    Ok(Json(Introspection {
        active: true,
        token_type: Some(claims.token_type.as_str().to_string()),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        nbf: claims.nbf,
        jti: Some(claims.jti),
        sub: Some(claims.user_id.clone()),
        user_id: Some(claims.user_id),
        sid: Some(claims.sid),
        username: found.username,
        iss: claims.iss,
        aud: claims.aud,
    }))
}
