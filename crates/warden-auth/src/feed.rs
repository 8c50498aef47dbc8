//! Keeping a node's in-memory revocation set in step with the database.
//!
//! Several `warden serve` nodes (or a server and the `warden` admin commands)
//! share one database. Each revocation is written there together with an
//! entry of the *revocation feed* (positions 1, 2, 3, ... in commit order, see
//! [`crate::store::Store::has_feed`]). A [`FeedFollower`] per node applies
//! new entries to the node's [`crate::RevocationSet`]: it waits on the store
//! ([`crate::store::Store::wait_for_feed`]: PostgreSQL's LISTEN/NOTIFY wakes
//! it at once, SQLite is polled), then reads everything after its cursor.
//! A gap in the positions (entries flushed while the node was cut off) makes
//! it re-read every live revocation instead.
//!
//! Failing closed: once a follower is attached, the node's
//! [`RevocationView`] accepts tokens only while its last successful catch-up
//! started less than `stale_after` ago. A node that cannot read the feed
//! (database unreachable, listener lost and not yet back) refuses every
//! authenticated request with `StoreError::Unavailable` (HTTP 503) instead of
//! trusting a set that may miss revocations; it accepts tokens again after
//! its next successful catch-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::clock::UnixTime;
use crate::ids::{Jti, SessionId, UserId};
use crate::model::{FeedEntry, LiveRevocations, RevocationReason};
use crate::service::AuthService;
use crate::store::{StoreError, StoreResult};

/// The bytes one feed item takes: a 16-byte id and an 8-byte big-endian instant.
pub(crate) const ITEM_BYTES: usize = 24;

/// What kind of ids a feed entry carries (stored as `as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// Revoked sessions, each with its `max_expires_at`; one reason for all.
    Sessions,
    /// One revoked jti with its `expires_at`.
    Jtis,
    /// Users whose stored state changed, each with the write's time: nodes
    /// forget what they hold of them ([`crate::UserCache`]).
    Users,
}

impl FeedKind {
    /// The name stored in the feed's `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Sessions => "sessions",
            FeedKind::Jtis => "jtis",
            FeedKind::Users => "users",
        }
    }

    /// The kind named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sessions" => Some(FeedKind::Sessions),
            "jtis" => Some(FeedKind::Jtis),
            "users" => Some(FeedKind::Users),
            _ => None,
        }
    }
}

/// Packs `(id, until)` pairs as the feed stores them: one row per
/// revoking transaction however many sessions it ended (a logout-all of
/// 10,000 sessions is one 240 KB value, not 10,000 rows).
pub fn encode_items(items: impl IntoIterator<Item = (u128, UnixTime)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, until) in items {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&until.to_be_bytes());
    }
    out
}

/// The inverse of [`encode_items`]; `None` when the length is not a whole number of items.
pub(crate) fn decode_items(bytes: &[u8]) -> Option<Vec<(u128, UnixTime)>> {
    if !bytes.len().is_multiple_of(ITEM_BYTES) {
        return None;
    }
    bytes
        .chunks_exact(ITEM_BYTES)
        .map(|c| {
            let id = <[u8; 16]>::try_from(&c[..16]).ok()?;
            let until = <[u8; 8]>::try_from(&c[16..]).ok()?;
            Some((u128::from_be_bytes(id), i64::from_be_bytes(until)))
        })
        .collect()
}

/// Packs the ids of users a write changed, for a [`FeedKind::Users`] entry.
pub fn encode_users(users: &[UserId], at: UnixTime) -> Vec<u8> {
    // User ids are positive (the stores never hand out others); a negative
    // one would not round-trip, so it is written as 0, which matches no one.
    encode_items(
        users
            .iter()
            .map(|id| (u128::try_from(*id).unwrap_or(0), at)),
    )
}

/// Builds a [`FeedEntry`] from a stored row; an error names what does not decode.
pub fn entry_from_row(
    seq: i64,
    at: UnixTime,
    kind: &str,
    reason: Option<&str>,
    items: &[u8],
) -> Result<FeedEntry, String> {
    let kind =
        FeedKind::parse(kind).ok_or_else(|| format!("feed entry {seq}: unknown kind `{kind}`"))?;
    let reason = match reason {
        None => None,
        Some(r) => Some(
            RevocationReason::parse(r)
                .ok_or_else(|| format!("feed entry {seq}: unknown reason `{r}`"))?,
        ),
    };
    let items = decode_items(items)
        .ok_or_else(|| format!("feed entry {seq}: items are {} bytes", items.len()))?;
    let mut revocations = LiveRevocations::default();
    let mut users = Vec::new();
    match kind {
        FeedKind::Sessions => {
            revocations.sessions = items
                .into_iter()
                .map(|(id, until)| (SessionId(id), until, reason))
                .collect();
        }
        FeedKind::Jtis => {
            revocations.jtis = items
                .into_iter()
                .map(|(id, until)| (Jti(id), until))
                .collect();
        }
        FeedKind::Users => {
            users = items
                .into_iter()
                .map(|(id, _)| {
                    UserId::try_from(id).map_err(|_| format!("feed entry {seq}: bad user id {id}"))
                })
                .collect::<Result<_, _>>()?;
        }
    }
    Ok(FeedEntry {
        seq,
        at,
        revocations,
        users,
    })
}

