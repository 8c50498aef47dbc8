//! The rotation policy, as a pure function.
//!
//! A store calls [`decide`] inside the transaction that reads the presented
//! token and its session, then applies the decision in the same transaction.
//! That is what makes rotation race-free: whatever the number of concurrent
//! refreshes of one token, the store serialises them, the first sees the token
//! as the head and rotates it, and every later one sees it rotated away.

use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;
use crate::model::{OutstandingToken, RevocationReason, Session};

/// The longest grace window the engine accepts (seconds).
pub const MAX_GRACE_PERIOD: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationPolicy {
    /// `BLACKLIST_AFTER_ROTATION`: a rotated-away token is dead. When off (SimpleJWT's
    /// legacy mode) an old token may rotate again and reuse cannot be detected.
    pub blacklist_after_rotation: bool,
    /// `REFRESH_GRACE_PERIOD` in seconds; 0 turns the grace window off.
    pub grace_period: i64,
}

/// Why a rotation was refused without changing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RotationRefusal {
    /// No outstanding token has that jti (never issued here, or flushed).
    NotOutstanding,
    /// The jti is known but the token bytes differ from what was issued.
    Mismatch,
    /// The session was revoked earlier.
    SessionRevoked(Option<RevocationReason>),
    /// The session reached its absolute cap, or the token its expiry.
    Expired,
}

/// What the store must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationDecision {
    /// Mark the presented token rotated, insert the prepared successor, move the session head.
    Rotate,
    /// Hand out the existing successor again; write nothing but an audit line.
    GraceReplay,
    /// Revoke the session (every token of the family) as reuse.
    ReuseDetected,
    Refuse(RotationRefusal),
}

