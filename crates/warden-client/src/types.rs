//! Answers of Warden's own routes, as the client reads them. SimpleJWT's shapes
//! (token pair, refresh, sessions, capabilities, error body) come from
//! `warden-proto`. Optional fields default, so a server that sends less (the
//! Django peer's `api/me/` is `{"id", "username"}`) still parses.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `GET api/me/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: i64,
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub is_staff: Option<bool>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub date_joined: Option<i64>,
    #[serde(default)]
    pub last_login: Option<i64>,
    /// Warden: the session of the token the request was made with.
    #[serde(default)]
    pub session_id: Option<String>,
}

/// `POST api/register/` (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub id: i64,
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RevokedCount {
    pub revoked: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RevokedFlag {
    pub revoked: bool,
}

/// RFC 7662 answer: `active`, and the claims when active.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Introspection {
    pub active: bool,
    pub token_type: Option<String>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub jti: Option<String>,
    pub sub: Option<String>,
    pub user_id: Option<String>,
    pub sid: Option<String>,
    pub username: Option<String>,
    pub iss: Option<String>,
    pub aud: Option<String>,
}

/// A user as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffUser {
    pub id: i64,
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    pub is_active: bool,
    pub is_staff: bool,
    #[serde(default)]
    pub date_joined: Option<i64>,
    #[serde(default)]
    pub last_login: Option<i64>,
    #[serde(default)]
    pub password_changed_at: Option<i64>,
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub locked_until: Option<i64>,
}

/// One failed-login counter naming a user (`scope` `pair`: from one address;
/// `identifier`: from every address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInThrottle {
    pub scope: String,
    #[serde(default)]
    pub address: Option<String>,
    pub failures: u32,
    pub window_started_at: i64,
    #[serde(default)]
    pub locked_until: Option<i64>,
    #[serde(default)]
    pub last_success_at: Option<i64>,
}

/// `GET api/staff/users/{id}/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffUserDetail {
    #[serde(flatten)]
    pub user: StaffUser,
    #[serde(default)]
    pub throttles: Vec<SignInThrottle>,
}

/// One refresh token of a session's rotation chain (ids and times only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageToken {
    pub jti: String,
    pub token_type: String,
    #[serde(default)]
    pub parent_jti: Option<String>,
    #[serde(default)]
    pub successor_jti: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    #[serde(default)]
    pub rotated_at: Option<i64>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub kid: Option<String>,
}

/// `GET api/staff/sessions/{sid}/`: a session and its rotation chain, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    pub session: warden_proto::SessionInfo,
    pub kind: String,
    #[serde(default)]
    pub revoked_by: Option<i64>,
    pub head_jti: String,
    pub tokens: Vec<LineageToken>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    #[serde(default)]
    pub subject: Option<i64>,
    #[serde(default)]
    pub actor: Option<i64>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub jti: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub detail: Value,
}

/// Filters for `GET api/staff/users/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSearch {
    pub q: Option<String>,
    pub active: Option<bool>,
    pub staff: Option<bool>,
    pub locked: Option<bool>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

impl UserSearch {
    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(v) = &self.q {
            q.push(("q", v.clone()));
        }
        if let Some(v) = self.active {
            q.push(("active", v.to_string()));
        }
        if let Some(v) = self.staff {
            q.push(("staff", v.to_string()));
        }
        if let Some(v) = self.locked {
            q.push(("locked", v.to_string()));
        }
        if let Some(v) = self.limit {
            q.push(("limit", v.to_string()));
        }
        if let Some(v) = self.offset {
            q.push(("offset", v.to_string()));
        }
        q
    }
}

/// Filters for `GET api/staff/audit/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSearch {
    pub user: Option<i64>,
    /// Event kinds (`login_failed`, `reuse_detected`, ...).
    pub kinds: Vec<String>,
    pub session: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

impl AuditSearch {
    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(v) = self.user {
            q.push(("user", v.to_string()));
        }
        if !self.kinds.is_empty() {
            q.push(("kind", self.kinds.join(",")));
        }
        if let Some(v) = &self.session {
            q.push(("session", v.clone()));
        }
        if let Some(v) = self.since {
            q.push(("since", v.to_string()));
        }
        if let Some(v) = self.until {
            q.push(("until", v.to_string()));
        }
        if let Some(v) = self.before {
            q.push(("before", v.to_string()));
        }
        if let Some(v) = self.limit {
            q.push(("limit", v.to_string()));
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn me_parses_the_django_peer_and_warden() {
        let peer: Me = serde_json::from_str(r#"{"id":1,"username":"alice"}"#).unwrap();
        assert_eq!(peer.username, "alice");
        assert_eq!(peer.session_id, None);
        let warden: Me = serde_json::from_str(
            r#"{"id":1,"username":"alice","email":null,"is_staff":false,"is_active":true,"date_joined":5,"last_login":null,"session_id":"ab"}"#,
        )
        .unwrap();
        assert_eq!(warden.session_id.as_deref(), Some("ab"));
    }

    #[test]
    fn staff_detail_flattens_the_user() {
        let d: StaffUserDetail = serde_json::from_str(
            r#"{"id":2,"username":"bob","email":null,"email_verified":true,"is_active":true,"is_staff":false,"date_joined":1,"last_login":null,"password_changed_at":null,"locked":false,"locked_until":null,"throttles":[{"scope":"pair","address":"192.0.2.1","failures":2,"window_started_at":3,"locked_until":null,"last_success_at":null}]}"#,
        )
        .unwrap();
        assert_eq!(d.user.username, "bob");
        assert_eq!(d.throttles[0].failures, 2);
        assert_eq!(d.throttles[0].address.as_deref(), Some("192.0.2.1"));
    }

    #[test]
    fn searches_become_query_pairs() {
        let s = AuditSearch {
            kinds: vec!["rotated".into(), "reuse_detected".into()],
            limit: Some(5),
            ..AuditSearch::default()
        };
        assert_eq!(
            s.query(),
            vec![
                ("kind", "rotated,reuse_detected".to_string()),
                ("limit", "5".to_string())
            ]
        );
        assert!(UserSearch::default().query().is_empty());
    }
}