/// Whether this node's revocation set may be trusted now. Off (always
/// trusted) until a follower turns it on; then fresh for `stale_after` from
/// the start of each successful catch-up.
#[derive(Debug)]
pub struct RevocationView {
    base: Instant,
    enabled: AtomicBool,
    stale_after_ms: AtomicU64,
    /// Milliseconds after `base` until which the set counts as current.
    fresh_until_ms: AtomicU64,
}

impl Default for RevocationView {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationView {
    /// Off: the set is trusted until a follower turns the gate on.
    pub fn new() -> Self {
        RevocationView {
            base: Instant::now(),
            enabled: AtomicBool::new(false),
            stale_after_ms: AtomicU64::new(0),
            fresh_until_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// On the authentication path: one atomic load when no follower is
    /// attached, plus a monotonic clock read when one is.
    pub fn check(&self) -> Result<(), StoreError> {
        if !self.enabled.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Strictly before: a view enabled but never synced (fresh until 0)
        // is closed even in the first millisecond of the process.
        if self.now_ms() < self.fresh_until_ms.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                "this node's view of revocations is stale (the revocation feed could not be \
                 read recently); tokens are refused until it catches up"
                    .into(),
            ))
        }
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// True when a follower is attached and the view is current.
    pub fn is_fresh(&self) -> bool {
        self.is_enabled() && self.check().is_ok()
    }

    /// Turns the gate on: tokens are accepted only while the view is fresh.
    pub(crate) fn enable(&self, stale_after: Duration) {
        let ms = u64::try_from(stale_after.as_millis()).unwrap_or(u64::MAX);
        self.stale_after_ms.store(ms, Ordering::Relaxed);
        self.enabled.store(true, Ordering::Release);
    }

    /// Records a catch-up that started at `started_ms` and succeeded.
    fn synced(&self, started_ms: u64) {
        let until = started_ms.saturating_add(self.stale_after_ms.load(Ordering::Relaxed));
        self.fresh_until_ms.fetch_max(until, Ordering::AcqRel);
    }
}

/// How a follower waits and when its node stops trusting its set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowSettings {
    /// The longest wait between two catch-ups (the poll interval when the
    /// store cannot notify; a fallback when it can).
    pub poll: Duration,
    /// A node whose last successful catch-up started longer ago than this
    /// refuses tokens.
    pub stale_after: Duration,
    /// Entries read per query.
    pub page: u32,
}

impl Default for FollowSettings {
    fn default() -> Self {
        FollowSettings {
            poll: Duration::from_millis(500),
            stale_after: Duration::from_secs(5),
            page: 500,
        }
    }
}

/// What one catch-up did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Feed entries applied.
    pub entries: usize,
    /// True when a gap made it re-read every live revocation.
    pub full_reload: bool,
    /// The cursor afterwards.
    pub cursor: i64,
}

/// Applies the store's revocation feed to one node's [`AuthService`].
#[derive(Debug)]
pub struct FeedFollower {
    service: Arc<AuthService>,
    settings: FollowSettings,
    /// The last feed position applied.
    cursor: i64,
}

impl FeedFollower {
    /// A follower that has read nothing yet; [`Self::start`] does the first catch-up.
    pub fn new(service: Arc<AuthService>, settings: FollowSettings) -> Self {
        FeedFollower {
            service,
            settings,
            cursor: 0,
        }
    }

    /// The last feed position applied.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// The first catch-up: reads the head, then every live revocation (so
    /// nothing committed between the node's start and now is missed), turns
    /// the node's fail-closed gate on and marks it fresh. Errors when the
    /// store keeps no feed.
    pub fn start(&mut self) -> StoreResult<SyncReport> {
        if !self.service.store().has_feed() {
            return Err(StoreError::Backend(
                "this store keeps no revocation feed".into(),
            ));
        }
        let service = Arc::clone(&self.service);
        let view = service.revocation_view();
        let started = view.now_ms();
        self.full_reload()?;
        view.enable(self.settings.stale_after);
        view.synced(started);
        Ok(SyncReport {
            entries: 0,
            full_reload: true,
            cursor: self.cursor,
        })
    }

    /// The head first, then the live revocations: anything committed in
    /// between is read twice, which is harmless; nothing is missed.
    fn full_reload(&mut self) -> StoreResult<()> {
        let head = self.service.store().feed_head()?;
        // Any user may have changed while this node was not reading.
        self.service.user_cache().clear();
        self.service.reload_revocations().map_err(|e| match e {
            crate::AuthError::Store(e) => e,
            other => StoreError::Backend(other.to_string()),
        })?;
        self.cursor = head;
        Ok(())
    }

