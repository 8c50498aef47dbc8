//! Measures the real app (not a test): cold start to an interactive window,
//! resident memory of the app's process tree after a while signed in and idle,
//! and the CPU it uses while idle with the countdowns ticking.
//!
//! Inside the desktop session (display + keyring), with tauri-driver on PATH:
//!   bash scripts/with-desktop-session.sh cargo run -p warden-e2e --example measure
//! Knobs: WARDEN_APP_BINARY (default target/debug/warden-app; use
//! target/release/warden-app for release figures), WARDEN_IDLE_SECS (300),
//! WARDEN_MEASURE_RUNS (cold starts to time, 3). Writes artifacts/perf.txt.

use std::time::{Duration, Instant};

use anyhow::Result;
use warden_e2e::{Window, app_binary, app_tree, cpu_ticks, create_account, root, rss_kib};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let idle_secs = env_u64("WARDEN_IDLE_SECS", 300).max(60);
    let runs = env_u64("WARDEN_MEASURE_RUNS", 3).max(1);
    let binary = app_binary();

    // Cold starts: a new data directory each time, so each is a first run
    // (backend start, signing key generated, database created).
    let mut colds = Vec::new();
    for i in 0..runs {
        let data = tempfile::tempdir()?;
        let t0 = Instant::now();
        let w = Window::open(4474, data.path(), &[]).await?;
        w.wait_text("#signin-title", |t| t == "Create your local account", 30)
            .await?;
        colds.push(t0.elapsed().as_secs_f64());
        eprintln!("cold start {}: {:.2} s", i + 1, colds[colds.len() - 1]);
        w.close().await;
    }

    let data = tempfile::tempdir()?;
    let w = Window::open(4474, data.path(), &[]).await?;
    // A baseline: the sign-in screen has nothing ticking.
    w.wait_text("#signin-title", |t| t == "Create your local account", 30)
        .await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let pids = app_tree();
    let base0 = cpu_ticks(&pids);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let baseline = (cpu_ticks(&pids) - base0) as f64 / 100.0 / 30.0 * 100.0;
    eprintln!("sign-in screen, idle: {baseline:.2} % of one core");
    create_account(&w, "carol").await?;
    let pids = app_tree();
    eprintln!("signed in; idling {idle_secs} s ({} processes)", pids.len());
    tokio::time::sleep(Duration::from_secs(idle_secs - 60)).await;
    let per0: Vec<u64> = pids.iter().map(|p| cpu_ticks(&[*p])).collect();
    let cpu0 = cpu_ticks(&pids);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let cpu1 = cpu_ticks(&pids);
    let per_process: String = pids
        .iter()
        .zip(per0)
        .map(|(p, before)| {
            let name = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            let rss = rss_kib(*p) as f64 / 1024.0;
            format!(
                "  {:<22} {:>4} ticks  {:>7.1} MiB\n",
                name.trim(),
                cpu_ticks(&[*p]) - before,
                rss
            )
        })
        .collect();
    let rss: f64 = pids.iter().map(|p| rss_kib(*p)).sum::<u64>() as f64 / 1024.0;
    let cpu_pct = (cpu1 - cpu0) as f64 / 100.0 / 60.0 * 100.0;
    let colds_text: Vec<String> = colds.iter().map(|c| format!("{c:.2}")).collect();
    let report = format!(
        "binary: {}\n\
         cold start to interactive window (WebDriver session + first screen), {runs} runs: {} s\n\
         resident memory after {idle_secs} s signed in and idle (app + WebKit processes): {rss:.1} MiB\n\
         idle CPU over the last 60 s (countdowns ticking): {cpu_pct:.2} % of one core\n\
         idle CPU on the sign-in screen (nothing ticking, 30 s): {baseline:.2} % of one core\n\
         per process (CPU ticks of 10 ms in the last 60 s, RSS):\n{per_process}",
        binary.display(),
        colds_text.join(", "),
    );
    print!("{report}");
    std::fs::create_dir_all(root().join("artifacts"))?;
    std::fs::write(root().join("artifacts/perf.txt"), report)?;
    w.close().await;
    Ok(())
}
