//! Fills a Warden database before `warden serve` starts on it (nothing here
//! is timed): refresh tokens for the logout scenario, and bulk sessions for the
//! scaling runs.
//!
//! Everything goes through the engine (`AuthService`) and the store's own
//! `Store` methods over the same SQLite file and the same configured signing
//! key, so the server later accepts the tokens as its own.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow};
use warden_auth::model::ClientInfo;
use warden_auth::{
    Actor, AuthService, Clock as _, KeyMaterial, KeyRing, LoginRequest, NewAccount, Settings,
    SystemClock,
};
use warden_store::SqliteStore;

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// The config file `warden serve` will use (SimpleJWT settings; a [server] table is ignored).
    #[arg(long)]
    pub config: PathBuf,
    /// The SQLite database `warden serve` will use.
    #[arg(long)]
    pub database: PathBuf,
    /// Mint this many refresh tokens (one login each) for the logout scenario.
    #[arg(long, default_value_t = 0)]
    pub mint: usize,
    /// The user the minted tokens belong to (created if missing).
    #[arg(long, default_value = "logout-bench")]
    pub mint_user: String,
    /// Where to write the minted refresh tokens, one a line (mode 0600).
    #[arg(long)]
    pub mint_out: Option<PathBuf>,
    /// Live sessions to add (10,000 per seeded user).
    #[arg(long, default_value_t = 0)]
    pub live: usize,
    /// Revoked sessions to add (10,000 per seeded user; the server's
    /// revocation set holds them after start).
    #[arg(long, default_value_t = 0)]
    pub revoked: usize,
    /// Writer threads (group commit puts up to 65 writes in one fsync).
    #[arg(long, default_value_t = 64)]
    pub threads: usize,
}

const PASSWORD: &str = "correct horse battery";
const PER_USER: usize = 10_000;

fn open(args: &SeedArgs) -> anyhow::Result<Arc<AuthService>> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let mut table: toml::Table = text.parse().context("config is not TOML")?;
    table.remove("server");
    let mut settings: Settings =
        Settings::load_table(table, std::env::vars()).map_err(|e| anyhow!("settings: {e}"))?;
    // Only the seeder's own users are hashed with these (cheap) parameters, so
    // minting thousands of logins takes seconds; the server keeps its own.
    settings.ARGON2_MEMORY_KIB = 8;
    settings.ARGON2_ITERATIONS = 1;
    settings.ARGON2_PARALLELISM = 1;
    // Nor are its logins counted: no throttle rows, no reservations.
    settings.LOCKOUT_THRESHOLD = 0;
    let now = SystemClock.now();
    let key = KeyMaterial::from_settings(&settings, now)?.ok_or_else(|| {
        anyhow!("the config must set SIGNING_KEY (the server and the seeder share it)")
    })?;
    let ring = KeyRing::new(key)?;
    let store = SqliteStore::open(&args.database)
        .with_context(|| format!("cannot open {}", args.database.display()))?;
    let service = AuthService::new(settings, Arc::new(store), Arc::new(SystemClock), ring)?;
    Ok(Arc::new(service))
}

fn ensure_user(service: &AuthService, name: &str) -> anyhow::Result<i64> {
    if let Ok(u) = service.user_by_username(name) {
        return Ok(u.id);
    }
    let u = service.create_user(
        &NewAccount {
            username: name.to_string(),
            password: PASSWORD.to_string(),
            ..NewAccount::default()
        },
        None,
    )?;
    Ok(u.id)
}

