//! The end-to-end kit: one real app window driven through tauri-driver +
//! WebKitWebDriver, and what the tests and `examples/measure.rs` need around it.
//! Test code: it panics on broken preconditions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// WebDriver's key codes.
pub const TAB: &str = "\u{e004}";
pub const ENTER: &str = "\u{e007}";

pub const PASSWORD: &str = "correct horse battery staple 42";

pub fn enabled() -> bool {
    if std::env::var("WARDEN_E2E").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("skipped: set WARDEN_E2E=1 (scripts/test.sh does, in its e2e step)");
    false
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `WARDEN_APP_BINARY`, else the debug build in the target directory.
pub fn app_binary() -> PathBuf {
    built_binary("WARDEN_APP_BINARY", "warden-app", "warden-app")
}

/// The `warden` CLI: `WARDEN_CLI_BINARY`, else the debug build in the target directory.
pub fn cli_binary() -> PathBuf {
    built_binary("WARDEN_CLI_BINARY", "warden", "warden-cli")
}

fn built_binary(var: &str, name: &str, package: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return PathBuf::from(p)
            .canonicalize()
            .unwrap_or_else(|e| panic!("{var} must exist: {e}"));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let p = target.join("debug").join(name);
    assert!(
        p.exists(),
        "build it first: cargo build -p {package} ({})",
        p.display()
    );
    p.canonicalize().unwrap()
}

/// Creates `user` (password [`PASSWORD`]) with the real CLI, directly in the
/// app's database, as an administrator would: the embedded server takes no
/// registrations over HTTP. Returns what the CLI printed.
pub fn add_user_with_cli(data_dir: &Path, user: &str) -> Result<String> {
    use std::io::Write as _;
    let database = data_dir.join("warden.db");
    let mut child = Command::new(cli_binary())
        .arg("--database")
        .arg(&database)
        .args(["user", "add", user, "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("cannot run warden user add")?;
    child
        .stdin
        .take()
        .context("no stdin")?
        .write_all(format!("{PASSWORD}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "warden user add {user} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Tries, as the OS user `nobody`, to bind and listen on 127.0.0.1:`port`
/// with SO_REUSEPORT (what a free port, or one only in TIME_WAIT, allows).
/// Returns "bound" or "errno N".
pub fn bind_as_nobody(port: u16) -> Result<String> {
    const SCRIPT: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("bound")
except OSError as e:
    print("errno %d" % e.errno)
"#;
    // /usr/bin/python3 first: a Python under root's home is not nobody's.
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| !p.starts_with('/') || Path::new(p).exists())
        .unwrap_or("python3");
    let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let mut cmd = match runuser {
        Some(r) => {
            let mut c = Command::new(r);
            c.args(["-u", "nobody", "--"]);
            c
        }
        None => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
            c
        }
    };
    let out = cmd
        .args([python, "-c", SCRIPT, &port.to_string()])
        .current_dir("/")
        .output()
        .context("cannot run python3 as nobody")?;
    if !out.status.success() {
        bail!(
            "python3 as nobody failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn screenshots() -> PathBuf {
    let d = root().join("artifacts/screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One app window: tauri-driver (stopped with SIGTERM, never SIGKILL, so it
/// shuts WebKitWebDriver down) and a WebDriver session.
#[derive(Debug)]
pub struct Window {
    driver: Child,
    client: Option<Client>,
    data_dir: PathBuf,
}

impl Window {
    pub async fn open(port: u16, data_dir: &Path, env: &[(&str, &str)]) -> Result<Window> {
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
            data_dir: data_dir.to_path_buf(),
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

    pub fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// Polls until `css` exists and its text satisfies `ok`; returns the text.
    pub async fn wait_text(
        &self,
        css: &str,
        ok: impl Fn(&str) -> bool,
        secs: u64,
    ) -> Result<String> {
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

    pub async fn wait_gone(&self, css: &str, secs: u64) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.c().find(Locator::Css(css)).await.is_ok() {
            if Instant::now() > deadline {
                bail!("{css} still there after {secs} s");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        Ok(())
    }

    /// The embedded server's base URL, as the top bar carries it.
    pub async fn base_url(&self) -> Result<String> {
        self.c()
            .find(Locator::Css("#who"))
            .await?
            .attr("data-url")
            .await?
            .context("#who has no data-url")
    }

    /// Waits (up to 10 s) for `css`, then types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        self.wait_for(css, 10).await?;
        let el = self.c().find(Locator::Css(css)).await?;
        el.clear().await?;
        // WebDriver refuses to type nothing; a cleared field is the empty fill.
        if !text.is_empty() {
            el.send_keys(text).await?;
        }
        Ok(())
    }

    /// Waits (up to 10 s) for `css`, then clicks it.
    pub async fn click(&self, css: &str) -> Result<()> {
        self.wait_for(css, 10).await?;
        self.c()
            .find(Locator::Css(css))
            .await?
            .click()
            .await
            .with_context(|| format!("click {css}"))?;
        Ok(())
    }

    /// After two animation frames, so the picture is the current page.
    pub async fn screenshot(&self, name: &str) -> Result<()> {
        // WebKitGTK without accelerated compositing (how the app runs, see
        // src-tauri/src/main.rs) answers WebDriver's screenshot only after the
        // next paint, and a still page (say a selected password field, no
        // blinking caret) may not paint again: the command then never returns.
        // So a 1 px element in a corner flips between two invisible colours
        // every 100 ms while the screenshot is taken, and is removed after.
        tokio::time::timeout(
            Duration::from_secs(15),
            self.c().execute_async(
                r"const cb = arguments[arguments.length - 1];
                  let n = document.getElementById('__e2e_paint');
                  if (!n) {
                    n = document.createElement('div');
                    n.id = '__e2e_paint';
                    n.style.cssText = 'position:fixed;left:0;bottom:0;width:1px;height:1px;pointer-events:none;z-index:2147483647';
                    document.body.appendChild(n);
                  }
                  let k = 0;
                  clearInterval(window.__e2e_paint_timer);
                  window.__e2e_paint_timer = setInterval(() => {
                    k += 1;
                    n.style.background = k % 2 ? 'rgba(0,0,0,0.01)' : 'rgba(0,0,0,0)';
                  }, 100);
                  requestAnimationFrame(() => requestAnimationFrame(() => cb()));",
                vec![],
            ),
        )
        .await
        .map_err(|_| anyhow::anyhow!("screenshot {name}: no animation frame within 15 s"))??;
        let png = tokio::time::timeout(Duration::from_secs(30), self.c().screenshot())
            .await
            .map_err(|_| {
                anyhow::anyhow!("screenshot {name}: WebDriver took no screenshot within 30 s")
            })??;
        self.c()
            .execute(
                "clearInterval(window.__e2e_paint_timer); document.getElementById('__e2e_paint')?.remove();",
                vec![],
            )
            .await?;
        std::fs::write(screenshots().join(format!("{name}.png")), png)?;
        Ok(())
    }

    /// Waits until `css` matches an element.
    pub async fn wait_for(&self, css: &str, secs: u64) -> Result<()> {
        self.wait_text(css, |_| true, secs).await.map(|_| ())
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub async fn js(&self, script: &str) -> Result<Value> {
        Ok(self.c().execute(script, vec![]).await?)
    }

    /// The id of the focused element ("" when it has none).
    pub async fn focused(&self) -> Result<String> {
        let v = self
            .js("const a = document.activeElement; return a ? (a.id || a.tagName + (a.dataset && a.dataset.view ? '[' + a.dataset.view + ']' : '')) : '';")
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Types into the focused element, as a keyboard would.
    pub async fn keys(&self, text: &str) -> Result<()> {
        self.c().active_element().await?.send_keys(text).await?;
        Ok(())
    }

    /// Presses Tab until `id` has focus (at most `max` times); returns the ids passed.
    pub async fn tab_to(&self, id: &str, max: usize) -> Result<Vec<String>> {
        let mut seen = Vec::new();
        for _ in 0..max {
            let f = self.focused().await?;
            if f == id {
                return Ok(seen);
            }
            seen.push(f);
            self.keys(TAB).await?;
        }
        bail!("Tab never reached #{id}; focus went through {seen:?}")
    }

    /// Ends the WebDriver session, waits until the app has let go of its data
    /// directory (its instance lock), then stops the driver; so that the next
    /// window on the same directory starts a new app rather than handing over
    /// to this one while it shuts down (seen: a restore step found "Warden is
    /// already running" and waited for a window that never came).
    ///
    /// The order matters: WebKitWebDriver ends the app some time after the
    /// session is deleted, and tauri-driver, on SIGTERM, SIGKILLs
    /// WebKitWebDriver; stopped first, it leaves the app running with nobody
    /// to end it (seen under load: an app idle in its GTK main loop, holding
    /// the lock, after its driver was gone).
    pub async fn close(mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
        // The runtime directory does not matter for the lock's path.
        let lock = warden_desktop::AppPaths::new(&self.data_dir, &self.data_dir).instance_lock();
        let closed = Instant::now();
        let ended = released(&lock, Duration::from_secs(20)).await;
        self.stop_driver();
        if ended {
            eprintln!(
                "[e2e] the app let go of its data directory {} ms after its session closed",
                closed.elapsed().as_millis()
            );
            return;
        }
        // Orphaned by its driver: end it as the desktop would at logout.
        let holders = holders(&lock);
        eprintln!(
            "[e2e] the app (pid {holders:?}) outlived its WebDriver session by 20 s; sending it SIGTERM"
        );
        for pid in &holders {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if !released(&lock, Duration::from_secs(20)).await {
            panic!(
                "the app still holds {} 20 s after SIGTERM; {}",
                lock.display(),
                stuck_holder(&lock)
            );
        }
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

/// Waits up to `max` until nothing holds the instance lock at `lock`.
async fn released(lock: &Path, max: Duration) -> bool {
    let deadline = Instant::now() + max;
    loop {
        match warden_desktop::LockFile::try_acquire(lock) {
            Ok(Some(_free)) => return true,
            Ok(None) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(None) => return false,
            Err(e) => panic!("cannot check {}: {e}", lock.display()),
        }
    }
}

/// The processes that have `path` open.
fn holders(path: &Path) -> Vec<u32> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|p| {
            let pid = p.file_name().to_str()?.parse::<u32>().ok()?;
            let fds = std::fs::read_dir(p.path().join("fd")).ok()?;
            fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == path))
                .then_some(pid)
        })
        .collect()
}

/// The processes that hold `path` open, each with every thread's stack
/// (gdb), then killed: what a hang at shutdown was waiting for.
fn stuck_holder(path: &Path) -> String {
    let mut out = String::new();
    for pid in holders(path) {
        let stacks = Command::new("gdb")
            .args([
                "-batch",
                "-p",
                &pid.to_string(),
                "-ex",
                "thread apply all bt",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_else(|e| format!("no gdb: {e}"));
        out.push_str(&format!("held by pid {pid}; its threads:\n{stacks}\n"));
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    if out.is_empty() {
        out.push_str("no process has it open");
    }
    // Whether the driver's side is still there (a window never told to close).
    if let Ok(ps) = Command::new("ps")
        .args(["-eo", "pid,ppid,stat,etime,args"])
        .output()
    {
        for line in String::from_utf8_lossy(&ps.stdout).lines() {
            if line.contains("WebKitWebDriver")
                || line.contains("tauri-driver")
                || line.contains("warden-app")
            {
                out.push_str(&format!("\nps: {line}"));
            }
        }
    }
    out
}

impl Drop for Window {
    fn drop(&mut self) {
        if let Ok(None) = self.driver.try_wait() {
            self.stop_driver();
        }
    }
}

pub async fn create_account(w: &Window, user: &str) -> Result<()> {
    w.wait_text("#signin-title", |t| t == "Create your local account", 30)
        .await?;
    w.fill("#username", user).await?;
    w.fill("#password", PASSWORD).await?;
    w.click("#signin-submit").await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 20)
        .await?;
    Ok(())
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A second session over HTTP: (access, refresh).
pub async fn login_over_http(base: &str, user: &str, device: &str) -> Result<(String, String)> {
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

pub async fn status_of_refresh(base: &str, refresh: &str) -> u16 {
    http()
        .post(format!("{base}api/token/refresh/"))
        .json(&json!({"refresh": refresh}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub async fn status_of_access(base: &str, access: &str) -> u16 {
    http()
        .get(format!("{base}api/me/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// warden-app and its descendants (WebKit's web and network processes).
pub fn app_tree() -> Vec<u32> {
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

pub fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|stat| {
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split(' ').collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// A real Django + DRF + SimpleJWT server (interop/peer.sh), stopped on drop.
#[derive(Debug)]
pub struct Peer {
    pub port: u16,
    pub url: String,
    env: Vec<(String, String)>,
}

impl Peer {
    pub fn start(port: u16, env: &[(&str, &str)]) -> Result<Peer> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let url = Self::run("start", port, &env)?;
        Ok(Peer { port, url, env })
    }

    fn run(verb: &str, port: u16, env: &[(String, String)]) -> Result<String> {
        let out = Command::new("bash")
            .arg(root().join("interop/peer.sh"))
            .args([verb, &port.to_string()])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .output()
            .context("cannot run interop/peer.sh")?;
        if !out.status.success() {
            bail!(
                "interop/peer.sh {verb} {port} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    pub fn stop(&self) -> Result<()> {
        Self::run("stop", self.port, &self.env).map(|_| ())
    }

    /// Starts it again with the same settings (and database, with PEER_DB).
    pub fn restart(&self) -> Result<()> {
        Self::run("start", self.port, &self.env).map(|_| ())
    }

    /// gunicorn's access log: one line per request.
    pub fn log(&self) -> String {
        let dir = std::env::var_os("PEER_RUN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("warden-simplejwt-peer"));
        std::fs::read_to_string(dir.join(format!("peer-{}.log", self.port))).unwrap_or_default()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
