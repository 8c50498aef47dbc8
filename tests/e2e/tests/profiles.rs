//! Profiles in the real window: three sessions live at once (the embedded
//! server, a remote Warden started here with `warden serve`, and the Django
//! SimpleJWT peer), each rotating on its own with short access lifetimes;
//! one server taken away while the others keep rotating; a logout while it
//! is away waits in the outbox ("will be revoked when … is reachable") and
//! is delivered when it is back; `warden token` hand-outs and the session's
//! history picture in the timeline; a second launch of the app on the same
//! data directory hands over to the first and no session is disturbed.
//!
//! Run like the other e2e tests (scripts/test.sh, step `e2e`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use fantoccini::Locator;
use warden_e2e::*;

/// `warden serve` on a fixed port, with its own database and key file;
/// stopped (SIGTERM) on drop.
struct WardenServe {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl WardenServe {
    fn new(dir: &Path, port: u16) -> Result<WardenServe> {
        std::fs::write(
            dir.join("warden.toml"),
            "ARGON2_MEMORY_KIB = 64\nARGON2_ITERATIONS = 1\nLOCKOUT_THRESHOLD = 0\n[server]\nKEY_STORE = \"file\"\n",
        )?;
        Ok(WardenServe {
            dir: dir.to_path_buf(),
            port,
            child: None,
        })
    }

    fn command(&self) -> Command {
        let mut c = Command::new(cli_binary());
        c.arg("--config")
            .arg(self.dir.join("warden.toml"))
            .arg("--database")
            .arg(self.dir.join("warden.db"))
            // Short-lived access tokens, so the window rotates every few seconds.
            .env("WARDEN_ACCESS_TOKEN_LIFETIME", "6")
            .env_remove("WARDEN_APP_DATA_DIR");
        c
    }

