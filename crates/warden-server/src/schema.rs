//! Request and response bodies, each with its OpenAPI schema.
//!
//! Request types are read from DRF's `request.data` field by field (see
//! [`crate::body::Fields`]), in declaration order, so the order of field
//! errors is the order of the struct. Response types are what is serialised;
//! the ones that mirror a `warden-proto` type are tested to serialise exactly
//! as it does.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use warden_auth::UnixTime;
use warden_auth::model::{AuditEntry, OutstandingToken, Session, ThrottleState, User};

use crate::body::Fields;
use crate::error::ApiError;

// ---------------------------------------------------------------------------
// Request bodies

/// `POST api/token/` and `api/token/sliding/`.
#[derive(Debug, Clone, ToSchema)]
pub struct ObtainRequest {
    pub username: String,
    #[schema(format = Password)]
    pub password: String,
    /// Warden: a name for the session (also `X-Warden-Device`), at most 100 characters.
    pub device_label: Option<String>,
}

impl ObtainRequest {
    pub fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = ObtainRequest {
            username: f.text("username"),
            password: f.password("password"),
            device_label: f.optional_text("device_label"),
        };
        f.finish()?;
        Ok(r)
    }
}

/// `POST api/token/refresh/`, `api/token/blacklist/`, `api/logout/`.
#[derive(Debug, Clone, ToSchema)]
pub struct RefreshRequest {
    pub refresh: String,
}

impl RefreshRequest {
    pub fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = RefreshRequest {
            refresh: f.text("refresh"),
        };
        f.finish()?;
        Ok(r)
    }
}

/// `POST api/token/verify/`, `api/token/sliding/refresh/`, `api/token/introspect/`.
#[derive(Debug, Clone, ToSchema)]
pub struct TokenRequest {
    pub token: String,
}

impl TokenRequest {
    pub fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = TokenRequest {
            token: f.text("token"),
        };
        f.finish()?;
        Ok(r)
    }
}

/// `POST api/token/revoke/` (RFC 7009).
#[derive(Debug, Clone, ToSchema)]
pub struct RevokeRequest {
    pub token: String,
    /// `access_token` or `refresh_token`; a hint only.
    pub token_type_hint: Option<String>,
}

/// `POST api/register/`.
#[derive(Debug, Clone, ToSchema)]
pub struct RegisterRequest {
    pub username: String,
    #[schema(format = Password)]
    pub password: String,
    pub email: Option<String>,
}

impl RegisterRequest {
    pub fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = RegisterRequest {
            username: f.text("username"),
            password: f.password("password"),
            email: f.optional_text("email"),
        };
        f.finish()?;
        Ok(r)
    }
}

/// `POST api/password/change/`.
#[derive(Debug, Clone, ToSchema)]
pub struct ChangePasswordRequest {
    #[schema(format = Password)]
    pub old_password: String,
    #[schema(format = Password)]
    pub new_password: String,
}

impl ChangePasswordRequest {
    pub fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = ChangePasswordRequest {
            old_password: f.password("old_password"),
            new_password: f.password("new_password"),
        };
        f.finish()?;
        Ok(r)
    }
}

/// A staff action that only needs a reason (recorded in the audit log).
#[derive(Debug, Clone, ToSchema)]
pub struct ReasonRequest {
    pub reason: String,
}

impl ReasonRequest {
    pub fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = ReasonRequest {
            reason: f.text("reason"),
        };
        f.finish()?;
        Ok(r)
    }
}

/// `POST api/staff/users/{id}/lock/`.
#[derive(Debug, Clone, ToSchema)]
pub struct LockRequest {
    pub reason: String,
    /// Unix time the lock ends; absent means until unlocked.
    #[schema(value_type = Option<i64>)]
    pub until: Option<UnixTime>,
}

impl LockRequest {
    pub fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = LockRequest {
            reason: f.text("reason"),
            until: f.optional_integer("until"),
        };
        f.finish()?;
        Ok(r)
    }
}

/// `POST api/staff/users/{id}/password/`.
#[derive(Debug, Clone, ToSchema)]
pub struct SetPasswordRequest {
    #[schema(format = Password)]
    pub password: String,
    pub reason: String,
}

impl SetPasswordRequest {
    pub fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = SetPasswordRequest {
            password: f.password("password"),
            reason: f.text("reason"),
        };
        f.finish()?;
        Ok(r)
    }
}

