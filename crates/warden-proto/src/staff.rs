//! The staff routes: actions on users and sessions (each with a reason for
//! the audit log), users as staff see them, a session's rotation chain and
//! the audit log.
//!
//! As in [`crate::account`], an `Option` or a defaulted field that Warden
//! always sends is marked required in the OpenAPI document.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::SessionInfo;

/// A staff action that only needs a reason (recorded in the audit log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReasonRequest {
    /// Why, for the audit log; must not be blank.
    pub reason: String,
}

/// `POST api/staff/users/{id}/lock/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockRequest {
    /// Why, for the audit log; must not be blank.
    pub reason: String,
    /// Unix time the lock ends; absent means until unlocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

/// `POST api/staff/users/{id}/password/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetPasswordRequest {
    /// The temporary password; every session of the user ends.
    #[cfg_attr(feature = "openapi", schema(format = Password))]
    pub password: String,
    /// Why, for the audit log; must not be blank.
    pub reason: String,
}

/// `POST api/staff/users/{id}/staff/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetStaffRequest {
    /// Grant (true) or withdraw (false) staff rights.
    pub is_staff: bool,
    /// Why, for the audit log; must not be blank.
    pub reason: String,
}

/// A user as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffUser {
    /// The user's id.
    pub id: i64,
    /// The user's name.
    pub username: String,
    /// The e-mail address, if any.
    pub email: Option<String>,
    /// The address was confirmed.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub email_verified: bool,
    /// Not deactivated.
    pub is_active: bool,
    /// May use the staff routes.
    pub is_staff: bool,
    /// Unix time.
    #[cfg_attr(feature = "openapi", schema(value_type = i64, required = true))]
    pub date_joined: Option<i64>,
    /// Unix time of the last login; null before the first.
    pub last_login: Option<i64>,
    /// Unix time of the last password change (by the user or staff).
    pub password_changed_at: Option<i64>,
    /// Locked by staff at the time of the request.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub locked: bool,
    /// When a staff lock ends; null when unlocked or locked until unlocked.
    pub locked_until: Option<i64>,
}

/// One failed-login counter that names a user: their identifier from one
/// address (`pair`), or from every address (`identifier`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInThrottle {
    /// `pair` or `identifier`.
    pub scope: String,
    /// The client address (pair counters).
    pub address: Option<String>,
    /// Failed logins counted in the current window.
    pub failures: u32,
    /// Unix time the counting window began.
    pub window_started_at: i64,
    /// Refused until then: a lock (pair) or a delay (identifier).
    pub locked_until: Option<i64>,
    /// The last right password from this address: the address is known for the user.
    pub last_success_at: Option<i64>,
}

/// `api/staff/users/{id}/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffUserDetail {
    /// The user; its fields sit beside `throttles`.
    #[serde(flatten)]
    pub user: StaffUser,
    /// Failed-login counters naming this user, pair counters by address.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub throttles: Vec<SignInThrottle>,
}

/// One refresh or sliding token of a session's rotation chain. Never the token
/// itself, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineageToken {
    /// The token's id.
    pub jti: String,
    /// `refresh` or `sliding`.
    pub token_type: String,
    /// The token it was rotated from; null for the login's.
    pub parent_jti: Option<String>,
    /// The token it was rotated into; null for the newest.
    pub successor_jti: Option<String>,
    /// Unix time.
    pub issued_at: i64,
    /// Unix time.
    pub expires_at: i64,
    /// When it was rotated away.
    pub rotated_at: Option<i64>,
    /// Where the request that minted it came from.
    pub address: Option<String>,
    /// The signing key.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true))]
    pub kid: Option<String>,
}

/// `api/staff/sessions/{sid}/`: a session and its rotation chain, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lineage {
    /// The session.
    pub session: SessionInfo,
    /// `pair` or `sliding`.
    pub kind: String,
    /// Who ended it (the user or a staff member); null while live or when the server did.
    pub revoked_by: Option<i64>,
    /// The newest token: the only one that may rotate.
    pub head_jti: String,
    /// Every token of the chain.
    pub tokens: Vec<LineageToken>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    /// Increasing: newer lines have larger ids.
    pub id: i64,
    /// Unix time.
    pub at: i64,
    /// e.g. `login_succeeded`, `reuse_detected`, `user_locked`.
    pub kind: String,
    /// The user the event is about.
    pub subject: Option<i64>,
    /// The user who caused it.
    pub actor: Option<i64>,
    /// The session concerned.
    pub session_id: Option<String>,
    /// The token concerned.
    pub jti: Option<String>,
    /// The client's address.
    pub address: Option<String>,
    /// Free text given by staff, or the engine's explanation.
    pub reason: Option<String>,
    /// Whatever else the event records, as a JSON object.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object, required = true))]
    pub detail: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_detail_flattens_the_user() {
        let text = r#"{"id":2,"username":"bob","email":null,"email_verified":true,"is_active":true,"is_staff":false,"date_joined":1,"last_login":null,"password_changed_at":null,"locked":false,"locked_until":null,"throttles":[{"scope":"pair","address":"192.0.2.1","failures":2,"window_started_at":3,"locked_until":null,"last_success_at":null}]}"#;
        let d: StaffUserDetail = serde_json::from_str(text).unwrap();
        assert_eq!(d.user.username, "bob");
        assert_eq!(d.throttles[0].failures, 2);
        assert_eq!(d.throttles[0].address.as_deref(), Some("192.0.2.1"));
        assert_eq!(serde_json::to_string(&d).unwrap(), text);
    }

    #[test]
    fn optional_staff_fields_are_null_not_absent() {
        let t = LineageToken {
            jti: "j".into(),
            token_type: "refresh".into(),
            parent_jti: None,
            successor_jti: None,
            issued_at: 1,
            expires_at: 2,
            rotated_at: None,
            address: None,
            kid: Some("k1".into()),
        };
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"jti":"j","token_type":"refresh","parent_jti":null,"successor_jti":null,"issued_at":1,"expires_at":2,"rotated_at":null,"address":null,"kid":"k1"}"#
        );
        let l = LockRequest {
            reason: "r".into(),
            until: None,
        };
        assert_eq!(serde_json::to_string(&l).unwrap(), r#"{"reason":"r"}"#);
    }
}
