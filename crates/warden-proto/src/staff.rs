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
    pub reason: String,
}

/// `POST api/staff/users/{id}/lock/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockRequest {
    pub reason: String,
    /// Unix time the lock ends; absent means until unlocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

/// `POST api/staff/users/{id}/password/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetPasswordRequest {
    #[cfg_attr(feature = "openapi", schema(format = Password))]
    pub password: String,
    pub reason: String,
}

/// `POST api/staff/users/{id}/staff/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetStaffRequest {
    pub is_staff: bool,
    pub reason: String,
}

/// A user as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffUser {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub email_verified: bool,
    pub is_active: bool,
    pub is_staff: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = i64, required = true))]
    pub date_joined: Option<i64>,
    pub last_login: Option<i64>,
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
    pub failures: u32,
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
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true))]
    pub kid: Option<String>,
}

/// `api/staff/sessions/{sid}/`: a session and its rotation chain, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lineage {
    pub session: SessionInfo,
    /// `pair` or `sliding`.
    pub kind: String,
    pub revoked_by: Option<i64>,
    pub head_jti: String,
    pub tokens: Vec<LineageToken>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
