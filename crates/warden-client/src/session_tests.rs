//! SessionManager against the in-crate fake server (fault injection).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use tokio::sync::broadcast;

use super::*;
use crate::config::ClientConfig;
use crate::fake::{FakeServer, PASSWORD};
use crate::vault::MemoryVault;

fn config() -> ManagerConfig {
    ManagerConfig {
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        tick: Duration::from_millis(200),
        ..ManagerConfig::default()
    }
}

fn manager(server: &FakeServer, vault: Arc<MemoryVault>) -> SessionManager {
    let client = Client::new(ClientConfig::new(server.url.clone())).unwrap();
    SessionManager::new(client, vault, config())
}

async fn setup(access_lifetime: i64) -> (FakeServer, SessionManager, Arc<MemoryVault>) {
    let server = FakeServer::start(access_lifetime, 600).await;
    let vault = Arc::new(MemoryVault::new());
    let m = manager(&server, vault.clone());
    m.login("alice", PASSWORD).await.unwrap();
    (server, m, vault)
}

async fn wait_for(
    rx: &mut broadcast::Receiver<Event>,
    within: Duration,
    mut pred: impl FnMut(&Event) -> bool,
) -> Event {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) if pred(&e) => return e,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("event stream closed: {e}"),
            Err(_) => panic!("no matching event within {within:?}"),
        }
    }
}

