//! `warden-bench logout-probe`: logout-all of users with 10,000 live sessions
//! each, through the engine (no HTTP), on a database seeded beforehand.
//!
//! Two steps so that a profiler sees only the logouts:
//!
//! ```sh
//! warden-bench logout-probe --dir /tmp/lp --seed --users 5 --others 20000
//! cp -r /tmp/lp /tmp/lp-run      # a logout consumes the seeded users
//! warden-bench logout-probe --dir /tmp/lp-run --users 5
//! valgrind --tool=callgrind warden-bench logout-probe --dir /tmp/lp-run2 --users 1
//! ```
//!
//! (`--users 0` opens and closes the same database: the baseline to subtract
//! from a callgrind total.)

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use warden_auth::model::ClientInfo;
use warden_auth::{Actor, AuthService, Clock as _, KeyMaterial, KeyRing, Settings, SystemClock};
use warden_store::SqliteStore;

#[derive(Debug, clap::Args)]
pub struct LogoutProbeArgs {
    /// The directory of the probe database (`probe.db`).
    #[arg(long)]
    pub dir: PathBuf,
    /// Seed instead of logging out: `--users` users `lo-0`, `lo-1`, ... with
    /// 10,000 live sessions each, plus `--others` sessions of other users.
    #[arg(long)]
    pub seed: bool,
    /// Users to seed, or to log out (`lo-0` … `lo-{n-1}`, each once).
    #[arg(long, default_value_t = 5)]
    pub users: usize,
    /// Live sessions of other users around them (seeding only).
    #[arg(long, default_value_t = 20_000)]
    pub others: usize,
}

pub fn service(dir: &std::path::Path) -> anyhow::Result<(Arc<SqliteStore>, Arc<AuthService>)> {
    std::fs::create_dir_all(dir)?;
    let settings = Settings {
        SIGNING_KEY: Some("rotate-probe-secret-0123456789abcdef-0123456789abcdef".into()),
        ARGON2_MEMORY_KIB: 8,
        ARGON2_ITERATIONS: 1,
        ..Settings::default()
    };
    let now = SystemClock.now();
    let key = KeyMaterial::from_settings(&settings, now)?.ok_or_else(|| anyhow!("no key"))?;
    let store = Arc::new(SqliteStore::open(dir.join("probe.db"))?);
    let service = Arc::new(AuthService::new(
        settings,
        Arc::clone(&store) as Arc<dyn warden_auth::Store>,
        Arc::new(SystemClock),
        KeyRing::new(key)?,
    )?);
    Ok((store, service))
}

pub fn logout_probe(args: LogoutProbeArgs) -> anyhow::Result<()> {
    let (store, service) = service(&args.dir)?;
    if args.seed {
        let t0 = Instant::now();
        if args.others > 0 {
            crate::seed::seed_sessions(&service, "others", args.others, 64)?;
        }
        let users = crate::seed::seed_sessions(&service, "lo", args.users * 10_000, 64)?;
        drop(service);
        store.checkpoint()?;
        eprintln!(
            "seeded {} users x 10,000 sessions (+{} others) in {:.1} s",
            users.len(),
            args.others,
            t0.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let mut ms = Vec::with_capacity(args.users);
    let mut cpus = Vec::with_capacity(args.users);
    for i in 0..args.users {
        let user = service.user_by_username(&format!("lo-{i}"))?;
        let me = Actor::User(user.id);
        let cpu0 = cpu_ns();
        let t = Instant::now();
        let summary = service.end_sessions(&me, user.id, "", &ClientInfo::default())?;
        let took = t.elapsed().as_secs_f64() * 1000.0;
        let cpu = (cpu_ns() - cpu0) as f64 / 1e6;
        if summary.count() != 10_000 {
            anyhow::bail!(
                "lo-{i} had {} live sessions, not 10,000 (re-seed)",
                summary.count()
            );
        }
        println!("logout-all lo-{i}: {took:.2} ms (CPU of all threads {cpu:.2} ms)");
        ms.push(took);
        cpus.push(cpu);
    }
    if !ms.is_empty() {
        let mut sorted = ms.clone();
        println!(
            "median {:.2} ms of {} (min {:.2}, max {:.2})",
            crate::report::median(&mut sorted),
            ms.len(),
            ms.iter().copied().fold(f64::INFINITY, f64::min),
            ms.iter().copied().fold(0.0, f64::max)
        );
        println!("median CPU {:.2} ms", crate::report::median(&mut cpus));
    }
    Ok(())
}

/// On-CPU time of every thread of this process so far (ns), from
/// `/proc/self/task/*/schedstat`; precise, unlike the 10 ms ticks of `stat`.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
