//! Profiles, the broker, the single instance and the revocation outbox,
//! against the test kit's real Warden servers (HTTP on loopback, SQLite, the
//! system clock, short token lifetimes so rotations happen). The keyring is
//! the real one inside the test harness's desktop session
//! (WARDEN_TEST_DESKTOP=1), memory elsewhere. Everything waits for events or
//! conditions; the time limits only bound a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::sync::{Notify, broadcast};
use warden_auth::model::AuditKind;
use warden_client::{ClientError, Event, KeyringVault, MemoryVault, Phase, SignOutReason, Vault};
use warden_desktop::broker::{self, BrokerAnswer, BrokerHost, BrokerRequest};
use warden_desktop::instance::{self, Launch};
use warden_desktop::outbox::{OutboxConfig, Revocation};
use warden_desktop::profiles::{
    ActivityKind, ProfileId, ProfileSetConfig, ProfilesEvent, RevocationOutcome, ServerKind,
};
use warden_desktop::{AppPaths, LockFile, ProfileSet, RemoteServer};
use warden_tests::PASSWORD;
use warden_tests::client::{LiveServer, client, memory_manager, short_lived, test_manager_config};

const WITHIN: Duration = Duration::from_secs(30);

fn desktop() -> bool {
    std::env::var("WARDEN_TEST_DESKTOP").as_deref() == Ok("1")
}

/// The OS keyring in the harness's desktop session; memory elsewhere (then
/// the two "apps" of a test share this process's memory instead).
fn keyring() -> Arc<dyn Vault> {
    if desktop() {
        Arc::new(KeyringVault::new())
    } else {
        Arc::new(MemoryVault::new())
    }
}

/// A data directory and a runtime directory of its own.
struct Dirs {
    _tmp: tempfile::TempDir,
    paths: AppPaths,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let paths = AppPaths::new(tmp.path().join("data"), tmp.path().join("run"));
    Dirs { _tmp: tmp, paths }
}

fn remote(server: &LiveServer) -> ServerKind {
    ServerKind::Remote(RemoteServer {
        url: server.base_url(),
        ..RemoteServer::default()
    })
}

fn quick_outbox() -> OutboxConfig {
    OutboxConfig {
        retry_initial: Duration::from_millis(200),
        retry_max: Duration::from_millis(300),
        ..OutboxConfig::default()
    }
}

async fn open(paths: &AppPaths, vault: &Arc<dyn Vault>) -> ProfileSet {
    ProfileSet::open(ProfileSetConfig {
        paths: paths.clone(),
        vault: Arc::clone(vault),
        embedded: None,
        manager: test_manager_config(),
        outbox: quick_outbox(),
    })
    .await
    .unwrap()
}

/// The next event matching `pred`.
async fn next_event(
    rx: &mut broadcast::Receiver<ProfilesEvent>,
    mut pred: impl FnMut(&ProfilesEvent) -> bool,
) -> Result<ProfilesEvent> {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) if pred(&e) => return Ok(e),
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => bail!("event stream closed: {e}"),
            Err(_) => bail!("no matching event within {WITHIN:?}"),
        }
    }
}

fn rotated(e: &ProfilesEvent, id: &ProfileId) -> bool {
    matches!(e, ProfilesEvent::Session { profile, event: Event::Rotated { .. } } if profile == id)
}

fn phase_of(e: &ProfilesEvent, id: &ProfileId) -> Option<Phase> {
    match e {
        ProfilesEvent::Session {
            profile,
            event: Event::StateChanged(s),
        } if profile == id => Some(s.phase.clone()),
        _ => None,
    }
}

fn reuse_detections(servers: &[&LiveServer]) -> usize {
    servers
        .iter()
        .map(|s| s.audit_count(AuditKind::ReuseDetected).unwrap())
        .sum()
}