/// `POST api/staff/users/{id}/staff/`.
#[derive(Debug, Clone, ToSchema)]
pub struct SetStaffRequest {
    pub is_staff: bool,
    pub reason: String,
}

impl SetStaffRequest {
    pub fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = SetStaffRequest {
            is_staff: f.boolean("is_staff"),
            reason: f.text("reason"),
        };
        f.finish()?;
        Ok(r)
    }
}

// ---------------------------------------------------------------------------
// Responses

/// `api/token/`: a new session's pair.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenPair {
    pub refresh: String,
    pub access: String,
}

/// `api/token/refresh/`: `refresh` only when rotating.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefreshResponse {
    pub access: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
}

/// A sliding token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlidingToken {
    pub token: String,
}

/// `{}`.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Empty {}

/// How many sessions an action ended.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevokedCount {
    pub revoked: usize,
}

/// Whether an action ended a live session (false: it had already ended).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevokedFlag {
    pub revoked: bool,
}

/// One session (token family); the same shape as `warden_proto::SessionInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionInfo {
    pub id: String,
    pub user_id: String,
    pub device_label: Option<String>,
    pub user_agent: Option<String>,
    pub address: Option<String>,
    pub created_at: i64,
    pub last_rotated_at: Option<i64>,
    pub rotation_count: u32,
    /// When the newest refresh token of the session expires.
    pub expires_at: i64,
    /// The absolute cap: rotation cannot keep the session alive past this.
    pub max_expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    /// True for the session the request itself belongs to.
    pub current: bool,
}

impl From<warden_proto::SessionInfo> for SessionInfo {
    fn from(s: warden_proto::SessionInfo) -> Self {
        SessionInfo {
            id: s.id,
            user_id: s.user_id,
            device_label: s.device_label,
            user_agent: s.user_agent,
            address: s.address,
            created_at: s.created_at,
            last_rotated_at: s.last_rotated_at,
            rotation_count: s.rotation_count,
            expires_at: s.expires_at,
            max_expires_at: s.max_expires_at,
            revoked_at: s.revoked_at,
            revoked_reason: s.revoked_reason,
            current: s.current,
        }
    }
}

/// `api/me/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub is_staff: bool,
    pub is_active: bool,
    /// Unix time.
    pub date_joined: i64,
    pub last_login: Option<i64>,
    /// The session of the token the request was made with.
    pub session_id: String,
}

/// `api/whoami/`: the caller as the access token says, with no database read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WhoAmI {
    pub user_id: i64,
    /// The session of the token the request was made with.
    pub session_id: String,
}

/// `api/register/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Registered {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
}

/// A user as staff see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffUser {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub is_active: bool,
    pub is_staff: bool,
    pub date_joined: i64,
    pub last_login: Option<i64>,
    pub password_changed_at: Option<i64>,
    /// Locked by staff at the time of the request.
    pub locked: bool,
    /// When a staff lock ends; null when unlocked or locked until unlocked.
    pub locked_until: Option<i64>,
}

impl StaffUser {
    pub fn new(u: User, now: UnixTime) -> Self {
        let locked = u.locked_until.is_some_and(|t| t > now);
        StaffUser {
            id: u.id,
            username: u.username,
            email: u.email,
            email_verified: u.email_verified,
            is_active: u.is_active,
            is_staff: u.is_staff,
            date_joined: u.created_at,
            last_login: u.last_login,
            password_changed_at: u.password_changed_at,
            locked,
            locked_until: u.locked_until.filter(|t| locked && *t != UnixTime::MAX),
        }
    }
}

/// One failed-login counter that names a user: their identifier from one
/// address (`pair`), or from every address (`identifier`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SignInThrottle {
    /// `pair` or `identifier`.
    pub scope: String,
    /// The client address (pair counters).
    pub address: Option<String>,
    pub failures: u32,
    pub window_started_at: i64,
    /// Refused until then: a lock (pair) or a delay (identifier).
    pub locked_until: Option<i64>,
    /// The last right password from this address: the address is known for the user.
    pub last_success_at: Option<i64>,
}

impl From<ThrottleState> for SignInThrottle {
    fn from(t: ThrottleState) -> Self {
        SignInThrottle {
            scope: t.scope.as_str().to_string(),
            address: t.address,
            failures: t.failures,
            window_started_at: t.window_started_at,
            locked_until: t.locked_until,
            last_success_at: t.last_success_at,
        }
    }
}

