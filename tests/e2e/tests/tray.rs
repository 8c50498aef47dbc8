//! The tray and the desktop notifications of the real app, seen the way a
//! desktop sees them: over the session bus. The test plays the desktop's
//! panel (it owns `org.kde.StatusNotifierWatcher`, where the app's
//! AppIndicator registers, and reads the item's menu over
//! `com.canonical.dbusmenu`, clicking as a panel does) and its notification
//! daemon (it owns `org.freedesktop.Notifications`).
//!
//! The icons the tray shows are saved as the app wrote them
//! (artifacts/screenshots/tray-*.png). The second test shows the menu drawn
//! on a screen: it runs a panel with an XEmbed system tray (trayer) and no
//! watcher, so the app's AppIndicator falls back to an icon in that panel,
//! clicks it with xdotool, pictures the real GTK menu
//! (artifacts/screenshots/35-tray-menu.png) and picks "Rotate now" in it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use tokio::sync::mpsc;
use warden_e2e::*;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

/// The panel's side of the StatusNotifierItem protocol.
struct Watcher {
    tx: mpsc::UnboundedSender<(String, String)>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    async fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        let _ = self.tx.send((sender, service.to_string()));
    }

    async fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    async fn registered_status_notifier_items(&self) -> Vec<String> {
        Vec::new()
    }

    #[zbus(property)]
    async fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    async fn protocol_version(&self) -> i32 {
        0
    }
}

/// The desktop's notification daemon.
struct Notifications {
    /// (sender's bus name, app name, summary, body)
    tx: mpsc::UnboundedSender<(String, String, String, String)>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) -> u32 {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        let _ = self.tx.send((sender, app_name, summary, body));
        1
    }

    async fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    async fn get_server_information(&self) -> (String, String, String, String) {
        ("e2e".into(), "warden".into(), "1".into(), "1.2".into())
    }
}

/// One menu item: id, label, enabled.
type Item = (i32, String, bool);

/// `GetLayout`'s answer: the revision and the root (id, properties, children).
type Layout = (u32, (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>));

fn items_of(children: &[OwnedValue]) -> Vec<Item> {
    let mut out = Vec::new();
    for child in children {
        let v: &Value<'_> = child;
        let v = match v {
            Value::Value(inner) => inner.as_ref(),
            other => other,
        };
        let Value::Structure(s) = v else { continue };
        let fields = s.fields();
        let id = match fields.first() {
            Some(Value::I32(id)) => *id,
            _ => continue,
        };
        let (mut label, mut enabled, mut separator) = (String::new(), true, false);
        if let Some(Value::Dict(d)) = fields.get(1) {
            for (k, v) in d.iter() {
                let v = match v {
                    Value::Value(inner) => inner.as_ref(),
                    other => other,
                };
                match (k, v) {
                    (Value::Str(k), Value::Str(s)) if k.as_str() == "label" => {
                        label = s.as_str().to_string()
                    }
                    (Value::Str(k), Value::Str(s)) if k.as_str() == "type" => {
                        separator = s.as_str() == "separator"
                    }
                    (Value::Str(k), Value::Bool(b)) if k.as_str() == "enabled" => enabled = *b,
                    _ => {}
                }
            }
        }
        if !separator {
            out.push((id, label.replace('_', ""), enabled));
        }
    }
    out
}

struct TrayItem {
    bus: zbus::Connection,
    dest: String,
    path: String,
}

impl TrayItem {
    async fn prop<T: TryFrom<OwnedValue>>(&self, name: &str) -> Result<T>
    where
        T::Error: std::fmt::Display,
    {
        let reply = self
            .bus
            .call_method(
                Some(self.dest.as_str()),
                self.path.as_str(),
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &("org.kde.StatusNotifierItem", name),
            )
            .await?;
        let v: OwnedValue = reply.body().deserialize()?;
        T::try_from(v).map_err(|e| anyhow::anyhow!("{name}: {e}"))
    }

