//! The rotation policy, as a pure function.
//!
//! A store reads the presented token, its session and its successor inside
//! one transaction, calls [`decide`], and executes the [`RotationWrites`] it
//! returns in the same transaction. That is what makes rotation race-free:
//! whatever the number of concurrent refreshes of one token, the store
//! serialises them, the first sees the token as the head and rotates it, and
//! every later one sees it rotated away. Which rows change, to what, and which
//! audit lines are written is decided here once, so the stores differ only in
//! their SQL.

use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;
use crate::ids::Jti;
use crate::model::{
    AuditEvent, AuditKind, OutstandingToken, RevocationReason, RevokeRequest, RevokeTarget,
    RotationOutcome, RotationRequest, Session,
};

/// The longest grace window the engine accepts (seconds).
pub(crate) const MAX_GRACE_PERIOD: i64 = 60;

/// The settings a rotation is decided by.
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

/// What a store writes for one rotation attempt, in the transaction that read
/// [`decide`]'s inputs; afterwards it returns [`RotationWrites::into_outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationWrites {
    /// Write nothing.
    Refuse(RotationRefusal),
    /// Set the presented token's `rotated_at` and `successor_jti`, insert
    /// `successor`, set the session row's `head_jti`, `expires_at`,
    /// `last_rotated_at` and `rotation_count` to `session`'s, append `audit`.
    ///
    /// `session` holds the values to write, not an increment: the store's
    /// transaction holds the row from the read to the write (PostgreSQL's
    /// `FOR UPDATE`, SQLite's single writer).
    Rotate {
        /// The presented token.
        rotated: Jti,
        /// When it was rotated away.
        rotated_at: UnixTime,
        /// The new head, to insert as it is.
        successor: OutstandingToken,
        /// The session as it is after the update.
        session: Session,
        /// The `rotated` line.
        audit: AuditEvent,
    },
    /// Append `audit` only: the existing successor is handed out again.
    GraceReplay {
        /// The session, unchanged.
        session: Session,
        /// The successor handed out the first time.
        successor: OutstandingToken,
        /// The `grace_replay` line.
        audit: AuditEvent,
    },
    /// Revoke the family as `revoke` says (the request carries the audit line).
    ReuseDetected {
        /// The revocation to carry out.
        revoke: RevokeRequest,
        /// The session as it is after the revocation.
        session: Session,
    },
}

impl RotationWrites {
    /// What `Store::rotate` returns once the writes are done.
    pub fn into_outcome(self) -> RotationOutcome {
        match self {
            RotationWrites::Refuse(refusal) => RotationOutcome::Refused(refusal),
            RotationWrites::Rotate {
                session, successor, ..
            } => RotationOutcome::Rotated { session, successor },
            RotationWrites::GraceReplay {
                session, successor, ..
            } => RotationOutcome::GraceReplay { session, successor },
            RotationWrites::ReuseDetected { session, .. } => {
                RotationOutcome::ReuseDetected { session }
            }
        }
    }
}

/// A rotation request the store must not carry out: a bug in the caller or
/// the store, never something a client can cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    /// The successor's `session_id` is not the presented token's.
    #[error("the prepared successor belongs to another session")]
    ForeignSuccessor,
    /// The store did not pass what it had to read (named).
    #[error("rotation decided without its {0}")]
    Missing(&'static str),
}