    fn add_user(&self, user: &str) -> Result<()> {
        use std::io::Write as _;
        let mut child = self
            .command()
            .args(["user", "add", user, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(format!("{PASSWORD}\n").as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("warden user add: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    async fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("serve.log"))?;
        let child = self
            .command()
            .args(["serve", "--bind", &format!("127.0.0.1:{}", self.port)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("warden serve")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if http()
                .get(format!("{}api/capabilities/", self.url()))
                .send()
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "warden serve did not answer on {}: {}",
                    self.url(),
                    std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }
}

impl Drop for WardenServe {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Each profile of the Profiles view: name → (state in words, rotations).
async fn table(w: &Window) -> Result<HashMap<String, (String, u64)>> {
    let v = w
        .js(
            "return [...document.querySelectorAll('#profiles-table tbody tr')].map(r =>
               [r.dataset.profile, r.querySelector('.pm-state').textContent,
                Number(r.cells[4].textContent)]);",
        )
        .await?;
    let mut out = HashMap::new();
    for row in v.as_array().context("rows")? {
        out.insert(
            row[0].as_str().unwrap_or_default().to_string(),
            (
                row[1].as_str().unwrap_or_default().to_string(),
                row[2].as_u64().unwrap_or(0),
            ),
        );
    }
    Ok(out)
}

/// Polls the Profiles view until `ok` holds (checking `invariant` on every look).
async fn wait_table(
    w: &Window,
    secs: u64,
    what: &str,
    mut invariant: impl FnMut(&HashMap<String, (String, u64)>),
    mut ok: impl FnMut(&HashMap<String, (String, u64)>) -> bool,
) -> Result<HashMap<String, (String, u64)>> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let t = table(w).await?;
        invariant(&t);
        if ok(&t) {
            return Ok(t);
        }
        if Instant::now() > deadline {
            bail!("waited {secs} s for {what}; the profiles: {t:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Launches the real app binary once more on `data` (as a person starting it
/// from the menu while it runs) and waits for it to exit; its stderr. Fails
/// if it is still running after 30 s (it would be a second app).
async fn second_launch(data: &Path) -> Result<String> {
    let mut child = Command::new(app_binary())
        .env("WARDEN_APP_DATA_DIR", data)
        .env("WARDEN_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the app a second time")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the second launch was still running after 30 s: it did not hand over");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read as _;
        e.read_to_string(&mut err)?;
    }
    anyhow::ensure!(
        status.success(),
        "the second launch failed ({status}): {err}"
    );
    Ok(err)
}

async fn add_remote_profile(w: &Window, url: &str, name: &str, user: &str) -> Result<()> {
    w.click("#profile-switcher").await?;
    w.click("#profile-add").await?;
    w.wait_for("#add-profile", 5).await?;
    let kind = w.c().find(Locator::Css("#add-kind")).await?;
    kind.select_by_value("remote").await?;
    w.fill("#add-url", url).await?;
    w.fill("#add-name", name).await?;
    w.fill("#add-username", user).await?;
    w.fill("#add-password", PASSWORD).await?;
    w.click("#add-submit").await?;
    w.wait_text("#profile-current", |t| t == name, 20).await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 20)
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_profiles_rotate_on_their_own_one_goes_offline_and_its_logout_waits() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    // The Django SimpleJWT peer and a remote Warden, both with short access tokens.
    let peer = Peer::start(
        18987,
        &[
            ("PEER_ACCESS_SECONDS", "5"),
            ("PEER_USERS", &format!("alice:{PASSWORD}")),
        ],
    )?;
    let serve_dir = tempfile::tempdir()?;
    let mut serve = WardenServe::new(serve_dir.path(), 18995)?;
    serve.add_user("carol")?;
    serve.start().await?;

    let data = tempfile::tempdir()?;
    let w = Window::open(4524, data.path(), &[("WARDEN_ACCESS_TOKEN_LIFETIME", "5")]).await?;

    // Profile 1: the embedded server (the first run creates the account).
    create_account(&w, "bob").await?;
    w.wait_text("#profile-current", |t| t == "bob @ this computer", 10)
        .await?;
    // Profiles 2 and 3, from the switcher's "Add a profile…".
    add_remote_profile(&w, &serve.url(), "staging", "carol").await?;
    add_remote_profile(&w, &peer.url, "django", "alice").await?;

    // The switcher lists all three, each with its state and countdown.
    w.click("#profile-switcher").await?;
    w.wait_text(
        "#profile-menu",
        |t| t.contains("bob @ this computer") && t.contains("staging") && t.contains("django"),
        5,
    )
    .await?;
    let items = w
        .js("return [...document.querySelectorAll('#profile-menu .profile-item')].map(b => [b.dataset.profile, b.getAttribute('aria-checked')]);")
        .await?;
    assert_eq!(
        items,
        serde_json::json!([
            ["bob @ this computer", "false"],
            ["staging", "false"],
            ["django", "true"]
        ])
    );
    // The menu opened on the shown profile; the keyboard moves and picks.
    assert_eq!(
        w.js("return document.activeElement.dataset.profile;")
            .await?,
        "django"
    );
    w.screenshot("30-profile-switcher").await?;
    w.keys("\u{e011}").await?; // Home
    assert_eq!(
        w.js("return document.activeElement.dataset.profile;")
            .await?,
        "bob @ this computer"
    );
    w.keys(ENTER).await?;
    w.wait_text("#profile-current", |t| t == "bob @ this computer", 10)
        .await?;
    w.wait_for("#profile-menu[hidden]", 5).await?;
    assert_eq!(w.focused().await?, "profile-switcher");
    let who = w.wait_text("#who", |t| t.starts_with("bob @"), 10).await?;
    assert!(who.contains("Embedded"), "{who}");

    // All three rotate on their own.
    w.click("button[data-view=profiles]").await?;
    w.wait_for("#profiles-table", 10).await?;
    let names = ["bob @ this computer", "staging", "django"];
    wait_table(
        &w,
        60,
        "two rotations each",
        |_| {},
        |t| {
            names
                .iter()
                .all(|n| t.get(*n).is_some_and(|(_, r)| *r >= 2))
        },
    )
    .await?;
    w.screenshot("31-three-profiles").await?;

    // The app is launched a second time on the same data directory (and
    // keyring): it hands over to this one and exits without touching a
    // refresh token. Had it restored and rotated any of the three, this
    // window's next rotation would present a rotated-away token (reuse
    // detected by both Wardens, blacklisted by SimpleJWT) and sign it out.
    let second = second_launch(data.path()).await?;
    assert!(
        second.contains("already running"),
        "the second launch did not hand over: {second}"
    );
    let handed = table(&w).await?;
    wait_table(
        &w,
        60,
        "two more rotations each after the second launch",
        |t| {
            for n in names {
                assert!(
                    t[n].0 == "signed in" || t[n].0 == "rotating…",
                    "{n} lost its session after the second launch: {t:?}"
                );
            }
        },
        |t| names.iter().all(|n| t[*n].1 >= handed[*n].1 + 2),
    )
    .await?;

    // The remote Warden goes away: staging goes offline, the others keep rotating.
    serve.stop();
    let before = wait_table(
        &w,
        40,
        "staging offline",
        |_| {},
        |t| {
            t.get("staging")
                .is_some_and(|(s, _)| s.starts_with("offline"))
        },
    )
    .await?;
    let offline_since = Instant::now();
    let (b0, d0, s0) = (
        before["bob @ this computer"].1,
        before["django"].1,
        before["staging"].1,
    );
    let after = wait_table(
        &w,
        60,
        "two more rotations of bob and django while staging is offline",
        |t| {
            for n in ["bob @ this computer", "django"] {
                let (s, _) = &t[n];
                assert!(
                    s == "signed in" || s == "rotating…",
                    "{n} was disturbed by staging's outage: {t:?}"
                );
            }
            // Offline, or trying again (rotating…), and never rotated.
            let (s, r) = &t["staging"];
            assert!(
                (s.starts_with("offline") || s == "rotating…") && *r == s0,
                "staging stays offline: {t:?}"
            );
        },
        |t| t["bob @ this computer"].1 >= b0 + 2 && t["django"].1 >= d0 + 2,
    )
    .await?;
    eprintln!(
        "while staging was offline ({:.1} s): bob {} -> {}, django {} -> {}",
        offline_since.elapsed().as_secs_f64(),
        b0,
        after["bob @ this computer"].1,
        d0,
        after["django"].1
    );
    w.screenshot("32-one-profile-offline").await?;

    // Log staging out while its server is away: signed out here at once,
    // the revocation waits, and the window says so.
    w.click("tr[data-profile=staging] button").await?;
    w.wait_text("#profile-current", |t| t == "staging", 10)
        .await?;
    w.wait_text("#offline", |t| t.starts_with("Server unreachable"), 20)
        .await?;
    w.click("#log-out").await?;
    let place = format!("127.0.0.1:{}", serve.port);
    let pending = w
        .wait_text(
            "#pending-notice",
            |t| t.contains(&format!("will be revoked when {place} is reachable")),
            20,
        )
        .await?;
    eprintln!("{pending}");
    w.click("#profile-switcher").await?;
    w.wait_text(
        "#profile-menu [data-profile=staging] .pending",
        |t| t.contains("is reachable"),
        5,
    )
    .await?;
    w.screenshot("33-pending-revocation").await?;
    w.keys("\u{e00c}").await?; // Escape
    w.wait_for("#profile-menu[hidden]", 5).await?;

    // The server is back: the outbox delivers, the notice goes.
    serve.start().await?;
    w.wait_gone("#pending-notice", 60).await?;
    // Signed in again, the timeline shows the logout queued and delivered.
    w.fill("#username", "carol").await?;
    w.fill("#password", PASSWORD).await?;
    w.click("#signin-submit").await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 20)
        .await?;
    w.click("button[data-view=timeline]").await?;
    w.wait_text(
        "tr[data-activity=revocation_delivered]",
        |t| t.contains(&format!("Revocation delivered to {place}")),
        10,
    )
    .await?;
    w.wait_for("tr[data-activity=revocation_queued]", 5).await?;

    // Back to bob: another program asks for a token (`warden token`), the
    // timeline shows the hand-out, and the picture draws bars and ticks.
    w.click("#profile-switcher").await?;
    w.click("#profile-menu [data-profile='bob @ this computer']")
        .await?;
    w.wait_text("#profile-current", |t| t == "bob @ this computer", 10)
        .await?;
    let out = Command::new(cli_binary())
        .args(["token", "bob @ this computer"])
        .env("WARDEN_APP_DATA_DIR", data.path())
        .output()?;
    assert!(
        out.status.success(),
        "warden token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)?.trim().to_string();
    let base = w.base_url().await?;
    assert_eq!(status_of_access(&base, &token).await, 200);
    w.click("button[data-view=timeline]").await?;
    w.wait_text(
        "tr[data-activity=handed_out]",
        |t| t.contains("handed out to warden"),
        10,
    )
    .await?;
    let ticks = w
        .wait_text("#history-summary", |t| t.contains("rotations"), 10)
        .await?;
    let fig = w
        .js("const f = document.getElementById('history'); return [Number(f.dataset.bars), Number(f.dataset.ticks), f.dataset.marks];")
        .await?;
    eprintln!("history: {ticks} {fig}");
    assert!(fig[0].as_u64().unwrap() >= 3, "bars: {fig}");
    assert!(fig[1].as_u64().unwrap() >= 2, "ticks: {fig}");
    assert!(fig[2].as_str().unwrap().contains("handout"), "{fig}");
    w.screenshot("34-timeline-history").await?;

    // The other two kept their sessions through all of it.
    w.click("button[data-view=profiles]").await?;
    let t = table(&w).await?;
    assert!(
        t["django"].0 == "signed in" || t["django"].0 == "rotating…",
        "{t:?}"
    );
    w.close().await;
    drop(peer);
    Ok(())
}
