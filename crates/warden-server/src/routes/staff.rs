//! Staff routes. Every one is refused (403) to a caller who is not active
//! staff, before its body, query or path is looked at: the [`StaffCaller`]
//! extractor checks it once; the engine's operations take the proof and write
//! the audit lines with actor and reason.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde_json::{Map, Value};
use warden_auth::model::{AuditKind, AuditQuery, ClientInfo, UserQuery};
use warden_auth::{AuthService, SessionId, UnixTime, UserId, wire};
use warden_proto::{
    AuditRecord, ErrorBody, FieldErrors, Lineage, LockRequest, ReasonRequest, RevokedCount,
    RevokedFlag, SessionInfo, SetPasswordRequest, SetStaffRequest, StaffUser, StaffUserDetail,
};

use super::{PathParam, blocking};
use crate::AppState;
use crate::auth::StaffCaller;
use crate::body::{NOT_A_BOOLEAN, NOT_AN_INTEGER, RawBody, parse_bool};
use crate::error::ApiError;
use crate::requests::ReadBody;

const DEFAULT_USER_LIMIT: u32 = 50;
const MAX_USER_LIMIT: u32 = 500;
const DEFAULT_AUDIT_LIMIT: u32 = 100;
const MAX_AUDIT_LIMIT: u32 = 1000;

/// A query string as DRF's `request.query_params` (the last value of a key wins),
/// plus every value of repeatable keys.
struct Query {
    pairs: Vec<(String, String)>,
    errors: FieldErrors,
}

impl Query {
    fn parse(raw: Option<&str>) -> Self {
        Query {
            pairs: serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default(),
            errors: FieldErrors::default(),
        }
    }

    /// The last non-empty value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn boolean(&mut self, name: &str) -> Option<bool> {
        let v = self.get(name)?;
        let parsed = parse_bool(v);
        if parsed.is_none() {
            self.errors.add(name, NOT_A_BOOLEAN);
        }
        parsed
    }

    fn integer(&mut self, name: &str) -> Option<i64> {
        let v = self.get(name)?;
        let parsed = v.parse::<i64>().ok();
        if parsed.is_none() {
            self.errors.add(name, NOT_AN_INTEGER);
        }
        parsed
    }

    /// A count in `min..`, clamped to `max` (as DRF's paginators do), or `default`.
    fn count(&mut self, name: &str, min: i64, default: u32, max: u32) -> u32 {
        match self.integer(name) {
            None => default,
            Some(n) if n < min => {
                self.errors.add(
                    name,
                    format!("Ensure this value is greater than or equal to {min}."),
                );
                default
            }
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX).min(max),
        }
    }

    fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Fields(self.errors))
        }
    }
}

/// A malformed id in a staff path is "not found" (non-staff never get this
/// far: [`StaffCaller`] refused them first).
fn user_param(id: &PathParam) -> Result<UserId, ApiError> {
    id.user_id().ok_or(ApiError::NotFound)
}

fn session_param(id: &PathParam) -> Result<SessionId, ApiError> {
    id.session_id().ok_or(ApiError::NotFound)
}

