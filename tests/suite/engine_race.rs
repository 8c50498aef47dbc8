//! Concurrency on the engine: many threads, one token.

use std::sync::{Arc, Barrier};
use std::thread;

use warden_auth::model::{ClientInfo, RevocationReason};
use warden_auth::{AuthError, RefreshKind, Refreshed, Secs, Settings, TokenError};
use warden_tests::{Engine, test_settings};

fn hammer(e: &Engine, token: &str, threads: usize) -> Vec<Result<Refreshed, AuthError>> {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let service = e.service.clone();
            let barrier = barrier.clone();
            let token = token.to_string();
            thread::spawn(move || {
                barrier.wait();
                service.refresh(&token, &ClientInfo::default())
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn sixty_four_threads_refreshing_one_token_make_exactly_one_successor() {
    let e = Engine::new(test_settings()).unwrap();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    let results = hammer(&e, &pair.refresh.token, 64);
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one rotation wins");
    assert_eq!(winners[0].kind, RefreshKind::Rotated);
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(
                r,
                AuthError::Token(TokenError::Blacklisted(Some(
                    RevocationReason::ReuseDetected
                )))
            ),
            "{r:?}"
        );
    }
    // The losers' replays revoked the family: the winner's tokens are dead too.
    let successor = winners[0].refresh.as_ref().unwrap();
    assert!(
        e.service
            .refresh(&successor.token, &ClientInfo::default())
            .is_err()
    );
    assert!(e.service.authenticate(&winners[0].access.token).is_err());
    let tokens = e
        .service
        .store()
        .tokens_of_session(pair.session.id)
        .unwrap();
    assert_eq!(tokens.len(), 2, "never two successors: {tokens:#?}");
}

#[test]
fn with_grace_all_sixty_four_get_the_same_successor() {
    let e = Engine::new(Settings {
        REFRESH_GRACE_PERIOD: Secs(30),
        ..test_settings()
    })
    .unwrap();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    let results = hammer(&e, &pair.refresh.token, 64);
    let ok: Vec<_> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(
        ok.iter().filter(|r| r.kind == RefreshKind::Rotated).count(),
        1
    );
    assert_eq!(
        ok.iter()
            .filter(|r| r.kind == RefreshKind::GraceReplay)
            .count(),
        63
    );
    let first = &ok[0].refresh.as_ref().unwrap().token;
    assert!(
        ok.iter()
            .all(|r| &r.refresh.as_ref().unwrap().token == first)
    );
    // And that successor is a working head.
    e.service.refresh(first, &ClientInfo::default()).unwrap();
    let tokens = e
        .service
        .store()
        .tokens_of_session(pair.session.id)
        .unwrap();
    assert_eq!(tokens.len(), 3);
}

#[test]
fn refresh_racing_logout_never_leaves_a_working_token_behind() {
    let e = Engine::new(test_settings()).unwrap();
    e.user("alice").unwrap();
    for _ in 0..20 {
        let pair = e.login("alice").unwrap();
        let ctx = e.service.authenticate(&pair.access.token).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let (s1, s2) = (e.service.clone(), e.service.clone());
        let (b1, b2) = (barrier.clone(), barrier);
        let token = pair.refresh.token.clone();
        let token2 = token.clone();
        let refresher = thread::spawn(move || {
            b1.wait();
            s1.refresh(&token, &ClientInfo::default())
        });
        let logout = thread::spawn(move || {
            b2.wait();
            s2.logout(&ctx, &token2, &ClientInfo::default())
        });
        let refreshed = refresher.join().unwrap();
        let logged_out = logout.join().unwrap();
        // Whichever committed first, the session ends up dead.
        if let Ok(r) = &refreshed {
            assert!(e.service.authenticate(&r.access.token).is_err() || logged_out.is_err());
            if logged_out.is_ok() {
                assert!(
                    e.service
                        .refresh(&r.refresh.as_ref().unwrap().token, &ClientInfo::default())
                        .is_err()
                );
            }
        }
        if logged_out.is_ok() {
            assert!(e.service.authenticate(&pair.access.token).is_err());
        }
    }
}
