//! The same client scenarios against two servers: Warden, and a real
//! Django REST framework + djangorestframework-simplejwt peer
//! (`interop/peer.sh`), both with 2-second access tokens.

use std::time::{Duration, Instant};

use warden_client::{
    Client, ClientConfig, ClientError, Event, Feature, Phase, SignOutReason, Vault,
};
use warden_tests::PASSWORD;
use warden_tests::client::{
    LiveServer, SimpleJwtPeer, memory_manager, short_lived, wait_for_event,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Warden,
    SimpleJwt,
}

async fn scenarios(base_url: &str, kind: Kind) {
    let t0 = Instant::now();

    // Login.
    let (a, a_vault) = memory_manager(base_url).unwrap();
    let s = a.login("alice", PASSWORD).await.unwrap();
    assert_eq!(s.phase, Phase::Active);
    assert_eq!(s.user_id.as_deref(), Some("1"), "alice is user 1 on both");
    assert_eq!(s.capabilities.is_some(), kind == Kind::Warden, "{kind:?}");
    assert_eq!(a.me().await.unwrap().username, "alice");

    // Scheduled rotation with 2-second access tokens: at least two in ~5 s,
    // each new access token accepted on a protected route.
    let mut events = a.subscribe();
    let watch = Instant::now();
    let mut seen_jtis = Vec::new();
    while seen_jtis.len() < 3 && watch.elapsed() < Duration::from_secs(7) {
        let left = Duration::from_secs(7).saturating_sub(watch.elapsed());
        if wait_for_event(&mut events, left, |e| matches!(e, Event::Rotated { .. }))
            .await
            .is_err()
        {
            break;
        }
        let token = a.access_token().await.unwrap();
        let me = a.client().me(&token).await.unwrap();
        assert_eq!(me.username, "alice");
        seen_jtis.push(a.state().access.unwrap().jti);
    }
    let took = watch.elapsed().as_secs_f64();
    eprintln!("{kind:?}: {} rotations in {took:.1} s", seen_jtis.len());
    assert!(
        seen_jtis.len() >= 2,
        "{kind:?}: only {} rotations",
        seen_jtis.len()
    );
    assert!(took < 6.5, "{kind:?}: rotations too slow ({took:.1} s)");
    seen_jtis.dedup();
    assert!(
        seen_jtis.len() >= 2,
        "each rotation brings a new access token"
    );

    // The access token also works with SimpleJWT's other header type.
    let mut jwt_config = ClientConfig::new(base_url);
    jwt_config.auth_header_type = "JWT".into();
    let jwt_client = Client::new(jwt_config).unwrap();
    let token = a.access_token().await.unwrap();
    assert_eq!(jwt_client.me(&token).await.unwrap().username, "alice");

    // Warden-only features on a plain SimpleJWT server: "not available", and
    // the session carries on.
    if kind == Kind::SimpleJwt {
        assert_eq!(
            a.logout_all().await.unwrap_err(),
            ClientError::Unavailable(Feature::LogoutAll)
        );
        assert_eq!(
            a.sessions().await.unwrap_err(),
            ClientError::Unavailable(Feature::Sessions)
        );
        assert_eq!(
            a.revoke_session("0123456789abcdef0123456789abcdef")
                .await
                .unwrap_err(),
            ClientError::Unavailable(Feature::Sessions)
        );
        let raw = a.client();
        let token = a.access_token().await.unwrap();
        assert_eq!(
            raw.introspect(&token, &token).await.unwrap_err(),
            ClientError::Unavailable(Feature::Introspect)
        );
        assert_eq!(
            raw.register("carol", PASSWORD, None).await.unwrap_err(),
            ClientError::Unavailable(Feature::Register)
        );
        assert!(matches!(a.state().phase, Phase::Active | Phase::Rotating));
        assert_eq!(a.me().await.unwrap().username, "alice");
    } else {
        let sessions = a.sessions().await.unwrap();
        assert!(sessions.iter().any(|s| s.current), "{sessions:?}");
    }

    // A rotated-away refresh token is refused (401 token_not_valid).
    let old = a_vault.load(a.server_key(), "alice").unwrap().unwrap();
    a.rotate_now().await.unwrap();
    let e = a.client().refresh(&old).await.unwrap_err();
    let last = a.timeline().pop().unwrap();
    assert_eq!(last.path, "api/token/refresh/");
    assert_eq!(
        (last.status, last.error_code.as_deref()),
        (Some(401), Some("token_not_valid"))
    );
    match kind {
        // Warden treats the replay as theft and ends the session.
        Kind::Warden => {
            assert_eq!(e, ClientError::ReuseDetected);
            assert_eq!(
                a.rotate_now().await.unwrap_err(),
                ClientError::SignedOut(SignOutReason::ReuseDetected)
            );
            assert!(a_vault.is_empty());
        }
        // SimpleJWT refuses the replay but leaves the newest token working.
        Kind::SimpleJwt => {
            assert_eq!(
                e,
                ClientError::TokenNotValid {
                    message: "Token is blacklisted".into(),
                    reason: None
                }
            );
            a.rotate_now().await.unwrap();
            assert_eq!(a.me().await.unwrap().username, "alice");
        }
    }

    // Logout: the session ends here and on the server.
    let (b, b_vault) = memory_manager(base_url).unwrap();
    b.login("alice", PASSWORD).await.unwrap();
    let b_refresh = b_vault.load(b.server_key(), "alice").unwrap().unwrap();
    b.logout().await.unwrap();
    assert_eq!(
        b.state().phase,
        Phase::SignedOut {
            reason: Some(SignOutReason::LoggedOut)
        }
    );
    assert!(b_vault.is_empty());
    let e = b.client().refresh(&b_refresh).await.unwrap_err();
    assert!(
        matches!(&e, ClientError::TokenNotValid { message, .. } if message == "Token is blacklisted"),
        "{kind:?}: {e:?}"
    );
    let paths: Vec<String> = b.timeline().iter().map(|x| x.path.clone()).collect();
    let logout_path = if kind == Kind::Warden {
        "api/logout/"
    } else {
        "api/token/blacklist/"
    };
    assert!(paths.iter().any(|p| p == logout_path), "{paths:?}");

    // Logout everywhere, where there is such a thing.
    if kind == Kind::Warden {
        let (c, c_vault) = memory_manager(base_url).unwrap();
        c.login("alice", PASSWORD).await.unwrap();
        let ended = c.logout_all().await.unwrap();
        assert!(ended >= 1, "{ended}");
        assert!(c_vault.is_empty());
        assert!(matches!(c.state().phase, Phase::SignedOut { .. }));
    }
    eprintln!(
        "{kind:?}: scenarios done in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_scenarios_against_warden() {
    let server = LiveServer::start(short_lived(2, 60)).unwrap();
    scenarios(&server.base_url(), Kind::Warden).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_scenarios_against_django_simplejwt() {
    let started = Instant::now();
    let peer =
        SimpleJwtPeer::start(&[("PEER_ACCESS_SECONDS", "2"), ("PEER_REFRESH_SECONDS", "60")])
            .unwrap();
    eprintln!(
        "SimpleJWT peer at {} up in {:.1} s",
        peer.url,
        started.elapsed().as_secs_f64()
    );
    scenarios(&peer.url, Kind::SimpleJwt).await;
}
