//! Several engines on one database (issue 8), in process and deterministic:
//! the revocation feed carries one node's revocations into another node's
//! in-memory set, a gap makes the follower re-read everything, and a node
//! whose view is stale refuses tokens. The same over real processes and
//! PostgreSQL is crates/warden-cli/tests/cli/nodes.rs; the stores' own feed
//! checks are in the conformance suite.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use warden_auth::feed::{FeedFollower, FollowSettings};
use warden_auth::model::ClientInfo;
use warden_auth::{AuthError, AuthService, StoreError, TokenError};
use warden_tests::{Engine, T0, open_service, test_settings};

const DAY: i64 = 86_400;

fn settings(poll_ms: u64, stale_ms: u64) -> FollowSettings {
    FollowSettings {
        poll: Duration::from_millis(poll_ms),
        stale_after: Duration::from_millis(stale_ms),
        page: 2,
    }
}

/// Node A is `engine.service`; node B a second engine on the same file.
fn second_node(engine: &Engine) -> Arc<AuthService> {
    open_service(
        &engine.db_path(),
        &engine.settings,
        &engine.clock,
        &engine.keys,
    )
    .unwrap()
}

fn is_revoked(result: Result<warden_auth::AuthContext, AuthError>) -> bool {
    matches!(result, Err(AuthError::Token(TokenError::Blacklisted(_))))
}

#[test]
fn the_feed_carries_revocations_to_another_node() {
    let engine = Engine::new(test_settings()).unwrap();
    engine.user("alice").unwrap();
    let b = second_node(&engine);
    let mut follower = FeedFollower::new(b.clone(), settings(10, 60_000));
    follower.start().unwrap();

    let pair = engine.login("alice").unwrap();
    assert!(b.authenticate(&pair.access.token).is_ok());
    engine
        .service
        .blacklist(&pair.refresh.token, &ClientInfo::default())
        .unwrap();
    // A knows at once; B only once it has read the feed.
    assert!(is_revoked(engine.service.authenticate(&pair.access.token)));
    assert!(b.authenticate(&pair.access.token).is_ok(), "not read yet");
    let report = follower.sync().unwrap();
    // The login's entry (last_login moved) and the revocation's.
    assert_eq!(report.entries, 2);
    assert!(!report.full_reload);
    assert!(is_revoked(b.authenticate(&pair.access.token)));

    // Paged: five revocations read two at a time, all applied, cursor at the head.
    let pairs: Vec<_> = (0..5).map(|_| engine.login("alice").unwrap()).collect();
    for p in &pairs {
        engine
            .service
            .blacklist(&p.refresh.token, &ClientInfo::default())
            .unwrap();
    }
    let report = follower.sync().unwrap();
    assert_eq!(report.entries, 10, "five logins, five revocations");
    assert_eq!(report.cursor, b.store().feed_head().unwrap());
    assert!(
        pairs
            .iter()
            .all(|p| is_revoked(b.authenticate(&p.access.token)))
    );
    // Nothing new: nothing applied.
    assert_eq!(follower.sync().unwrap().entries, 0);
}

#[test]
fn a_gap_in_the_feed_makes_the_follower_reread_everything() {
    let engine = Engine::new(test_settings()).unwrap();
    engine.user("alice").unwrap();
    let b = second_node(&engine);
    let mut follower = FeedFollower::new(b.clone(), settings(10, 60_000));
    follower.start().unwrap();
    let pairs: Vec<_> = (0..3).map(|_| engine.login("alice").unwrap()).collect();
    for p in &pairs {
        engine
            .service
            .blacklist(&p.refresh.token, &ClientInfo::default())
            .unwrap();
    }
    // A flush two days on drops every feed entry but the newest (the
    // sessions stay: they are capped at 30 days), as if B had been cut off
    // for that long.
    engine
        .service
        .store()
        .flush_expired(T0 + 2 * DAY, 0)
        .unwrap();
    let page = engine.service.store().feed_since(0, 100).unwrap();
    assert_eq!(page.entries.len(), 1, "{page:?}");
    let report = follower.sync().unwrap();
    assert!(report.full_reload, "{report:?}");
    assert_eq!(report.cursor, page.head);
    assert!(
        pairs
            .iter()
            .all(|p| is_revoked(b.authenticate(&p.access.token)))
    );
}

#[test]
fn a_node_with_a_stale_view_refuses_tokens_until_it_catches_up() {
    let engine = Engine::new(test_settings()).unwrap();
    engine.user("alice").unwrap();
    let pair = engine.login("alice").unwrap();
    let b = second_node(&engine);
    // Without a follower the node trusts its set (single process, as before).
    assert!(b.authenticate(&pair.access.token).is_ok());
    let mut follower = FeedFollower::new(b.clone(), settings(10, 100));
    follower.start().unwrap();
    assert!(b.authenticate(&pair.access.token).is_ok());
    std::thread::sleep(Duration::from_millis(250));
    // Stale: refused as unavailable, never accepted unchecked.
    assert!(
        matches!(
            b.authenticate(&pair.access.token),
            Err(AuthError::Store(StoreError::Unavailable(_)))
        ),
        "a stale node must fail closed"
    );
    assert!(matches!(
        b.verify(&pair.access.token),
        Err(AuthError::Store(StoreError::Unavailable(_)))
    ));
    follower.sync().unwrap();
    assert!(b.authenticate(&pair.access.token).is_ok());
}

#[test]
fn the_follower_thread_keeps_a_node_current() {
    let engine = Engine::new(test_settings()).unwrap();
    engine.user("alice").unwrap();
    let b = second_node(&engine);
    let mut follower = FeedFollower::new(b.clone(), settings(5, 5_000));
    follower.start().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = follower.spawn(stop.clone()).unwrap();
    for _ in 0..20 {
        let pair = engine.login("alice").unwrap();
        assert!(b.authenticate(&pair.access.token).is_ok());
        engine
            .service
            .blacklist(&pair.refresh.token, &ClientInfo::default())
            .unwrap();
        let t0 = Instant::now();
        while !is_revoked(b.authenticate(&pair.access.token)) {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "the revocation did not reach the other node"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // And it stays fresh while the thread runs.
        assert!(b.revocation_view().is_fresh());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    thread.join().unwrap();
}

/// Staff rights, deactivation, a lock, a password change and a login on one
/// node reach the other node's user cache through the feed (SQLite: two
/// engines on one file; PostgreSQL: crates/warden-store-pg/tests/pg.rs).
#[test]
fn user_changes_reach_the_other_node() {
    let engine = Engine::new(warden_auth::Settings {
        ARGON2_MEMORY_KIB: 1024,
        ..test_settings()
    })
    .unwrap();
    let b = second_node(&engine);
    warden_store_conformance::nodes::user_changes_reach_every_node(
        &engine.service,
        &b,
        &engine.clock,
    );
}
