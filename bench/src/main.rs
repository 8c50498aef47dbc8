//! `warden-bench`: the benchmark tooling of Warden (not part of the product).
//!
//! - `load`: drive one scenario against a server with a fixed number of
//!   keep-alive connections for a fixed time; print and append JSON.
//! - `seed`: fill a Warden database before the server starts (tokens for the
//!   logout scenario, bulk sessions for the scaling runs).
//! - `report`: the A/B table with spread and ratios from the JSON lines.
//! - `plot`: SVG plots of the scaling curves (criterion output + scaling runs).
//!
//! `scripts/bench-http.sh` drives all of it; see BENCHMARKS.md.
#![forbid(unsafe_code)]

mod ceilings;
mod load;
mod plot;
mod probe;
mod report;
mod seed;
mod startup;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "warden-bench", about = "Warden's benchmark tooling")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Drive one scenario against one server.
    Load(load::LoadArgs),
    /// Fill a Warden database before `warden serve` starts on it.
    Seed(seed::SeedArgs),
    /// Summarise a JSON-lines file of load runs (A/B table, ratios).
    Report(report::ReportArgs),
    /// Draw the scaling curves as SVG.
    Plot(plot::PlotArgs),
    /// Durable rotations through the engine (no HTTP): rate, commits, CPU per rotation.
    RotateProbe(seed::RotateProbeArgs),
    /// Logout-all of users with 10,000 sessions through the engine (seed first with --seed).
    LogoutProbe(probe::LogoutProbeArgs),
    /// Engine start-up (revocation set rebuilt from the store) on a database
    /// with many live and revoked sessions (seed first with --seed).
    StartupProbe(startup::StartupProbeArgs),
    /// This machine's ceilings for durable writes: fsync latency and bare
    /// SQLite batched commits.
    Ceilings(ceilings::CeilingsArgs),
    /// Time one argon2id verification at the default (OWASP) parameters.
    HashCost {
        #[arg(long, default_value_t = 10)]
        iterations: usize,
        /// Also verify on this many threads at once (sharing one hasher, as
        /// the server does) and print the verifications per second.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Print a process's resident memory (KiB): VmRSS and VmHWM from /proc.
    Rss { pid: u32 },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Load(a) => load::run(a).map(|_| ()),
        Command::Seed(a) => seed::run(a),
        Command::Report(a) => report::run(a),
        Command::Plot(a) => plot::run(a),
        Command::HashCost {
            iterations,
            threads,
        } => hash_cost(iterations, threads),
        Command::RotateProbe(a) => seed::rotate_probe(a),
        Command::LogoutProbe(a) => probe::logout_probe(a),
        Command::StartupProbe(a) => startup::run(a),
        Command::Ceilings(a) => ceilings::run(a),
        Command::Rss { pid } => {
            let (rss, hwm) = load::rss_kib(pid);
            println!(
                "{} {}",
                rss.map_or("-".into(), |v| v.to_string()),
                hwm.map_or("-".into(), |v| v.to_string())
            );
            Ok(())
        }
    }
}

/// The median of `iterations` verifications of a correct password, one thread.
fn hash_cost(iterations: usize, threads: usize) -> anyhow::Result<()> {
    let settings = warden_auth::Settings::default();
    let hasher = warden_auth::PasswordHasher::from_settings(&settings)?;
    let phc = hasher.hash("correct horse battery", "alice")?;
    let mut ms = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let t = std::time::Instant::now();
        if !hasher.verify("correct horse battery", &phc) {
            anyhow::bail!("the password did not verify");
        }
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "argon2id m={} t={} p={}: median {:.1} ms per verification ({} runs)",
        settings.ARGON2_MEMORY_KIB,
        settings.ARGON2_ITERATIONS,
        settings.ARGON2_PARALLELISM,
        report::median(&mut ms),
        iterations.max(1)
    );
    if threads > 1 {
        let t = std::time::Instant::now();
        let ok = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        (0..iterations.max(1)).all(|_| hasher.verify("correct horse battery", &phc))
                    })
                })
                .collect();
            workers.into_iter().all(|w| w.join().unwrap_or(false))
        });
        if !ok {
            anyhow::bail!("a password did not verify");
        }
        let n = threads * iterations.max(1);
        println!(
            "  {threads} threads, {n} verifications: {:.1} per second (one thread: {:.1})",
            n as f64 / t.elapsed().as_secs_f64(),
            1000.0 / report::median(&mut ms)
        );
    }
    Ok(())
}
