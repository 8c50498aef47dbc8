//! Desktop notifications for real: a session revoked from elsewhere on a
//! live Warden server reaches the desktop's notification server as a
//! `Notify` call on D-Bus. The test runs its own private bus (a
//! `dbus-daemon` of its own, so nothing else on the machine answers) and
//! owns `org.freedesktop.Notifications` on it, as a desktop's notification
//! daemon does; what arrives there is what a user would see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tokio::sync::mpsc;
use warden_client::{Event, MemoryVault, Phase, Vault};
use warden_desktop::alerts::{self, Notification, Notifier};
use warden_desktop::profiles::{ProfileSetConfig, ProfilesEvent, ServerKind};
use warden_desktop::{AppPaths, ProfileSet, RemoteServer};
use warden_tests::PASSWORD;
use warden_tests::client::{LiveServer, memory_manager, short_lived, test_manager_config};

const WITHIN: Duration = Duration::from_secs(30);

/// A private session bus, stopped on drop.
struct Bus {
    daemon: Child,
    address: String,
}

impl Bus {
    fn start() -> Result<Bus> {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("dbus-daemon (scripts/install-deps.sh installs dbus)")?;
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().context("no stdout")?).read_line(&mut line)?;
        let address = line.trim().to_string();
        if address.is_empty() {
            bail!("dbus-daemon printed no address");
        }
        Ok(Bus { daemon, address })
    }

    async fn connect(&self) -> Result<zbus::Connection> {
        Ok(zbus::connection::Builder::address(self.address.as_str())?
            .build()
            .await?)
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// What a `Notify` call carried.
#[derive(Debug)]
struct Received {
    app_name: String,
    summary: String,
    body: String,
    urgency: Option<u8>,
    expire_timeout: i32,
}

/// The desktop's notification server, as far as the test needs one.
struct NotificationServer {
    tx: mpsc::UnboundedSender<Received>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl NotificationServer {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        hints: HashMap<String, zbus::zvariant::OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        let _ = self.tx.send(Received {
            app_name,
            summary,
            body,
            urgency,
            expire_timeout,
        });
        7
    }

    async fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }
}

async fn notification_server(
    bus: &Bus,
) -> Result<(zbus::Connection, mpsc::UnboundedReceiver<Received>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let connection = zbus::connection::Builder::address(bus.address.as_str())?
        .name("org.freedesktop.Notifications")?
        .serve_at("/org/freedesktop/Notifications", NotificationServer { tx })?
        .build()
        .await?;
    Ok((connection, rx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_revoked_elsewhere_reaches_the_desktop_as_a_notification() -> Result<()> {
    let bus = Bus::start()?;
    let (_server, mut received) = notification_server(&bus).await?;
    let app_bus = bus.connect().await?;

    let warden = LiveServer::start(short_lived(60, 600))?;
    let tmp = tempfile::tempdir()?;
    let vault: Arc<dyn Vault> = Arc::new(MemoryVault::new());
    let set = ProfileSet::open(ProfileSetConfig {
        paths: AppPaths::new(tmp.path().join("data"), tmp.path().join("run")),
        vault,
        embedded: None,
        manager: test_manager_config(),
        outbox: Default::default(),
    })
    .await?;
    let mut rx = set.subscribe();
    let id = set
        .sign_in_new(
            ServerKind::Remote(RemoteServer {
                url: warden.base_url(),
                ..RemoteServer::default()
            }),
            "alice",
            PASSWORD,
            Some("work"),
        )
        .await?;
    let mut notifier = Notifier::new();
    notifier.prime(&id, &set.manager(&id)?.state());

    // Elsewhere (another device), alice logs out everywhere; this app
    // finds out at its next rotation, asked for now.
    let (other, _) = memory_manager(&warden.base_url())?;
    other.login("alice", PASSWORD).await?;
    assert!(other.logout_all().await? >= 2);
    let _ = set.manager(&id)?.rotate_now().await;

    // The set's events, through the notifier, to the bus.
    let profile = set.profile(&id).context("the profile")?;
    let deadline = tokio::time::Instant::now() + WITHIN;
    let sent: Notification = loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .context("no signed-out event")??;
        if let ProfilesEvent::Session { profile: p, event } = &event
            && p == &id
        {
            if let Event::StateChanged(s) = event {
                assert!(
                    !matches!(s.phase, Phase::Offline { .. }),
                    "the server answered: {s:?}"
                );
            }
            if let Some(n) = notifier.on_event(&profile, event, warden_client::wall_now()) {
                break n;
            }
        }
    };
    let id_on_desktop = alerts::send_on(&app_bus, &sent).await?;
    assert_eq!(id_on_desktop, 7, "the notification server's answer");
    let got = tokio::time::timeout(WITHIN, received.recv())
        .await?
        .context("no Notify call")?;
    assert_eq!(got.app_name, "Warden");
    assert_eq!(got.summary, "Signed out of work");
    assert!(
        got.body.starts_with("The session was ended elsewhere"),
        "{}",
        got.body
    );
    assert_eq!(got.urgency, Some(2), "critical");
    assert_eq!(got.expire_timeout, 0, "shown until dismissed");

    // A logout here afterwards (signed in again, then out) says nothing.
    set.sign_in(&id, "alice", PASSWORD).await?;
    notifier.prime(&id, &set.manager(&id)?.state());
    set.logout(&id).await?;
    let mut quiet = Vec::new();
    while let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        if let ProfilesEvent::Session { event, .. } = &e {
            quiet.extend(notifier.on_event(&profile, event, warden_client::wall_now()));
        }
    }
    assert_eq!(quiet, Vec::<Notification>::new());
    set.close().await;
    Ok(())
}

#[tokio::test]
async fn without_a_notification_server_the_error_says_so() -> Result<()> {
    let bus = Bus::start()?;
    let c = bus.connect().await?;
    let n = Notification {
        profile: warden_desktop::profiles::ProfileId::generate()?,
        summary: "s".into(),
        body: "b".into(),
        critical: false,
    };
    let e = alerts::send_on(&c, &n).await.unwrap_err();
    assert_eq!(e.code(), "notify");
    assert!(
        e.to_string()
            .starts_with("The desktop did not take the notification:"),
        "{e}"
    );
    Ok(())
}
