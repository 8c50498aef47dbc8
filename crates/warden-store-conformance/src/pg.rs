//! Helpers for tests that need a real PostgreSQL server (the PostgreSQL
//! store's, the CLI's multi-node tests).
//!
//! The server is the one `scripts/pg.sh` runs: `WARDEN_TEST_PG_URL` when set
//! (scripts/test.sh exports it), otherwise `scripts/pg.sh start` is run (it is
//! idempotent and prints the URL). No server is an error, never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use postgres::NoTls;

/// The repository root (this crate lives at `crates/warden-store-conformance`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The test server's URL, starting it through `scripts/pg.sh` when needed.
pub fn server_url() -> Result<String, String> {
    if let Ok(url) = std::env::var("WARDEN_TEST_PG_URL")
        && !url.trim().is_empty()
    {
        return Ok(url.trim().to_owned());
    }
    let script = repo_root().join("scripts/pg.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("start")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "these tests need PostgreSQL: WARDEN_TEST_PG_URL is not set and `{} start` failed \
             (run the tests through scripts/test.sh, or install Debian's postgresql package \
             and run scripts/pg.sh start):\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if url.is_empty() {
        return Err(format!("{} start printed no URL", script.display()));
    }
    Ok(url)
}

/// A fresh, empty schema on the test server: `(url, schema)` where `url`
/// points every connection's `search_path` at it. Drop it with [`drop_schema`].
pub fn fresh_schema(base: &str) -> Result<(String, String), String> {
    let schema = format!("t_{}", uuid_like());
    let mut client =
        postgres::Client::connect(base, NoTls).map_err(|e| format!("connect {base}: {e}"))?;
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .map_err(|e| format!("create schema: {e}"))?;
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok((
        format!("{base}{sep}options=-csearch_path%3D{schema}"),
        schema,
    ))
}

pub fn drop_schema(base: &str, schema: &str) -> Result<(), String> {
    let mut client =
        postgres::Client::connect(base, NoTls).map_err(|e| format!("connect {base}: {e}"))?;
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .map_err(|e| format!("drop schema: {e}"))
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:x}_{}_{n}", nanos, std::process::id())
}