/// Decides a rotation. `successor` is the presented token's existing successor, if it has one.
pub fn decide(
    presented_sha256: &str,
    token: Option<&OutstandingToken>,
    session: Option<&Session>,
    successor: Option<&OutstandingToken>,
    now: UnixTime,
    policy: RotationPolicy,
) -> RotationDecision {
    let (Some(token), Some(session)) = (token, session) else {
        return RotationDecision::Refuse(RotationRefusal::NotOutstanding);
    };
    if token.signing_input_sha256 != presented_sha256 || token.session_id != session.id {
        return RotationDecision::Refuse(RotationRefusal::Mismatch);
    }
    if session.is_revoked() {
        return RotationDecision::Refuse(RotationRefusal::SessionRevoked(session.revoked_reason));
    }
    if now >= session.max_expires_at || now >= token.expires_at {
        return RotationDecision::Refuse(RotationRefusal::Expired);
    }
    let Some(rotated_at) = token.rotated_at else {
        return RotationDecision::Rotate;
    };
    if !policy.blacklist_after_rotation {
        return RotationDecision::Rotate;
    }
    let grace = policy.grace_period.clamp(0, MAX_GRACE_PERIOD);
    let within_grace = grace > 0 && now.saturating_sub(rotated_at) <= grace;
    // Only a retry of the *immediately* previous token qualifies: its successor must
    // still be the session's head and unrotated. Anything older is reuse.
    let successor_is_head = successor
        .is_some_and(|s| s.rotated_at.is_none() && s.jti == session.head_jti && now < s.expires_at);
    if within_grace && successor_is_head {
        RotationDecision::GraceReplay
    } else {
        RotationDecision::ReuseDetected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Jti, SessionId};
    use crate::model::{ClientInfo, SessionKind};
    use warden_proto::TokenType;

    const NOW: UnixTime = 1_000_000;

    fn token(jti: u128, sid: SessionId) -> OutstandingToken {
        OutstandingToken {
            jti: Jti(jti),
            session_id: sid,
            user_id: 1,
            token_type: TokenType::Refresh,
            signing_input_sha256: format!("h{jti}"),
            kid: "k".into(),
            issued_at: NOW - 10,
            expires_at: NOW + 1000,
            parent_jti: None,
            rotated_at: None,
            successor_jti: None,
            address: None,
        }
    }

    fn session(sid: SessionId, head: u128) -> Session {
        Session {
            id: sid,
            user_id: 1,
            kind: SessionKind::Pair,
            client: ClientInfo::default(),
            created_at: NOW - 100,
            last_rotated_at: None,
            rotation_count: 0,
            head_jti: Jti(head),
            expires_at: NOW + 1000,
            max_expires_at: NOW + 10_000,
            revoked_at: None,
            revoked_reason: None,
            revoked_by: None,
        }
    }

    const STRICT: RotationPolicy = RotationPolicy {
        blacklist_after_rotation: true,
        grace_period: 0,
    };
    const GRACE: RotationPolicy = RotationPolicy {
        blacklist_after_rotation: true,
        grace_period: 30,
    };

    #[test]
    fn head_token_rotates() {
        let sid = SessionId(7);
        let t = token(1, sid);
        let s = session(sid, 1);
        assert_eq!(
            decide("h1", Some(&t), Some(&s), None, NOW, STRICT),
            RotationDecision::Rotate
        );
    }

    #[test]
    fn unknown_token_is_refused() {
        assert_eq!(
            decide("h1", None, None, None, NOW, STRICT),
            RotationDecision::Refuse(RotationRefusal::NotOutstanding)
        );
    }

    #[test]
    fn wrong_bytes_for_a_known_jti_are_refused() {
        let sid = SessionId(7);
        let t = token(1, sid);
        let s = session(sid, 1);
        assert_eq!(
            decide("other", Some(&t), Some(&s), None, NOW, STRICT),
            RotationDecision::Refuse(RotationRefusal::Mismatch)
        );
    }

    #[test]
    fn revoked_session_is_refused_with_its_reason() {
        let sid = SessionId(7);
        let t = token(1, sid);
        let mut s = session(sid, 1);
        s.revoked_at = Some(NOW - 1);
        s.revoked_reason = Some(RevocationReason::Logout);
        assert_eq!(
            decide("h1", Some(&t), Some(&s), None, NOW, STRICT),
            RotationDecision::Refuse(RotationRefusal::SessionRevoked(Some(
                RevocationReason::Logout
            )))
        );
    }

    #[test]
    fn session_cap_ends_rotation() {
        let sid = SessionId(7);
        let t = token(1, sid);
        let s = session(sid, 1);
        assert_eq!(
            decide("h1", Some(&t), Some(&s), None, s.max_expires_at, STRICT),
            RotationDecision::Refuse(RotationRefusal::Expired)
        );
    }

    #[test]
    fn rotated_away_token_is_reuse_without_grace() {
        let sid = SessionId(7);
        let mut t = token(1, sid);
        t.rotated_at = Some(NOW - 1);
        t.successor_jti = Some(Jti(2));
        let succ = token(2, sid);
        let s = session(sid, 2);
        assert_eq!(
            decide("h1", Some(&t), Some(&s), Some(&succ), NOW, STRICT),
            RotationDecision::ReuseDetected
        );
    }

    #[test]
    fn retry_within_grace_gets_the_same_successor() {
        let sid = SessionId(7);
        let mut t = token(1, sid);
        t.rotated_at = Some(NOW - 30);
        let succ = token(2, sid);
        let s = session(sid, 2);
        assert_eq!(
            decide("h1", Some(&t), Some(&s), Some(&succ), NOW, GRACE),
            RotationDecision::GraceReplay
        );
        // One second past the window it is reuse.
        assert_eq!(
            decide("h1", Some(&t), Some(&s), Some(&succ), NOW + 1, GRACE),
            RotationDecision::ReuseDetected
        );
    }

    #[test]
    fn grace_only_covers_the_immediately_previous_token() {
        let sid = SessionId(7);
        let mut t = token(1, sid);
        t.rotated_at = Some(NOW - 2);
        let mut succ = token(2, sid);
        succ.rotated_at = Some(NOW - 1);
        let s = session(sid, 3);
        assert_eq!(
            decide("h1", Some(&t), Some(&s), Some(&succ), NOW, GRACE),
            RotationDecision::ReuseDetected
        );
    }

    #[test]
    fn grace_is_capped_at_sixty_seconds() {
        let sid = SessionId(7);
        let mut t = token(1, sid);
        t.rotated_at = Some(NOW - 61);
        let succ = token(2, sid);
        let s = session(sid, 2);
        let huge = RotationPolicy {
            blacklist_after_rotation: true,
            grace_period: 3600,
        };
        assert_eq!(
            decide("h1", Some(&t), Some(&s), Some(&succ), NOW, huge),
            RotationDecision::ReuseDetected
        );
    }

    #[test]
    fn legacy_mode_lets_old_tokens_rotate_again() {
        let sid = SessionId(7);
        let mut t = token(1, sid);
        t.rotated_at = Some(NOW - 1);
        let s = session(sid, 2);
        let legacy = RotationPolicy {
            blacklist_after_rotation: false,
            grace_period: 0,
        };
        assert_eq!(
            decide("h1", Some(&t), Some(&s), None, NOW, legacy),
            RotationDecision::Rotate
        );
    }
}
