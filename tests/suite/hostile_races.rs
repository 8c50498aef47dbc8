//! Issue 7, races over real HTTP, repeated: parallel refresh of one token,
//! refresh racing logout / logout-all, and logout-all racing rotations of many
//! sessions. `WARDEN_HOSTILE_ROUNDS` scales every loop (default 1 = the
//! test command's size); the counts are printed.
#![cfg(test)]

use std::sync::Barrier;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use warden_tests::hostile::{Reply, Wire, text};
use warden_tests::http::TestServer;
use warden_tests::test_settings;

fn scale() -> usize {
    std::env::var("WARDEN_HOSTILE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or(1)
}

fn no_5xx(what: &str, r: &Reply) {
    assert!(r.status < 500, "{what}: {} {}", r.status, r.text);
}

/// N threads released together by a barrier, each running `f(i)`.
fn together<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (f, barrier) = (&f, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    f(i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn parallel_refresh_of_one_token_has_exactly_one_winner_every_round() {
    let srv = TestServer::start(test_settings());
    let w = Wire::of(&srv);
    srv.engine.user("alice").unwrap();
    let rounds = 40 * scale();
    let racers = 16;
    let mut refusals = 0;
    for round in 0..rounds {
        let (_, refresh) = w.login("alice").unwrap();
        let replies = together(racers, |_| w.refresh(&refresh));
        for r in &replies {
            no_5xx("refresh", r);
        }
        let winners: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {:?}",
            replies.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        for r in replies.iter().filter(|r| r.status != 200) {
            assert_eq!(r.status, 401, "round {round}: {}", r.text);
            assert_eq!(r.body["detail"], "Token is blacklisted", "round {round}");
            assert_eq!(r.body["code"], "token_not_valid");
            refusals += 1;
        }
        // The losers were replays of a rotated-away token: the family is gone,
        // the winner's fresh tokens included (reuse detection).
        let won = winners[0];
        assert_eq!(w.refresh(&text(&won.body["refresh"])).status, 401);
        assert!(!w.access_ok(&text(&won.body["access"])));
    }
    println!(
        "parallel refresh: {rounds} rounds x {racers} racers: {rounds} winners, {refusals} refusals"
    );
}

#[test]
fn refresh_racing_logout_never_outlives_the_logout() {
    let srv = TestServer::start(test_settings());
    let w = Wire::of(&srv);
    srv.engine.user("bob").unwrap();
    let rounds = 40 * scale();
    let (mut logout_won, mut refresh_won, mut both_ok) = (0, 0, 0);
    for round in 0..rounds {
        let (access, refresh) = w.login("bob").unwrap();
        // One refresh and one logout of the same refresh token, released together.
        let replies = together(2, |i| {
            if i == 0 {
                w.post("api/logout/", Some(&access), &json!({"refresh": refresh}))
            } else {
                w.refresh(&refresh)
            }
        });
        for r in &replies {
            no_5xx("race", r);
        }
        let logout = &replies[0];
        let refreshed: Vec<&Reply> = replies[1..].iter().filter(|r| r.status == 200).collect();
        assert!(
            logout.status == 200 || logout.status == 401,
            "round {round}: {}",
            logout.text
        );
        match (logout.status, refreshed.len()) {
            (200, 0) => logout_won += 1,
            (200, _) => both_ok += 1,
            _ => refresh_won += 1,
        }
        // Whatever the order, once both calls have answered: the logout (or the
        // reuse detection a late logout triggers) ended the family, so no
        // token of this session works, the ones issued during the race included.
        assert!(
            !w.access_ok(&access),
            "round {round}: old access alive after logout {} {} / refresh {} {}",
            logout.status,
            logout.text,
            replies[1].status,
            replies[1].text
        );
        for r in &refreshed {
            let (a, f) = (text(&r.body["access"]), text(&r.body["refresh"]));
            if logout.status == 200 {
                assert!(
                    !w.access_ok(&a),
                    "round {round}: access issued in the race outlived the logout"
                );
                assert_eq!(
                    w.refresh(&f).status,
                    401,
                    "round {round}: refresh issued in the race outlived the logout"
                );
            } else {
                // The logout lost (its token was rotated away): presenting a
                // rotated-away token is a replay, and the family is revoked
                // (before the fix the logout was refused and the session lived on).
                assert_eq!(
                    logout.body["reason"], "reuse_detected",
                    "round {round}: {}",
                    logout.text
                );
                assert_eq!(
                    logout.body["code"], "token_not_valid",
                    "round {round}: {}",
                    logout.text
                );
                assert!(
                    !w.access_ok(&a),
                    "round {round}: replayed family still authenticates"
                );
                assert_eq!(w.refresh(&f).status, 401, "round {round}");
            }
        }
    }
    println!(
        "refresh vs logout: {rounds} rounds: logout first {logout_won}, both acknowledged {both_ok}, refresh first {refresh_won}; nothing issued survived"
    );
}

#[test]
fn refresh_racing_logout_all_is_always_revoked() {
    let srv = TestServer::start(test_settings());
    let w = Wire::of(&srv);
    srv.engine.user("erin").unwrap();
    let rounds = 30 * scale();
    let mut issued_in_race = 0;
    for round in 0..rounds {
        let (access, refresh) = w.login("erin").unwrap();
        let replies = together(2, |i| {
            if i == 0 {
                w.post("api/logout-all/", Some(&access), &json!({}))
            } else {
                w.refresh(&refresh)
            }
        });
        for r in &replies {
            no_5xx("race", r);
        }
        assert_eq!(replies[0].status, 200, "round {round}: {}", replies[0].text);
        if replies[1].status == 200 {
            issued_in_race += 1;
            let (a, f) = (
                text(&replies[1].body["access"]),
                text(&replies[1].body["refresh"]),
            );
            assert!(
                !w.access_ok(&a),
                "round {round}: access issued in the race outlived logout-all"
            );
            assert_eq!(w.refresh(&f).status, 401, "round {round}");
        } else {
            assert_eq!(replies[1].status, 401, "round {round}: {}", replies[1].text);
        }
        assert!(!w.access_ok(&access));
        assert_eq!(w.refresh(&refresh).status, 401);
    }
    println!(
        "refresh vs logout-all: {rounds} rounds, {issued_in_race} rotations answered 200 in the race, all of them dead after logout-all"
    );
}

#[test]
fn logout_all_racing_rotations_of_many_sessions_leaves_nothing_alive() {
    let srv = TestServer::start(test_settings());
    let w = Wire::of(&srv);
    srv.engine.user("frank").unwrap();
    srv.engine.user("grace").unwrap();
    let rounds = 12 * scale();
    let sessions = 8;
    let (mut total_rotations, mut total_tokens, mut late_refusals) = (0, 0, 0);
    for round in 0..rounds {
        let chains: Vec<(String, String)> =
            (0..sessions).map(|_| w.login("frank").unwrap()).collect();
        let bystander = w.login("grace").unwrap();
        let issued: Mutex<Vec<(String, String)>> = Mutex::new(chains.clone());
        let stop = AtomicBool::new(false);
        let rotations = Mutex::new(0usize);
        let refused_after = Mutex::new(0usize);
        let logout_reply = std::thread::scope(|scope| {
            for (_, first) in &chains {
                let (issued, stop, rotations, refused_after, w) =
                    (&issued, &stop, &rotations, &refused_after, &w);
                scope.spawn(move || {
                    let mut current = first.clone();
                    loop {
                        let stopping = stop.load(Ordering::SeqCst);
                        let r = w.refresh(&current);
                        no_5xx("rotation", &r);
                        if r.status != 200 {
                            assert_eq!(r.status, 401, "{}", r.text);
                            if stopping {
                                *refused_after.lock().unwrap() += 1;
                            }
                            break;
                        }
                        // A rotation started after logout-all answered must not succeed.
                        assert!(
                            !stopping,
                            "a rotation started after logout-all returned succeeded"
                        );
                        *rotations.lock().unwrap() += 1;
                        let pair = (text(&r.body["access"]), text(&r.body["refresh"]));
                        current = pair.1.clone();
                        issued.lock().unwrap().push(pair);
                    }
                });
            }
            // Let the rotators run, then log out everywhere from one session.
            std::thread::sleep(std::time::Duration::from_millis(30));
            let r = w.post("api/logout-all/", Some(&chains[0].0), &json!({}));
            stop.store(true, Ordering::SeqCst);
            r
        });
        assert_eq!(
            logout_reply.status, 200,
            "round {round}: {}",
            logout_reply.text
        );
        let issued = issued.into_inner().unwrap();
        for (a, f) in &issued {
            assert!(
                !w.access_ok(a),
                "round {round}: an access token survived logout-all"
            );
            assert_eq!(
                w.refresh(f).status,
                401,
                "round {round}: a refresh token survived logout-all"
            );
        }
        // Another user's session is untouched.
        assert!(w.access_ok(&bystander.0));
        total_rotations += rotations.into_inner().unwrap();
        total_tokens += issued.len() * 2;
        late_refusals += refused_after.into_inner().unwrap();
    }
    println!(
        "logout-all vs rotations: {rounds} rounds x {sessions} sessions, {total_rotations} rotations during the race, {total_tokens} tokens checked dead afterwards, {late_refusals} rotations refused after logout-all"
    );
}