    /// Applies every entry after the cursor (or re-reads everything on a
    /// gap) and marks the node fresh as of the start of this call.
    pub fn sync(&mut self) -> StoreResult<SyncReport> {
        let service = Arc::clone(&self.service);
        let view = service.revocation_view();
        let started = view.now_ms();
        let mut report = SyncReport::default();
        loop {
            let page = self
                .service
                .store()
                .feed_since(self.cursor, self.settings.page)?;
            let expected = self.cursor.saturating_add(1);
            let gap = match page.entries.first() {
                Some(first) => first.seq != expected,
                None => page.head > self.cursor,
            };
            if gap || page.head < self.cursor {
                // Entries were flushed while this node was away (or the
                // database was replaced): re-read what is revoked.
                tracing::warn!(
                    cursor = self.cursor,
                    head = page.head,
                    "revocation feed has a gap; re-reading every live revocation"
                );
                self.full_reload()?;
                report.full_reload = true;
                break;
            }
            let n = page.entries.len();
            for entry in &page.entries {
                if entry.seq != self.cursor.saturating_add(1) {
                    return Err(StoreError::Corrupt(format!(
                        "revocation feed skips from {} to {}",
                        self.cursor, entry.seq
                    )));
                }
                self.service.apply_revocations(&entry.revocations);
                self.service.user_cache().forget(&entry.users);
                self.cursor = entry.seq;
                report.entries += 1;
            }
            if n < self.settings.page as usize || self.cursor >= page.head {
                break;
            }
        }
        view.synced(started);
        report.cursor = self.cursor;
        Ok(report)
    }

    /// Waits for the feed and catches up until `stop` is set. Errors are
    /// logged and retried after a pause; meanwhile the node goes stale and
    /// fails closed.
    pub fn run(mut self, stop: &AtomicBool) {
        let mut failing = false;
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = self.service.store().wait_for_feed(self.settings.poll) {
                if !failing {
                    tracing::warn!(error = %e, "cannot wait on the revocation feed");
                }
                failing = true;
                std::thread::sleep(self.settings.poll.min(Duration::from_millis(200)));
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
            match self.sync() {
                Ok(report) => {
                    if failing {
                        tracing::info!(cursor = report.cursor, "revocation feed reachable again");
                    }
                    failing = false;
                    if report.entries > 0 || report.full_reload {
                        tracing::debug!(
                            entries = report.entries,
                            full_reload = report.full_reload,
                            cursor = report.cursor,
                            "revocation feed applied"
                        );
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot read the revocation feed");
                    }
                    failing = true;
                    std::thread::sleep(self.settings.poll.min(Duration::from_millis(200)));
                }
            }
        }
    }

    /// Runs [`Self::run`] on a thread of its own.
    pub fn spawn(self, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("warden-feed".into())
            .spawn(move || self.run(&stop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_and_bad_lengths_are_refused() {
        let items = vec![(u128::MAX, i64::MIN), (7, 1_700_000_000), (0, -1)];
        let bytes = encode_items(items.clone());
        assert_eq!(bytes.len(), 3 * ITEM_BYTES);
        assert_eq!(decode_items(&bytes), Some(items));
        assert_eq!(decode_items(&bytes[1..]), None);
        assert_eq!(decode_items(&[]), Some(Vec::new()));
    }

    #[test]
    fn rows_decode_into_entries() {
        let bytes = encode_items([(5, 100)]);
        let e = entry_from_row(3, 9, "sessions", Some("logout"), &bytes).unwrap();
        assert_eq!(
            e.revocations.sessions,
            vec![(SessionId(5), 100, Some(RevocationReason::Logout))]
        );
        let e = entry_from_row(4, 9, "jtis", Some("revoked"), &bytes).unwrap();
        assert_eq!(e.revocations.jtis, vec![(Jti(5), 100)]);
        let e = entry_from_row(5, 9, "users", None, &encode_users(&[42, 7], 9)).unwrap();
        assert_eq!(e.users, vec![42, 7]);
        assert!(e.revocations.sessions.is_empty() && e.revocations.jtis.is_empty());
        assert!(entry_from_row(5, 9, "users", None, &encode_items([(u128::MAX, 9)])).is_err());
        assert!(entry_from_row(5, 9, "groups", None, &bytes).is_err());
        assert!(entry_from_row(5, 9, "sessions", Some("bored"), &bytes).is_err());
        assert!(entry_from_row(5, 9, "sessions", None, &bytes[2..]).is_err());
    }

    #[test]
    fn the_view_is_open_until_enabled_then_only_while_fresh() {
        let view = RevocationView::new();
        assert!(
            view.check().is_ok(),
            "no follower: nothing to be stale about"
        );
        view.enable(Duration::from_millis(50));
        assert!(
            matches!(view.check(), Err(StoreError::Unavailable(_))),
            "enabled but never synced: closed"
        );
        view.synced(view.now_ms());
        assert!(view.check().is_ok());
        std::thread::sleep(Duration::from_millis(120));
        assert!(matches!(view.check(), Err(StoreError::Unavailable(_))));
        view.synced(view.now_ms());
        assert!(view.is_fresh());
    }
}
