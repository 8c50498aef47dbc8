//! The real Warden window, driven through tauri-driver + WebKitWebDriver.
//!
//! Run by `scripts/test.sh` (step `e2e`) inside the private desktop session,
//! after `cargo build -p warden-app`, one test at a time:
//!   WARDEN_E2E=1 cargo test -p warden-e2e -- --test-threads=1
//! Without WARDEN_E2E=1 (e.g. in `cargo test --workspace`) every test
//! returns at once: it needs a display, a keyring and the built app.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple 42";

fn enabled() -> bool {
    if std::env::var("WARDEN_E2E").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("skipped: set WARDEN_E2E=1 (scripts/test.sh does, in its e2e step)");
    false
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn app_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let p = target.join("debug/warden-app");
    assert!(
        p.exists(),
        "build the app first: cargo build -p warden-app ({})",
        p.display()
    );
    p.canonicalize().unwrap()
}

fn screenshots() -> PathBuf {
    let d = root().join("artifacts/screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One app window: tauri-driver (stopped with SIGTERM, never SIGKILL, so it
/// shuts WebKitWebDriver down) and a WebDriver session.
struct Window {
    driver: Child,
    client: Option<Client>,
}

impl Window {
    async fn open(port: u16, data_dir: &Path, env: &[(&str, &str)]) -> Result<Window> {
        let mut cmd = Command::new("tauri-driver");
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &(port + 1).to_string(),
        ])
        .env("WARDEN_APP_DATA_DIR", data_dir)
        .env("WARDEN_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let driver = cmd.spawn().context("cannot start tauri-driver")?;
        let mut window = Window {
            driver,
            client: None,
        };
        let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "browserName": "wry",
            "tauri:options": { "application": app_binary() }
        }))?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match ClientBuilder::rustls()?
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => {
                    window.client = Some(c);
                    return Ok(window);
                }
                Err(e) if Instant::now() > deadline => bail!("no WebDriver session: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// Polls until `css` exists and its text satisfies `ok`; returns the text.
    async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool, secs: u64) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = String::from("(not found)");
        loop {
            if let Ok(el) = self.c().find(Locator::Css(css)).await
                && let Ok(text) = el.text().await
            {
                if ok(&text) {
                    return Ok(text);
                }
                last = text;
            }
            if Instant::now() > deadline {
                // Say what the window shows instead, so a failure explains itself.
                let shown = match self.c().find(Locator::Css("body")).await {
                    Ok(body) => body.text().await.unwrap_or_default(),
                    Err(_) => String::from("(no body)"),
                };
                bail!(
                    "waited {secs} s for {css}; last text: {last:?}; the window shows: {shown:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn wait_gone(&self, css: &str, secs: u64) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.c().find(Locator::Css(css)).await.is_ok() {
            if Instant::now() > deadline {
                bail!("{css} still there after {secs} s");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        Ok(())
    }

    async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let el = self.c().find(Locator::Css(css)).await?;
        el.clear().await?;
        el.send_keys(text).await?;
        Ok(())
    }

    async fn click(&self, css: &str) -> Result<()> {
        self.c().find(Locator::Css(css)).await?.click().await?;
        Ok(())
    }

    /// After two animation frames, so the picture is the current page.
    async fn screenshot(&self, name: &str) -> Result<()> {
        self.c()
            .execute_async(
                "const cb = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => cb()));",
                vec![],
            )
            .await?;
        let png = self.c().screenshot().await?;
        std::fs::write(screenshots().join(format!("{name}.png")), png)?;
        Ok(())
    }

    async fn close(mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
        self.stop_driver();
    }

    fn stop_driver(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.driver.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.driver.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("tauri-driver did not stop after SIGTERM");
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        if let Ok(None) = self.driver.try_wait() {
            self.stop_driver();
        }
    }
}

async fn create_account(w: &Window, user: &str) -> Result<()> {
    w.wait_text("#signin-title", |t| t == "Create your local account", 30)
        .await?;
    w.fill("#username", user).await?;
    w.fill("#password", PASSWORD).await?;
    w.click("#signin-submit").await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 20)
        .await?;
    Ok(())
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A second session over HTTP: (access, refresh).
async fn login_over_http(base: &str, user: &str, device: &str) -> Result<(String, String)> {
    let r = http()
        .post(format!("{base}api/token/"))
        .header("X-Warden-Device", device)
        .json(&json!({"username": user, "password": PASSWORD}))
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await?;
    Ok((
        v["access"].as_str().unwrap().into(),
        v["refresh"].as_str().unwrap().into(),
    ))
}

async fn status_of_refresh(base: &str, refresh: &str) -> u16 {
    http()
        .post(format!("{base}api/token/refresh/"))
        .json(&json!({"refresh": refresh}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn status_of_access(base: &str, access: &str) -> u16 {
    http()
        .get(format!("{base}api/me/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_sessions_revoke_logout_everywhere_wrong_password_and_restore() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let data = tempfile::tempdir()?;
    let user = "alice";
    let w = Window::open(4444, data.path(), &[]).await?;

    // First run: create the local account.
    w.wait_text("#signin-title", |t| t == "Create your local account", 30)
        .await?;
    w.screenshot("01-first-run").await?;
    create_account(&w, user).await?;

    // Two countdowns, ticking.
    let a1 = w
        .wait_text("#access-card [data-left]", |t| t.ends_with("left"), 5)
        .await?;
    let r1 = w
        .wait_text("#refresh-card [data-left]", |t| t.ends_with("left"), 5)
        .await?;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let a2 = w
        .wait_text("#access-card [data-left]", |t| t.ends_with("left"), 5)
        .await?;
    assert_ne!(a1, a2, "the access countdown did not move");
    let keyring = w
        .wait_text("#keyring", |t| t.contains("stored"), 10)
        .await?;
    assert!(keyring.contains(", stored"), "{keyring}");
    eprintln!("access {a1} -> {a2}; refresh {r1}; {keyring}");
    w.screenshot("02-session").await?;

    // A second session over HTTP shows up in Sessions...
    let base = w
        .c()
        .find(Locator::Css("#who"))
        .await?
        .attr("data-url")
        .await?
        .unwrap();
    let (access2, refresh2) = login_over_http(&base, user, "e2e-phone").await?;
    w.click("#rail button[data-view=sessions]").await?;
    w.wait_text(
        "#sessions-table",
        |t| t.contains("e2e-phone") && t.contains("this device"),
        15,
    )
    .await?;
    w.screenshot("03-sessions").await?;

    // ...and is revoked from the window.
    w.click("#sessions-table tbody tr:not(.current) button.revoke")
        .await?;
    w.wait_text("#confirm-text", |t| t.contains("e2e-phone"), 5)
        .await?;
    w.screenshot("04-revoke-confirm").await?;
    w.click("#confirm-ok").await?;
    w.wait_gone("#sessions-table tbody tr:not(.current)", 15)
        .await?;
    assert_eq!(status_of_refresh(&base, &refresh2).await, 401);
    assert_eq!(status_of_access(&base, &access2).await, 401);

    // Log out everywhere ends this one and another.
    let (access3, refresh3) = login_over_http(&base, user, "e2e-laptop").await?;
    w.click("#rail button[data-view=session]").await?;
    w.click("#log-out-everywhere").await?;
    w.wait_text("#confirm-text", |t| t.contains("2 sessions"), 5)
        .await?;
    w.screenshot("05-logout-everywhere-confirm").await?;
    w.click("#confirm-ok").await?;
    let notice = w
        .wait_text("#signin-notice", |t| t.contains("revoked"), 15)
        .await?;
    assert_eq!(
        notice,
        "2 sessions revoked; their access tokens are refused from now on."
    );
    w.screenshot("06-after-logout-everywhere").await?;
    assert_eq!(status_of_access(&base, &access3).await, 401);
    assert_eq!(status_of_refresh(&base, &refresh3).await, 401);

    // A wrong password says so.
    w.wait_text("#signin-title", |t| t == "Sign in", 10).await?;
    w.fill("#username", user).await?;
    w.fill("#password", "not the password").await?;
    w.click("#signin-submit").await?;
    let err = w.wait_text("#signin-error", |t| !t.is_empty(), 10).await?;
    assert!(err.starts_with("Wrong username or password."), "{err}");
    w.screenshot("07-wrong-password").await?;

    // Sign in, then a restart restores the session without a password.
    w.fill("#password", PASSWORD).await?;
    w.click("#signin-submit").await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 20)
        .await?;
    w.close().await;

    let w = Window::open(4444, data.path(), &[]).await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 30)
        .await?;
    let who = w.wait_text("#who", |t| t.starts_with(user), 5).await?;
    eprintln!("restored: {who}");
    w.screenshot("08-restored").await?;
    w.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lifetimes_rotate_automatically_and_the_count_goes_up() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let data = tempfile::tempdir()?;
    let w = Window::open(4454, data.path(), &[("WARDEN_ACCESS_TOKEN_LIFETIME", "4")]).await?;
    create_account(&w, "bob").await?;
    w.wait_text("#rotation-count", |t| t == "0 rotations", 5)
        .await?;
    let count = w
        .wait_text(
            "#rotation-count",
            |t| t != "0 rotations" && !t.is_empty(),
            20,
        )
        .await?;
    eprintln!("after auto-rotation: {count}");
    w.screenshot("09-auto-rotation").await?;

    // Another device logs out everywhere: at its next rotation the window
    // returns to the sign-in screen and says why.
    let base = w
        .c()
        .find(Locator::Css("#who"))
        .await?
        .attr("data-url")
        .await?
        .unwrap();
    let (access, _) = login_over_http(&base, "bob", "e2e-other").await?;
    let r = http()
        .post(format!("{base}api/logout-all/"))
        .bearer_auth(&access)
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let notice = w
        .wait_text(
            "#signin-notice",
            |t| t.contains("ended on another device"),
            20,
        )
        .await?;
    eprintln!("{notice}");
    w.screenshot("10-revoked-elsewhere").await?;
    w.close().await;
    Ok(())
}

/// Not a pass/fail test: cold start to an interactive window, resident
/// memory of the app's process tree and its CPU use while idle and signed in
/// (countdowns ticking). Only with WARDEN_E2E_MEASURE=1; writes artifacts/perf.txt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_cold_start_memory_and_idle_cpu() -> Result<()> {
    if std::env::var("WARDEN_E2E_MEASURE").as_deref() != Ok("1") {
        return Ok(());
    }
    let idle_secs: u64 = std::env::var("WARDEN_E2E_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let data = tempfile::tempdir()?;
    let t0 = Instant::now();
    let w = Window::open(4464, data.path(), &[]).await?;
    w.wait_text("#signin-title", |t| t == "Create your local account", 30)
        .await?;
    let cold = t0.elapsed();
    create_account(&w, "carol").await?;
    let pids = app_tree();
    tokio::time::sleep(Duration::from_secs(idle_secs.saturating_sub(60))).await;
    let per0: Vec<u64> = pids.iter().map(|p| cpu_ticks(&[*p])).collect();
    let cpu0 = cpu_ticks(&pids);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let cpu1 = cpu_ticks(&pids);
    let per_process: String = pids
        .iter()
        .zip(per0)
        .map(|(p, before)| {
            let name = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            format!("  {}: {} ticks\n", name.trim(), cpu_ticks(&[*p]) - before)
        })
        .collect();
    let rss_kib: u64 = pids.iter().map(|p| rss_kib(*p)).sum();
    let hz = 100.0;
    let cpu_pct = (cpu1 - cpu0) as f64 / hz / 60.0 * 100.0;
    let report = format!(
        "cold start to interactive window (WebDriver session + first screen): {:.2} s\n\
         resident memory after {idle_secs} s signed in and idle (app + WebKit processes, {} pids): {:.1} MiB\n\
         idle CPU over the last 60 s (countdowns ticking): {cpu_pct:.2} % of one core\n{per_process}",
        cold.as_secs_f64(),
        pids.len(),
        rss_kib as f64 / 1024.0
    );
    eprint!("{report}");
    std::fs::write(root().join("artifacts/perf.txt"), report)?;
    w.close().await;
    Ok(())
}

/// warden-app and its descendants (WebKit's web and network processes).
fn app_tree() -> Vec<u32> {
    let mut all: Vec<(u32, u32, String)> = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let ppid = stat[close + 2..]
            .split(' ')
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        all.push((pid, ppid, name));
    }
    let mut tree: Vec<u32> = all
        .iter()
        .filter(|p| p.2 == "warden-app")
        .map(|p| p.0)
        .collect();
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(all.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    tree
}

fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|stat| {
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split(' ').collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
