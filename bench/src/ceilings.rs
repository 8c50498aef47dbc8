//! `warden-bench ceilings`: what this machine's disk allows, measured beside
//! the rotation figures so that rotations/s can be read against it:
//!
//! - fsync latency: 4 KiB appended and `fdatasync`ed, one at a time;
//! - bare SQLite batched commits: a WAL database with `synchronous=FULL` (as
//!   the store's writer), one row a job, `--batch` rows a commit, one thread:
//!   commits/s and rows/s, with no engine around it.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct CeilingsArgs {
    /// A directory on the disk the database lives on.
    #[arg(long)]
    pub dir: PathBuf,
    /// Seconds for each measurement.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Rows per SQLite commit (the store's group commits hold 10-50 at 16-64 chains).
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn run(args: CeilingsArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)?;
    let limit = Duration::from_secs_f64(args.seconds);

    // fsync latency.
    let path = args.dir.join("fsync-probe.bin");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    let block = [0x5au8; 4096];
    let mut lat = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        let t = Instant::now();
        f.write_all(&block)?;
        f.sync_data()?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    drop(f);
    std::fs::remove_file(&path)?;
    lat.sort_by(f64::total_cmp);
    println!(
        "fsync (4 KiB append + fdatasync): {} in {:.1} s, median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms ({:.0}/s)",
        lat.len(),
        args.seconds,
        percentile(&lat, 0.5),
        percentile(&lat, 0.9),
        percentile(&lat, 0.99),
        lat.len() as f64 / t0.elapsed().as_secs_f64()
    );

    // Bare SQLite batched commits.
    let db = args.dir.join("sqlite-probe.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let conn = rusqlite::Connection::open(&db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE t (id BLOB PRIMARY KEY, at INTEGER NOT NULL, v BLOB NOT NULL) WITHOUT ROWID",
    )?;
    let mut commits = 0u64;
    let mut rows = 0u64;
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        conn.execute_batch("BEGIN")?;
        {
            let mut stmt = conn.prepare_cached("INSERT INTO t (id, at, v) VALUES (?1, ?2, ?3)")?;
            for _ in 0..args.batch {
                let id = warden_auth::Jti::random().0.to_be_bytes();
                stmt.execute(rusqlite::params![&id[..], 1_i64, &[0u8; 200][..]])?;
                rows += 1;
            }
        }
        conn.execute_batch("COMMIT")?;
        commits += 1;
    }
    let secs = t0.elapsed().as_secs_f64();
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    println!(
        "SQLite WAL synchronous=FULL, {} rows a commit: {:.0} commits/s, {:.0} rows/s ({:.2} ms a commit)",
        args.batch,
        commits as f64 / secs,
        rows as f64 / secs,
        secs * 1000.0 / commits.max(1) as f64
    );
    Ok(())
}
