//! The revocation feed (see `sqlite/0002_revocation_feed.sql` in crate
//! `warden-migrations`, and [`warden_auth::feed`]): one row per revoking
//! transaction, and one per write that changes a user, written inside it.

use rusqlite::{Connection, params};
use warden_auth::feed::{FeedKind, encode_items, encode_users, entry_from_row};
use warden_auth::model::{FeedPage, RevocationReason, RevokedJti, RevokedSession};
use warden_auth::{UnixTime, UserId};

use crate::error::{Error, Result};

/// How long flushed-out feed rows are kept at least (seconds): a node cut off
/// for less than this catches up from its cursor; one cut off longer re-reads
/// every live revocation.
pub(crate) const FEED_KEEP: i64 = 86_400;

fn append(
    conn: &Connection,
    at: UnixTime,
    kind: FeedKind,
    reason: Option<RevocationReason>,
    items: Vec<u8>,
) -> Result<i64> {
    // The single writer makes max + 1 gapless and in commit order; a job
    // rolled back to its savepoint takes its row with it.
    let seq: i64 = conn
        .prepare_cached("SELECT coalesce(max(seq), 0) + 1 FROM revocation_feed")?
        .query_row([], |r| r.get(0))?;
    conn.prepare_cached(
        "INSERT INTO revocation_feed (seq, at, kind, reason, items) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        seq,
        at,
        kind.as_str(),
        reason.map(RevocationReason::as_str),
        items
    ])?;
    Ok(seq)
}

/// Records revoked sessions (nothing when the list is empty).
pub(crate) fn sessions(conn: &Connection, at: UnixTime, revoked: &[RevokedSession]) -> Result<()> {
    let Some(first) = revoked.first() else {
        return Ok(());
    };
    let items = encode_items(revoked.iter().map(|s| (s.id.0, s.max_expires_at)));
    append(conn, at, FeedKind::Sessions, Some(first.reason), items)?;
    Ok(())
}

pub(crate) fn jti(conn: &Connection, r: &RevokedJti) -> Result<()> {
    let items = encode_items([(r.jti.0, r.expires_at)]);
    append(conn, r.revoked_at, FeedKind::Jtis, Some(r.reason), items)?;
    Ok(())
}

/// Records that a user's stored state changed (an update, a deletion, a
/// login's `last_login`), so every node forgets what it holds of them.
pub(crate) fn user(conn: &Connection, at: UnixTime, id: UserId) -> Result<()> {
    append(conn, at, FeedKind::Users, None, encode_users(&[id], at))?;
    Ok(())
}

pub(crate) fn head(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(seq), 0) FROM revocation_feed")?
        .query_row([], |r| r.get(0))?)
}

pub(crate) fn since(conn: &Connection, after: i64, limit: u32) -> Result<FeedPage> {
    let head = head(conn)?;
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, kind, reason, items FROM revocation_feed
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let entries = crate::rows::all(&mut stmt, params![after, limit.max(1)], |row| {
        let kind: String = row.get(2)?;
        let reason: Option<String> = row.get(3)?;
        let items: Vec<u8> = row.get(4)?;
        entry_from_row(row.get(0)?, row.get(1)?, &kind, reason.as_deref(), &items)
            .map_err(Error::Corrupt)
    })?;
    Ok(FeedPage { entries, head })
}

/// Drops rows older than `cutoff` and [`FEED_KEEP`], never the newest one.
pub(crate) fn flush(conn: &Connection, cutoff: UnixTime) -> Result<usize> {
    let cutoff = cutoff.min(cutoff.saturating_sub(FEED_KEEP));
    Ok(conn
        .prepare_cached(
            "DELETE FROM revocation_feed
             WHERE at < ?1 AND seq < (SELECT max(seq) FROM revocation_feed)",
        )?
        .execute([cutoff])?)
}
