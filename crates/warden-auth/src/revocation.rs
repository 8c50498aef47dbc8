//! The in-memory revocation set: what makes a revoked session's access
//! tokens die at once instead of when they expire.
//!
//! It holds revoked session ids and revoked jtis, each only until the last
//! token it could match has expired. The database stays the authority; the set
//! is rebuilt from it on start. Lookups are on every authenticated request, so
//! the set is sharded (readers on different shards never touch the same lock)
//! and keyed by the 128-bit ids themselves, which are already uniformly random.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use parking_lot::RwLock;

use crate::clock::UnixTime;
use crate::ids::{Jti, SessionId};
use crate::model::{LiveRevocations, RevocationReason};

const SHARDS: usize = 16;

/// Ids are random 128-bit values: folding them is as good a hash as any, and free.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for non-u128 keys, which this module never uses; stay correct anyway.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 = (v as u64) ^ ((v >> 64) as u64);
    }
}

/// Until when an entry matters, and why it is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    until: UnixTime,
    reason: Option<RevocationReason>,
}

type IdMap = HashMap<u128, Entry, BuildHasherDefault<IdHasher>>;

struct Sharded {
    shards: [RwLock<IdMap>; SHARDS],
}

impl Sharded {
    fn new() -> Self {
        Sharded {
            shards: std::array::from_fn(|_| RwLock::new(IdMap::default())),
        }
    }

    fn shard(&self, id: u128) -> &RwLock<IdMap> {
        // The high bits pick the shard; the map hashes with the low bits mixed in.
        &self.shards[(id >> 124) as usize % SHARDS]
    }

    fn insert(&self, id: u128, until: UnixTime, reason: Option<RevocationReason>) {
        let mut map = self.shard(id).write();
        // The first reason stays: it is what ended the session.
        let e = map.entry(id).or_insert(Entry { until, reason });
        e.until = e.until.max(until);
    }

    /// `None` when not revoked; `Some(reason)` when revoked.
    fn get(&self, id: u128) -> Option<Option<RevocationReason>> {
        self.shard(id).read().get(&id).map(|e| e.reason)
    }

    fn prune(&self, now: UnixTime) -> usize {
        let mut removed = 0;
        for s in &self.shards {
            let mut map = s.write();
            let before = map.len();
            map.retain(|_, e| e.until >= now);
            removed += before - map.len();
        }
        removed
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }
}

/// Revoked session ids and jtis, each kept until its tokens would have
/// expired anyway.
pub struct RevocationSet {
    sessions: Sharded,
    jtis: Sharded,
}

impl std::fmt::Debug for RevocationSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationSet")
            .field("sessions", &self.sessions.len())
            .field("jtis", &self.jtis.len())
            .finish()
    }
}

impl Default for RevocationSet {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationSet {
    /// An empty set.
    pub fn new() -> Self {
        RevocationSet {
            sessions: Sharded::new(),
            jtis: Sharded::new(),
        }
    }

    /// Builds the set from what the store says is still revoked.
    pub(crate) fn from_live(live: &LiveRevocations, keep_for: i64) -> Self {
        let set = Self::new();
        set.apply_live(live, keep_for);
        set
    }

    /// Adds what the store says is revoked (a feed entry, or a full re-read
    /// after a gap). Adding is idempotent: an entry already held keeps its
    /// first reason and the later horizon. Returns how many ids were applied.
    pub(crate) fn apply_live(&self, live: &LiveRevocations, keep_for: i64) -> usize {
        for (sid, max_exp, reason) in &live.sessions {
            self.sessions
                .insert(sid.0, max_exp.saturating_add(keep_for), *reason);
        }
        for (jti, exp) in &live.jtis {
            self.revoke_jti(*jti, exp.saturating_add(keep_for));
        }
        live.sessions.len() + live.jtis.len()
    }

    /// Remembers `sid` as revoked until `until` (past it no token of the session validates).
    pub fn revoke_session(&self, sid: SessionId, until: UnixTime) {
        self.sessions.insert(sid.0, until, None);
    }

    /// Like [`Self::revoke_session`], remembering why, so a refusal can say so
    /// without asking the store.
    pub(crate) fn revoke_session_for(
        &self,
        sid: SessionId,
        until: UnixTime,
        reason: RevocationReason,
    ) {
        self.sessions.insert(sid.0, until, Some(reason));
    }

