//! Warden's routes for the signed-in user: sessions, logout everywhere,
//! registration, password change, `api/me/` and `api/whoami/`.
//!
//! Where a field is an `Option` that Warden always sends, the type reads
//! other servers (the Django peer's `api/me/` is `{"id", "username"}`); the
//! OpenAPI document describes what Warden sends, so it marks the field
//! required and not nullable.

use serde::{Deserialize, Serialize};

use crate::Reason;

/// One session (token family) as a user or a staff member sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// The description api/schema/ has always served, word for word: the document
// is a wire body too and stays byte-identical.
#[cfg_attr(
    feature = "openapi",
    schema(
        description = "One session (token family); the same shape as `warden_proto::SessionInfo`."
    )
)]
pub struct SessionInfo {
    /// The session id: the tokens' `sid` claim.
    pub id: String,
    /// The owner's id, as text (SimpleJWT's `user_id` claim is a string).
    pub user_id: String,
    /// The `X-Warden-Device` header sent at login.
    pub device_label: Option<String>,
    /// The `User-Agent` sent at login.
    pub user_agent: Option<String>,
    /// The client's address at login.
    pub address: Option<String>,
    /// Unix time of the login.
    pub created_at: i64,
    /// Unix time of the last rotation; null before the first.
    pub last_rotated_at: Option<i64>,
    /// How many times the refresh token was rotated.
    pub rotation_count: u32,
    /// When the newest refresh token of the session expires.
    pub expires_at: i64,
    /// The absolute cap: rotation cannot keep the session alive past this.
    pub max_expires_at: i64,
    /// Unix time the session ended; null while it is live.
    pub revoked_at: Option<i64>,
    /// Why it ended (`logout`, `reuse_detected`, ...).
    // Warden writes one of `Reason::Ended`'s names; a name another build
    // does not know reads as `Reason::Unknown` instead of failing the list.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub revoked_reason: Option<Reason>,
    /// True for the session the request itself belongs to.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub current: bool,
}

/// How many sessions an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokedCount {
    /// Sessions ended.
    pub revoked: usize,
}

/// Whether an action ended a live session (false: it had already ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokedFlag {
    /// A live session was ended.
    pub revoked: bool,
}

/// `POST api/register/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    /// The new account's name.
    pub username: String,
    /// Checked against the server's password rules.
    #[cfg_attr(feature = "openapi", schema(format = Password))]
    pub password: String,
    /// Optional; unique when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `api/register/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Registered {
    /// The new user's id.
    pub id: i64,
    /// As registered.
    pub username: String,
    /// As registered.
    pub email: Option<String>,
}

/// `POST api/password/change/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePasswordRequest {
    /// The current password.
    #[cfg_attr(feature = "openapi", schema(format = Password))]
    pub old_password: String,
    /// The password from now on; the user's other sessions end.
    #[cfg_attr(feature = "openapi", schema(format = Password))]
    pub new_password: String,
}

/// `api/me/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// The user's id.
    pub id: i64,
    /// The user's name.
    pub username: String,
    /// The e-mail address, if any.
    pub email: Option<String>,
    /// May use the staff routes.
    #[cfg_attr(feature = "openapi", schema(value_type = bool, required = true))]
    pub is_staff: Option<bool>,
    /// Not deactivated.
    #[cfg_attr(feature = "openapi", schema(value_type = bool, required = true))]
    pub is_active: Option<bool>,
    /// Unix time.
    #[cfg_attr(feature = "openapi", schema(value_type = i64, required = true))]
    pub date_joined: Option<i64>,
    /// Unix time of the last login; null before the first.
    pub last_login: Option<i64>,
    /// The session of the token the request was made with.
    #[cfg_attr(feature = "openapi", schema(value_type = String, required = true))]
    pub session_id: Option<String>,
}

/// `api/whoami/`: the caller as the access token says, with no database read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoAmI {
    /// The token's user.
    pub user_id: i64,
    /// The session of the token the request was made with.
    pub session_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RevocationReason;

    #[test]
    fn me_parses_the_django_peer_and_warden() {
        let peer: Me = serde_json::from_str(r#"{"id":1,"username":"alice"}"#).unwrap();
        assert_eq!(peer.username, "alice");
        assert_eq!(peer.session_id, None);
        let text = r#"{"id":1,"username":"alice","email":null,"is_staff":false,"is_active":true,"date_joined":5,"last_login":null,"session_id":"ab"}"#;
        let warden: Me = serde_json::from_str(text).unwrap();
        assert_eq!(warden.session_id.as_deref(), Some("ab"));
        // What Warden reads back is what it wrote.
        assert_eq!(serde_json::to_string(&warden).unwrap(), text);
    }

    #[test]
    fn session_reasons_are_their_names_and_unknown_ones_still_read() {
        let s = SessionInfo {
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
            revoked_reason: Some(Reason::Ended(RevocationReason::LogoutAll)),
            current: true,
        };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["revoked_reason"], "logout_all");
        assert_eq!(json["user_agent"], serde_json::Value::Null);
        let mut other = json.clone();
        other["revoked_reason"] = "expired_upstream".into();
        other.as_object_mut().unwrap().remove("current");
        let read: SessionInfo = serde_json::from_value(other).unwrap();
        assert_eq!(
            read.revoked_reason,
            Some(Reason::Unknown("expired_upstream".into()))
        );
        assert!(!read.current);
    }
}