fn stored_jti(m: &SessionManager, vault: &MemoryVault) -> Option<String> {
    vault
        .load(m.server_key(), "alice")
        .unwrap()
        .and_then(|t| decode_claims(&t).unwrap().jti)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_callers_make_one_refresh() {
    let (server, m, _vault) = setup(2).await;
    server.state.refresh_delay_ms.store(400, Ordering::SeqCst);
    let rotate_at = m.state().next_rotation_at.unwrap();
    tokio::time::sleep(secs(rotate_at - wall_now() + 0.02)).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move { m.access_token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap());
    }
    assert_eq!(server.state.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(m.state().rotation_count, 1);
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "all callers got the new token"
    );
    let jti = decode_claims(&tokens[0]).unwrap().jti;
    assert_eq!(m.state().access.unwrap().jti, jti);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_under_load_never_hold_an_expired_token() {
    let (server, m, _vault) = setup(2).await;
    let stop = wall_now() + 4.0;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move {
                let mut calls = 0u32;
                while wall_now() < stop {
                    let token = m.access_token().await.unwrap();
                    m.client().me(&token).await.unwrap();
                    calls += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                calls
            })
        })
        .collect();
    let mut calls = 0;
    for t in tasks {
        calls += t.await.unwrap();
    }
    assert!(calls > 1000, "{calls}");
    assert_eq!(server.state.me_refused.load(Ordering::SeqCst), 0);
    let rotations = m.state().rotation_count;
    assert_eq!(
        server.state.refreshes.load(Ordering::SeqCst) as u64,
        rotations
    );
    assert!((3..=12).contains(&rotations), "{rotations}");
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_and_retried_once() {
    let (server, m, _vault) = setup(300).await;
    let jti = m.state().access.unwrap().jti.unwrap();
    server.state.expired_access.lock().insert(jti);
    let me = m.me().await.unwrap();
    assert_eq!(me.username, "alice");
    assert_eq!(server.state.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(server.state.me_calls.load(Ordering::SeqCst), 2);
    assert_eq!(server.state.me_refused.load(Ordering::SeqCst), 1);
    // The generic helper does the same and answers JSON.
    let v = m.request(Method::GET, "api/me/", None).await.unwrap();
    assert_eq!(v, json!({"id": 1, "username": "alice"}));
}

#[tokio::test]
async fn a_second_refusal_after_the_retry_is_returned_not_retried_again() {
    let (server, m, _vault) = setup(300).await;
    let first = m.state().access.unwrap().jti.unwrap();
    server.state.expired_access.lock().insert(first);
    // Make the refreshed token expired too, by marking every jti the fake will mint next.
    for i in 0..10 {
        server
            .state
            .expired_access
            .lock()
            .insert(format!("jti{i:06}"));
    }
    let e = m.me().await.unwrap_err();
    assert!(e.is_token_expired(), "{e:?}");
    assert_eq!(server.state.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(server.state.me_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn unreachable_server_goes_offline_keeps_the_session_and_recovers() {
    let (server, m, vault) = setup(2).await;
    let mut rx = m.subscribe();
    *server.state.fail_refresh.lock() =
        Some((503, json!({"detail": "Service temporarily unavailable."})));
    let e = wait_for(&mut rx, Duration::from_secs(5), |e| {
        matches!(e, Event::StateChanged(s) if matches!(s.phase, Phase::Offline { attempt: 2.., .. }))
    })
    .await;
    let Event::StateChanged(s) = e else {
        unreachable!()
    };
    let Phase::Offline { retry_in_ms, .. } = s.phase else {
        unreachable!()
    };
    assert!(retry_in_ms <= 400, "{retry_in_ms}");
    assert_eq!(s.user.as_deref(), Some("alice"));
    assert!(stored_jti(&m, &vault).is_some(), "the session is kept");
    server.state.fail_refresh.lock().take();
    wait_for(&mut rx, Duration::from_secs(5), |e| {
        matches!(e, Event::Rotated { .. })
    })
    .await;
    assert_eq!(m.state().phase, Phase::Active);
    let token = m.access_token().await.unwrap();
    m.client().me(&token).await.unwrap();
}

#[tokio::test]
async fn a_refused_refresh_ends_the_session_and_clears_the_vault() {
    let (server, m, vault) = setup(300).await;
    *server.state.fail_refresh.lock() = Some((
        401,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid", "reason": "logout_all"}),
    ));
    let revoked = SignOutReason::Revoked {
        cause: Some("logout_all".into()),
    };
    assert_eq!(
        m.rotate_now().await.unwrap_err(),
        ClientError::SignedOut(revoked.clone())
    );
    assert_eq!(
        m.state().phase,
        Phase::SignedOut {
            reason: Some(revoked.clone())
        }
    );
    assert!(vault.is_empty());
    assert_eq!(
        m.access_token().await.unwrap_err(),
        ClientError::SignedOut(revoked)
    );
    assert!(m.state().access.is_none());
}

#[tokio::test]
async fn reuse_detected_ends_the_session_with_that_reason() {
    let (server, m, vault) = setup(300).await;
    let old = vault.load(m.server_key(), "alice").unwrap().unwrap();
    m.rotate_now().await.unwrap();
    // The rotated-away token, replayed with the raw client.
    assert_eq!(
        m.client().refresh(&old).await.unwrap_err(),
        ClientError::ReuseDetected
    );
    *server.state.fail_refresh.lock() = Some((
        401,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid", "reason": "reuse_detected"}),
    ));
    m.rotate_now().await.unwrap_err();
    assert_eq!(
        m.state().phase,
        Phase::SignedOut {
            reason: Some(SignOutReason::ReuseDetected)
        }
    );
    assert!(vault.is_empty());
}

#[tokio::test]
async fn a_failing_vault_write_keeps_the_session_and_warns() {
    let (server, m, vault) = setup(300).await;
    let mut rx = m.subscribe();
    vault.fail_writes(true);
    m.rotate_now().await.unwrap();
    let e = wait_for(&mut rx, Duration::from_secs(2), |e| {
        matches!(e, Event::VaultWarning { .. })
    })
    .await;
    let Event::VaultWarning { message } = e else {
        unreachable!()
    };
    assert!(message.contains("could not be stored"), "{message}");
    let s = m.state();
    assert_eq!(s.phase, Phase::Active);
    assert!(!s.vault.stored);
    assert!(s.vault.warning.is_some());
    // The rotated-away token is not left behind to be replayed on the next start.
    assert!(vault.is_empty());
    // The session goes on, and the next rotation uses the token held in memory.
    m.rotate_now().await.unwrap();
    let token = m.access_token().await.unwrap();
    m.client().me(&token).await.unwrap();
    assert_eq!(server.state.refreshes.load(Ordering::SeqCst), 2);
}

/// A vault whose writes take a while, to look inside a rotation.
#[derive(Debug)]
struct SlowVault(MemoryVault);

impl Vault for SlowVault {
    fn store(&self, k: &str, u: &str, s: &str) -> Result<(), crate::vault::VaultError> {
        std::thread::sleep(Duration::from_millis(300));
        self.0.store(k, u, s)
    }
    fn load(&self, k: &str, u: &str) -> Result<Option<String>, crate::vault::VaultError> {
        self.0.load(k, u)
    }
    fn delete(&self, k: &str, u: &str) -> Result<(), crate::vault::VaultError> {
        self.0.delete(k, u)
    }
    fn status(&self) -> VaultStatus {
        self.0.status()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_refresh_token_is_stored_before_the_old_one_is_dropped() {
    let server = FakeServer::start(300, 600).await;
    let vault = Arc::new(SlowVault(MemoryVault::new()));
    let client = Client::new(ClientConfig::new(server.url.clone())).unwrap();
    let m = SessionManager::new(client, vault.clone(), config());
    m.login("alice", PASSWORD).await.unwrap();
    let old = m.state().refresh.unwrap().jti;
    let rotating = tokio::spawn({
        let m = m.clone();
        async move { m.rotate_now().await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    // The server has answered; the vault write is in progress: memory still
    // holds the old token (nothing is lost if the write never finishes).
    assert_eq!(server.state.refreshes.load(Ordering::SeqCst), 1);
    let during = m.state();
    assert_eq!(during.phase, Phase::Rotating);
    assert_eq!(during.refresh.unwrap().jti, old);
    rotating.await.unwrap().unwrap();
    let after = m.state().refresh.unwrap().jti;
    assert_ne!(after, old);
    let in_vault = vault
        .load(m.server_key(), "alice")
        .unwrap()
        .and_then(|t| decode_claims(&t).unwrap().jti);
    assert_eq!(in_vault, after);
}

#[tokio::test]
async fn restore_signs_in_from_the_vault_without_a_password() {
    let (server, m, vault) = setup(300).await;
    drop(m);
    let m2 = manager(&server, vault.clone());
    assert_eq!(
        m2.restore("bob").await.unwrap_err(),
        ClientError::NoStoredSession
    );
    assert_eq!(m2.state().phase, Phase::SignedOut { reason: None });
    let s = m2.restore("alice").await.unwrap();
    assert_eq!(s.phase, Phase::Active);
    assert_eq!(s.rotation_count, 1);
    assert_eq!(m2.me().await.unwrap().username, "alice");
    assert_eq!(stored_jti(&m2, &vault), s.refresh.unwrap().jti);
    assert_eq!(
        m2.restore("alice").await.unwrap_err(),
        ClientError::AlreadySignedIn
    );
    // A stored token the server refuses: signed out with the reason, entry gone.
    drop(m2);
    *server.state.fail_refresh.lock() = Some((
        401,
        json!({"detail": "Token is blacklisted", "code": "token_not_valid", "reason": "password_changed"}),
    ));
    let m3 = manager(&server, vault.clone());
    assert_eq!(
        m3.restore("alice").await.unwrap_err(),
        ClientError::SignedOut(SignOutReason::PasswordChanged)
    );
    assert!(vault.is_empty());
}

#[tokio::test]
async fn restore_while_offline_keeps_the_session_and_retries() {
    let (server, m, vault) = setup(300).await;
    drop(m);
    *server.state.fail_refresh.lock() = Some((500, json!({"detail": "boom"})));
    let m2 = manager(&server, vault.clone());
    let mut rx = m2.subscribe();
    let s = m2.restore("alice").await.unwrap();
    assert!(matches!(s.phase, Phase::Offline { .. }), "{:?}", s.phase);
    assert!(matches!(
        m2.access_token().await.unwrap_err(),
        ClientError::Offline { .. } | ClientError::Server { .. }
    ));
    server.state.fail_refresh.lock().take();
    wait_for(&mut rx, Duration::from_secs(5), |e| {
        matches!(e, Event::Rotated { .. })
    })
    .await;
    assert_eq!(m2.me().await.unwrap().username, "alice");
}

#[tokio::test]
async fn plain_simplejwt_servers_report_warden_features_unavailable() {
    let (server, m, vault) = setup(300).await;
    assert_eq!(
        m.logout_all().await.unwrap_err(),
        ClientError::Unavailable(Feature::LogoutAll)
    );
    assert_eq!(
        m.sessions().await.unwrap_err(),
        ClientError::Unavailable(Feature::Sessions)
    );
    assert_eq!(
        m.state().phase,
        Phase::Active,
        "not a failure of the session"
    );
    let refresh_jti = stored_jti(&m, &vault).unwrap();
    m.logout().await.unwrap();
    assert!(server.state.blacklisted.lock().contains(&refresh_jti));
    assert_eq!(
        m.state().phase,
        Phase::SignedOut {
            reason: Some(SignOutReason::LoggedOut)
        }
    );
    assert!(vault.is_empty());
    assert_eq!(
        m.access_token().await.unwrap_err(),
        ClientError::SignedOut(SignOutReason::LoggedOut)
    );
}

#[tokio::test]
async fn warden_servers_offer_logout_all() {
    let server = FakeServer::start(300, 600).await;
    server.state.warden.store(true, Ordering::SeqCst);
    let vault = Arc::new(MemoryVault::new());
    let m = manager(&server, vault.clone());
    let s = m.login("alice", PASSWORD).await.unwrap();
    assert_eq!(s.capabilities.unwrap().server, "fake");
    assert_eq!(m.logout_all().await.unwrap(), 1);
    assert_eq!(
        m.state().phase,
        Phase::SignedOut {
            reason: Some(SignOutReason::LoggedOut)
        }
    );
    assert!(vault.is_empty());
}

#[tokio::test]
async fn a_clock_set_back_replans_and_rotates_at_once() {
    let (server, m, _vault) = setup(60).await;
    let mut rx = m.subscribe();
    let before = m.state().next_rotation_at.unwrap() - wall_now();
    assert!((25.0..=31.0).contains(&before), "{before}");
    // As the scheduler would on seeing the wall clock go back an hour.
    m.inner.on_clock_jump(-3600.0);
    m.inner.wake.notify_one();
    wait_for(
        &mut rx,
        Duration::from_secs(1),
        |e| matches!(e, Event::ClockJump { seconds } if *seconds == -3600.0),
    )
    .await;
    wait_for(&mut rx, Duration::from_secs(3), |e| {
        matches!(e, Event::Rotated { .. })
    })
    .await;
    assert_eq!(server.state.refreshes.load(Ordering::SeqCst), 1);
    // The new token re-anchors the plan on the real clock.
    let after = m.state().next_rotation_at.unwrap() - wall_now();
    assert!((25.0..=31.0).contains(&after), "{after}");
}

#[tokio::test]
async fn a_suspend_past_the_rotation_point_rotates_on_resume() {
    let (server, m, _vault) = setup(60).await;
    let mut rx = m.subscribe();
    // Ten minutes asleep: as far as the session can tell, its tokens (and the
    // moment they arrived) are ten minutes older than before.
    {
        let mut s = m.inner.shared.lock();
        let session = s.session.as_mut().unwrap();
        session.offset -= 600.0;
        if let Some(a) = session.access.as_mut() {
            a.received_at -= 600.0;
        }
    }
    m.inner.on_clock_jump(600.0);
    m.inner.wake.notify_one();
    wait_for(&mut rx, Duration::from_secs(3), |e| {
        matches!(e, Event::Rotated { .. })
    })
    .await;
    assert_eq!(server.state.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn server_clock_skew_is_compensated() {
    let server = FakeServer::start(60, 600).await;
    server.state.skew.store(7200, Ordering::SeqCst);
    let m = manager(&server, Arc::new(MemoryVault::new()));
    m.login("alice", PASSWORD).await.unwrap();
    let s = m.state();
    let until = s.next_rotation_at.unwrap() - wall_now();
    assert!((25.0..=31.0).contains(&until), "{until}");
    let exp_local = s.access.unwrap().expires_at.unwrap() - wall_now();
    assert!((55.0..=61.0).contains(&exp_local), "{exp_local}");
    m.me().await.unwrap();
    assert_eq!(server.state.refreshes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn wrong_password_is_invalid_credentials() {
    let server = FakeServer::start(60, 600).await;
    let m = manager(&server, Arc::new(MemoryVault::new()));
    assert_eq!(
        m.login("alice", "nope").await.unwrap_err(),
        ClientError::InvalidCredentials
    );
    assert_eq!(m.state().phase, Phase::SignedOut { reason: None });
    assert_eq!(
        m.access_token().await.unwrap_err(),
        ClientError::NotSignedIn
    );
    m.login("alice", PASSWORD).await.unwrap();
    assert_eq!(
        m.login("alice", PASSWORD).await.unwrap_err(),
        ClientError::AlreadySignedIn
    );
}

#[tokio::test]
async fn events_and_timeline_never_carry_tokens() {
    let server = FakeServer::start(300, 600).await;
    let vault = Arc::new(MemoryVault::new());
    let m = manager(&server, vault.clone());
    let mut rx = m.subscribe();
    m.login("alice", PASSWORD).await.unwrap();
    let mut secrets = vec![vault.load(m.server_key(), "alice").unwrap().unwrap()];
    secrets.push(m.access_token().await.unwrap());
    m.me().await.unwrap();
    m.rotate_now().await.unwrap();
    secrets.push(vault.load(m.server_key(), "alice").unwrap().unwrap());
    secrets.push(m.access_token().await.unwrap());
    m.logout().await.unwrap();
    let mut seen = Vec::new();
    while let Ok(e) = rx.try_recv() {
        seen.push(serde_json::to_string(&e).unwrap());
    }
    let timeline = m.timeline();
    let paths: Vec<&str> = timeline.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "api/capabilities/",
            "api/token/",
            "api/me/",
            "api/token/refresh/",
            "api/token/blacklist/"
        ]
    );
    assert_eq!(timeline[0].status, Some(404));
    assert_eq!(timeline[0].error_code.as_deref(), Some("not_found"));
    assert!(
        timeline[2]
            .credential
            .as_deref()
            .unwrap()
            .starts_with("access jti ")
    );
    seen.push(serde_json::to_string(&timeline).unwrap());
    seen.push(format!("{:?}", m.state()));
    seen.push(format!("{m:?}"));
    assert!(seen.iter().any(|e| e.contains("\"rotated\"")));
    for text in &seen {
        for secret in &secrets {
            let (_, signature) = secret.rsplit_once('.').unwrap();
            let (head, _) = secret.split_at(40);
            assert!(!text.contains(signature), "signature leaked: {text}");
            assert!(!text.contains(head), "token leaked: {text}");
        }
    }
}

/// A keyring that is not there at all.
#[derive(Debug)]
struct NoKeyring;

impl Vault for NoKeyring {
    fn store(&self, _: &str, _: &str, _: &str) -> Result<(), crate::vault::VaultError> {
        Err(crate::vault::VaultError::NoSessionBus("test".into()))
    }
    fn load(&self, _: &str, _: &str) -> Result<Option<String>, crate::vault::VaultError> {
        Err(crate::vault::VaultError::NoSessionBus("test".into()))
    }
    fn delete(&self, _: &str, _: &str) -> Result<(), crate::vault::VaultError> {
        Err(crate::vault::VaultError::NoSessionBus("test".into()))
    }
    fn status(&self) -> VaultStatus {
        crate::vault::VaultError::NoSessionBus("test".into()).status()
    }
}

#[tokio::test]
async fn without_a_keyring_the_session_lives_in_memory_and_says_so() {
    let server = FakeServer::start(300, 600).await;
    let client = Client::new(ClientConfig::new(server.url.clone())).unwrap();
    let m = SessionManager::new(client, Arc::new(NoKeyring), config());
    let mut rx = m.subscribe();
    let s = m.login("alice", PASSWORD).await.unwrap();
    assert!(
        matches!(&s.vault.status, VaultStatus::Unavailable(r) if r.contains("no D-Bus session bus")),
        "{:?}",
        s.vault
    );
    assert!(
        !s.vault.persistent,
        "the app must say the session ends with it"
    );
    assert!(s.vault.stored && s.vault.warning.is_none(), "{:?}", s.vault);
    m.rotate_now().await.unwrap();
    assert_eq!(m.me().await.unwrap().username, "alice");
    while let Ok(e) = rx.try_recv() {
        assert!(!matches!(e, Event::VaultWarning { .. }), "{e:?}");
    }
    m.logout().await.unwrap();
    assert_eq!(
        m.restore("alice").await.unwrap_err(),
        ClientError::NoStoredSession
    );
}

/// The e2e test's "3 rotations where 2 were expected": the server comes back,
/// the retry scheduled during the outage rotates, and then the person's
/// "Rotate now", clicked on the outage they saw, arrives. It must not rotate a
/// second time; a click on the fresh token does rotate, once.
#[tokio::test]
async fn rotate_now_after_an_outage_does_not_repeat_the_scheduled_retry() {
    let (server, m, _vault) = setup(300).await;
    let mut rx = m.subscribe();
    *server.state.fail_refresh.lock() =
        Some((503, json!({"detail": "Service temporarily unavailable."})));
    m.rotate_now().await.unwrap_err();
    let during_outage = m.state();
    assert!(matches!(during_outage.phase, Phase::Offline { .. }));
    let seen = during_outage.access.unwrap().jti.unwrap();
    // The server is back; the scheduled retry rotates on its own.
    server.state.fail_refresh.lock().take();
    wait_for(&mut rx, Duration::from_secs(5), |e| {
        matches!(e, Event::Rotated { count: 1 })
    })
    .await;
    let refreshes = server.state.refreshes.load(Ordering::SeqCst);
    // The click made while the window still showed the outage.
    m.rotate_now_from(&seen).await.unwrap();
    assert_eq!(server.state.refreshes.load(Ordering::SeqCst), refreshes);
    assert_eq!(m.state().rotation_count, 1, "one rotation for one request");
    // A click on the token now shown rotates, once.
    let shown = m.state().access.unwrap().jti.unwrap();
    m.rotate_now_from(&shown).await.unwrap();
    assert_eq!(server.state.refreshes.load(Ordering::SeqCst), refreshes + 1);
    assert_eq!(m.state().rotation_count, 2);
    assert_ne!(m.state().access.unwrap().jti.unwrap(), shown);
}

#[tokio::test]
async fn signing_out_locally_hands_over_the_tokens_and_leaves_the_vault_to_the_caller() {
    let (server, m, vault) = setup(300).await;
    let stored = vault.load(m.server_key(), "alice").unwrap().unwrap();
    let access = m.access_token().await.unwrap();
    let ended = m.sign_out_locally().await.unwrap();
    assert_eq!(ended.username, "alice");
    assert_eq!(ended.refresh.expose(), stored);
    assert_eq!(
        ended.access.as_ref().map(Secret::expose),
        Some(access.as_str())
    );
    assert_eq!(
        ended.session_id.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert!(
        !format!("{ended:?}").contains(&stored[40..]),
        "no token in Debug"
    );
    // Nothing was said to the server; the entry is the caller's to clear.
    assert_eq!(server.state.refreshes.load(Ordering::SeqCst), 0);
    assert!(server.state.blacklisted.lock().is_empty());
    assert_eq!(vault.load(m.server_key(), "alice").unwrap(), Some(stored));
    let s = m.state();
    assert_eq!(
        s.phase,
        Phase::SignedOut {
            reason: Some(SignOutReason::LoggedOut)
        }
    );
    assert!(!s.vault.stored);
    assert_eq!(
        m.access_token().await.unwrap_err(),
        ClientError::SignedOut(SignOutReason::LoggedOut)
    );
    assert!(m.sign_out_locally().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_waits_for_the_refresh_in_flight_to_store_its_successor() {
    let (server, m, vault) = setup(300).await;
    server.state.refresh_delay_ms.store(300, Ordering::SeqCst);
    let rotating = tokio::spawn({
        let m = m.clone();
        async move { m.rotate_now().await }
    });
    // The refresh has reached the server before stop is asked for.
    while server.state.refreshes.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    m.stop().await;
    let stored = stored_jti(&m, &vault);
    assert_eq!(stored, m.state().refresh.unwrap().jti);
    assert_eq!(
        m.state().rotation_count,
        1,
        "the successor is what is stored"
    );
    rotating.await.unwrap().unwrap();
}
