//! `warden-bench startup-probe`: how long an engine takes to start (rebuild
//! its revocation set from the store) on a database with many live and
//! revoked sessions, and the memory the set takes per entry.
//!
//! ```sh
//! warden-bench startup-probe --dir /tmp/sp --seed --live 1000000 --revoked 10000
//! warden-bench startup-probe --dir /tmp/sp            # time it (median of --runs)
//! valgrind --tool=callgrind warden-bench startup-probe --dir /tmp/sp --runs 1
//! ```
//!
//! Seeding writes the session rows straight into SQLite in one transaction
//! (sessions only: start-up reads nothing else), which takes seconds where
//! seeding through the store's durable writes takes many minutes; the
//! sessions are spread over users 10,000 a user, live ones with a cap 30
//! days on, revoked ones revoked at seeding time.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use warden_auth::Clock as _;

#[derive(Debug, clap::Args)]
pub struct StartupProbeArgs {
    /// The directory of the probe database (`probe.db`).
    #[arg(long)]
    pub dir: PathBuf,
    /// Add `--live` and `--revoked` sessions instead of measuring.
    #[arg(long)]
    pub seed: bool,
    /// Live sessions to add (seeding only).
    #[arg(long, default_value_t = 0)]
    pub live: usize,
    /// Revoked sessions to add (seeding only).
    #[arg(long, default_value_t = 0)]
    pub revoked: usize,
    /// Start-ups to time (0: open the database and stop, the callgrind baseline).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

fn rss_kib() -> u64 {
    crate::load::rss_kib(std::process::id()).0.unwrap_or(0)
}

pub fn run(args: StartupProbeArgs) -> anyhow::Result<()> {
    if args.seed {
        return seed(&args);
    }
    // The store opens (and migrates) once, outside the timing.
    let (store, _) = crate::probe::service(&args.dir)?;
    drop(store);
    let mut times = Vec::new();
    let mut per_entry = None;
    for _ in 0..args.runs {
        let before = rss_kib();
        let t0 = Instant::now();
        let (_, service) = crate::probe::service(&args.dir)?;
        let took = t0.elapsed();
        let after = rss_kib();
        let (sessions, jtis) = service.revocations().len();
        let held = sessions + jtis;
        times.push(took.as_secs_f64() * 1000.0);
        if held > 0 {
            per_entry = Some((after.saturating_sub(before) * 1024) as f64 / held as f64);
        }
        println!(
            "start-up: {:.1} ms, revocation set {} sessions + {} jtis, RSS +{} KiB",
            took.as_secs_f64() * 1000.0,
            sessions,
            jtis,
            after.saturating_sub(before)
        );
        drop(service);
    }
    if !times.is_empty() {
        times.sort_by(f64::total_cmp);
        println!(
            "median {:.1} ms over {} runs (min {:.1}, max {:.1}); ~{} bytes per held entry",
            times[times.len() / 2],
            times.len(),
            times[0],
            times[times.len() - 1],
            per_entry.map_or("-".into(), |b| format!("{b:.0}"))
        );
    }
    Ok(())
}

fn seed(args: &StartupProbeArgs) -> anyhow::Result<()> {
    // Migrations first, through the store.
    drop(crate::probe::service(&args.dir)?);
    let now = warden_auth::SystemClock.now();
    let mut conn = rusqlite::Connection::open(args.dir.join("probe.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO sessions (user_id, id, kind, created_at, rotation_count, head_jti,
                     expires_at, max_expires_at, revoked_at, revoked_reason)
                 VALUES (?1, ?2, 'pair', ?3, 0, ?4, ?5, ?6, ?7, ?8)",
            )
            .context("the sessions table changed; update the seeder")?;
        let total = args.live + args.revoked;
        for i in 0..total {
            let revoked = i >= args.live;
            let user = 1_000_000 + (i / 10_000) as i64;
            let id = warden_auth::SessionId::random().0.to_be_bytes();
            let jti = warden_auth::Jti::random().0.to_be_bytes();
            insert.execute(rusqlite::params![
                user,
                &id[..],
                now,
                &jti[..],
                now + 86_400,
                now + 30 * 86_400,
                revoked.then_some(now),
                revoked.then_some("logout"),
            ])?;
        }
    }
    tx.commit()?;
    println!(
        "seeded {} live and {} revoked sessions in {}",
        args.live,
        args.revoked,
        args.dir.join("probe.db").display()
    );
    Ok(())
}