/// Decides a rotation from what the store read in its transaction: the
/// presented token (by `request.presented_jti`), its session, and its
/// existing successor, if it has one.
pub fn decide(
    request: &RotationRequest,
    presented: Option<OutstandingToken>,
    session: Option<Session>,
    successor: Option<OutstandingToken>,
) -> Result<RotationWrites, RotationError> {
    let decision = classify(
        &request.presented_signing_input_sha256,
        presented.as_ref(),
        session.as_ref(),
        successor.as_ref(),
        request.now,
        request.policy,
    );
    let now = request.now;
    let event = |kind: AuditKind, session: &Session| {
        AuditEvent::new(now, kind)
            .subject(session.user_id)
            .session(session.id)
            .jti(request.presented_jti)
            .address(request.address.clone())
    };
    let successor_detail = |successor: &OutstandingToken| serde_json::json!({ "successor": successor.jti.to_string() });
    Ok(match decision {
        RotationDecision::Refuse(refusal) => RotationWrites::Refuse(refusal),
        RotationDecision::Rotate => {
            let presented = required(presented, "presented token")?;
            let session = required(session, "session")?;
            if request.successor.session_id != session.id {
                return Err(RotationError::ForeignSuccessor);
            }
            let successor = OutstandingToken {
                parent_jti: Some(presented.jti),
                rotated_at: None,
                successor_jti: None,
                ..request.successor.clone()
            };
            let audit = event(AuditKind::Rotated, &session).detail(successor_detail(&successor));
            let session = Session {
                head_jti: successor.jti,
                expires_at: successor.expires_at,
                last_rotated_at: Some(now),
                rotation_count: session.rotation_count.saturating_add(1),
                ..session
            };
            RotationWrites::Rotate {
                rotated: presented.jti,
                rotated_at: now,
                successor,
                session,
                audit,
            }
        }
        RotationDecision::GraceReplay => {
            let session = required(session, "session")?;
            let successor = required(successor, "successor")?;
            let audit =
                event(AuditKind::GraceReplay, &session).detail(successor_detail(&successor));
            RotationWrites::GraceReplay {
                session,
                successor,
                audit,
            }
        }
        RotationDecision::ReuseDetected => {
            let session = required(session, "session")?;
            let revoke = RevokeRequest {
                target: RevokeTarget::Session(session.id),
                reason: RevocationReason::ReuseDetected,
                actor: None,
                now,
                audit: vec![
                    event(AuditKind::ReuseDetected, &session)
                        .reason("a rotated-away refresh token was presented again"),
                ],
            };
            // `classify` only detects reuse on a live session, so the
            // revocation changes this row.
            let session = Session {
                revoked_at: Some(now),
                revoked_reason: Some(revoke.reason),
                revoked_by: revoke.actor,
                ..session
            };
            RotationWrites::ReuseDetected { revoke, session }
        }
    })
}

fn required<T>(v: Option<T>, what: &'static str) -> Result<T, RotationError> {
    v.ok_or(RotationError::Missing(what))
}

/// Which way a rotation goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RotationDecision {
    /// Mark the presented token rotated, insert the prepared successor, move the session head.
    Rotate,
    /// Hand out the existing successor again; write nothing but an audit line.
    GraceReplay,
    /// Revoke the session (every token of the family) as reuse.
    ReuseDetected,
    Refuse(RotationRefusal),
}

