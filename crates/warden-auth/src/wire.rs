//! The engine's records as the wire shows them (`warden_proto`'s types).
//!
//! One place decides what of a record reaches a client: never a password
//! hash, a token hash or a throttle row's key; ids as their text forms; and an
//! indefinite staff lock (`UnixTime::MAX`) as `null`.

use warden_proto::{
    AuditRecord, Lineage, LineageToken, Reason, SessionInfo, SignInThrottle, StaffUser,
};

use crate::clock::UnixTime;
use crate::ids::SessionId;
use crate::model::{AuditEntry, OutstandingToken, Session, ThrottleState, User};

/// A session as users and staff see it; `current` is the caller's own.
pub(crate) fn session_info(s: &Session, current: Option<SessionId>) -> SessionInfo {
    SessionInfo {
        id: s.id.to_string(),
        user_id: s.user_id.to_string(),
        device_label: s.client.device_label.clone(),
        user_agent: s.client.user_agent.clone(),
        address: s.client.address.clone(),
        created_at: s.created_at,
        last_rotated_at: s.last_rotated_at,
        rotation_count: s.rotation_count,
        expires_at: s.expires_at,
        max_expires_at: s.max_expires_at,
        revoked_at: s.revoked_at,
        revoked_reason: s.revoked_reason.map(Reason::Ended),
        current: current == Some(s.id),
    }
}

/// A user as staff see it at `now`: `locked` only while a staff lock lasts.
pub fn staff_user(u: User, now: UnixTime) -> StaffUser {
    let locked = u.locked_until.is_some_and(|t| t > now);
    StaffUser {
        id: u.id,
        username: u.username,
        email: u.email,
        email_verified: u.email_verified,
        is_active: u.is_active,
        is_staff: u.is_staff,
        date_joined: Some(u.created_at),
        last_login: u.last_login,
        password_changed_at: u.password_changed_at,
        locked,
        locked_until: u.locked_until.filter(|t| locked && *t != UnixTime::MAX),
    }
}

/// A session and its rotation chain (`tokens` oldest first, as the store lists them).
pub fn lineage(session: &Session, tokens: Vec<OutstandingToken>) -> Lineage {
    Lineage {
        session: session_info(session, None),
        kind: session.kind.as_str().to_string(),
        revoked_by: session.revoked_by,
        head_jti: session.head_jti.to_string(),
        tokens: tokens.into_iter().map(LineageToken::from).collect(),
    }
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
            kid: Some(t.kid),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let v = staff_user(u.clone(), 100);
        assert!(v.locked && v.locked_until.is_none());
        let json = serde_json::to_string(&v).unwrap();
        assert!(!json.contains("secret-hash"));
        let v = staff_user(
            User {
                locked_until: Some(50),
                ..u.clone()
            },
            100,
        );
        assert!(!v.locked && v.locked_until.is_none());
        let v = staff_user(
            User {
                locked_until: Some(500),
                ..u
            },
            100,
        );
        assert!(v.locked && v.locked_until == Some(500));
    }
}