/// `api/staff/users/{id}/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffUserDetail {
    #[serde(flatten)]
    pub user: StaffUser,
    /// Failed-login counters naming this user, pair counters by address.
    pub throttles: Vec<SignInThrottle>,
}

/// One refresh or sliding token of a session's rotation chain. Never the token
/// itself, nor its hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineageToken {
    pub jti: String,
    pub token_type: String,
    pub parent_jti: Option<String>,
    pub successor_jti: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// When it was rotated away.
    pub rotated_at: Option<i64>,
    /// Where the request that minted it came from.
    pub address: Option<String>,
    /// The signing key.
    pub kid: String,
}

impl From<OutstandingToken> for LineageToken {
    fn from(t: OutstandingToken) -> Self {
        LineageToken {
            jti: t.jti.to_string(),
            token_type: t.token_type.as_str().to_string(),
            parent_jti: t.parent_jti.map(|j| j.to_string()),
            successor_jti: t.successor_jti.map(|j| j.to_string()),
            issued_at: t.issued_at,
            expires_at: t.expires_at,
            rotated_at: t.rotated_at,
            address: t.address,
            kid: t.kid,
        }
    }
}

/// `api/staff/sessions/{sid}/`: a session and its rotation chain, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Lineage {
    pub session: SessionInfo,
    /// `pair` or `sliding`.
    pub kind: String,
    pub revoked_by: Option<i64>,
    pub head_jti: String,
    pub tokens: Vec<LineageToken>,
}

impl Lineage {
    pub fn new(session: Session, tokens: Vec<OutstandingToken>) -> Self {
        Lineage {
            kind: session.kind.as_str().to_string(),
            revoked_by: session.revoked_by,
            head_jti: session.head_jti.to_string(),
            session: warden_auth::service::session_info(&session, None).into(),
            tokens: tokens.into_iter().map(LineageToken::from).collect(),
        }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    /// e.g. `login_succeeded`, `reuse_detected`, `user_locked`.
    pub kind: String,
    /// The user the event is about.
    pub subject: Option<i64>,
    /// The user who caused it.
    pub actor: Option<i64>,
    pub session_id: Option<String>,
    pub jti: Option<String>,
    pub address: Option<String>,
    /// Free text given by staff, or the engine's explanation.
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub detail: Value,
}

impl From<AuditEntry> for AuditRecord {
    fn from(a: AuditEntry) -> Self {
        let e = a.event;
        AuditRecord {
            id: a.id,
            at: e.at,
            kind: e.kind.as_str().to_string(),
            subject: e.subject,
            actor: e.actor,
            session_id: e.session_id.map(|s| s.to_string()),
            jti: e.jti.map(|j| j.to_string()),
            address: e.address,
            reason: e.reason,
            detail: e.detail,
        }
    }
}

/// What this server offers beyond SimpleJWT; the shape of `warden_proto::Capabilities`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Capabilities {
    pub server: String,
    pub version: String,
    pub features: Vec<String>,
    pub rotate_refresh_tokens: bool,
    pub blacklist_after_rotation: bool,
    /// Seconds.
    pub access_token_lifetime: u64,
    /// Seconds.
    pub refresh_token_lifetime: u64,
    pub auth_header_types: Vec<String>,
}

impl From<warden_proto::Capabilities> for Capabilities {
    fn from(c: warden_proto::Capabilities) -> Self {
        Capabilities {
            server: c.server,
            version: c.version,
            features: c.features,
            rotate_refresh_tokens: c.rotate_refresh_tokens,
            blacklist_after_rotation: c.blacklist_after_rotation,
            access_token_lifetime: c.access_token_lifetime,
            refresh_token_lifetime: c.refresh_token_lifetime,
            auth_header_types: c.auth_header_types,
        }
    }
}

/// RFC 7662 answer: `{"active": false}`, or the token's claims.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    /// `access`, `refresh` or `sliding`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// `api/hello/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Hello {
    pub hello: String,
}

// ---------------------------------------------------------------------------
// Error bodies (serialised by `ApiError::into_response`)

/// SimpleJWT's `messages[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TokenMessage {
    pub token_class: String,
    pub token_type: String,
    pub message: String,
}

