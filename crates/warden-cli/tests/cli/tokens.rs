//! `warden token`, `warden exec` and `warden profiles` against a desktop
//! "app" in this test process (a ProfileSet and its broker, as the app runs
//! them, on a data and runtime directory of its own) and the test kit's real
//! Warden server. Without the app the command rotates under the profile's
//! lock with the real keyring, which the harness's desktop session provides
//! (WARDEN_TEST_DESKTOP=1).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use warden_auth::model::AuditKind;
use warden_client::{KeyringVault, MemoryVault, Phase, Vault};
use warden_desktop::broker::BrokerHost;
use warden_desktop::instance::{self, Launch, RunningInstance};
use warden_desktop::profiles::{ProfileId, ProfileSetConfig, ServerKind};
use warden_desktop::{AppPaths, ProfileSet, RemoteServer};
use warden_tests::client::{LiveServer, client, short_lived, test_manager_config};

use crate::common::{PASSWORD, warden};

fn desktop() -> bool {
    std::env::var("WARDEN_TEST_DESKTOP").as_deref() == Ok("1")
}

/// A data directory, and an `XDG_RUNTIME_DIR` (0700) whose `warden/` holds
/// the socket, as the app and the command find them.
struct Desk {
    _tmp: tempfile::TempDir,
    xdg: PathBuf,
    paths: AppPaths,
}

fn desk() -> Desk {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700)).unwrap();
    let paths = AppPaths::new(tmp.path().join("data"), xdg.join("warden"));
    Desk {
        _tmp: tmp,
        xdg,
        paths,
    }
}