/// Searches users.
#[utoipa::path(
    get,
    path = "/api/staff/users/",
    tag = "staff",
    security(("jwt" = [])),
    params(
        ("q" = Option<String>, Query, description = "Substring of username or e-mail"),
        ("active" = Option<bool>, Query, description = "Only active (true) or inactive (false) users"),
        ("staff" = Option<bool>, Query, description = "Only staff (true) or non-staff (false)"),
        ("locked" = Option<bool>, Query, description = "Only users locked by staff now (true) or not (false)"),
        ("limit" = Option<u32>, Query, description = "At most this many (default 50, at most 500)"),
        ("offset" = Option<u32>, Query, description = "Skip this many"),
    ),
    responses(
        (status = 200, description = "Users", body = Vec<StaffUser>),
        (status = 400, description = "Bad query parameter", body = FieldErrors),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
    )
)]
pub(crate) async fn staff_search_users(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<StaffUser>>, ApiError> {
    let users = blocking(&state, move |s| {
        let mut q = Query::parse(raw.as_deref());
        let text = q.get("q").map(str::to_string);
        let active = q.boolean("active");
        let staff = q.boolean("staff");
        let locked = q.boolean("locked");
        let limit = q.count("limit", 1, DEFAULT_USER_LIMIT, MAX_USER_LIMIT);
        let offset = q.count("offset", 0, 0, u32::MAX);
        q.finish()?;
        let now = s.now();
        let query = UserQuery {
            text,
            active,
            staff,
            locked_at: (locked == Some(true)).then_some(now),
            limit,
            offset,
        };
        let users = s.search_users(&actor, &query)?;
        Ok(users
            .into_iter()
            .map(|u| wire::staff_user(u, now))
            // The engine filters "locked now" only; "not locked" is filtered here.
            .filter(|u| locked != Some(false) || !u.locked)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(users))
}

/// One user, with the failed-login state of their username.
#[utoipa::path(
    get,
    path = "/api/staff/users/{id}/",
    tag = "staff",
    security(("jwt" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = StaffUserDetail),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub(crate) async fn staff_get_user(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    id: PathParam,
) -> Result<Json<StaffUserDetail>, ApiError> {
    let user = user_param(&id)?;
    let detail = blocking(&state, move |s| {
        let (user, throttles) = s.user_detail(&actor, user)?;
        Ok(StaffUserDetail {
            user: wire::staff_user(user, s.now()),
            throttles: throttles.into_iter().map(Into::into).collect(),
        })
    })
    .await?;
    Ok(Json(detail))
}

/// Every session of a user, ended ones included, newest first.
#[utoipa::path(
    get,
    path = "/api/staff/users/{id}/sessions/",
    tag = "staff",
    security(("jwt" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "Sessions", body = Vec<SessionInfo>),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub(crate) async fn staff_user_sessions(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    id: PathParam,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let user = user_param(&id)?;
    let sessions = blocking(&state, move |s| {
        let sessions = s.sessions_of(&actor, user, true)?;
        if sessions.is_empty() {
            s.user(user)?;
        }
        Ok(sessions)
    })
    .await?;
    Ok(Json(sessions))
}

/// A session and its rotation chain (jti, parent and successor, times, address).
#[utoipa::path(
    get,
    path = "/api/staff/sessions/{sid}/",
    tag = "staff",
    security(("jwt" = [])),
    params(("sid" = String, Path, description = "Session id (32 hex digits)")),
    responses(
        (status = 200, description = "The session and its tokens, oldest first", body = Lineage),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
    )
)]
pub(crate) async fn staff_get_session(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    sid: PathParam,
) -> Result<Json<Lineage>, ApiError> {
    let sid = session_param(&sid)?;
    let lineage = blocking(&state, move |s| {
        let (session, tokens) = s.lineage(&actor, sid)?;
        Ok(wire::lineage(&session, tokens))
    })
    .await?;
    Ok(Json(lineage))
}

/// Ends a session.
#[utoipa::path(
    post,
    path = "/api/staff/sessions/{sid}/revoke/",
    tag = "staff",
    security(("jwt" = [])),
    params(("sid" = String, Path, description = "Session id (32 hex digits)")),
    request_body(content(
        (ReasonRequest = "application/json"),
        (ReasonRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "`revoked` is false when it had already ended", body = RevokedFlag),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
    )
)]
pub(crate) async fn staff_revoke_session(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    sid: PathParam,
    body: RawBody,
) -> Result<Json<RevokedFlag>, ApiError> {
    let sid = session_param(&sid)?;
    let revoked = blocking(&state, move |s| {
        let req = ReasonRequest::read(&body.data()?)?;
        Ok(s.revoke_session(&actor, sid, &req.reason, &ClientInfo::default())?)
    })
    .await?;
    Ok(Json(RevokedFlag { revoked }))
}

/// Shared shape of the user actions: read the body, act, count (staff was checked first).
async fn user_action<R, F>(
    state: &AppState,
    id: PathParam,
    body: RawBody,
    read: fn(&Map<String, Value>) -> Result<R, ApiError>,
    act: F,
) -> Result<Json<RevokedCount>, ApiError>
where
    R: Send + 'static,
    F: FnOnce(&AuthService, UserId, R) -> Result<usize, ApiError> + Send + 'static,
{
    let user = user_param(&id)?;
    let revoked = blocking(state, move |s| {
        let req = read(&body.data()?)?;
        act(s, user, req)
    })
    .await?;
    Ok(Json(RevokedCount { revoked }))
}

/// Ends every session of a user.
#[utoipa::path(
    post,
    path = "/api/staff/users/{id}/logout-all/",
    tag = "staff",
    security(("jwt" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body(content(
        (ReasonRequest = "application/json"),
        (ReasonRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "How many sessions ended", body = RevokedCount),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub(crate) async fn staff_logout_user(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    id: PathParam,
    body: RawBody,
) -> Result<Json<RevokedCount>, ApiError> {
    user_action(
        &state,
        id,
        body,
        ReasonRequest::read,
        move |s, user, req| {
            Ok(
                s.end_sessions(&actor, user, &req.reason, &ClientInfo::default())?
                    .count(),
            )
        },
    )
    .await
}

/// Locks an account (until `until`, or until unlocked); its sessions end.
#[utoipa::path(
    post,
    path = "/api/staff/users/{id}/lock/",
    tag = "staff",
    security(("jwt" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body(content(
        (LockRequest = "application/json"),
        (LockRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "How many sessions ended", body = RevokedCount),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub(crate) async fn staff_lock_user(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    id: PathParam,
    body: RawBody,
) -> Result<Json<RevokedCount>, ApiError> {
    user_action(&state, id, body, LockRequest::read, move |s, user, req| {
        let until: Option<UnixTime> = req.until;
        Ok(s.lock(&actor, user, until, &req.reason)?.count())
    })
    .await
}

/// Lifts a staff lock and any failed-login lockout of the account.
#[utoipa::path(
    post,
    path = "/api/staff/users/{id}/unlock/",
    tag = "staff",
    security(("jwt" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body(content(
        (ReasonRequest = "application/json"),
        (ReasonRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "Unlocked (`revoked` is always 0)", body = RevokedCount),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub(crate) async fn staff_unlock_user(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    id: PathParam,
    body: RawBody,
) -> Result<Json<RevokedCount>, ApiError> {
    user_action(
        &state,
        id,
        body,
        ReasonRequest::read,
        move |s, user, req| {
            s.unlock(&actor, user, &req.reason)?;
            Ok(0)
        },
    )
    .await
}

/// Deactivates an account; every session ends and its tokens are refused (`user_inactive`).
#[utoipa::path(
    post,
    path = "/api/staff/users/{id}/deactivate/",
    tag = "staff",
    security(("jwt" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body(content(
        (ReasonRequest = "application/json"),
        (ReasonRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "How many sessions ended", body = RevokedCount),
        (status = 400, description = "Field errors (e.g. deactivating oneself)", body = FieldErrors),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub(crate) async fn staff_deactivate_user(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    id: PathParam,
    body: RawBody,
) -> Result<Json<RevokedCount>, ApiError> {
    user_action(
        &state,
        id,
        body,
        ReasonRequest::read,
        move |s, user, req| Ok(s.set_active(&actor, user, false, &req.reason)?.count()),
    )
    .await
}

/// Reactivates an account.
#[utoipa::path(
    post,
    path = "/api/staff/users/{id}/reactivate/",
    tag = "staff",
    security(("jwt" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body(content(
        (ReasonRequest = "application/json"),
        (ReasonRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "Reactivated (`revoked` is always 0)", body = RevokedCount),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub(crate) async fn staff_reactivate_user(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    id: PathParam,
    body: RawBody,
) -> Result<Json<RevokedCount>, ApiError> {
    user_action(
        &state,
        id,
        body,
        ReasonRequest::read,
        move |s, user, req| Ok(s.set_active(&actor, user, true, &req.reason)?.count()),
    )
    .await
}

/// Sets a user's password; every session of theirs ends.
#[utoipa::path(
    post,
    path = "/api/staff/users/{id}/password/",
    tag = "staff",
    security(("jwt" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body(content(
        (SetPasswordRequest = "application/json"),
        (SetPasswordRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "How many sessions ended", body = RevokedCount),
        (status = 400, description = "Field errors (e.g. a weak password)", body = FieldErrors),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub(crate) async fn staff_set_password(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    id: PathParam,
    body: RawBody,
) -> Result<Json<RevokedCount>, ApiError> {
    user_action(
        &state,
        id,
        body,
        SetPasswordRequest::read,
        move |s, user, req| {
            Ok(s.set_password(&actor, user, &req.password, &req.reason)?
                .count())
        },
    )
    .await
}

/// Grants or withdraws staff rights.
#[utoipa::path(
    post,
    path = "/api/staff/users/{id}/staff/",
    tag = "staff",
    security(("jwt" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body(content(
        (SetStaffRequest = "application/json"),
        (SetStaffRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "Done (`revoked` is always 0)", body = RevokedCount),
        (status = 400, description = "Field errors", body = FieldErrors),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub(crate) async fn staff_set_staff(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    id: PathParam,
    body: RawBody,
) -> Result<Json<RevokedCount>, ApiError> {
    user_action(
        &state,
        id,
        body,
        SetStaffRequest::read,
        move |s, user, req| {
            s.set_staff(&actor, user, req.is_staff, &req.reason)?;
            Ok(0)
        },
    )
    .await
}

fn audit_query(raw: Option<&str>) -> Result<AuditQuery, ApiError> {
    let mut q = Query::parse(raw);
    let user = q.integer("user");
    let mut kinds = Vec::new();
    for k in q.all("kind") {
        match AuditKind::parse(&k) {
            Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
            Some(_) => {}
            None => q
                .errors
                .add("kind", format!("\"{k}\" is not a valid choice.")),
        }
    }
    let session_id = match q.get("session") {
        None => None,
        Some(s) => {
            let parsed = SessionId::parse(s);
            if parsed.is_none() {
                q.errors
                    .add("session", "Enter a valid session id (32 hex digits).");
            }
            parsed
        }
    };
    let since = q.integer("since");
    let until = q.integer("until");
    let before_id = q.integer("before");
    let limit = q.count("limit", 1, DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT);
    q.finish()?;
    Ok(AuditQuery {
        user,
        kinds,
        session_id,
        since,
        until,
        before_id,
        limit,
    })
}

/// The audit log, newest first.
#[utoipa::path(
    get,
    path = "/api/staff/audit/",
    tag = "staff",
    security(("jwt" = [])),
    params(
        ("user" = Option<i64>, Query, description = "Events about or by this user"),
        ("kind" = Option<Vec<String>>, Query, description = "Event kinds; repeat or comma-separate"),
        ("session" = Option<String>, Query, description = "Events of this session"),
        ("since" = Option<i64>, Query, description = "At or after this Unix time"),
        ("until" = Option<i64>, Query, description = "At or before this Unix time"),
        ("before" = Option<i64>, Query, description = "Entries with an id below this (paging)"),
        ("limit" = Option<u32>, Query, description = "At most this many (default 100, at most 1000)"),
    ),
    responses(
        (status = 200, description = "Entries", body = Vec<AuditRecord>),
        (status = 400, description = "Bad query parameter", body = FieldErrors),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
    )
)]
pub(crate) async fn staff_audit(
    State(state): State<AppState>,
    StaffCaller(actor): StaffCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let entries = blocking(&state, move |s| {
        let query = audit_query(raw.as_deref())?;
        Ok(s.audit(&actor, &query)?)
    })
    .await?;
    Ok(Json(entries.into_iter().map(AuditRecord::from).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_errors(e: ApiError) -> Value {
        match e {
            ApiError::Fields(f) => serde_json::to_value(&f).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn audit_kinds_repeat_or_comma_separate() {
        let q = audit_query(Some(
            "kind=logout,login_failed&kind=logout&user=3&limit=5000",
        ))
        .unwrap();
        assert_eq!(q.kinds, vec![AuditKind::Logout, AuditKind::LoginFailed]);
        assert_eq!(q.user, Some(3));
        assert_eq!(q.limit, MAX_AUDIT_LIMIT);
        assert_eq!(audit_query(None).unwrap().limit, DEFAULT_AUDIT_LIMIT);
    }

    #[test]
    fn bad_audit_parameters_are_field_errors() {
        let e = audit_query(Some("kind=nope&user=x&session=zz&limit=0")).unwrap_err();
        assert_eq!(
            field_errors(e),
            serde_json::json!({
                "user": [NOT_AN_INTEGER],
                "kind": ["\"nope\" is not a valid choice."],
                "session": ["Enter a valid session id (32 hex digits)."],
                "limit": ["Ensure this value is greater than or equal to 1."],
            })
        );
    }
}
