//! `warden login --oidc` (browser and device grant) and `warden token` for
//! the profile it makes, against the real node-oidc-provider (interop/oidc)
//! started on loopback; the browser is interop/oidc/browser.mjs, set as
//! `$BROWSER`. Needs the keyring (WARDEN_TEST_DESKTOP=1).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::common::warden;

fn interop() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/oidc")
}

struct Provider {
    issuer: String,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn provider() -> Provider {
    let dir = interop();
    let mut child = Command::new(dir.join("node.sh"))
        .arg(dir.join("provider.mjs"))
        .env("OIDC_ACCESS_TTL", "30")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node-oidc-provider (run scripts/install-deps.sh)");
    // The ready line, read on a thread of its own so a provider that never
    // starts fails the test after a minute instead of hanging it.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        for _ in lines {}
    });
    let line = match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(Some(Ok(line))) => line,
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("node-oidc-provider did not say it was ready within 60 s: {other:?}");
        }
    };
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    Provider {
        issuer: ready["issuer"].as_str().unwrap().to_string(),
        child,
    }
}

struct Desk {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    xdg: PathBuf,
}

fn desk() -> Desk {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700)).unwrap();
    Desk {
        data: tmp.path().join("data"),
        xdg,
        _tmp: tmp,
    }
}

impl Desk {
    fn warden(&self, args: &[&str]) -> Command {
        let mut cmd = warden();
        cmd.args(args)
            .env("WARDEN_APP_DATA_DIR", &self.data)
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .env(
                "BROWSER",
                format!(
                    "{} {}",
                    interop().join("node.sh").display(),
                    interop().join("browser.mjs").display()
                ),
            );
        cmd
    }
}