pub fn run(args: SeedArgs) -> anyhow::Result<()> {
    let service = open(&args)?;
    let threads = args.threads.max(1);
    if args.mint > 0 {
        let out = args
            .mint_out
            .clone()
            .ok_or_else(|| anyhow!("--mint needs --mint-out"))?;
        ensure_user(&service, &args.mint_user)?;
        let t0 = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let service = Arc::clone(&service);
                let user = args.mint_user.clone();
                let n = args.mint;
                std::thread::spawn(move || -> anyhow::Result<Vec<String>> {
                    let mut v = Vec::new();
                    for _ in (t..n).step_by(threads) {
                        let pair = service.obtain_pair(&LoginRequest {
                            identifier: user.clone(),
                            password: PASSWORD.to_string(),
                            client: ClientInfo::default(),
                        })?;
                        v.push(pair.refresh.token);
                    }
                    Ok(v)
                })
            })
            .collect();
        let mut tokens = Vec::with_capacity(args.mint);
        for h in handles {
            tokens.extend(h.join().map_err(|_| anyhow!("a mint thread panicked"))??);
        }
        let mut f = open_private(&out)?;
        for t in &tokens {
            writeln!(f, "{t}")?;
        }
        eprintln!(
            "minted {} refresh tokens for {} in {:.1} s -> {}",
            tokens.len(),
            args.mint_user,
            t0.elapsed().as_secs_f64(),
            out.display()
        );
    }
    if args.live > 0 {
        let t0 = Instant::now();
        seed_sessions(&service, "seed-live", args.live, threads)?;
        eprintln!(
            "added {} live sessions in {:.1} s",
            args.live,
            t0.elapsed().as_secs_f64()
        );
    }
    if args.revoked > 0 {
        let t0 = Instant::now();
        let users = seed_sessions(&service, "seed-revoked", args.revoked, threads)?;
        let mut n = 0;
        for u in users {
            n += service
                .end_sessions(&Actor::System, u, "", &ClientInfo::default())?
                .count();
        }
        eprintln!(
            "added and revoked {n} sessions in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn open_private(path: &PathBuf) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `total` sessions, `PER_USER` per new user named `{prefix}-{n}`, written
/// straight through the store from several threads. Returns the users.
pub fn seed_sessions(
    service: &Arc<AuthService>,
    prefix: &str,
    total: usize,
    threads: usize,
) -> anyhow::Result<Vec<i64>> {
    let first = (0..)
        .find(|i| service.user_by_username(&format!("{prefix}-{i}")).is_err())
        .unwrap_or(0);
    let users: Vec<i64> = (0..total.div_ceil(PER_USER))
        .map(|i| ensure_user(service, &format!("{prefix}-{}", first + i)))
        .collect::<anyhow::Result<_>>()?;
    warden_tests::seed::live_sessions(
        service.store().as_ref(),
        service.now(),
        total,
        threads,
        |i| users[i / PER_USER],
    )?;
    Ok(users)
}

#[derive(Debug, clap::Args)]
pub struct RotateProbeArgs {
    /// A scratch directory for the database.
    #[arg(long)]
    pub dir: PathBuf,
    /// Concurrent refresh chains (one thread each).
    #[arg(long, default_value_t = 16)]
    pub chains: usize,
    /// Seconds to rotate.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 Hz on Linux).
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let u: f64 = f.get(11)?.parse().ok()?;
            let k: f64 = f.get(12)?.parse().ok()?;
            Some((u + k) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

/// Durable rotations through the engine, no HTTP: how many per second, how
/// many share one commit (group commit), and the CPU spent per rotation.
pub fn rotate_probe(args: RotateProbeArgs) -> anyhow::Result<()> {
    let (store, service) = crate::probe::service(&args.dir)?;
    ensure_user(&service, "probe")?;
    let heads: Vec<String> = (0..args.chains)
        .map(|_| {
            service
                .obtain_pair(&LoginRequest {
                    identifier: "probe".into(),
                    password: PASSWORD.into(),
                    client: ClientInfo::default(),
                })
                .map(|p| p.refresh.token)
        })
        .collect::<Result<_, _>>()?;
    let before = store.write_stats();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let end = t0 + std::time::Duration::from_secs_f64(args.seconds);
    let handles: Vec<_> = heads
        .into_iter()
        .map(|mut head| {
            let service = Arc::clone(&service);
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let mut n = 0;
                while Instant::now() < end {
                    let r = service.refresh(&head, &ClientInfo::default())?;
                    head = r
                        .refresh
                        .ok_or_else(|| anyhow!("no rotated refresh token"))?
                        .token;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| anyhow!("a probe thread panicked"))??;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let after = store.write_stats();
    let batches = after.batches - before.batches;
    let jobs = after.jobs - before.jobs;
    println!(
        "{} chains: {} rotations in {:.2} s, {:.0} rotations/s; {} commits ({:.1} jobs each, largest {}), {:.2} ms per commit; \
         CPU {:.0} µs per rotation ({:.2} cores busy of this process)",
        args.chains,
        total,
        secs,
        total as f64 / secs,
        batches,
        jobs as f64 / batches.max(1) as f64,
        after.largest_batch,
        secs * 1000.0 / batches.max(1) as f64,
        cpu * 1e6 / total.max(1) as f64,
        cpu / secs
    );
    Ok(())
}