    /// Remembers `jti` as revoked until `until` (its expiry).
    pub fn revoke_jti(&self, jti: Jti, until: UnixTime) {
        self.jtis
            .insert(jti.0, until, Some(RevocationReason::Revoked));
    }

    /// Whether the session is held as revoked.
    pub fn is_session_revoked(&self, sid: SessionId) -> bool {
        self.sessions.get(sid.0).is_some()
    }

    /// `Some(reason)` when the session is revoked (the reason itself may be unknown).
    pub(crate) fn session_revocation(&self, sid: SessionId) -> Option<Option<RevocationReason>> {
        self.sessions.get(sid.0)
    }

    pub(crate) fn is_jti_revoked(&self, jti: Jti) -> bool {
        self.jtis.get(jti.0).is_some()
    }

    /// Forgets entries whose tokens have all expired. Returns how many went.
    pub fn prune(&self, now: UnixTime) -> usize {
        self.sessions.prune(now) + self.jtis.prune(now)
    }

    /// (revoked sessions, revoked jtis) currently held.
    pub fn len(&self) -> (usize, usize) {
        (self.sessions.len(), self.jtis.len())
    }

    /// Nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn revoked_ids_are_found_and_others_not() {
        let set = RevocationSet::new();
        let (a, b) = (SessionId::random(), SessionId::random());
        set.revoke_session(a, 100);
        assert!(set.is_session_revoked(a));
        assert!(!set.is_session_revoked(b));
        // Sessions and jtis are separate name spaces.
        assert!(!set.is_jti_revoked(Jti(a.0)));
    }

    #[test]
    fn prune_keeps_entries_until_their_tokens_expire() {
        let set = RevocationSet::new();
        let (a, b) = (SessionId::random(), Jti::random());
        set.revoke_session(a, 100);
        set.revoke_jti(b, 200);
        assert_eq!(set.prune(100), 0);
        assert_eq!(set.prune(101), 1);
        assert!(!set.is_session_revoked(a));
        assert!(set.is_jti_revoked(b));
        assert_eq!(set.len(), (0, 1));
    }

    #[test]
    fn revoking_twice_keeps_the_later_horizon() {
        let set = RevocationSet::new();
        let a = SessionId::random();
        set.revoke_session(a, 500);
        set.revoke_session(a, 100);
        set.prune(400);
        assert!(set.is_session_revoked(a));
    }

    #[test]
    fn rebuilt_from_the_store() {
        let (s, j) = (SessionId::random(), Jti::random());
        let live = LiveRevocations {
            sessions: vec![(s, 1_000, Some(RevocationReason::Logout))],
            jtis: vec![(j, 2_000)],
        };
        let set = RevocationSet::from_live(&live, 10);
        assert!(set.is_session_revoked(s) && set.is_jti_revoked(j));
        assert_eq!(
            set.session_revocation(s),
            Some(Some(RevocationReason::Logout))
        );
        set.prune(1_010);
        assert!(set.is_session_revoked(s));
        set.prune(1_011);
        assert!(!set.is_session_revoked(s));
    }

    proptest! {
        /// The set agrees with a plain model map under any sequence of revokes and prunes.
        #[test]
        fn matches_a_model(ops in proptest::collection::vec((any::<u8>(), 0i64..100, any::<bool>()), 1..200)) {
            let set = RevocationSet::new();
            let mut model: HashMap<u128, i64> = HashMap::new();
            for (id, t, prune) in ops {
                // Spread small ids across shards by putting them in the high bits too.
                let id = (u128::from(id) << 120) | u128::from(id);
                if prune {
                    set.prune(t);
                    model.retain(|_, u| *u >= t);
                } else {
                    set.revoke_session(SessionId(id), t);
                    let e = model.entry(id).or_insert(t);
                    *e = (*e).max(t);
                }
                for k in 0..=255u128 {
                    let key = (k << 120) | k;
                    prop_assert_eq!(set.is_session_revoked(SessionId(key)), model.contains_key(&key));
                }
            }
            prop_assert_eq!(set.len().0, model.len());
        }
    }
}