fn userinfo(issuer: &str, token: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-sf", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{issuer}/me"))
        .output()
        .unwrap();
    assert!(out.status.success(), "userinfo refused the token");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn token_json(d: &Desk, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["token", "--json"];
    args.extend_from_slice(extra);
    let out = d.warden(&args).output().unwrap();
    assert!(
        out.status.success(),
        "warden token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn login_oidc_in_the_browser_makes_a_profile_warden_token_rotates() {
    if std::env::var("WARDEN_TEST_DESKTOP").as_deref() != Ok("1") {
        eprintln!("needs the keyring: run inside scripts/with-desktop-session.sh");
        return;
    }
    let p = provider();
    let d = desk();
    let out = d
        .warden(&["login", "--oidc", &p.issuer, "--client-id", "warden-public"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Signed in as alice"), "{stdout}");
    let profiles = d.warden(&["profiles", "--json"]).output().unwrap();
    assert!(String::from_utf8_lossy(&profiles.stdout).contains("alice @ 127.0.0.1"));

    let first = token_json(&d, &[]);
    assert_eq!(first["user"], "alice");
    assert_eq!(first["token_type"], "Bearer");
    let token = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&p.issuer, token)["sub"], "alice");
    // Fresh: the same token again, no rotation.
    assert_eq!(token_json(&d, &[])["access_token"], first["access_token"]);
    // --rotate: the refresh token rotates at the provider, a new access token.
    let rotated = token_json(&d, &["--rotate"]);
    assert_ne!(rotated["access_token"], first["access_token"]);
    let again = token_json(&d, &["--rotate"]);
    assert_eq!(
        userinfo(&p.issuer, again["access_token"].as_str().unwrap())["sub"],
        "alice"
    );
}

#[test]
fn login_oidc_device_grant_from_the_cli() {
    if std::env::var("WARDEN_TEST_DESKTOP").as_deref() != Ok("1") {
        eprintln!("needs the keyring: run inside scripts/with-desktop-session.sh");
        return;
    }
    let p = provider();
    let d = desk();
    let mut child = d
        .warden(&[
            "login",
            "--oidc",
            &p.issuer,
            "--client-id",
            "warden-public",
            "--device",
            "--name",
            "device profile",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The person reads the address off the terminal and approves elsewhere.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut url = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(u) = line.strip_prefix("or open: ") {
            url = Some(u.to_string());
            break;
        }
    }
    let url = url.expect("the device verification address");
    let person = Command::new(interop().join("node.sh"))
        .arg(interop().join("browser.mjs"))
        .args(["--login", "erin", &url])
        .output()
        .unwrap();
    assert!(
        person.status.success(),
        "{}",
        String::from_utf8_lossy(&person.stderr)
    );
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signed in as erin"));
    let t = token_json(&d, &["device profile"]);
    assert_eq!(t["user"], "erin");
    assert_eq!(
        userinfo(&p.issuer, t["access_token"].as_str().unwrap())["sub"],
        "erin"
    );
}

/// The inspector's host: one session, no embedded server.
struct OneSession(std::sync::Arc<warden_client::SessionManager>);

impl warden_desktop::Host for OneSession {
    async fn session(&self) -> warden_desktop::Result<warden_desktop::Session> {
        Ok(warden_desktop::Session {
            manager: self.0.clone(),
            embedded: false,
        })
    }

    async fn embedded_service(&self) -> Option<std::sync::Arc<warden_auth::AuthService>> {
        None
    }

    async fn set_embedded_online(&self, _online: bool) -> warden_desktop::Result<Option<bool>> {
        Ok(None)
    }

    fn export_dir(&self) -> PathBuf {
        std::env::temp_dir()
    }
}

struct AppHost(warden_desktop::ProfileSet);

impl warden_desktop::broker::BrokerHost for AppHost {
    fn focus(&self) {}

    async fn profiles(&self) -> warden_desktop::Result<std::sync::Arc<warden_desktop::ProfileSet>> {
        Ok(std::sync::Arc::new(self.0.clone()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_restores_an_openid_profile_from_the_keyring_and_serves_its_tokens() {
    use std::sync::Arc;
    use warden_client::{KeyringVault, Phase, Vault};
    use warden_desktop::instance::{self, Launch};
    use warden_desktop::profiles::ProfileSetConfig;

    if std::env::var("WARDEN_TEST_DESKTOP").as_deref() != Ok("1") {
        eprintln!("needs the keyring: run inside scripts/with-desktop-session.sh");
        return;
    }
    let p = provider();
    let d = desk();
    let mut login = d.warden(&["login", "--oidc", &p.issuer, "--client-id", "warden-public"]);
    let out = tokio::task::spawn_blocking(move || login.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The app starts: it takes the profile and restores it from the keyring
    // through the provider (discovered on first use).
    let paths = warden_desktop::AppPaths::new(&d.data, d.xdg.join("warden"));
    let Launch::First(claim) = instance::claim(&paths).await.unwrap() else {
        panic!("another app holds the desk");
    };
    let vault: Arc<dyn Vault> = Arc::new(KeyringVault::new());
    let set = warden_desktop::ProfileSet::open(ProfileSetConfig {
        paths: paths.clone(),
        vault,
        embedded: None,
        manager: warden_tests::client::test_manager_config(),
        outbox: Default::default(),
    })
    .await
    .unwrap();
    let running = claim.serve(Arc::new(AppHost(set.clone())));

    // `warden token` now asks the app, which rotated the restored session.
    let d2 = d.warden(&["token", "--json"]);
    let mut cmd = d2;
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grant: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(grant["user"], "alice");
    assert_eq!(grant["server"], p.issuer.as_str());
    let token = grant["access_token"].as_str().unwrap().to_string();
    let issuer = p.issuer.clone();
    let me = tokio::task::spawn_blocking(move || userinfo(&issuer, &token))
        .await
        .unwrap();
    assert_eq!(me["sub"], "alice");
    let (_, manager) = set.active_session().unwrap();
    assert_eq!(manager.state().phase, Phase::Active);
    assert!(
        manager.state().rotation_count >= 1,
        "restored by a rotation"
    );
    // `warden exec` through the app too: the same session's token.
    let mut exec = d.warden(&[
        "exec",
        "--",
        "sh",
        "-c",
        "printf %s \"$WARDEN_ACCESS_TOKEN\"",
    ]);
    let out = tokio::task::spawn_blocking(move || exec.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        grant["access_token"].as_str().unwrap(),
        "the app's current token"
    );

    // Log out in the app: RFC 7009 revocation at the provider (through the
    // outbox); the refresh token is refused afterwards.
    let refresh = manager.dev_refresh_tokens().0.unwrap();
    let id = set.active().unwrap();
    let outcome = format!("{:?}", set.logout(&id).await.unwrap());
    assert!(outcome.starts_with("Delivered"), "{outcome}");
    let oidc = warden_client::oidc::OpenIdClient::discover(warden_client::oidc::OpenIdConfig::new(
        &p.issuer,
        "warden-public",
    ))
    .await
    .unwrap();
    let err = oidc.refresh(refresh.expose()).await.unwrap_err();
    assert_eq!(err.code(), "invalid_grant", "{err}");
    set.shutdown();
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_adds_an_openid_provider_through_the_browser() {
    use std::sync::Arc;
    use warden_client::{MemoryVault, Phase, Vault};
    use warden_desktop::openid::OpenIdServer;
    use warden_desktop::profiles::ProfileSetConfig;

    let p = provider();
    let d = desk();
    let paths = warden_desktop::AppPaths::new(&d.data, d.xdg.join("warden"));
    let vault: Arc<dyn Vault> = Arc::new(MemoryVault::new());
    let set = warden_desktop::ProfileSet::open(ProfileSetConfig {
        paths,
        vault,
        embedded: None,
        manager: warden_tests::client::test_manager_config(),
        outbox: Default::default(),
    })
    .await
    .unwrap();
    // The person at the browser: the automaton, as the window's opener.
    let opener: warden_client::oidc::Opener = Box::new(|url: &str| {
        let url = url.to_string();
        std::thread::spawn(move || {
            Command::new(interop().join("node.sh"))
                .arg(interop().join("browser.mjs"))
                .args(["--login", "grace", &url])
                .output()
        });
        Ok(())
    });
    let server = OpenIdServer {
        issuer: p.issuer.clone(),
        client_id: "warden-public".into(),
        confidential: false,
        client_auth: Default::default(),
        resource: None,
        scopes: vec!["email".into()],
        dpop: true,
    };
    let id = set
        .sign_in_openid(server, None, opener, None)
        .await
        .unwrap();
    assert_eq!(set.active(), Some(id.clone()));
    let (profile, manager) = set.active_session().unwrap();
    assert_eq!(profile.account, "grace");
    assert!(
        profile.name.starts_with("grace @ 127.0.0.1"),
        "{}",
        profile.name
    );
    assert_eq!(manager.state().phase, Phase::Active);
    // DPoP-bound: its token goes with proofs; the manager's timeline has the exchanges.
    manager.rotate_now().await.unwrap();
    assert!(
        manager.timeline().iter().any(|x| x.path == "/token"
            && x.credential
                .as_deref()
                .is_some_and(|c| c.contains("DPoP proof"))),
        "{:?}",
        manager.timeline()
    );
    // Warden-only features are unavailable for this profile.
    assert!(matches!(
        manager.sessions().await,
        Err(warden_client::ClientError::Unavailable(_))
    ));
    let everywhere = set.logout_all(&id).await.unwrap_err();
    assert_eq!(everywhere.code(), "unavailable", "{everywhere}");
    assert_eq!(
        manager.state().phase,
        Phase::Active,
        "refused before anything ended"
    );

    // The inspector: the ID token verified against the provider's JWKS; the
    // access token is opaque, its cnf.jkt (from introspection) is the
    // thumbprint of the session's DPoP key.
    use warden_desktop::inspector::{ProviderToken, inspect_openid};
    let host = OneSession(manager.clone());
    let id_check = inspect_openid(&host, ProviderToken::Id).await.unwrap();
    assert!(id_check.jwt);
    assert!(id_check.verified, "{}", id_check.reason);
    assert!(id_check.reason.contains("JWKS"), "{}", id_check.reason);
    let access = inspect_openid(&host, ProviderToken::Access).await.unwrap();
    assert!(!access.jwt);
    assert!(!access.verified);
    assert!(
        access.reason.starts_with("opaque: not a JWT"),
        "{}",
        access.reason
    );
    assert!(access.session_jkt.is_some());
    assert_eq!(access.cnf_jkt, access.session_jkt);
    assert_eq!(access.jkt_matches, Some(true));
    // The provider rotates its signing key: a refresh brings an ID token
    // signed with the new key, which the inspector verifies (its unknown kid
    // re-fetches the JWKS).
    let new_kid: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/__test__/rotate-keys", p.issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    manager.rotate_now().await.unwrap();
    let again = inspect_openid(&host, ProviderToken::Id).await.unwrap();
    assert!(again.verified, "{}", again.reason);
    assert_eq!(again.kid.as_deref(), new_kid["kid"].as_str());
    assert_ne!(again.kid, id_check.kid);

    // The provider's administrator ends every session: the next rotation is
    // refused invalid_grant and the profile signs out with that reason.
    let revoked = reqwest::Client::new()
        .post(format!("{}/__test__/revoke-refresh-tokens", p.issuer))
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    let err = manager.rotate_now().await.unwrap_err();
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    let why = manager
        .timeline()
        .into_iter()
        .rev()
        .find(|x| x.error_code.as_deref() == Some("invalid_grant"))
        .and_then(|x| warden_client::explain(&x, &warden_client::LocalContext::default()))
        .expect("a Why? for the refused rotation");
    assert_eq!(why.code, "invalid_grant");
    // Signing in again goes into the same profile (its timeline kept).
    let opener: warden_client::oidc::Opener = Box::new(|url: &str| {
        let url = url.to_string();
        std::thread::spawn(move || {
            Command::new(interop().join("node.sh"))
                .arg(interop().join("browser.mjs"))
                .args(["--login", "grace", &url])
                .output()
        });
        Ok(())
    });
    let server = OpenIdServer {
        issuer: p.issuer.clone(),
        client_id: "warden-public".into(),
        confidential: false,
        client_auth: Default::default(),
        resource: None,
        scopes: vec!["email".into()],
        dpop: true,
    };
    let again = set
        .sign_in_openid(server, None, opener, None)
        .await
        .unwrap();
    assert_eq!(again, id, "the signed-out profile is reused");
    assert_eq!(manager.state().phase, Phase::Active);
    manager.rotate_now().await.unwrap();
    assert!(
        manager
            .timeline()
            .iter()
            .any(|x| x.error_code.as_deref() == Some("invalid_grant"))
    );
    set.shutdown();
}

/// The person at the browser, with a browser that keeps the provider's
/// cookies between visits (a jar file) and a trace of the forms shown.
struct Person {
    login: String,
    jar: PathBuf,
    trace: PathBuf,
    done: std::sync::Arc<std::sync::Mutex<std::sync::mpsc::Sender<bool>>>,
    finished: std::sync::Mutex<std::sync::mpsc::Receiver<bool>>,
}

impl Person {
    fn new(login: &str, dir: &std::path::Path) -> Person {
        let (tx, rx) = std::sync::mpsc::channel();
        Person {
            login: login.to_string(),
            jar: dir.join("cookies.json"),
            trace: dir.join("forms.txt"),
            done: std::sync::Arc::new(std::sync::Mutex::new(tx)),
            finished: std::sync::Mutex::new(rx),
        }
    }

    /// Opens `url` in the background, as a browser would; its end is
    /// reported to [`Person::wait`].
    fn open(&self, url: &str) {
        let mut cmd = Command::new(interop().join("node.sh"));
        cmd.arg(interop().join("browser.mjs"))
            .args(["--login", &self.login, url])
            .env("WARDEN_TEST_BROWSER_JAR", &self.jar)
            .env("WARDEN_TEST_BROWSER_TRACE", &self.trace);
        let done = self.done.clone();
        std::thread::spawn(move || {
            let out = cmd.output().unwrap();
            if !out.status.success() {
                eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            }
            let _ = done.lock().unwrap().send(out.status.success());
        });
    }

    fn opener(self: &std::sync::Arc<Self>) -> warden_client::oidc::Opener {
        let me = self.clone();
        Box::new(move |url: &str| {
            me.open(url);
            Ok(())
        })
    }

    fn browser(self: &std::sync::Arc<Self>) -> warden_desktop::profiles::BrowserOpener {
        let me = self.clone();
        std::sync::Arc::new(move |url: &str| {
            me.open(url);
            Ok(())
        })
    }

    /// Waits for the browser's visit to end (its cookies written): true when
    /// it got where it was sent.
    async fn wait(self: &std::sync::Arc<Self>) -> bool {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.finished.lock().unwrap().recv().unwrap())
            .await
            .unwrap()
    }

    /// The forms shown since the last call.
    fn forms(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.trace).unwrap_or_default();
        let _ = std::fs::remove_file(&self.trace);
        text.lines().map(str::to_string).collect()
    }
}

const CONFIDENTIAL_SECRET: &str = "confidential-client-secret-for-tests";

fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A confidential client added in the app: its secret is a keyring entry of
/// the profile's own (in no file), sent as client_secret_basic (the
/// provider's discovery offers it) on token, refresh and revocation
/// requests, read again after a restart and deleted with the profile. The
/// logout revokes the refresh token and then ends the provider's browser
/// session (RP-initiated logout): the next sign-in shows the login form again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confidential_client_in_the_app_keyring_secret_rp_logout_and_removal() {
    use std::sync::Arc;
    use warden_client::oidc::{OpenIdClient, OpenIdConfig};
    use warden_client::{KeyringVault, Phase, Vault};
    use warden_desktop::openid::{OpenIdServer, client_secret_key};
    use warden_desktop::profiles::{
        ActivityKind, BrowserLogoutOutcome, ProfileSetConfig, ProfilesEvent,
    };

    if std::env::var("WARDEN_TEST_DESKTOP").as_deref() != Ok("1") {
        eprintln!("needs the keyring: run inside scripts/with-desktop-session.sh");
        return;
    }
    let p = provider();
    let d = desk();
    let person = Arc::new(Person::new("heidi", d._tmp.path()));
    let paths = warden_desktop::AppPaths::new(&d.data, d.xdg.join("warden"));
    let vault: Arc<dyn Vault> = Arc::new(KeyringVault::new());
    let open = |vault: Arc<dyn Vault>| {
        warden_desktop::ProfileSet::open(ProfileSetConfig {
            paths: paths.clone(),
            vault,
            embedded: None,
            manager: warden_tests::client::test_manager_config(),
            outbox: Default::default(),
        })
    };
    let set = open(vault.clone()).await.unwrap();
    set.set_browser(person.browser());
    let server = OpenIdServer {
        issuer: p.issuer.clone(),
        client_id: "warden-confidential".into(),
        confidential: false,
        client_auth: Default::default(),
        resource: None,
        scopes: vec![],
        dpop: false,
    };
    let id = set
        .sign_in_openid(
            server,
            Some(warden_client::Secret::new(CONFIDENTIAL_SECRET)),
            person.opener(),
            None,
        )
        .await
        .unwrap();
    assert!(person.wait().await);
    assert!(person.forms().contains(&"login".to_string()));
    let manager = set.ready(&id).await.unwrap();
    assert_eq!(manager.state().phase, Phase::Active);
    // The secret: in the profile's own keyring entry, in no file.
    assert_eq!(
        vault
            .load(&client_secret_key(&id), "warden-confidential")
            .unwrap()
            .as_deref(),
        Some(CONFIDENTIAL_SECRET)
    );
    let profile = set.profile(&id).unwrap();
    assert!(
        matches!(&profile.server, warden_desktop::profiles::ServerKind::OpenId(o) if o.confidential)
    );
    // Refresh with the secret (client_secret_basic: an Authorization header).
    manager.rotate_now().await.unwrap();
    assert!(
        manager
            .timeline()
            .iter()
            .any(|x| x.path == "/token" && x.status == Some(200))
    );

    // A restart: the profile is restored, the secret read from the keyring.
    set.close().await;
    drop(set);
    for f in files_under(&d.data) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_string();
        assert!(
            !text.contains(CONFIDENTIAL_SECRET),
            "{} holds the secret",
            f.display()
        );
    }
    let set = open(vault.clone()).await.unwrap();
    set.set_browser(person.browser());
    let manager = set.ready(&id).await.unwrap();
    assert_eq!(
        manager.state().phase,
        Phase::Active,
        "restored with the secret"
    );
    manager.rotate_now().await.unwrap();

    // The browser still has the provider's session: another authorization
    // request is answered without the login form.
    let public = OpenIdClient::discover(OpenIdConfig::new(&p.issuer, "warden-public"))
        .await
        .unwrap();
    public.sign_in_browser(person.opener()).await.unwrap();
    assert!(person.wait().await);
    assert!(
        !person.forms().contains(&"login".to_string()),
        "signed in from the provider's session"
    );

    // Log out: revocation (with the secret), then the provider's logout page.
    let refresh = manager.dev_refresh_tokens().0.unwrap();
    let mut events = set.subscribe();
    let outcome = format!("{:?}", set.logout(&id).await.unwrap());
    assert!(outcome.starts_with("Delivered"), "{outcome}");
    let browser_logout = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        loop {
            if let Ok(ProfilesEvent::Activity { activity, .. }) = events.recv().await
                && let ActivityKind::BrowserLogout {
                    outcome, detail, ..
                } = activity.what
                && outcome != BrowserLogoutOutcome::Opened
            {
                return (outcome, detail);
            }
        }
    })
    .await
    .expect("the browser logout ends");
    assert_eq!(
        browser_logout.0,
        BrowserLogoutOutcome::Done,
        "{}",
        browser_logout.1
    );
    assert!(person.wait().await);
    assert!(person.forms().contains(&"logout".to_string()));
    let mut config = OpenIdConfig::new(&p.issuer, "warden-confidential");
    config.client_secret = Some(warden_client::Secret::new(CONFIDENTIAL_SECRET));
    let confidential = OpenIdClient::discover(config).await.unwrap();
    let err = confidential.refresh(refresh.expose()).await.unwrap_err();
    assert_eq!(err.code(), "invalid_grant", "revoked: {err}");
    // The provider's browser session is over: the login form again.
    public.sign_in_browser(person.opener()).await.unwrap();
    assert!(person.wait().await);
    assert!(
        person.forms().contains(&"login".to_string()),
        "the provider asked for the password again"
    );

    // Removing the profile deletes the secret.
    set.remove(&id).await.unwrap();
    assert_eq!(
        vault
            .load(&client_secret_key(&id), "warden-confidential")
            .unwrap(),
        None
    );
    set.shutdown();
}

/// `warden login --oidc` of a confidential client, its secret on stdin (no
/// argument): the secret goes to the keyring, never a file; `warden token`
/// rotates with it and `warden exec` hands its access token to a program,
/// without the app (under the profile's lock).
#[test]
fn login_oidc_confidential_client_secret_from_stdin_token_and_exec() {
    use std::io::Write as _;
    if std::env::var("WARDEN_TEST_DESKTOP").as_deref() != Ok("1") {
        eprintln!("needs the keyring: run inside scripts/with-desktop-session.sh");
        return;
    }
    let p = provider();
    let d = desk();
    let mut child = d
        .warden(&[
            "login",
            "--oidc",
            &p.issuer,
            "--client-id",
            "warden-confidential",
            "--client-secret-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{CONFIDENTIAL_SECRET}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in files_under(&d.data) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_string();
        assert!(
            !text.contains(CONFIDENTIAL_SECRET),
            "{} holds the secret",
            f.display()
        );
    }
    // Rotations at the token endpoint authenticate with the secret.
    let first = token_json(&d, &["--rotate"]);
    let second = token_json(&d, &["--rotate"]);
    assert_ne!(first["access_token"], second["access_token"]);
    assert_eq!(second["user"], "alice");
    // `warden exec`: the program gets the token in its environment.
    let out = d
        .warden(&[
            "exec",
            "--",
            "sh",
            "-c",
            "printf %s \"$WARDEN_ACCESS_TOKEN\"",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    assert_eq!(userinfo(&p.issuer, &token)["sub"], "alice");

    // A wrong secret: the provider refuses the client, explained.
    let d2 = desk();
    let mut child = d2
        .warden(&[
            "login",
            "--oidc",
            &p.issuer,
            "--client-id",
            "warden-confidential",
            "--client-secret-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "not-the-secret").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid_client"), "{stderr}");
}

/// The API the test provider issues JWT access tokens for (provider.mjs).
const API_RESOURCE: &str = "https://api.warden.test/";

/// A JWT's header and claims (no checks: what the test compares against).
fn jwt_json(token: &str) -> (serde_json::Value, serde_json::Value) {
    use base64::Engine as _;
    let part = |i: usize| {
        let b64 = token.split('.').nth(i).expect("a JWT has three parts");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
    };
    assert_eq!(token.split('.').count(), 3, "a JWT");
    (part(0), part(1))
}

/// The same token with one byte of its payload changed (its signature kept).
fn tampered(token: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload = b64.decode(parts[1]).unwrap();
    let at = payload
        .windows(7)
        .position(|w| w == b"\"sub\":\"")
        .expect("a sub claim")
        + 7;
    payload[at] ^= 0x01;
    let changed = format!("{}.{}.{}", parts[0], b64.encode(&payload), parts[2]);
    assert_ne!(changed, token);
    changed
}

/// RFC 9068 against the real provider: a profile asking for a resource
/// (RFC 8707) gets JWT access tokens for it. The session's access token is
/// that JWT and its lifetime is its `exp`; the inspector verifies it against
/// the provider's JWKS (signature, iss, aud, exp) and reads the DPoP binding
/// (`cnf.jkt`) from the token itself; a token with one payload byte changed
/// does not verify, and says why. "Check with server" verifies it against the
/// JWKS too, as userinfo does not take a token for another resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_access_tokens_for_a_resource_verified_against_the_providers_jwks() {
    use std::sync::Arc;
    use warden_client::{MemoryVault, Phase, TokenProvider as _, Vault};
    use warden_desktop::inspector::{ProviderToken, check_provider_token, inspect_openid};
    use warden_desktop::openid::OpenIdServer;
    use warden_desktop::profiles::ProfileSetConfig;

    let p = provider();
    let d = desk();
    let paths = warden_desktop::AppPaths::new(&d.data, d.xdg.join("warden"));
    let vault: Arc<dyn Vault> = Arc::new(MemoryVault::new());
    let set = warden_desktop::ProfileSet::open(ProfileSetConfig {
        paths,
        vault,
        embedded: None,
        manager: warden_tests::client::test_manager_config(),
        outbox: Default::default(),
    })
    .await
    .unwrap();
    let person = Arc::new(Person::new("ivan", d._tmp.path()));
    let server = OpenIdServer {
        issuer: p.issuer.clone(),
        client_id: "warden-public".into(),
        confidential: false,
        client_auth: Default::default(),
        scopes: vec!["api:read".into()],
        resource: Some(API_RESOURCE.into()),
        dpop: true,
    };
    set.sign_in_openid(server, None, person.opener(), None)
        .await
        .unwrap();
    assert!(person.wait().await);
    let (profile, manager) = set.active_session().unwrap();
    assert_eq!(profile.account, "ivan");
    assert_eq!(manager.state().phase, Phase::Active);

    // The access token is an RFC 9068 JWT for the resource, bound to the
    // session's DPoP key; the session's lifetime is the token's exp.
    let access = manager.access_token().await.unwrap();
    let (header, claims) = jwt_json(&access);
    assert_eq!(header["typ"], "at+jwt", "{header}");
    assert_eq!(claims["iss"], p.issuer.as_str());
    assert_eq!(claims["aud"], API_RESOURCE);
    assert_eq!(claims["sub"], "ivan");
    assert_eq!(claims["scope"], "api:read");
    let state = manager.state();
    let held = state.access.as_ref().unwrap();
    assert_eq!(
        held.exp,
        claims["exp"].as_i64(),
        "lifetime from the JWT's exp"
    );
    assert_eq!(held.iat, claims["iat"].as_i64());
    assert_eq!(
        held.jti.as_deref(),
        claims["jti"].as_str(),
        "the JWT's own jti"
    );
    let provider = manager.provider().as_openid().cloned().unwrap();
    let session_jkt = provider
        .session_dpop_key()
        .map(|k| k.thumbprint().to_string())
        .expect("a DPoP-bound session");
    assert_eq!(claims["cnf"]["jkt"], session_jkt.as_str());

    // The inspector: verified against the provider's JWKS, cnf.jkt read from
    // the token and matching the session key.
    let host = OneSession(manager.clone());
    let check = inspect_openid(&host, ProviderToken::Access).await.unwrap();
    assert!(check.jwt);
    assert!(check.verified, "{}", check.reason);
    assert!(
        check.reason.starts_with(&format!(
            "verified against {}'s JWKS: signature (RS256 key {}",
            p.issuer,
            header["kid"].as_str().unwrap()
        )),
        "{}",
        check.reason
    );
    assert!(
        check.reason.contains(&format!("aud \"{API_RESOURCE}\"")),
        "{}",
        check.reason
    );
    assert_eq!(check.exp, claims["exp"].as_i64());
    assert_eq!(check.cnf_jkt.as_deref(), Some(session_jkt.as_str()));
    assert_eq!(check.session_jkt.as_deref(), Some(session_jkt.as_str()));
    assert_eq!(check.jkt_matches, Some(true));
    assert!(
        check
            .claims_pretty
            .as_deref()
            .is_some_and(|c| c.contains(&session_jkt))
    );

    // One payload byte changed: not verified, with the reason.
    let forged = check_provider_token(&provider, ProviderToken::Access, &tampered(&access))
        .await
        .unwrap();
    assert!(forged.jwt);
    assert!(!forged.verified);
    assert!(
        forged.reason.starts_with("not verified: ")
            && forged
                .reason
                .contains("the token does not verify: bad signature"),
        "{}",
        forged.reason
    );
    assert_eq!(forged.kid, check.kid, "the same key named");

    // A rotation (refresh with the resource): another JWT for the API, later exp.
    manager.rotate_now().await.unwrap();
    let next = manager.access_token().await.unwrap();
    assert_ne!(next, access);
    let (_, next_claims) = jwt_json(&next);
    assert_eq!(next_claims["aud"], API_RESOURCE);
    assert_eq!(next_claims["cnf"]["jkt"], session_jkt.as_str());
    assert_eq!(
        manager.state().access.unwrap().exp,
        next_claims["exp"].as_i64()
    );
    let again = inspect_openid(&host, ProviderToken::Access).await.unwrap();
    assert!(again.verified, "{}", again.reason);
    assert_eq!(again.jkt_matches, Some(true));

    // "Check with server": userinfo does not take a token for the API (nor
    // does the provider introspect its JWTs); its JWKS says whose it is.
    let who = warden_desktop::session::check_access(&manager)
        .await
        .unwrap();
    assert_eq!(who.username, "ivan");
    assert_eq!(who.path, "jwks");
    // A tampered one is refused there too.
    let err = provider
        .identity(&tampered(&next))
        .unwrap()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad signature"), "{err}");
    set.shutdown();
}

const POST_SECRET: &str = "post-client-secret-for-tests";

/// A client registered for client_secret_post only, at a provider that
/// offers client_secret_basic too: automatic (basic) is refused
/// invalid_client, explained; `--client-auth post` signs in, is kept in the
/// profile (not the secret) and used on rotations (`warden token`, the app's
/// restore) and on the revocation of the app's logout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_oidc_client_auth_post_for_a_client_registered_for_post_only() {
    use std::io::Write as _;
    use std::sync::Arc;
    use warden_client::oidc::{ClientAuth, OpenIdClient, OpenIdConfig};
    use warden_client::{KeyringVault, Phase, Vault};
    use warden_desktop::profiles::ProfileSetConfig;

    if std::env::var("WARDEN_TEST_DESKTOP").as_deref() != Ok("1") {
        eprintln!("needs the keyring: run inside scripts/with-desktop-session.sh");
        return;
    }
    let p = provider();
    let d = desk();
    let login = |extra: &[&str]| {
        let mut args = vec![
            "login",
            "--oidc",
            &p.issuer,
            "--client-id",
            "warden-post",
            "--client-secret-stdin",
        ];
        args.extend_from_slice(extra);
        let mut child = d
            .warden(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{POST_SECRET}").unwrap();
        child.wait_with_output().unwrap()
    };

    // Automatic: the provider offers client_secret_basic, which this client
    // is not registered for.
    let out = tokio::task::block_in_place(|| login(&[]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert!(
        stderr.contains("sent: the secret with client_secret_basic (picked automatically"),
        "{stderr}"
    );
    assert!(stderr.contains("--client-auth post"), "{stderr}");
    assert!(!d.data.join("profiles.json").exists(), "no profile made");

    // --client-auth post: signed in; the choice is in the profile, the
    // secret is not in any file.
    let out = tokio::task::block_in_place(|| login(&["--client-auth", "post"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signed in as alice"));
    let profiles = std::fs::read_to_string(d.data.join("profiles.json")).unwrap();
    assert!(profiles.contains("\"client_auth\": \"post\""), "{profiles}");
    for f in files_under(&d.data) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_string();
        assert!(
            !text.contains(POST_SECRET),
            "{} holds the secret",
            f.display()
        );
    }
    // Rotations with the secret in the form.
    let (first, second) = tokio::task::block_in_place(|| {
        (token_json(&d, &["--rotate"]), token_json(&d, &["--rotate"]))
    });
    assert_ne!(first["access_token"], second["access_token"]);
    assert_eq!(second["user"], "alice");

    // The app restores the profile (a rotation with client_secret_post) and
    // its logout revokes the refresh token with it.
    let paths = warden_desktop::AppPaths::new(&d.data, d.xdg.join("warden"));
    let vault: Arc<dyn Vault> = Arc::new(KeyringVault::new());
    let set = warden_desktop::ProfileSet::open(ProfileSetConfig {
        paths,
        vault,
        embedded: None,
        manager: warden_tests::client::test_manager_config(),
        outbox: Default::default(),
    })
    .await
    .unwrap();
    let id = set.active().unwrap();
    let manager = set.ready(&id).await.unwrap();
    assert_eq!(manager.state().phase, Phase::Active, "restored with post");
    manager.rotate_now().await.unwrap();
    let refresh = manager.dev_refresh_tokens().0.unwrap();
    let outcome = format!("{:?}", set.logout(&id).await.unwrap());
    assert!(outcome.starts_with("Delivered"), "{outcome}");
    let mut config = OpenIdConfig::new(&p.issuer, "warden-post");
    config.client_secret = Some(warden_client::Secret::new(POST_SECRET));
    config.auth = ClientAuth::ClientSecretPost;
    let post = OpenIdClient::discover(config).await.unwrap();
    let err = post.refresh(refresh.expose()).await.unwrap_err();
    assert_eq!(err.code(), "invalid_grant", "revoked: {err}");
    set.shutdown();
}