// ---------------------------------------------------------------------------
// Profiles

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_profiles_rotate_on_their_own_and_one_outage_disturbs_nobody() -> Result<()> {
    let mut a_server = LiveServer::start(short_lived(2, 600))?;
    let b_server = LiveServer::start(short_lived(2, 600))?;
    let d = dirs();
    let vault = keyring();
    let set = open(&d.paths, &vault).await;
    let mut rx = set.subscribe();
    let a = set
        .sign_in_new(remote(&a_server), "alice", PASSWORD, Some("a"))
        .await?;
    let b = set
        .sign_in_new(remote(&b_server), "bob", PASSWORD, Some("b"))
        .await?;
    assert_eq!(set.active(), Some(b.clone()), "the newest sign-in is shown");
    next_event(&mut rx, |e| rotated(e, &a)).await?;
    next_event(&mut rx, |e| rotated(e, &b)).await?;

    // A's server goes away: A goes offline, B keeps rotating on its schedule.
    a_server.stop_http()?;
    next_event(&mut rx, |e| {
        matches!(phase_of(e, &a), Some(Phase::Offline { .. }))
    })
    .await?;
    let mut b_rotations = 0;
    next_event(&mut rx, |e| {
        assert!(
            !matches!(
                phase_of(e, &b),
                Some(Phase::Offline { .. } | Phase::SignedOut { .. })
            ),
            "B was disturbed: {e:?}"
        );
        if rotated(e, &b) {
            b_rotations += 1;
        }
        b_rotations == 3
    })
    .await?;
    assert!(matches!(
        set.manager(&a)?.state().phase,
        Phase::Offline { .. }
    ));
    assert_eq!(set.manager(&b)?.me().await?.username, "bob");

    // A's server is back: A rotates again, its session kept.
    a_server.start_http()?;
    next_event(&mut rx, |e| rotated(e, &a)).await?;
    assert_eq!(set.manager(&a)?.me().await?.username, "alice");
    assert_eq!(reuse_detections(&[&a_server, &b_server]), 0);
    let views = set.views();
    assert_eq!(views.len(), 2);
    assert!(views.iter().all(|v| v.pending.is_empty()));
    assert_eq!(views.iter().filter(|v| v.active).count(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_is_restored_on_start_without_a_password() -> Result<()> {
    let a_server = LiveServer::start(short_lived(60, 600))?;
    let b_server = LiveServer::start(short_lived(60, 600))?;
    let d = dirs();
    let vault = keyring();
    let set = open(&d.paths, &vault).await;
    let a = set
        .sign_in_new(remote(&a_server), "alice", PASSWORD, None)
        .await?;
    let b = set
        .sign_in_new(remote(&b_server), "bob", PASSWORD, None)
        .await?;
    set.rename(&a, "Work")?;
    assert_eq!(set.rename(&b, "work").unwrap_err().code(), "conflict");
    set.set_active(&a)?;
    // While the app runs it holds every profile's lock.
    for id in [&a, &b] {
        assert!(LockFile::try_acquire(&d.paths.profile_lock(id))?.is_none());
    }
    let file = std::fs::read_to_string(d.paths.profiles_file())?;
    assert!(!file.contains("eyJ"), "no token in profiles.json: {file}");
    drop(set);

    let set = open(&d.paths, &vault).await;
    assert_eq!(set.active(), Some(a.clone()));
    assert_eq!(set.profile(&a).unwrap().name, "Work");
    assert_eq!(
        set.profile(&b).unwrap().name,
        format!("bob @ {}", b_server.addr)
    );
    for (id, user) in [(&a, "alice"), (&b, "bob")] {
        let m = set.ready(id).await?;
        assert_eq!(m.state().phase, Phase::Active, "{user}");
        assert_eq!(m.me().await?.username, user);
    }
    assert_eq!(reuse_detections(&[&a_server, &b_server]), 0);
    Ok(())
}

/// An upgraded app: the session the last version remembered (signed in the
/// way it signed in, its token under the entry it used) comes back as the
/// first profile, without a password, on the embedded server and a remote one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remembered_session_of_the_last_version_is_restored_as_a_profile() -> Result<()> {
    use warden_desktop::remembered::{self, Remembered};
    use warden_desktop::session::{Server, session_manager};
    let server = LiveServer::start(short_lived(60, 600))?;
    let vault = keyring();
    for embedded in [false, true] {
        let d = dirs();
        std::fs::create_dir_all(&d.paths.data_dir)?;
        let url = server.base_url();
        let legacy_key = format!("warden-embedded:{}/warden.db", d.paths.data_dir.display());
        let remote = RemoteServer {
            url: url.trim_end_matches('/').to_string(),
            ..RemoteServer::default()
        }
        .normalized()?
        .unwrap();
        let target = if embedded {
            Server::Embedded {
                url: &url,
                vault_key: &legacy_key,
            }
        } else {
            Server::Remote(&remote)
        };
        // The last version: signed in, remembered who, quit.
        let old = session_manager(target, Arc::clone(&vault), test_manager_config())?;
        old.login("alice", PASSWORD).await?;
        old.stop().await;
        drop(old);
        remembered::save(
            &d.paths.data_dir,
            &Remembered {
                user: "alice".into(),
                server_url: None,
                remote: (!embedded).then(|| remote.clone()),
            },
        );

        let set = ProfileSet::open(ProfileSetConfig {
            paths: d.paths.clone(),
            vault: Arc::clone(&vault),
            embedded: Some(warden_desktop::profiles::EmbeddedServer {
                url: url.clone(),
                vault_key: legacy_key.clone(),
            }),
            manager: test_manager_config(),
            outbox: quick_outbox(),
        })
        .await?;
        let (profile, _) = set.active_session().unwrap();
        assert_eq!(profile.account, "alice");
        assert_eq!(profile.server == ServerKind::Embedded, embedded);
        let m = set.ready(&profile.id).await?;
        assert_eq!(m.state().phase, Phase::Active, "embedded: {embedded}");
        assert_eq!(m.me().await?.username, "alice");
        assert!(remembered::load(&d.paths.data_dir).is_none());
        if !embedded {
            assert_eq!(profile.vault_key, url);
        }
        set.close().await;
    }
    assert_eq!(reuse_detections(&[&server]), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_profile_logs_it_out_and_deletes_its_keyring_entry() -> Result<()> {
    let server = LiveServer::start(short_lived(60, 600))?;
    let d = dirs();
    let vault = keyring();
    let set = open(&d.paths, &vault).await;
    let a = set
        .sign_in_new(remote(&server), "alice", PASSWORD, None)
        .await?;
    let b = set
        .sign_in_new(remote(&server), "bob", PASSWORD, None)
        .await?;
    let profile = set.profile(&a).unwrap();
    let token = vault.load(&profile.vault_key, "alice")?.unwrap();
    assert_eq!(
        set.remove(&a).await?,
        RevocationOutcome::Delivered { revoked: None }
    );
    assert!(vault.load(&profile.vault_key, "alice")?.is_none());
    assert!(client(&server.base_url())?.refresh(&token).await.is_err());
    assert_eq!(set.profiles().len(), 1);
    assert_eq!(set.active(), Some(b.clone()));
    assert!(!d.paths.profile_lock(&a).exists());
    let e = set.logout(&a).await.unwrap_err();
    assert_eq!(e.code(), "unknown_profile");
    Ok(())
}

// ---------------------------------------------------------------------------
// The revocation outbox

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_while_the_server_is_down_is_delivered_after_a_restart() -> Result<()> {
    let mut server = LiveServer::start(short_lived(60, 600))?;
    let d = dirs();
    let vault = keyring();
    let set = open(&d.paths, &vault).await;
    let id = set
        .sign_in_new(remote(&server), "alice", PASSWORD, None)
        .await?;
    let profile = set.profile(&id).unwrap();
    let token = vault.load(&profile.vault_key, "alice")?.unwrap();

    server.stop_http()?;
    let outcome = set.logout(&id).await?;
    let RevocationOutcome::Pending { pending } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(pending.what, Revocation::Logout);
    assert!(pending.persistent);
    assert_eq!(
        pending.message,
        format!(
            "This session will be revoked when {} is reachable.",
            server.addr
        )
    );
    // Signed out here at once; the token waits under the outbox's own entry.
    assert_eq!(
        set.manager(&id)?.state().phase,
        Phase::SignedOut {
            reason: Some(SignOutReason::LoggedOut)
        }
    );
    assert!(vault.load(&profile.vault_key, "alice")?.is_none());
    assert_eq!(
        vault
            .load(&format!("outbox:{}", pending.id), "alice")?
            .as_deref(),
        Some(token.as_str())
    );
    let outbox_file = std::fs::read_to_string(d.paths.outbox_file())?;
    assert!(!outbox_file.contains(&token[token.len() - 20..]));
    assert_eq!(set.views()[0].pending, vec![set.pending()[0].clone()]);
    drop(set);

    // The app restarts; then the server comes back.
    let set = open(&d.paths, &vault).await;
    let mut rx = set.subscribe();
    assert_eq!(
        set.pending().len(),
        1,
        "the revocation survived the restart"
    );
    server.start_http()?;
    let delivered = next_event(&mut rx, |e| {
        matches!(e, ProfilesEvent::Activity { profile, activity }
            if profile == &id && matches!(activity.what, ActivityKind::RevocationDelivered { .. }))
    })
    .await?;
    eprintln!("{delivered:?}");
    assert!(set.pending().is_empty());
    assert!(
        vault
            .load(&format!("outbox:{}", pending.id), "alice")?
            .is_none()
    );
    let refused = client(&server.base_url())?
        .refresh(&token)
        .await
        .unwrap_err();
    assert!(
        SignOutReason::from_refresh_error(&refused).is_some(),
        "the server refuses the session: {refused:?}"
    );
    assert_eq!(server.audit_count(AuditKind::Blacklisted)?, 1);
    assert!(
        set.activity(&id)
            .iter()
            .any(|a| matches!(a.what, ActivityKind::RevocationDelivered { .. }))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_out_everywhere_offline_ends_every_session_once_the_server_is_back() -> Result<()> {
    let mut server = LiveServer::start(short_lived(60, 600))?;
    let (laptop, _) = memory_manager(&server.base_url())?;
    laptop.login("alice", PASSWORD).await?;
    let d = dirs();
    let vault = keyring();
    let set = open(&d.paths, &vault).await;
    let mut rx = set.subscribe();
    let id = set
        .sign_in_new(remote(&server), "alice", PASSWORD, None)
        .await?;

    server.stop_http()?;
    let outcome = set.logout_all(&id).await?;
    assert!(
        matches!(&outcome, RevocationOutcome::Pending { pending } if pending.what == Revocation::LogoutAll),
        "{outcome:?}"
    );
    server.start_http()?;
    let delivered = next_event(&mut rx, |e| {
        matches!(e, ProfilesEvent::Activity { activity, .. }
            if matches!(activity.what, ActivityKind::RevocationDelivered { .. }))
    })
    .await?;
    let ProfilesEvent::Activity { activity, .. } = delivered else {
        unreachable!()
    };
    assert!(
        matches!(
            activity.what,
            ActivityKind::RevocationDelivered {
                revoked: Some(2),
                ..
            }
        ),
        "{activity:?}"
    );
    assert!(matches!(
        laptop.rotate_now().await.unwrap_err(),
        ClientError::SignedOut(SignOutReason::Revoked { .. })
    ));
    assert_eq!(reuse_detections(&[&server]), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_another_session_offline_waits_for_the_server() -> Result<()> {
    let mut server = LiveServer::start(short_lived(60, 600))?;
    let (laptop, _) = memory_manager(&server.base_url())?;
    let laptop_sid = laptop.login("alice", PASSWORD).await?.session_id.unwrap();
    let d = dirs();
    let vault = keyring();
    let set = open(&d.paths, &vault).await;
    let mut rx = set.subscribe();
    let id = set
        .sign_in_new(remote(&server), "alice", PASSWORD, None)
        .await?;

    server.stop_http()?;
    let outcome = set.revoke_session(&id, &laptop_sid).await?;
    assert!(
        matches!(&outcome, RevocationOutcome::Pending { pending }
            if pending.what == Revocation::Session { session_id: laptop_sid.clone() }),
        "{outcome:?}"
    );
    assert_eq!(
        set.manager(&id)?.state().phase,
        Phase::Active,
        "this profile stays signed in"
    );
    server.start_http()?;
    next_event(&mut rx, |e| {
        matches!(e, ProfilesEvent::Activity { activity, .. }
            if matches!(activity.what, ActivityKind::RevocationDelivered { .. }))
    })
    .await?;
    assert!(
        laptop.rotate_now().await.is_err(),
        "the laptop's session ended"
    );
    assert_eq!(set.manager(&id)?.me().await?.username, "alice");
    Ok(())
}

// ---------------------------------------------------------------------------
// The broker and the single instance

struct TestApp {
    set: ProfileSet,
    focused: Notify,
}

impl BrokerHost for TestApp {
    fn focus(&self) {
        self.focused.notify_one();
    }

    async fn profiles(&self) -> warden_desktop::Result<Arc<ProfileSet>> {
        Ok(Arc::new(self.set.clone()))
    }
}

/// Runs this test binary again as a second launch of the app on `paths`
/// (see `second_launch_child`); its output.
fn second_launch_process(paths: &AppPaths) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "second_launch_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WARDEN_TEST_SECOND_LAUNCH_DATA", &paths.data_dir)
        .env("WARDEN_TEST_SECOND_LAUNCH_RUN", &paths.runtime_dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The second launch, when the test above starts this binary as one (and
/// nothing otherwise): claims the data directory as the app's `main` does,
/// before anything could read the keyring.
#[tokio::test]
async fn second_launch_child() {
    let (Some(data), Some(run)) = (
        std::env::var_os("WARDEN_TEST_SECOND_LAUNCH_DATA"),
        std::env::var_os("WARDEN_TEST_SECOND_LAUNCH_RUN"),
    ) else {
        return;
    };
    let launch = instance::claim(&AppPaths::new(PathBuf::from(data), PathBuf::from(run)))
        .await
        .unwrap();
    match launch {
        Launch::HandedOver => println!("LAUNCH: handed over"),
        Launch::First(_) => println!("LAUNCH: first"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_launch_hands_over_and_the_session_is_never_reused() -> Result<()> {
    let server = LiveServer::start(short_lived(2, 600))?;
    let d = dirs();
    let vault = keyring();
    let Launch::First(first) = instance::claim(&d.paths).await? else {
        panic!("nothing else holds a fresh data directory");
    };
    let socket = first.socket().to_path_buf();
    let app = Arc::new(TestApp {
        set: open(&d.paths, &vault).await,
        focused: Notify::new(),
    });
    let running = first.serve(Arc::clone(&app));
    let mut rx = app.set.subscribe();
    let id = app
        .set
        .sign_in_new(remote(&server), "alice", PASSWORD, None)
        .await?;
    next_event(&mut rx, |e| rotated(e, &id)).await?;

    // Another process launches the app on the same data directory.
    let focused = app.focused.notified();
    let out = tokio::task::spawn_blocking({
        let paths = d.paths.clone();
        move || second_launch_process(&paths)
    })
    .await?;
    assert!(out.contains("LAUNCH: handed over"), "{out}");
    tokio::time::timeout(WITHIN, focused).await?;
    // And once more in this process: a second claim is a hand-over too.
    assert!(matches!(
        instance::claim(&d.paths).await?,
        Launch::HandedOver
    ));

    // The first app goes on rotating; the server never saw a token twice.
    let mut n = 0;
    next_event(&mut rx, |e| {
        n += usize::from(rotated(e, &id));
        n == 2
    })
    .await?;
    assert_eq!(reuse_detections(&[&server]), 0);
    assert_eq!(app.set.manager(&id)?.state().phase, Phase::Active);

    // The socket is 0600 in a 0700 directory.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600);
    assert_eq!(mode(socket.parent().unwrap()), 0o700);

    // Once the app stops, the next launch is the app.
    running.stop().await;
    assert!(!socket.exists());
    assert!(matches!(instance::claim(&d.paths).await?, Launch::First(_)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_hands_out_valid_tokens_and_says_why_not() -> Result<()> {
    let server = LiveServer::start(short_lived(60, 600))?;
    let d = dirs();
    let vault = keyring();
    let Launch::First(first) = instance::claim(&d.paths).await? else {
        panic!("a fresh data directory");
    };
    let socket = first.socket().to_path_buf();
    let app = Arc::new(TestApp {
        set: open(&d.paths, &vault).await,
        focused: Notify::new(),
    });
    let _running = first.serve(Arc::clone(&app));
    let ask = |profile: Option<&str>| {
        let socket = socket.clone();
        let request = BrokerRequest::Token {
            profile: profile.map(str::to_string),
            rotate: false,
        };
        async move { broker::ask(&socket, &request, WITHIN).await.unwrap() }
    };
    let BrokerAnswer::Error { code, .. } = ask(None).await else {
        panic!("no profiles yet");
    };
    assert_eq!(code, "no_profiles");

    let id = app
        .set
        .sign_in_new(remote(&server), "alice", PASSWORD, Some("work"))
        .await?;
    let BrokerAnswer::Token(grant) = ask(Some("WORK")).await else {
        panic!("a token");
    };
    assert_eq!(grant.profile, id);
    assert_eq!(grant.user, "alice");
    assert_eq!(grant.token_type, "Bearer");
    assert!(grant.expires_in.unwrap() > 30, "{grant:?}");
    let me = client(&server.base_url())?.me(&grant.access_token).await?;
    assert_eq!(me.username, "alice");
    let handed = app.set.activity(&id);
    assert!(
        handed.iter().any(|a| matches!(&a.what,
            ActivityKind::HandedOut { to, .. } if to.contains(&format!("pid {}", std::process::id())))),
        "{handed:?}"
    );

    let BrokerAnswer::Error { code, message } = ask(Some("play")).await else {
        panic!("unknown profile");
    };
    assert_eq!(code, "unknown_profile");
    assert!(
        message.contains("\"play\"") && message.contains(&format!("work ({id})")),
        "{message}"
    );

    app.set.logout(&id).await?;
    let BrokerAnswer::Error { code, message } = ask(None).await else {
        panic!("signed out");
    };
    assert_eq!(code, "not_signed_in");
    assert!(message.contains("\"work\" is not signed in"), "{message}");
    Ok(())
}

// ---- another OS user ------------------------------------------------------

/// `runuser -u nobody --`, else `setpriv` to nobody's uid and gid (as the
/// embedded server's tests do; they need root, as CI has).
fn as_nobody() -> Command {
    let find = |name: &str| {
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file())
    };
    if let Some(runuser) = find("runuser") {
        let mut c = Command::new(runuser);
        c.args(["-u", "nobody", "--"]);
        c
    } else {
        let setpriv = find("setpriv").expect("neither runuser nor setpriv is installed");
        let mut c = Command::new(setpriv);
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
        c
    }
}

/// Connects to the socket, asks for the profiles, says what came back:
/// `answered`, `closed` (no answer), or the errno's name.
const PROBE: &str = r#"
import errno, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
    s.sendall(b'{"request":"profiles"}\n')
    data = s.recv(65536)
    print("answered" if data else "closed")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
"#;

fn probe(socket: &Path, nobody: bool) -> String {
    let mut cmd = if nobody {
        let mut c = as_nobody();
        c.arg("/usr/bin/python3");
        c
    } else {
        Command::new("/usr/bin/python3")
    };
    let out = cmd
        .args(["-c", PROBE])
        .arg(socket)
        .current_dir("/")
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_is_closed_unanswered() -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let d = dirs();
    let vault = keyring();
    let app = Arc::new(TestApp {
        set: open(&d.paths, &vault).await,
        focused: Notify::new(),
    });
    let Launch::First(first) = instance::claim(&d.paths).await? else {
        panic!("a fresh data directory");
    };
    let real = first.socket().to_path_buf();
    let _running = first.serve(Arc::clone(&app));

    // The real socket: nobody cannot even reach it (0700 directory).
    let p = real.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || probe(&p, false)).await?,
        "answered"
    );
    let p = real.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || probe(&p, true)).await?,
        "EACCES"
    );

    // A broker on a socket anyone may connect to (as a mistake in the
    // runtime directory would make it): the peer check alone closes
    // nobody's connection before a byte is answered.
    let open_dir = tempfile::tempdir()?;
    std::fs::set_permissions(open_dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let exposed = open_dir.path().join("exposed.sock");
    let listener = tokio::net::UnixListener::bind(&exposed)?;
    std::fs::set_permissions(&exposed, std::fs::Permissions::from_mode(0o666))?;
    let _exposed = broker::serve(listener, exposed.clone(), Arc::clone(&app));
    let p = exposed.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || probe(&p, false)).await?,
        "answered"
    );
    let p = exposed.clone();
    let as_nobody = tokio::task::spawn_blocking(move || probe(&p, true)).await?;
    // Closed before a byte is read: nobody's request meets a closed
    // socket (EPIPE, ECONNRESET) or reads end-of-file, never an answer.
    assert!(
        ["closed", "ECONNRESET", "EPIPE"].contains(&as_nobody.as_str()),
        "nobody got: {as_nobody}"
    );
    Ok(())
}
