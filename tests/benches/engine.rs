//! Criterion benchmarks of the engine: mint, verify (empty and 1M-entry
//! revocation set), rotate, logout-all of 10,000 sessions, login.
//!
//! `cargo bench -p warden-tests --bench engine`
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use warden_auth::model::ClientInfo;
use warden_auth::tokens::{ClaimNames, mint};
use warden_auth::{Actor, Algorithm, Jti, KeyMaterial, KeyRing, SessionId, Settings};
use warden_proto::TokenType;
use warden_tests::{Engine, PASSWORD, login, seed, test_settings};

fn bench_mint(c: &mut Criterion) {
    let mut g = c.benchmark_group("mint");
    let settings = Settings::default();
    let names = ClaimNames::from_settings(&settings);
    for alg in [
        Algorithm::HS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::RS256,
    ] {
        let ring = KeyRing::new(KeyMaterial::generate(alg, 0).unwrap()).unwrap();
        let claims = warden_proto::Claims {
            token_type: TokenType::Access,
            exp: 2_000_000_000,
            iat: 1_900_000_000,
            jti: Jti::random().to_string(),
            user_id: "42".into(),
            sid: SessionId::random().to_string(),
            nbf: None,
            iss: None,
            aud: None,
            refresh_exp: None,
        };
        g.bench_function(alg.as_str(), |b| {
            b.iter(|| mint(&ring, &claims, &names).unwrap())
        });
    }
    g.finish();
}

fn bench_verify(c: &mut Criterion) {
    let e = Engine::new(test_settings()).unwrap();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    let mut g = c.benchmark_group("verify");
    g.bench_function("access_hs256_empty_set", |b| {
        b.iter(|| e.service.authenticate(&pair.access.token).unwrap())
    });
    let set = e.service.revocations();
    let far = e.service.now() + 86_400;
    for i in 0..1_000_000u32 {
        if i % 2 == 0 {
            set.revoke_session(SessionId::random(), far);
        } else {
            set.revoke_jti(Jti::random(), far);
        }
    }
    assert_eq!(set.len(), (500_000, 500_000));
    g.bench_function("access_hs256_1m_revoked", |b| {
        b.iter(|| e.service.authenticate(&pair.access.token).unwrap())
    });
    g.finish();
}

fn bench_rotate(c: &mut Criterion) {
    let e = Engine::new(test_settings()).unwrap();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    let mut head = pair.refresh.token;
    let mut g = c.benchmark_group("rotate");
    g.bench_function("refresh_durable", |b| {
        b.iter(|| {
            let r = e.service.refresh(&head, &ClientInfo::default()).unwrap();
            head = r.refresh.unwrap().token;
        })
    });
    g.finish();
}

/// Writes `n` live sessions for `user` straight into the store.
fn seed_sessions(e: &Engine, user: i64, n: usize) {
    seed::live_sessions(e.service.store().as_ref(), e.service.now(), n, 16, |_| user).unwrap();
}

fn bench_logout_all(c: &mut Criterion) {
    const SESSIONS: usize = 10_000;
    const SAMPLES: usize = 10;
    let e = Engine::new(test_settings()).unwrap();
    // Interleave the users' sessions, so each user's rows are scattered in insertion order.
    let users: Vec<_> = (0..SAMPLES + 3)
        .map(|i| e.user(&format!("user{i}")).unwrap())
        .collect();
    for _ in 0..10 {
        for u in &users {
            seed_sessions(&e, u.id, SESSIONS / 10);
        }
    }
    // The figure is for logging out a user who has 10,000 sessions, not for the
    // commit that happens to run SQLite's WAL checkpoint of the seeding burst.
    e.checkpoint().unwrap();
    let mut next = users.iter();
    let mut extra = 0;
    let mut g = c.benchmark_group("logout_all");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_millis(100));
    g.bench_function("10k_sessions", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let fresh;
                let u = match next.next() {
                    Some(u) => u,
                    None => {
                        // Out of pre-seeded users: seed a new one (outside the timing).
                        // Re-using a user would time a scan over its ever-growing
                        // history of revoked sessions instead.
                        extra += 1;
                        fresh = e.user(&format!("extra{extra}")).unwrap();
                        seed_sessions(&e, fresh.id, SESSIONS);
                        e.checkpoint().unwrap();
                        &fresh
                    }
                };
                let me = Actor::User(u.id);
                let t = Instant::now();
                let n = e
                    .service
                    .end_sessions(&me, u.id, "", &ClientInfo::default())
                    .unwrap();
                total += t.elapsed();
                if std::env::var_os("WARDEN_BENCH_TRACE").is_some() {
                    eprintln!("logout_all user {} took {:?}", u.id, t.elapsed());
                }
                assert_eq!(n.count(), SESSIONS);
            }
            total
        })
    });
    g.finish();
}

fn bench_login(c: &mut Criterion) {
    // Lockout off: repeated failures must keep paying for the hash, as a first failure does.
    let e = Engine::new(Settings {
        LOCKOUT_THRESHOLD: 0,
        ..test_settings()
    })
    .unwrap();
    e.user("alice").unwrap();
    let mut g = c.benchmark_group("login");
    g.sample_size(20);
    g.bench_function("argon2id_owasp_known_user", |b| {
        b.iter(|| e.service.obtain_pair(&login("alice", PASSWORD)).unwrap())
    });
    g.bench_function("argon2id_owasp_unknown_user", |b| {
        b.iter(|| {
            e.service
                .obtain_pair(&login("nobody", PASSWORD))
                .unwrap_err()
        })
    });
    g.bench_function("argon2id_owasp_wrong_password", |b| {
        b.iter_batched(
            || (),
            |_| {
                e.service
                    .obtain_pair(&login("alice", "wrong password"))
                    .unwrap_err()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_mint,
    bench_verify,
    bench_rotate,
    bench_logout_all,
    bench_login
);
criterion_main!(benches);
