//! Scaling curves of the engine (issue 9), for `warden-bench plot`:
//!
//! - `scaling_verify/revoked/N`: authenticate an HS256 access token with N
//!   entries (half sessions, half jtis) in the revocation set, N = 0 … 1,000,000;
//!   the process's resident memory at each N goes to
//!   `target/criterion/warden-memory.jsonl`.
//! - `scaling_logout_all/sessions/N`: logout-all of a user with N live sessions
//!   (N = 1 … 10,000), durable, each sample a fresh user.
//! - `scaling_rotate/db_sessions/N`: one durable refresh with rotation, one
//!   caller, in a database holding N sessions (N = 1,000 … 100,000;
//!   `WARDEN_BENCH_MAX_DB=1000000` adds 1,000,000, whose seeding through the
//!   store takes many minutes on this machine).
//!
//! `cargo bench -p warden-tests --bench scaling`
// Test code: a failed unwrap is a failed benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use warden_auth::model::ClientInfo;
use warden_auth::{Actor, Jti, SessionId};
use warden_tests::{Engine, seed, test_settings};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn memory_log(line: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion");
    std::fs::create_dir_all(&dir).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("warden-memory.jsonl"))
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

fn bench_verify(c: &mut Criterion) {
    let e = Engine::new(test_settings()).unwrap();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    let set = e.service.revocations();
    let far = e.service.now() + 86_400;
    let base_rss = rss_kib();
    let mut g = c.benchmark_group("scaling_verify");
    let mut filled = 0usize;
    for n in [0usize, 10_000, 100_000, 1_000_000] {
        while filled < n {
            if filled.is_multiple_of(2) {
                set.revoke_session(SessionId::random(), far);
            } else {
                set.revoke_jti(Jti::random(), far);
            }
            filled += 1;
        }
        let (s, j) = set.len();
        assert_eq!(s + j, n);
        let rss = rss_kib();
        eprintln!(
            "revocation set {n}: process RSS {rss} KiB ({} KiB over the empty set)",
            rss.saturating_sub(base_rss)
        );
        memory_log(&format!(
            r#"{{"bench":"revocation_set","entries":{n},"rss_kib":{rss},"base_rss_kib":{base_rss}}}"#
        ));
        g.bench_with_input(BenchmarkId::new("revoked", n), &n, |b, _| {
            b.iter(|| e.service.authenticate(&pair.access.token).unwrap())
        });
    }
    g.finish();
}

/// Writes `n` live sessions for `user` straight into the store; 64 writers
/// because group commit puts up to 65 writes in one fsync.
fn seed_sessions(e: &Engine, user: i64, n: usize) {
    seed::live_sessions(e.service.store().as_ref(), e.service.now(), n, 64, |_| user).unwrap();
}

fn bench_logout_all(c: &mut Criterion) {
    const SAMPLES: usize = 10;
    let e = Engine::new(test_settings()).unwrap();
    // Other users' sessions around: 20,000 live rows.
    let others = e.user("others").unwrap();
    seed_sessions(&e, others.id, 20_000);
    let mut g = c.benchmark_group("scaling_logout_all");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_millis(100));
    let mut made = 0usize;
    for n in [1usize, 10, 100, 1_000, 10_000] {
        // Pre-seed fresh users (a used user's revoked history would be timed otherwise).
        let mut fresh: Vec<i64> = (0..SAMPLES + 2)
            .map(|_| {
                made += 1;
                let u = e.user(&format!("u{made}")).unwrap();
                seed_sessions(&e, u.id, n);
                u.id
            })
            .collect();
        e.checkpoint().unwrap();
        g.bench_with_input(BenchmarkId::new("sessions", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let user = fresh.pop().unwrap_or_else(|| {
                        made += 1;
                        let u = e.user(&format!("u{made}")).unwrap();
                        seed_sessions(&e, u.id, n);
                        e.checkpoint().unwrap();
                        u.id
                    });
                    let me = Actor::User(user);
                    let t = Instant::now();
                    let summary = e
                        .service
                        .end_sessions(&me, user, "", &ClientInfo::default())
                        .unwrap();
                    total += t.elapsed();
                    assert_eq!(summary.count(), n);
                }
                total
            })
        });
    }
    g.finish();
}

fn bench_rotate(c: &mut Criterion) {
    let max: usize = std::env::var("WARDEN_BENCH_MAX_DB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let e = Engine::new(test_settings()).unwrap();
    e.user("alice").unwrap();
    let filler = e.user("filler").unwrap();
    let pair = e.login("alice").unwrap();
    let mut head = pair.refresh.token;
    let mut g = c.benchmark_group("scaling_rotate");
    g.sample_size(30);
    let mut seeded = 0usize;
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        if n > max {
            break;
        }
        let t = Instant::now();
        seed_sessions(&e, filler.id, n - seeded);
        seeded = n;
        e.checkpoint().unwrap();
        eprintln!(
            "database of {n} sessions ready in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        g.bench_with_input(BenchmarkId::new("db_sessions", n), &n, |b, _| {
            b.iter(|| {
                let r = e.service.refresh(&head, &ClientInfo::default()).unwrap();
                head = r.refresh.unwrap().token;
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_verify, bench_logout_all, bench_rotate);
criterion_main!(benches);