    async fn menu(&self) -> Result<(String, Vec<Item>)> {
        let path: OwnedObjectPath = self.prop("Menu").await?;
        let reply = self
            .bus
            .call_method(
                Some(self.dest.as_str()),
                path.as_str(),
                Some("com.canonical.dbusmenu"),
                "GetLayout",
                &(0i32, -1i32, Vec::<&str>::new()),
            )
            .await?;
        let (_rev, (_id, _props, children)): Layout = reply.body().deserialize()?;
        Ok((path.as_str().to_string(), items_of(&children)))
    }

    async fn click(&self, menu: &str, id: i32) -> Result<()> {
        self.bus
            .call_method(
                Some(self.dest.as_str()),
                menu,
                Some("com.canonical.dbusmenu"),
                "Event",
                &(id, "clicked", Value::from(0i32), 0u32),
            )
            .await?;
        Ok(())
    }

    /// Waits until the menu satisfies `ok`.
    async fn wait_menu(
        &self,
        secs: u64,
        ok: impl Fn(&[Item]) -> bool,
    ) -> Result<(String, Vec<Item>)> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let m = self.menu().await;
            if let Ok(m) = &m
                && ok(&m.1)
            {
                return Ok(m.clone());
            }
            if Instant::now() > deadline {
                bail!("the tray menu never matched: {m:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The icon file the item shows now (the app writes one per state and
    /// removes the one before: a name read just then may be gone, so ask again).
    async fn icon(&self) -> Result<std::path::PathBuf> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.icon_once().await {
                Ok(p) => return Ok(p),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Waits until the icon's centre colour satisfies `ok`; saves it as `name`.
    async fn wait_colour(&self, name: &str, ok: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let icon = self.icon().await?;
            let colour = centre_colour(&icon)?;
            if ok(&colour) {
                std::fs::copy(&icon, screenshots().join(name))?;
                return Ok(colour);
            }
            if Instant::now() > deadline {
                bail!("the tray icon stayed {colour} ({name})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn icon_once(&self) -> Result<std::path::PathBuf> {
        let name: String = self.prop("IconName").await?;
        let theme: String = self.prop("IconThemePath").await.unwrap_or_default();
        let direct = std::path::PathBuf::from(&name);
        if direct.is_absolute() && direct.exists() {
            return Ok(direct);
        }
        let themed = std::path::Path::new(&theme).join(format!("{name}.png"));
        if themed.exists() {
            return Ok(themed);
        }
        bail!("no icon file for IconName {name:?} (theme path {theme:?})")
    }
}

/// `sender` (a bus name) is a process whose environment has `want`
/// (`WARDEN_APP_DATA_DIR=<this test's data directory>`).
async fn ours(bus: &zbus::Connection, sender: &str, want: &str) -> Result<bool> {
    let pid: u32 = bus
        .call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus"),
            "GetConnectionUnixProcessID",
            &(sender,),
        )
        .await?
        .body()
        .deserialize()?;
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    Ok(environ.split(|b| *b == 0).any(|kv| kv == want.as_bytes()))
}

/// The colour at the icon's centre, as ImageMagick reads it.
fn centre_colour(png: &std::path::Path) -> Result<String> {
    pixel(png, 16, 16)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_follows_the_session_and_a_revocation_elsewhere_notifies() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let (item_tx, mut items) = mpsc::unbounded_channel();
    let (note_tx, mut notes) = mpsc::unbounded_channel();
    let desktop = zbus::connection::Builder::session()?
        .name("org.kde.StatusNotifierWatcher")?
        .serve_at("/StatusNotifierWatcher", Watcher { tx: item_tx })?
        .build()
        .await
        .context("own org.kde.StatusNotifierWatcher on the session bus")?;
    let _notifications = zbus::connection::Builder::session()?
        .name("org.freedesktop.Notifications")?
        .serve_at(
            "/org/freedesktop/Notifications",
            Notifications { tx: note_tx },
        )?
        .build()
        .await
        .context("own org.freedesktop.Notifications on the session bus")?;

    let data = tempfile::tempdir()?;
    let w = Window::open(4534, data.path(), &[("WARDEN_ACCESS_TOKEN_LIFETIME", "30")]).await?;
    // The app of this test: an app of an earlier test may still be on its
    // way out and register too (AppIndicator registers whenever a watcher
    // appears); the sender's process tells them apart by its data directory.
    let want = format!("WARDEN_APP_DATA_DIR={}", data.path().display());
    let deadline = Instant::now() + Duration::from_secs(30);
    let (sender, service) = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (sender, service) = tokio::time::timeout(left, items.recv())
            .await
            .context("the app's tray never registered with the watcher")?
            .context("watcher closed")?;
        if ours(&desktop, &sender, &want).await? {
            break (sender, service);
        }
        eprintln!("a tray of another app ({sender}) registered; waiting for this test's");
    };
    let item = TrayItem {
        bus: desktop.clone(),
        dest: sender,
        path: if service.starts_with('/') {
            service
        } else {
            "/StatusNotifierItem".into()
        },
    };
    let (_, menu) = item.wait_menu(10, |m| m.len() >= 4).await?;
    eprintln!("tray menu before sign-in: {menu:?}");
    let labels: Vec<&str> = menu.iter().map(|i| i.1.as_str()).collect();
    assert!(labels.contains(&"Open Warden"), "{labels:?}");
    assert!(labels.contains(&"Quit Warden"), "{labels:?}");
    let rotate = menu.iter().find(|i| i.1.starts_with("Rotate now")).unwrap();
    assert!(!rotate.2, "nothing to rotate before signing in");
    let grey = item
        .wait_colour("tray-signed-out.png", |c| !c.is_empty())
        .await?;

    // Signed in: the status line, enabled actions, a green icon.
    create_account(&w, "erin").await?;
    let (menu_path, menu) = item
        .wait_menu(15, |m| m.iter().any(|i| i.1 == "Warden: 1 signed in"))
        .await?;
    eprintln!("tray menu signed in: {menu:?}");
    let rotate = menu
        .iter()
        .find(|i| i.1 == "Rotate now (erin @ this computer)")
        .cloned()
        .context("rotate item")?;
    assert!(rotate.2, "enabled once signed in");
    assert!(
        menu.iter()
            .any(|i| i.1 == "Log out of erin @ this computer" && i.2),
        "{menu:?}"
    );
    let green = item
        .wait_colour("tray-signed-in.png", |c| c != grey)
        .await?;
    eprintln!("tray icon centre: signed out {grey}, signed in {green}");

    // "Rotate now" from the tray rotates the session in the window.
    w.wait_text("#rotation-count", |t| t == "0 rotations", 5)
        .await?;
    item.click(&menu_path, rotate.0).await?;
    w.wait_text("#rotation-count", |t| t == "1 rotation", 10)
        .await?;

    // The server goes away (the fault lab's switch): at the next rotation
    // the session is kept offline and the tray says it is running out.
    w.click("button[data-view=timeline]").await?;
    w.click("#lab-offline").await?;
    w.wait_text("#lab-result", |t| t.contains("connections are refused"), 10)
        .await?;
    item.click(&menu_path, rotate.0).await?;
    item.wait_menu(15, |m| {
        m.iter()
            .any(|i| i.1 == "Warden: 1 expiring while offline (erin @ this computer)")
    })
    .await?;
    let amber = item
        .wait_colour("tray-expiring-offline.png", |c| c != green && c != grey)
        .await?;
    eprintln!("tray icon centre while offline: {amber}");
    w.click("#lab-online").await?;
    item.wait_menu(40, |m| m.iter().any(|i| i.1 == "Warden: 1 signed in"))
        .await?;
    item.wait_colour("tray-signed-in.png", |c| c == green)
        .await?;

    // Another device logs out everywhere: at the next rotation the session
    // ends, the desktop is told, the tray goes back to signed out.
    let base = w.base_url().await?;
    let (access, _) = login_over_http(&base, "erin", "e2e-elsewhere").await?;
    let r = http()
        .post(format!("{base}api/logout-all/"))
        .bearer_auth(&access)
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let (_, menu) = item.menu().await?;
    let rotate = menu.iter().find(|i| i.1.starts_with("Rotate now")).unwrap();
    item.click(&menu_path, rotate.0).await?;
    // Only this test's app: one of an earlier test may still be on its way out.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (app, summary, body) = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (sender, app, summary, body) = tokio::time::timeout(left, notes.recv())
            .await
            .context("no notification")?
            .context("closed")?;
        if ours(&desktop, &sender, &want).await? {
            break (app, summary, body);
        }
        eprintln!("a notification of another app: {summary}");
    };
    eprintln!("notification: {app} | {summary} | {body}");
    assert_eq!(app, "Warden");
    assert_eq!(summary, "Signed out of erin @ this computer");
    assert!(
        body.starts_with("The session was ended elsewhere"),
        "{body}"
    );
    w.wait_text(
        "#signin-notice",
        |t| t.contains("ended on another device"),
        10,
    )
    .await?;
    let (_, menu) = item
        .wait_menu(10, |m| {
            m.iter()
                .any(|i| i.1 == "Warden: 1 signed out (erin @ this computer)")
        })
        .await?;
    assert!(
        menu.iter().any(|i| i.1 == "Log out" && !i.2),
        "nothing to log out of: {menu:?}"
    );
    item.wait_colour("tray-signed-out.png", |c| c == grey)
        .await?;
    // Nothing else of this app's arrived.
    while let Ok((sender, _, summary, _)) = notes.try_recv() {
        assert!(
            !ours(&desktop, &sender, &want).await?,
            "one more notification: {summary}"
        );
    }
    w.close().await;
    Ok(())
}

/// Runs `xdotool` on the session's display; its output.
fn xdo(args: &[&str]) -> Result<String> {
    let out = std::process::Command::new("xdotool")
        .args(args)
        .output()
        .context("xdotool (scripts/install-deps.sh installs it)")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A part of the screen (the X root window), as a PNG at `png`.
fn grab(png: &std::path::Path, (x, y, w, h): (i64, i64, i64, i64)) -> Result<()> {
    let st = std::process::Command::new("/usr/bin/import")
        .args([
            "-window",
            "root",
            "-crop",
            &format!("{w}x{h}+{x}+{y}"),
            "+repage",
        ])
        .arg(png)
        .status()
        .context("ImageMagick's import")?;
    anyhow::ensure!(st.success(), "import failed: {st}");
    Ok(())
}

/// The colour of one pixel of `png`, as ImageMagick names it.
fn pixel(png: &std::path::Path, x: i64, y: i64) -> Result<String> {
    let out = std::process::Command::new("/usr/bin/convert")
        .arg(png)
        .args(["-format", &format!("%[pixel:p{{{x},{y}}}]"), "info:"])
        .output()
        .context("ImageMagick's convert")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// How many pixels differ between two PNGs of one size.
fn differing(a: &std::path::Path, b: &std::path::Path) -> Result<u64> {
    // `compare` prints the count on stderr and exits 1 when they differ.
    let out = std::process::Command::new("/usr/bin/compare")
        .args(["-metric", "AE"])
        .arg(a)
        .arg(b)
        .arg("null:")
        .output()
        .context("ImageMagick's compare")?;
    let text = String::from_utf8_lossy(&out.stderr);
    let n: f64 = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("compare said {text:?}"))?;
    Ok(n as u64)
}

/// A panel with an XEmbed system tray (trayer) at the bottom right of the
/// session's display; stopped on drop.
struct Panel(std::process::Child);

impl Panel {
    fn start() -> Result<Panel> {
        let child = std::process::Command::new("trayer")
            .args([
                "--edge",
                "bottom",
                "--align",
                "right",
                "--widthtype",
                "request",
                "--height",
                "32",
                "--transparent",
                "false",
                "--tint",
                "0x303030",
                "--SetDockType",
                "true",
                "--expand",
                "false",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("trayer (scripts/install-deps.sh installs it)")?;
        Ok(Panel(child))
    }

    /// The panel's largest window: (x, y, width, height).
    fn geometry(&self) -> Result<Option<(i64, i64, i64, i64)>> {
        let mut best: Option<(i64, i64, i64, i64)> = None;
        for id in xdo(&["search", "--class", "trayer"])?.lines() {
            let shell = xdo(&["getwindowgeometry", "--shell", id])?;
            let v = |k: &str| {
                shell
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}=")))
                    .and_then(|n| n.parse::<i64>().ok())
                    .unwrap_or(0)
            };
            let g = (v("X"), v("Y"), v("WIDTH"), v("HEIGHT"));
            if best.is_none_or(|b| g.2 * g.3 > b.2 * b.3) {
                best = Some(g);
            }
        }
        Ok(best)
    }
}

impl Drop for Panel {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The tray menu as a person sees it: a panel with a system tray on the
/// display and no StatusNotifierWatcher on the bus, so the app's
/// AppIndicator falls back to an XEmbed icon in that panel. The icon is
/// drawn green once signed in; a click opens the app's real GTK menu, which
/// is pictured (artifacts/screenshots/35-tray-menu.png); the keyboard picks
/// "Rotate now" in it and the session in the window rotates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_menu_drawn_in_a_panel_rotates_the_session() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let bus = zbus::Connection::session().await?;
    let dbus = zbus::fdo::DBusProxy::new(&bus).await?;
    let watcher = zbus::names::BusName::try_from("org.kde.StatusNotifierWatcher")?;
    anyhow::ensure!(
        !dbus.name_has_owner(watcher).await?,
        "a StatusNotifierWatcher runs on this bus: the app would not use the panel's tray"
    );
    let panel = Panel::start()?;
    let data = tempfile::tempdir()?;
    let w = Window::open(4544, data.path(), &[("WARDEN_ACCESS_TOKEN_LIFETIME", "60")]).await?;
    create_account(&w, "erin").await?;
    w.wait_text("#rotation-count", |t| t == "0 rotations", 5)
        .await?;

    // The icon sits in the panel, drawn in the signed-in colour (the tray's
    // own icon is #1d9a4e at its centre; the panel scales it).
    let shots = screenshots();
    let icon_png = shots.join("tray-panel-icon.png");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (cx, cy, g) = loop {
        if let Some(g @ (x, y, pw, ph)) = panel.geometry()?
            && pw >= 16
            && ph >= 16
        {
            let (cx, cy) = (x + pw / 2, y + ph / 2);
            grab(&icon_png, g)?;
            let c = pixel(&icon_png, pw / 2, ph / 2)?;
            if c.contains("29,154,78") || c.contains("1D9A4E") || c.contains("1d9a4e") {
                break (cx, cy, g);
            }
            if Instant::now() > deadline {
                bail!("the panel's tray icon is not green after sign-in: {c} at {g:?}");
            }
        } else if Instant::now() > deadline {
            bail!("no panel window with a tray icon");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // A click on the icon opens the menu above it.
    let area = (g.0 + g.2 - 330, g.1 - 200, 330, 200 + g.3);
    let before = shots.join("tray-panel-before.png");
    grab(&before, area)?;
    xdo(&["mousemove", &cx.to_string(), &cy.to_string(), "click", "1"])?;
    let menu_png = shots.join("35-tray-menu.png");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        grab(&menu_png, area)?;
        if differing(&before, &menu_png)? > 5_000 {
            break;
        }
        if Instant::now() > deadline {
            bail!("no menu appeared after a click on the tray icon");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Drawn completely (two grabs alike), then kept as the picture.
    tokio::time::sleep(Duration::from_millis(300)).await;
    grab(&menu_png, area)?;

    // The keyboard walks the real menu: past the status line (not
    // selectable) to "Open Warden", then "Rotate now (erin @ this computer)".
    xdo(&["key", "--delay", "150", "Down", "Down", "Return"])?;
    w.wait_text("#rotation-count", |t| t == "1 rotation", 15)
        .await?;
    // The menu closed.
    let after = shots.join("tray-panel-after.png");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        grab(&after, area)?;
        if differing(&before, &after)? < 5_000 {
            break;
        }
        if Instant::now() > deadline {
            bail!("the tray menu stayed open after its item was chosen");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    w.close().await;
    drop(panel);
    Ok(())
}
