//! SessionManager against a real Warden server on the real clock: rotation
//! under load, server-side revocation, reuse detection, an unreachable server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use warden_auth::Actor;
use warden_auth::model::AuditKind;
use warden_client::{ClientError, Event, ManagerConfig, Phase, SignOutReason, Vault};
use warden_tests::PASSWORD;
use warden_tests::client::{
    LiveServer, memory_manager, short_lived, test_manager_config, wait_for_event,
};

/// The scenario: 2-second access tokens, 50 tasks asking for a token
/// and using it on `GET api/me/` for 30 seconds. No caller may ever hold a
/// token the server refuses, and every rotation is exactly one refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_under_load_is_single_flight_and_never_hands_out_a_dead_token() {
    const TASKS: usize = 50;
    const RUN: Duration = Duration::from_secs(30);
    let server = LiveServer::start(short_lived(2, 300)).unwrap();
    let config = ManagerConfig {
        // 2-second tokens carry whole-second `iat`s, so they live 1–2 s once
        // received; rotating at 40 % of what is left keeps every handed-out
        // token valid for at least 0.6 s on a loaded 2-core machine.
        rotate_fraction: 0.4,
        event_capacity: 16_384,
        ..test_manager_config()
    };
    let vault = Arc::new(warden_client::MemoryVault::new());
    let m = warden_tests::client::manager(&server.base_url(), vault.clone(), config).unwrap();
    m.login("alice", PASSWORD).await.unwrap();
    let mut events = m.subscribe();
    // Rotations and refresh requests as the manager reported them.
    let rotated_events = Arc::new(AtomicUsize::new(0));
    let refresh_exchanges = Arc::new(AtomicUsize::new(0));
    let lagged = Arc::new(AtomicUsize::new(0));
    let counter = tokio::spawn({
        let (rotated_events, refresh_exchanges, lagged) = (
            rotated_events.clone(),
            refresh_exchanges.clone(),
            lagged.clone(),
        );
        async move {
            loop {
                match events.recv().await {
                    Ok(Event::Rotated { .. }) => {
                        rotated_events.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Event::Exchange(x)) if x.path == "api/token/refresh/" => {
                        assert_eq!(x.status, Some(200), "{x:?}");
                        refresh_exchanges.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        lagged.fetch_add(n as usize, Ordering::SeqCst);
                    }
                    Err(_) => break,
                }
            }
        }
    });

    let started = Instant::now();
    let failures = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let m = m.clone();
            let failures = failures.clone();
            tokio::spawn(async move {
                // Spread the tasks over the first 100 ms.
                tokio::time::sleep(Duration::from_millis(2 * i as u64)).await;
                let mut calls = 0u64;
                while started.elapsed() < RUN {
                    match m.access_token().await {
                        Ok(token) => match m.client().me(&token).await {
                            Ok(me) => assert_eq!(me.username, "alice"),
                            Err(e) => {
                                failures.fetch_add(1, Ordering::SeqCst);
                                eprintln!("task {i}: token refused: {e}");
                            }
                        },
                        Err(e) => {
                            failures.fetch_add(1, Ordering::SeqCst);
                            eprintln!("task {i}: no token: {e}");
                        }
                    }
                    calls += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                calls
            })
        })
        .collect();
    let mut calls = 0;
    for t in tasks {
        calls += t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let state = m.state();
    let rotations = state.rotation_count;
    // Refreshes the server performed (one audit line each)...
    let server_rotations = server.audit_count(AuditKind::Rotated).unwrap() as u64;
    // ...and refresh requests the manager sent, from its exchange events.
    tokio::time::sleep(Duration::from_millis(100)).await;
    counter.abort();
    let refresh_exchanges = refresh_exchanges.load(Ordering::SeqCst) as u64;
    let lagged = lagged.load(Ordering::SeqCst);
    let interval = elapsed / rotations.max(1) as f64;
    eprintln!(
        "load: {calls} calls by {TASKS} tasks in {elapsed:.1} s, {rotations} rotations \
         (server: {server_rotations}, events: {}, refresh requests: {refresh_exchanges}, \
         events lost: {lagged}), one every {interval:.2} s",
        rotated_events.load(Ordering::SeqCst)
    );
    assert_eq!(
        failures.load(Ordering::SeqCst),
        0,
        "callers saw refused tokens"
    );
    assert!(calls >= (TASKS as u64) * 200, "{calls}");
    assert_eq!(
        server_rotations, rotations,
        "exactly one refresh per rotation"
    );
    if lagged == 0 {
        assert_eq!(rotated_events.load(Ordering::SeqCst) as u64, rotations);
        assert_eq!(
            refresh_exchanges, rotations,
            "one refresh request per rotation"
        );
    } else {
        eprintln!("note: the event counter lagged by {lagged}; event counts not compared");
    }
    // Rotation at 40 % of the remaining 1–2 s: every 0.4–0.8 s.
    assert!(
        (0.3..=1.0).contains(&interval),
        "rotation every {interval:.2} s ({rotations} in {elapsed:.1} s)"
    );
    assert_eq!(state.phase, Phase::Active);
    // The vault holds the latest refresh token.
    let stored = vault.load(m.server_key(), "alice").unwrap().unwrap();
    let stored_jti = warden_client::decode_claims(&stored).unwrap().jti;
    assert_eq!(stored_jti, state.refresh.unwrap().jti);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_revoked_on_the_server_ends_here_and_leaves_no_vault_entry() {
    let server = LiveServer::start(short_lived(2, 300)).unwrap();
    // One manager finds out at its next rotation, the other on its next request.
    let (scheduled, scheduled_vault) = memory_manager(&server.base_url()).unwrap();
    let (requesting, requesting_vault) = memory_manager(&server.base_url()).unwrap();
    scheduled.login("alice", PASSWORD).await.unwrap();
    requesting.login("alice", PASSWORD).await.unwrap();
    assert_eq!(scheduled_vault.len(), 1);
    let mut events = scheduled.subscribe();

    let ended = server
        .service
        .end_sessions(
            &Actor::System,
            server.alice_id,
            "",
            &warden_auth::model::ClientInfo::default(),
        )
        .unwrap();
    assert_eq!(ended.count(), 2);
    let revoked = SignOutReason::Revoked {
        cause: Some("staff_revoked".into()),
    };

    let e = requesting.me().await.unwrap_err();
    assert_eq!(e, ClientError::SignedOut(revoked.clone()));
    assert!(requesting_vault.is_empty());

    wait_for_event(
        &mut events,
        Duration::from_secs(5),
        |e| matches!(e, Event::StateChanged(s) if matches!(s.phase, Phase::SignedOut { .. })),
    )
    .await
    .unwrap();
    assert_eq!(
        scheduled.state().phase,
        Phase::SignedOut {
            reason: Some(revoked)
        }
    );
    assert!(scheduled_vault.is_empty());
    assert!(!scheduled.state().vault.stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_refresh_token_ends_the_session_as_reuse_detected() {
    let server = LiveServer::start(short_lived(300, 600)).unwrap();
    let (m, vault) = memory_manager(&server.base_url()).unwrap();
    m.login("alice", PASSWORD).await.unwrap();
    let first = vault.load(m.server_key(), "alice").unwrap().unwrap();
    m.rotate_now().await.unwrap();
    // Someone replays the rotated-away token: Warden revokes the whole family.
    assert_eq!(
        m.client().refresh(&first).await.unwrap_err(),
        ClientError::ReuseDetected
    );
    let last = m.timeline().pop().unwrap();
    assert_eq!(
        (
            last.status,
            last.error_code.as_deref(),
            last.reason.as_deref()
        ),
        (Some(401), Some("token_not_valid"), Some("reuse_detected"))
    );
    assert_eq!(
        m.rotate_now().await.unwrap_err(),
        ClientError::SignedOut(SignOutReason::ReuseDetected)
    );
    assert_eq!(
        m.state().phase,
        Phase::SignedOut {
            reason: Some(SignOutReason::ReuseDetected)
        }
    );
    assert!(vault.is_empty());
    assert_eq!(server.audit_count(AuditKind::ReuseDetected).unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_means_offline_with_back_off_then_recovery() {
    let mut server = LiveServer::start(short_lived(2, 300)).unwrap();
    let (m, vault) = memory_manager(&server.base_url()).unwrap();
    m.login("alice", PASSWORD).await.unwrap();
    let mut events = m.subscribe();
    server.stop_http().unwrap();

    // Retries back off: 200 ms, 400 ms, 800 ms, then 1 s (± jitter).
    let mut delays = Vec::new();
    while delays.len() < 3 {
        let e = wait_for_event(
            &mut events,
            Duration::from_secs(10),
            |e| matches!(e, Event::StateChanged(s) if matches!(s.phase, Phase::Offline { .. })),
        )
        .await
        .unwrap();
        let Event::StateChanged(s) = e else {
            unreachable!()
        };
        let Phase::Offline {
            retry_in_ms,
            attempt,
            cause,
        } = s.phase
        else {
            unreachable!()
        };
        assert!(cause.contains("connect"), "{cause}");
        assert_eq!(s.user.as_deref(), Some("alice"), "the session is kept");
        delays.push((attempt, retry_in_ms));
    }
    assert_eq!(
        delays.iter().map(|d| d.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(delays[0].1 <= 250 && delays[2].1 >= 600, "{delays:?}");
    assert!(delays.iter().all(|d| d.1 <= 1000), "{delays:?}");
    assert!(vault.load(m.server_key(), "alice").unwrap().is_some());
    let offline = m.timeline().pop().unwrap();
    assert_eq!(offline.status, None);
    assert_eq!(offline.error_code.as_deref(), Some("connect"));

    // The access token has expired by now: callers are told why, not signed out.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    match m.access_token().await {
        Err(ClientError::Offline { .. } | ClientError::Network { .. }) => {}
        other => panic!("expected offline, got {other:?}"),
    }

    server.start_http().unwrap();
    wait_for_event(&mut events, Duration::from_secs(5), |e| {
        matches!(e, Event::Rotated { .. })
    })
    .await
    .unwrap();
    assert_eq!(m.state().phase, Phase::Active);
    assert_eq!(m.me().await.unwrap().username, "alice");
}

/// The raw client against Warden: every route answers in the shape the client
/// types expect, and refusals come back as the matching error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_client_speaks_every_warden_route() {
    use warden_client::{AuditSearch, Feature, UserSearch};

    let server = LiveServer::start(short_lived(300, 600)).unwrap();
    let c = warden_tests::client::client(&server.base_url()).unwrap();
    assert_eq!(c.hello().await.unwrap()["hello"], "world");
    let caps = c.capabilities().await.unwrap().unwrap();
    for f in Feature::ALL {
        assert!(c.supports(f).await.unwrap(), "{f:?} in {:?}", caps.features);
    }
    assert!(c.jwks().await.unwrap()["keys"].as_array().is_some());

    // SimpleJWT's routes.
    assert_eq!(
        c.obtain_pair("alice", "wrong password").await.unwrap_err(),
        ClientError::InvalidCredentials
    );
    let pair = c.obtain_pair("alice", PASSWORD).await.unwrap();
    c.verify(&pair.access).await.unwrap();
    assert_eq!(
        c.verify("not.a.token").await.unwrap_err(),
        ClientError::TokenNotValid {
            message: "Token is invalid".into(),
            reason: Some(warden_proto::Reason::Malformed)
        }
    );
    assert!(matches!(
        c.refresh(&pair.access).await.unwrap_err(),
        ClientError::TokenNotValid { message, .. } if message == "Token has wrong type"
    ));
    let sliding = c.obtain_sliding("bob", PASSWORD).await.unwrap();
    let slid = c.refresh_sliding(&sliding).await.unwrap();
    assert_eq!(
        warden_client::decode_claims(&slid)
            .unwrap()
            .token_type
            .as_deref(),
        Some("sliding")
    );
    let a = pair.access.as_str();
    let me = c.me(a).await.unwrap();
    assert_eq!(me.username, "alice");
    let sid = me.session_id.clone().unwrap();

    // Warden's routes for the user.
    let sessions = c.sessions(a, false).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].current && sessions[0].id == sid);
    let info = c.introspect(a, &pair.refresh).await.unwrap();
    assert!(info.active);
    assert_eq!(info.token_type.as_deref(), Some("refresh"));
    assert_eq!(info.sid.as_deref(), Some(sid.as_str()));
    assert!(!c.introspect(a, "garbage").await.unwrap().active);
    let registered = c
        .register("carol", "another correct horse", Some("carol@example.com"))
        .await
        .unwrap();
    assert_eq!(registered.username, "carol");
    let ClientError::Validation(fields) = c
        .register("carol", "another correct horse", None)
        .await
        .unwrap_err()
    else {
        panic!("a taken username is a field error")
    };
    assert!(fields.contains_key("username"), "{fields:?}");
    // A second session, revoked by id, then a third, revoked by RFC 7009.
    let second = c.obtain_pair("alice", PASSWORD).await.unwrap();
    let second_sid = c.me(&second.access).await.unwrap().session_id.unwrap();
    assert!(c.revoke_session(a, &second_sid).await.unwrap());
    assert!(!c.revoke_session(a, &second_sid).await.unwrap());
    assert_eq!(
        c.revoke_session(a, "ffffffffffffffffffffffffffffffff")
            .await
            .unwrap_err(),
        ClientError::NotFound
    );
    let third = c.obtain_pair("alice", PASSWORD).await.unwrap();
    c.revoke_token(a, &third.refresh, Some("refresh_token"))
        .await
        .unwrap();
    assert!(c.refresh(&third.refresh).await.is_err());

    // Staff.
    let root = c.obtain_pair("root", PASSWORD).await.unwrap();
    let r = root.access.as_str();
    assert!(matches!(
        c.staff_users(a, &UserSearch::default()).await.unwrap_err(),
        ClientError::Forbidden { .. }
    ));
    let found = c
        .staff_users(
            r,
            &UserSearch {
                q: Some("bob".into()),
                ..UserSearch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let bob = found[0].id;
    let detail = c.staff_user(r, server.alice_id).await.unwrap();
    assert_eq!(detail.user.username, "alice");
    let alice_sessions = c.staff_user_sessions(r, server.alice_id).await.unwrap();
    assert!(alice_sessions.iter().any(|s| s.id == sid));
    let lineage = c.staff_session(r, &sid).await.unwrap();
    assert_eq!(lineage.session.id, sid);
    assert!(!lineage.tokens.is_empty());
    let audit = c
        .staff_audit(
            r,
            &AuditSearch {
                kinds: vec!["login_succeeded".into()],
                ..AuditSearch::default()
            },
        )
        .await
        .unwrap();
    assert!(audit.len() >= 4, "{}", audit.len());
    assert_eq!(
        c.staff_lock_user(r, bob, "test lock", None).await.unwrap(),
        1
    );
    assert!(c.obtain_pair("bob", PASSWORD).await.is_err());
    c.staff_unlock_user(r, bob, "test unlock").await.unwrap();
    let bob_pair = c.obtain_pair("bob", PASSWORD).await.unwrap();
    let bob_sid = c.me(&bob_pair.access).await.unwrap().session_id.unwrap();
    assert!(c.staff_revoke_session(r, &bob_sid, "test").await.unwrap());
    assert!(matches!(
        c.me(&bob_pair.access).await.unwrap_err(),
        ClientError::TokenNotValid { reason: Some(reason), .. } if reason == warden_proto::Reason::Ended(warden_proto::RevocationReason::StaffRevoked)
    ));
    c.staff_set_staff(r, bob, true, "promote").await.unwrap();
    c.staff_deactivate_user(r, bob, "leave").await.unwrap();
    assert!(c.obtain_pair("bob", PASSWORD).await.is_err());
    c.staff_reactivate_user(r, bob, "back").await.unwrap();
    c.staff_set_password(r, bob, "a brand new passphrase", "reset")
        .await
        .unwrap();
    c.obtain_pair("bob", "a brand new passphrase")
        .await
        .unwrap();
    assert_eq!(c.staff_logout_user(r, bob, "done").await.unwrap(), 1);

    // Password change ends the user's other sessions; logout-all ends the rest.
    let other = c.obtain_pair("alice", PASSWORD).await.unwrap();
    assert_eq!(
        c.change_password(a, PASSWORD, "alice's new passphrase")
            .await
            .unwrap(),
        1
    );
    assert!(c.refresh(&other.refresh).await.is_err());
    c.logout(a, &pair.refresh).await.unwrap();
    assert!(matches!(
        c.me(a).await.unwrap_err(),
        ClientError::TokenNotValid { .. }
    ));
    let last = c
        .obtain_pair("alice", "alice's new passphrase")
        .await
        .unwrap();
    assert_eq!(c.logout_all(&last.access).await.unwrap(), 1);
    c.blacklist(&root.refresh).await.unwrap();
}
