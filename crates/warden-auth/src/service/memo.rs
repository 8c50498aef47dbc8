//! What the store said and cannot take back, kept in memory: the verdicts on
//! refresh and sliding tokens that `api/token/verify/` checked, and sessions'
//! caps ([`SessionCaps`]).
//!
//! A token's row is written once (its session, its type, the digest of its
//! bytes) and changes at most once after: `rotated_at` is set when it is
//! rotated away. Its session's revocation is the revocation set's business,
//! checked before this. So "rotated away" is final, and "outstanding and
//! not rotated" is final too where a rotation cannot change the answer
//! (`BLACKLIST_AFTER_ROTATION` off, or a sliding token, which is never
//! rotated). Everything else goes to the store every time.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::clock::UnixTime;
use crate::ids::{Jti, SessionId};

const SHARDS: usize = 16;
const SHARD_CAPACITY: usize = 16_384;

/// One token's row as far as verification needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remembered {
    pub(crate) session: SessionId,
    /// Hex SHA-256 of the signing input, for refresh tokens (sliding tokens keep their jti).
    pub(crate) digest: Option<String>,
    /// The row had `rotated_at` set.
    pub(crate) rotated: bool,
    /// The token's expiry: past it, validation refuses it before this is asked.
    pub(crate) until: UnixTime,
}

/// Verdicts by jti.
#[derive(Debug)]
pub(crate) struct OutstandingMemo {
    shards: [Mutex<HashMap<u128, Remembered>>; SHARDS],
}

impl OutstandingMemo {
    pub(crate) fn new() -> Self {
        OutstandingMemo {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }

    fn shard(&self, jti: Jti) -> &Mutex<HashMap<u128, Remembered>> {
        &self.shards[(jti.0 >> 124) as usize % SHARDS]
    }

    pub(crate) fn get(&self, jti: Jti) -> Option<Remembered> {
        self.shard(jti).lock().get(&jti.0).cloned()
    }

    pub(crate) fn remember(&self, jti: Jti, r: Remembered) {
        let mut map = self.shard(jti).lock();
        if map.len() >= SHARD_CAPACITY
            && !map.contains_key(&jti.0)
            && let Some(victim) = map.keys().next().copied()
        {
            map.remove(&victim);
        }
        map.insert(jti.0, r);
    }

    /// Forgets tokens past their expiry.
    pub(crate) fn prune(&self, now: UnixTime) {
        for s in &self.shards {
            s.lock().retain(|_, r| r.until >= now);
        }
    }
}

/// Sessions' absolute caps (`max_expires_at`), which never change once a
/// session is written: a refresh needs its session's cap before it can
/// mint the successor, and asks the store only when this node has not seen
/// the session yet.
#[derive(Debug)]
pub(crate) struct SessionCaps {
    shards: [Mutex<HashMap<u128, UnixTime>>; SHARDS],
}

impl SessionCaps {
    const SHARD_CAPACITY: usize = 32_768;

    pub(crate) fn new() -> Self {
        SessionCaps {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }

    fn shard(&self, sid: SessionId) -> &Mutex<HashMap<u128, UnixTime>> {
        &self.shards[(sid.0 as usize) % SHARDS]
    }

    pub(crate) fn get(&self, sid: SessionId) -> Option<UnixTime> {
        self.shard(sid).lock().get(&sid.0).copied()
    }

    pub(crate) fn remember(&self, sid: SessionId, cap: UnixTime) {
        let mut map = self.shard(sid).lock();
        if map.len() >= Self::SHARD_CAPACITY
            && !map.contains_key(&sid.0)
            && let Some(victim) = map.keys().next().copied()
        {
            map.remove(&victim);
        }
        map.insert(sid.0, cap);
    }

    /// Forgets sessions past their cap (no token of theirs validates).
    pub(crate) fn prune(&self, now: UnixTime) {
        for s in &self.shards {
            s.lock().retain(|_, cap| *cap >= now);
        }
    }
}