/// `successor` is the presented token's existing successor, if it has one.
fn classify(
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
            classify("h1", Some(&t), Some(&s), None, NOW, STRICT),
            RotationDecision::Rotate
        );
    }

    #[test]
    fn unknown_token_is_refused() {
        assert_eq!(
            classify("h1", None, None, None, NOW, STRICT),
            RotationDecision::Refuse(RotationRefusal::NotOutstanding)
        );
    }

    #[test]
    fn wrong_bytes_for_a_known_jti_are_refused() {
        let sid = SessionId(7);
        let t = token(1, sid);
        let s = session(sid, 1);
        assert_eq!(
            classify("other", Some(&t), Some(&s), None, NOW, STRICT),
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
            classify("h1", Some(&t), Some(&s), None, NOW, STRICT),
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
            classify("h1", Some(&t), Some(&s), None, s.max_expires_at, STRICT),
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
            classify("h1", Some(&t), Some(&s), Some(&succ), NOW, STRICT),
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
            classify("h1", Some(&t), Some(&s), Some(&succ), NOW, GRACE),
            RotationDecision::GraceReplay
        );
        // One second past the window it is reuse.
        assert_eq!(
            classify("h1", Some(&t), Some(&s), Some(&succ), NOW + 1, GRACE),
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
            classify("h1", Some(&t), Some(&s), Some(&succ), NOW, GRACE),
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
            classify("h1", Some(&t), Some(&s), Some(&succ), NOW, huge),
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
            classify("h1", Some(&t), Some(&s), None, NOW, legacy),
            RotationDecision::Rotate
        );
    }

    fn request(
        presented: &OutstandingToken,
        successor: OutstandingToken,
        now: UnixTime,
        policy: RotationPolicy,
    ) -> RotationRequest {
        RotationRequest {
            presented_jti: presented.jti,
            presented_signing_input_sha256: presented.signing_input_sha256.clone(),
            successor,
            now,
            policy,
            address: Some("192.0.2.1".into()),
        }
    }

    #[test]
    fn a_rotation_writes_the_chain_the_head_and_one_audit_line() {
        let sid = SessionId(7);
        let t = token(1, sid);
        let s = session(sid, 1);
        let mut prepared = token(2, sid);
        prepared.expires_at = NOW + 2000;
        let writes = decide(
            &request(&t, prepared, NOW, STRICT),
            Some(t.clone()),
            Some(s.clone()),
            None,
        )
        .unwrap();
        let RotationWrites::Rotate {
            rotated,
            rotated_at,
            successor,
            session: after,
            audit,
        } = writes.clone()
        else {
            panic!("the head rotates: {writes:?}");
        };
        assert_eq!((rotated, rotated_at), (Jti(1), NOW));
        assert_eq!(successor.parent_jti, Some(Jti(1)));
        assert_eq!(successor.jti, Jti(2));
        assert_eq!(after.head_jti, Jti(2));
        assert_eq!(after.expires_at, NOW + 2000);
        assert_eq!(after.last_rotated_at, Some(NOW));
        assert_eq!(after.rotation_count, 1);
        assert_eq!(after.max_expires_at, s.max_expires_at);
        assert_eq!(audit.kind, AuditKind::Rotated);
        assert_eq!(audit.jti, Some(Jti(1)));
        assert_eq!(audit.session_id, Some(sid));
        assert_eq!(audit.address.as_deref(), Some("192.0.2.1"));
        assert_eq!(
            writes.into_outcome(),
            RotationOutcome::Rotated {
                session: after,
                successor
            }
        );
    }

    #[test]
    fn a_successor_of_another_session_is_an_error() {
        let sid = SessionId(7);
        let t = token(1, sid);
        let s = session(sid, 1);
        assert_eq!(
            decide(
                &request(&t, token(2, SessionId(8)), NOW, STRICT),
                Some(t.clone()),
                Some(s),
                None
            ),
            Err(RotationError::ForeignSuccessor)
        );
    }

    #[test]
    fn a_grace_replay_writes_only_its_audit_line() {
        let sid = SessionId(7);
        let mut t = token(1, sid);
        t.rotated_at = Some(NOW - 1);
        let succ = token(2, sid);
        let s = session(sid, 2);
        let writes = decide(
            &request(&t, token(3, sid), NOW, GRACE),
            Some(t),
            Some(s.clone()),
            Some(succ.clone()),
        )
        .unwrap();
        let RotationWrites::GraceReplay {
            session,
            successor,
            audit,
        } = writes
        else {
            panic!("a retry within the window is replayed: {writes:?}");
        };
        assert_eq!((session, successor), (s, succ));
        assert_eq!(audit.kind, AuditKind::GraceReplay);
    }

    #[test]
    fn reuse_revokes_the_session_and_says_why() {
        let sid = SessionId(7);
        let mut t = token(1, sid);
        t.rotated_at = Some(NOW - 1);
        let s = session(sid, 2);
        let writes = decide(
            &request(&t, token(3, sid), NOW, STRICT),
            Some(t),
            Some(s),
            Some(token(2, sid)),
        )
        .unwrap();
        let RotationWrites::ReuseDetected { revoke, session } = writes else {
            panic!("a rotated-away token is reuse: {writes:?}");
        };
        assert_eq!(revoke.target, RevokeTarget::Session(sid));
        assert_eq!(revoke.reason, RevocationReason::ReuseDetected);
        assert_eq!(revoke.actor, None);
        assert_eq!(revoke.now, NOW);
        assert_eq!(revoke.audit.len(), 1);
        assert_eq!(revoke.audit[0].kind, AuditKind::ReuseDetected);
        assert_eq!(session.revoked_at, Some(NOW));
        assert_eq!(
            session.revoked_reason,
            Some(RevocationReason::ReuseDetected)
        );
        assert_eq!(session.revoked_by, None);
    }

    #[test]
    fn a_refusal_writes_nothing() {
        let sid = SessionId(7);
        let t = token(1, sid);
        assert_eq!(
            decide(&request(&t, token(2, sid), NOW, STRICT), None, None, None),
            Ok(RotationWrites::Refuse(RotationRefusal::NotOutstanding))
        );
    }
}