/// DRF/SimpleJWT error body; the shape of `warden_proto::ErrorBody`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<TokenMessage>>,
    /// Warden: a stable machine-readable cause (`expired`, `reuse_detected`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ErrorBody {
    pub fn detail(detail: impl Into<String>) -> Self {
        ErrorBody {
            detail: detail.into(),
            code: None,
            messages: None,
            reason: None,
        }
    }

    pub fn coded(detail: impl Into<String>, code: &str) -> Self {
        ErrorBody {
            code: Some(code.to_string()),
            ..ErrorBody::detail(detail)
        }
    }
}

/// 429 after too many failed logins.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LockedOutBody {
    pub detail: String,
    pub code: String,
    /// Seconds; also in `Retry-After`.
    pub retry_after: i64,
}

/// 500 and 503: nothing internal, only an id to find the log line by.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServerErrorBody {
    pub detail: String,
    pub request_id: String,
}

/// 400 for a body that is not a JSON object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NonFieldErrors {
    pub non_field_errors: Vec<String>,
}

/// RFC 6749 §5.2 error (`invalid_request`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OAuthError {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_serialise_exactly_as_the_proto_types() {
        let s = warden_proto::SessionInfo {
            id: "a".repeat(32),
            user_id: "7".into(),
            device_label: Some("laptop".into()),
            user_agent: None,
            address: Some("127.0.0.1".into()),
            created_at: 1,
            last_rotated_at: None,
            rotation_count: 2,
            expires_at: 3,
            max_expires_at: 4,
            revoked_at: Some(5),
            revoked_reason: Some("logout".into()),
            current: true,
        };
        assert_eq!(
            serde_json::to_value(SessionInfo::from(s.clone())).unwrap(),
            serde_json::to_value(&s).unwrap()
        );
        let c = warden_proto::Capabilities {
            server: "warden".into(),
            version: "1".into(),
            features: vec!["logout".into()],
            rotate_refresh_tokens: true,
            blacklist_after_rotation: false,
            access_token_lifetime: 1,
            refresh_token_lifetime: 2,
            auth_header_types: vec!["Bearer".into()],
        };
        assert_eq!(
            serde_json::to_value(Capabilities::from(c.clone())).unwrap(),
            serde_json::to_value(&c).unwrap()
        );
        let e = warden_proto::ErrorBody {
            detail: "d".into(),
            code: Some("c".into()),
            messages: Some(vec![warden_proto::TokenMessage {
                token_class: "AccessToken".into(),
                token_type: "access".into(),
                message: "m".into(),
            }]),
            reason: Some(warden_proto::Reason::Expired),
        };
        let mirror = ErrorBody {
            detail: "d".into(),
            code: Some("c".into()),
            messages: Some(vec![TokenMessage {
                token_class: "AccessToken".into(),
                token_type: "access".into(),
                message: "m".into(),
            }]),
            reason: Some("expired".into()),
        };
        assert_eq!(
            serde_json::to_value(&mirror).unwrap(),
            serde_json::to_value(&e).unwrap()
        );
        assert_eq!(
            serde_json::to_value(ErrorBody::detail("x")).unwrap(),
            serde_json::to_value(warden_proto::ErrorBody {
                detail: "x".into(),
                code: None,
                messages: None,
                reason: None
            })
            .unwrap()
        );
    }

    #[test]
    fn staff_user_hides_indefinite_lock_times() {
        let u = User {
            id: 1,
            username: "a".into(),
            email: None,
            email_verified: false,
            password_hash: "secret-hash".into(),
            is_active: true,
            is_staff: false,
            created_at: 10,
            last_login: None,
            password_changed_at: None,
            locked_until: Some(UnixTime::MAX),
        };
        let v = StaffUser::new(u.clone(), 100);
        assert!(v.locked && v.locked_until.is_none());
        let json = serde_json::to_string(&v).unwrap();
        assert!(!json.contains("secret-hash"));
        let v = StaffUser::new(
            User {
                locked_until: Some(50),
                ..u.clone()
            },
            100,
        );
        assert!(!v.locked && v.locked_until.is_none());
        let v = StaffUser::new(
            User {
                locked_until: Some(500),
                ..u
            },
            100,
        );
        assert!(v.locked && v.locked_until == Some(500));
    }
}