impl Desk {
    /// `warden ARGS` on this desk.
    fn warden(&self, args: &[&str]) -> Command {
        let mut cmd = warden();
        cmd.args(args)
            .env("WARDEN_APP_DATA_DIR", &self.paths.data_dir)
            .env("XDG_RUNTIME_DIR", &self.xdg);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.warden(args);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    /// `warden token ARGS`'s token.
    async fn token(&self, args: &[&str]) -> String {
        let mut all = vec!["token"];
        all.extend_from_slice(args);
        let out = self.run(&all).await;
        assert!(
            out.status.success(),
            "warden {all:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

struct Host(ProfileSet);

impl BrokerHost for Host {
    fn focus(&self) {}

    async fn profiles(&self) -> warden_desktop::Result<Arc<ProfileSet>> {
        Ok(Arc::new(self.0.clone()))
    }
}

/// The app: the data directory claimed, the profiles open, the broker serving.
struct App {
    set: ProfileSet,
    running: RunningInstance,
}

async fn start_app(d: &Desk, vault: &Arc<dyn Vault>) -> App {
    let Launch::First(claim) = instance::claim(&d.paths).await.unwrap() else {
        panic!("another app holds the desk");
    };
    let set = ProfileSet::open(ProfileSetConfig {
        paths: d.paths.clone(),
        vault: Arc::clone(vault),
        embedded: None,
        manager: test_manager_config(),
        outbox: Default::default(),
    })
    .await
    .unwrap();
    let running = claim.serve(Arc::new(Host(set.clone())));
    App { set, running }
}

impl App {
    async fn stop(self) {
        self.set.shutdown();
        self.running.stop().await;
    }
}

fn remote(server: &LiveServer) -> ServerKind {
    ServerKind::Remote(RemoteServer {
        url: server.base_url(),
        ..RemoteServer::default()
    })
}

/// The server accepts `token` (GET api/me/).
async fn accepted(server: &LiveServer, token: &str) -> bool {
    client(&server.base_url())
        .unwrap()
        .me(token)
        .await
        .is_ok_and(|me| me.username == "alice")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_exec_and_profiles_through_the_running_app() {
    let server = LiveServer::start(short_lived(300, 600)).unwrap();
    let d = desk();
    let out = d.run(&["token"]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no profiles yet"), "{err}");

    let vault: Arc<dyn Vault> = Arc::new(MemoryVault::new());
    let app = start_app(&d, &vault).await;
    let id = app
        .set
        .sign_in_new(remote(&server), "alice", PASSWORD, Some("work"))
        .await
        .unwrap();
    app.set
        .sign_in_new(remote(&server), "bob", PASSWORD, Some("play"))
        .await
        .unwrap();
    app.set.set_active(&id).unwrap();

    // The active profile by default, or one named.
    let token = d.token(&[]).await;
    assert!(accepted(&server, &token).await);
    assert_eq!(d.token(&["WORK"]).await, token, "the app's current token");
    let json: serde_json::Value =
        serde_json::from_str(&d.token(&["--json", "work"]).await).unwrap();
    assert_eq!(json["access_token"], token.as_str());
    assert_eq!(json["profile"], id.as_str());
    assert_eq!(json["profile_name"], "work");
    assert_eq!(json["user"], "alice");
    assert_eq!(json["server"], server.base_url().as_str());
    assert_eq!(json["token_type"], "Bearer");
    assert!(json["expires_at"].as_i64().unwrap() > 0);
    assert!(json["expires_in"].as_i64().unwrap() > 200, "{json}");

    let out = d.run(&["token", "nope"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no profile named \"nope\"") && err.contains(&format!("work ({id})")),
        "{err}"
    );

    // exec: the token in the environment, the command's exit status.
    let file = d.paths.data_dir.join("seen");
    let script = format!(
        "printf %s \"$WARDEN_ACCESS_TOKEN\" > {}; exit 7",
        file.display()
    );
    let out = d.run(&["exec", "work", "--", "sh", "-c", &script]).await;
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), token);
    let out = d
        .run(&[
            "exec",
            "--env",
            "MY_TOKEN",
            "--",
            "sh",
            "-c",
            "test -n \"$MY_TOKEN\" && test -z \"$WARDEN_ACCESS_TOKEN\"",
        ])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = d.run(&["exec", "--", "/nonexistent/program"]).await;
    assert_eq!(out.status.code(), Some(127));
    let out = d.run(&["exec", "--env", "A-B", "--", "true"]).await;
    assert!(!out.status.success());

    // Each hand-out is in the profile's activity, with who asked.
    let handed = app.set.activity(&id);
    assert!(
        handed.iter().filter(|a| matches!(&a.what,
            warden_desktop::profiles::ActivityKind::HandedOut { to, .. } if to.starts_with("warden (pid "))).count() >= 4,
        "{handed:?}"
    );

    let out = d.run(&["profiles"]).await;
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains(&format!("* work  {id}")), "{list}");
    assert!(list.contains("bob @ "), "{list}");

    // Signed out: a clear error, and nothing from the keyring.
    app.set.logout(&id).await.unwrap();
    let out = d.run(&["token"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"work\" is not signed in"), "{err}");
    app.stop().await;
}

/// The test: the command and the app ask for tokens of one profile
/// 200 times across forced rotations; the server never sees a refresh token
/// twice, and accepts every access token handed out. With the real keyring,
/// the app also stops for a while (two commands at a time then rotate under
/// the profile's lock) and starts again (restoring what they left).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_and_the_app_200_times_across_forced_rotations() {
    let server = LiveServer::start(short_lived(12, 600)).unwrap();
    let d = desk();
    let vault: Arc<dyn Vault> = if desktop() {
        Arc::new(KeyringVault::new())
    } else {
        eprintln!(
            "note: WARDEN_TEST_DESKTOP is not 1 (no private keyring): the app runs throughout; \
             scripts/test.sh also stops it and rotates from the command"
        );
        Arc::new(MemoryVault::new())
    };
    let app = start_app(&d, &vault).await;
    let id: ProfileId = app
        .set
        .sign_in_new(remote(&server), "alice", PASSWORD, None)
        .await
        .unwrap();
    let mut handed = 0usize;
    let mut tokens = std::collections::HashSet::new();

    // The app running: the command asks it while the app hands out tokens
    // itself and is made to rotate every fifth round.
    let rounds = if desktop() { 50 } else { 100 };
    for round in 0..rounds {
        let set = app.set.clone();
        let id2 = id.clone();
        let (cli, own) = tokio::join!(d.token(&[]), async move {
            if round % 5 == 0 {
                set.manager(&id2).unwrap().rotate_now().await.unwrap();
            }
            set.hand_out(None, "the test", false)
                .await
                .unwrap()
                .access_token
        });
        for t in [cli, own] {
            assert!(accepted(&server, &t).await, "round {round}: refused");
            tokens.insert(t);
            handed += 1;
        }
    }
    let app = if desktop() {
        // No app: commands rotate from the keyring, two at a time (one of
        // them asks for a new token, the other takes the kept one while it
        // is fresh).
        app.stop().await;
        let by_id = [id.as_str()];
        for round in 0..25 {
            let (a, b) = tokio::join!(d.token(&["--rotate"]), d.token(&by_id));
            for t in [a, b] {
                assert!(accepted(&server, &t).await, "round {round}: refused");
                tokens.insert(t);
                handed += 1;
            }
        }
        // The app again: it restores the refresh token the commands left.
        let app = start_app(&d, &vault).await;
        let m = app.set.ready(&id).await.unwrap();
        assert_eq!(m.state().phase, Phase::Active);
        for round in 0..25 {
            let set = app.set.clone();
            let (cli, own) = tokio::join!(d.token(&[]), async move {
                set.hand_out(None, "the test", false)
                    .await
                    .unwrap()
                    .access_token
            });
            for t in [cli, own] {
                assert!(accepted(&server, &t).await, "round {round}: refused");
                tokens.insert(t);
                handed += 1;
            }
        }
        app
    } else {
        app
    };
    assert_eq!(handed, 200);
    let rotations = server.audit_count(AuditKind::Rotated).unwrap();
    eprintln!(
        "{handed} tokens handed out ({} different), {rotations} rotations",
        tokens.len()
    );
    assert!(rotations >= 20, "forced rotations happened: {rotations}");
    assert_eq!(server.audit_count(AuditKind::ReuseDetected).unwrap(), 0);
    assert_eq!(
        app.set.manager(&id).unwrap().state().phase,
        Phase::Active,
        "the session lives on"
    );
    app.stop().await;
}

/// Without the app, `warden token` keeps the access token it was given in
/// the keyring (beside the refresh token) and gives it again while it is
/// fresh, so many calls cost one rotation; `--rotate` asks for a new one; the
/// app, once it takes the profile over, deletes the kept token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_app_a_fresh_token_is_given_again_not_rotated() {
    if !desktop() {
        eprintln!("note: needs the private keyring (WARDEN_TEST_DESKTOP=1, scripts/test.sh)");
        return;
    }
    let server = LiveServer::start(short_lived(300, 600)).unwrap();
    let d = desk();
    let vault: Arc<dyn Vault> = Arc::new(KeyringVault::new());
    let app = start_app(&d, &vault).await;
    let id = app
        .set
        .sign_in_new(remote(&server), "alice", PASSWORD, Some("cached"))
        .await
        .unwrap();
    app.stop().await;
    let profile = warden_desktop::profiles::ProfilesFile::load(&d.paths)
        .unwrap()
        .unwrap()
        .resolve(Some(id.as_str()))
        .unwrap()
        .clone();
    let rotations = || server.audit_count(AuditKind::Rotated).unwrap();
    let before = rotations();

    let first = d.token(&[]).await;
    let again = d.token(&["cached"]).await;
    assert_eq!(first, again, "a fresh token is given again");
    assert_eq!(rotations(), before + 1, "one rotation for two calls");
    let kept = vault.load(&profile.access_cache_key(), "alice").unwrap();
    assert!(
        kept.is_some_and(|k| k.contains(&first)),
        "kept in the keyring"
    );

    let new = d.token(&["--rotate"]).await;
    assert_ne!(new, first, "--rotate gives a new token");
    assert_eq!(rotations(), before + 2);
    assert_eq!(d.token(&[]).await, new, "and keeps that one");
    for t in [&first, &new] {
        assert!(accepted(&server, t).await, "the server accepts it");
    }

    // The app takes the profile over: the kept token goes.
    let app = start_app(&d, &vault).await;
    app.set.ready(&id).await.unwrap();
    assert_eq!(
        vault.load(&profile.access_cache_key(), "alice").unwrap(),
        None,
        "the app deleted the kept token"
    );
    assert_eq!(server.audit_count(AuditKind::ReuseDetected).unwrap(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_app_the_embedded_server_is_not_there() {
    let d = desk();
    let vault: Arc<dyn Vault> = Arc::new(MemoryVault::new());
    let server = LiveServer::start(short_lived(300, 600)).unwrap();
    // A profile file as the app leaves it, with one embedded profile.
    let app = start_app(&d, &vault).await;
    app.set
        .sign_in_new(remote(&server), "alice", PASSWORD, Some("remote"))
        .await
        .unwrap();
    app.stop().await;
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.paths.profiles_file()).unwrap()).unwrap();
    file["profiles"][0]["server"] = serde_json::json!({"kind": "embedded"});
    std::fs::write(d.paths.profiles_file(), file.to_string()).unwrap();
    let out = d.run(&["token"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("start the app to get its tokens"), "{err}");
    let out = d.run(&["profiles"]).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("app not running"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
