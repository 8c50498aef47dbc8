//! What authentication needs of a user, in memory: the account as the store
//! last said (active, staff, lock, the profile fields; never the password
//! hash), so that an authenticated route that loads its caller (`api/me/`,
//! the staff check) does not read the database on every request.
//!
//! The store stays the authority. Every write that changes a user (an
//! update, a deletion, a login's `last_login`) appends a `users` entry to the
//! revocation feed in its own transaction ([`crate::store::Store::has_feed`]);
//! the node that wrote forgets the user as soon as the write returns, and
//! every other node when its [`crate::feed::FeedFollower`] applies the entry,
//! exactly as revocations travel. A node whose view of the feed is stale
//! refuses tokens altogether ([`crate::feed::RevocationView`]), so it never
//! answers from a cache it cannot vouch for.
//!
//! A read that misses fills the entry, unless a user write was applied while
//! the read was in flight (the generation moved): then its result may be
//! older than that write and is not kept. So the cache never holds a state
//! older than the last write it has been told of.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::ids::UserId;
use crate::model::User;

const SHARDS: usize = 16;
/// Entries per shard before an arbitrary one is dropped for a new one.
const SHARD_CAPACITY: usize = 65_536;

/// User ids are small integers: a multiplicative mix spreads them.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i64(&mut self, v: i64) {
        self.0 = (v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Map = HashMap<UserId, Arc<User>, BuildHasherDefault<IdHasher>>;

/// A ticket taken before a store read: the read's result may be kept only
/// if no user write was applied since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillTicket(u64);

/// Users by id, as the store last said, invalidated through the feed.
pub struct UserCache {
    shards: [RwLock<Map>; SHARDS],
    /// Moves on every invalidation; a fill whose ticket is older is dropped.
    generation: AtomicU64,
}

impl std::fmt::Debug for UserCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCache")
            .field("users", &self.len())
            .finish()
    }
}

impl Default for UserCache {
    fn default() -> Self {
        Self::new()
    }
}

impl UserCache {
    /// An empty cache.
    pub fn new() -> Self {
        UserCache {
            shards: std::array::from_fn(|_| RwLock::new(Map::default())),
            generation: AtomicU64::new(0),
        }
    }

    fn shard(&self, id: UserId) -> &RwLock<Map> {
        &self.shards[(id as u64 as usize) % SHARDS]
    }

    /// The cached user, if any.
    pub fn get(&self, id: UserId) -> Option<Arc<User>> {
        self.shard(id).read().get(&id).cloned()
    }

    /// Take before reading the store; hand to [`Self::fill`] with the result.
    pub fn ticket(&self) -> FillTicket {
        FillTicket(self.generation.load(Ordering::Acquire))
    }

    /// Keeps `user` (as read after `ticket` was taken) unless a write was
    /// applied since. Returns the shared copy either way.
    pub fn fill(&self, ticket: FillTicket, mut user: User) -> Arc<User> {
        // Never kept in memory longer than the read that needed it.
        user.password_hash = String::new();
        let user = Arc::new(user);
        let mut map = self.shard(user.id).write();
        // Checked under the shard lock: an invalidation bumps the generation
        // before it takes this lock to remove, so either it sees this entry
        // and removes it, or this check sees the new generation.
        if self.generation.load(Ordering::Acquire) == ticket.0 {
            if map.len() >= SHARD_CAPACITY
                && !map.contains_key(&user.id)
                && let Some(victim) = map.keys().next().copied()
            {
                map.remove(&victim);
            }
            map.insert(user.id, Arc::clone(&user));
        }
        user
    }

    /// Forgets these users (a write changed them, here or on another node).
    pub fn forget(&self, ids: &[UserId]) {
        if ids.is_empty() {
            return;
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        for id in ids {
            self.shard(*id).write().remove(id);
        }
    }

    /// Forgets everyone (the feed had a gap: any user may have changed).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for s in &self.shards {
            s.write().clear();
        }
    }

    /// Users held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    /// Nobody is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: UserId, staff: bool) -> User {
        User {
            id,
            username: format!("u{id}"),
            email: None,
            email_verified: false,
            password_hash: "$argon2id$secret".into(),
            is_active: true,
            is_staff: staff,
            created_at: 0,
            last_login: None,
            password_changed_at: None,
            locked_until: None,
        }
    }

    #[test]
    fn fills_are_kept_without_the_hash_and_forgotten_on_writes() {
        let cache = UserCache::new();
        assert!(cache.get(1).is_none());
        let t = cache.ticket();
        let u = cache.fill(t, user(1, false));
        assert!(u.password_hash.is_empty());
        assert_eq!(cache.get(1).unwrap().username, "u1");
        cache.forget(&[1]);
        assert!(cache.get(1).is_none());
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_kept() {
        let cache = UserCache::new();
        let t = cache.ticket();
        // The store read returns the old state; meanwhile the write commits
        // and its invalidation is applied.
        let old = user(7, true);
        cache.forget(&[7]);
        let served = cache.fill(t, old);
        assert!(served.is_staff, "the reader still gets what it read");
        assert!(cache.get(7).is_none(), "but it is not kept");
        // A read after the write is kept.
        let t = cache.ticket();
        cache.fill(t, user(7, false));
        assert!(!cache.get(7).unwrap().is_staff);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn a_full_shard_makes_room() {
        let cache = UserCache::new();
        let t = cache.ticket();
        // Ids that all land in shard 0.
        for i in 0..(SHARD_CAPACITY as i64 + 10) {
            cache.fill(t, user(i * SHARDS as i64, false));
        }
        assert_eq!(cache.len(), SHARD_CAPACITY);
    }
}
