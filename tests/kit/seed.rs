//! Bulk sessions written straight through a store, for benchmarks (the
//! criterion benches here and `warden-bench seed` / `logout-probe`): what a
//! logout-all or a rotation is timed against.

use warden_auth::model::{
    AuditEvent, AuditKind, ClientInfo, NewSession, OutstandingToken, Session, SessionKind,
};
use warden_auth::{Jti, SessionId, Store, UnixTime, UserId};
use warden_proto::TokenType;

/// How long a seeded session and its token live, from `now`.
const DAY: i64 = 86_400;

/// Writes `total` live sessions created at `now`, session `i` owned by
/// `owner(i)`, from `threads` threads so that group commit batches them.
pub fn live_sessions(
    store: &dyn Store,
    now: UnixTime,
    total: usize,
    threads: usize,
    owner: impl Fn(usize) -> UserId + Sync,
) -> anyhow::Result<()> {
    let threads = threads.max(1);
    let owner = &owner;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || -> anyhow::Result<()> {
                    for i in (t..total).step_by(threads) {
                        store.open_session(&new_session(owner(i), now))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a seed thread panicked"))??;
        }
        Ok(())
    })
}

fn new_session(user: UserId, now: UnixTime) -> NewSession {
    let id = SessionId::random();
    let jti = Jti::random();
    NewSession {
        session: Session {
            id,
            user_id: user,
            kind: SessionKind::Pair,
            client: ClientInfo::default(),
            created_at: now,
            last_rotated_at: None,
            rotation_count: 0,
            head_jti: jti,
            expires_at: now + DAY,
            max_expires_at: now + 30 * DAY,
            revoked_at: None,
            revoked_reason: None,
            revoked_by: None,
        },
        // A placeholder digest: these sessions exist for their size, and no
        // token of theirs is ever presented.
        token: OutstandingToken {
            jti,
            session_id: id,
            user_id: user,
            token_type: TokenType::Refresh,
            signing_input_sha256: "0".repeat(64),
            kid: "seed".into(),
            issued_at: now,
            expires_at: now + DAY,
            parent_jti: None,
            rotated_at: None,
            successor_jti: None,
            address: None,
        },
        audit: vec![AuditEvent::new(now, AuditKind::LoginSucceeded).subject(user)],
    }
}
