//! The desktop core over a host that is nothing but the trait: the test
//! kit's real Warden server (HTTP on loopback, SQLite, the system clock)
//! standing in for the embedded one, a session manager with an in-memory
//! vault built the way the app builds its own, and a temp folder for exports.
//! What the staff console, the inspector, the fault lab and the export do
//! here is what they do in the window, without Tauri.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use warden_auth::inspect::{SignatureStatus, WarningCode};
use warden_auth::model::AuditKind;
use warden_auth::{Algorithm, AuthService, KeyRing, Secs, Settings};
use warden_client::{MemoryVault, Phase, SessionManager, SignOutReason, Vault as _};
use warden_desktop::export::{self, ExportFormat};
use warden_desktop::inspector::{self, TokenInput, VerifyInput};
use warden_desktop::lab;
use warden_desktop::session::{self, Server, StateView};
use warden_desktop::staff::{self, AuditFilter, StaffAction, UserFilter};
use warden_desktop::{Error, Host, RemoteServer, Session};
use warden_tests::client::{LiveServer, memory_manager, test_manager_config};
use warden_tests::{PASSWORD, TEST_SECRET, test_settings};

/// The fault lab's clock skew is the whole process's: the test that sets it
/// runs alone, every other host shares the clock.
static CLOCK: RwLock<()> = RwLock::const_new(());

#[allow(dead_code)] // held for its drop
enum ClockUse {
    Shared(RwLockReadGuard<'static, ()>),
    Alone(RwLockWriteGuard<'static, ()>),
}

const VAULT_KEY: &str = "warden-embedded:/tmp/test/warden.db";

struct TestHost {
    server: Mutex<LiveServer>,
    service: Arc<AuthService>,
    base_url: String,
    vault: Arc<MemoryVault>,
    session: Session,
    exports: tempfile::TempDir,
    _clock: ClockUse,
}

impl TestHost {
    /// The kit's server as the embedded one.
    async fn embedded(settings: Settings) -> TestHost {
        TestHost::new(settings, true, ClockUse::Shared(CLOCK.read().await))
    }

    /// The kit's server as a remote Warden (the app has no engine at hand).
    async fn remote(settings: Settings) -> TestHost {
        TestHost::new(settings, false, ClockUse::Shared(CLOCK.read().await))
    }

    fn new(settings: Settings, embedded: bool, clock: ClockUse) -> TestHost {
        let server = LiveServer::start(settings).unwrap();
        let base_url = server.base_url();
        let vault = Arc::new(MemoryVault::new());
        let remote = RemoteServer {
            url: base_url.clone(),
            ..RemoteServer::default()
        };
        let target = if embedded {
            Server::Embedded {
                url: &base_url,
                vault_key: VAULT_KEY,
            }
        } else {
            Server::Remote(&remote)
        };
        let manager =
            session::session_manager(target, vault.clone(), test_manager_config()).unwrap();
        TestHost {
            service: Arc::clone(&server.service),
            server: Mutex::new(server),
            base_url,
            vault,
            session: Session {
                manager: Arc::new(manager),
                embedded,
            },
            exports: tempfile::tempdir().unwrap(),
            _clock: clock,
        }
    }

    fn manager(&self) -> &SessionManager {
        &self.session.manager
    }

    async fn sign_in(&self, user: &str) {
        self.manager().login(user, PASSWORD).await.unwrap();
    }

    /// `user` signed in on another device of their own.
    async fn device(&self, user: &str, password: &str) -> SessionManager {
        let (m, _) = memory_manager(&self.base_url).unwrap();
        m.login(user, password).await.unwrap();
        m
    }

    async fn id_of(&self, username: &str) -> i64 {
        let found = staff::users(self, Some(username), UserFilter::All)
            .await
            .unwrap();
        found.iter().find(|u| u.username == username).unwrap().id
    }
}

impl Host for TestHost {
    async fn session(&self) -> warden_desktop::Result<Session> {
        Ok(self.session.clone())
    }

    async fn embedded_service(&self) -> Option<Arc<AuthService>> {
        self.session.embedded.then(|| Arc::clone(&self.service))
    }

    async fn set_embedded_online(&self, online: bool) -> warden_desktop::Result<Option<bool>> {
        if !self.session.embedded {
            return Ok(None);
        }
        let mut server = self.server.lock().unwrap();
        let switched = if online {
            server.start_http()
        } else {
            server.stop_http()
        };
        switched.map_err(|e| Error::Embedded(e.to_string()))?;
        Ok(Some(online))
    }

    fn export_dir(&self) -> PathBuf {
        self.exports.path().join("Downloads")
    }
}

/// The usernames the console's search lists.
async fn listed(host: &TestHost, q: Option<&str>, filter: UserFilter) -> Vec<String> {
    let users = staff::users(host, q, filter).await.unwrap();
    users.into_iter().map(|u| u.username).collect()
}

// ---------------------------------------------------------------------------
// Staff console

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_actions_carry_their_reasons_into_the_audit_log() -> Result<()> {
    let host = TestHost::embedded(test_settings()).await;
    host.sign_in("root").await;
    let (root, bob) = (host.id_of("root").await, host.id_of("bob").await);
    assert_eq!(listed(&host, Some(" bob "), UserFilter::All).await, ["bob"]);
    assert_eq!(listed(&host, None, UserFilter::Staff).await, ["root"]);
    let laptop = host.device("bob", PASSWORD).await;

    // A blank reason is refused before anything is sent.
    let e = staff::act(&host, &StaffAction::Lock { user_id: bob }, "  ")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "reason_required");
    assert!(listed(&host, None, UserFilter::Locked).await.is_empty());

    let act = |action: StaffAction, reason: &'static str| {
        let host = &host;
        async move { staff::act(host, &action, reason).await }
    };
    assert_eq!(
        act(StaffAction::Lock { user_id: bob }, " laptop stolen ").await?,
        "User locked; 1 session revoked."
    );
    assert_eq!(listed(&host, None, UserFilter::Locked).await, ["bob"]);
    assert!(laptop.rotate_now().await.is_err(), "his session has ended");
    assert_eq!(
        act(StaffAction::Unlock { user_id: bob }, "found it").await?,
        "User unlocked."
    );
    assert_eq!(
        act(StaffAction::Deactivate { user_id: bob }, "left the company").await?,
        "User deactivated; 0 sessions revoked."
    );
    assert_eq!(listed(&host, None, UserFilter::Inactive).await, ["bob"]);
    assert_eq!(
        act(StaffAction::Reactivate { user_id: bob }, "came back").await?,
        "User reactivated."
    );
    assert!(
        listed(&host, None, UserFilter::Active)
            .await
            .contains(&"bob".to_string())
    );

    let e = act(
        StaffAction::SetPassword {
            user_id: bob,
            password: String::new(),
        },
        "forgot it",
    )
    .await
    .unwrap_err();
    assert_eq!(
        (e.code(), e.to_string().as_str()),
        ("invalid", "Type the temporary password.")
    );
    let _phone = host.device("bob", PASSWORD).await;
    assert_eq!(
        act(
            StaffAction::SetPassword {
                user_id: bob,
                password: "temporary-Pass-1".into(),
            },
            "forgot it",
        )
        .await?,
        "Temporary password set; 1 session revoked."
    );
    let tablet = host.device("bob", "temporary-Pass-1").await;
    let sid = tablet.state().session_id.unwrap();
    assert_eq!(
        act(
            StaffAction::RevokeSession {
                session_id: sid.clone()
            },
            "tablet reported stolen",
        )
        .await?,
        "Session revoked; its access and refresh tokens are refused from now on."
    );
    assert_eq!(
        act(
            StaffAction::RevokeSession {
                session_id: sid.clone()
            },
            "again",
        )
        .await?,
        "That session had already ended."
    );
    let _a = host.device("bob", "temporary-Pass-1").await;
    let _b = host.device("bob", "temporary-Pass-1").await;
    assert_eq!(
        act(StaffAction::LogoutAll { user_id: bob }, "everywhere").await?,
        "2 sessions revoked; their access tokens are refused from now on."
    );

    // Every reason is in the log, by root, about bob.
    let lines = staff::audit(
        &host,
        &AuditFilter {
            user: Some(bob),
            ..AuditFilter::default()
        },
    )
    .await?;
    for (kind, reason) in [
        ("user_locked", "laptop stolen"),
        ("user_unlocked", "found it"),
        ("user_deactivated", "left the company"),
        ("user_reactivated", "came back"),
        ("password_changed", "forgot it"),
        ("session_revoked", "tablet reported stolen"),
        // Staff ending every session is audited per session.
        ("session_revoked", "everywhere"),
    ] {
        assert!(
            lines.iter().any(|l| l.kind == kind
                && l.reason.as_deref() == Some(reason)
                && l.actor == Some(root)
                && l.subject == Some(bob)),
            "{kind} ({reason}) by root: {lines:#?}"
        );
    }
    assert!(
        lines.iter().all(|l| l.reason.as_deref() != Some("")),
        "a blank reason reached the log"
    );
    // The kind filter, as the window sends it (blank entries dropped).
    let revoked = staff::audit(
        &host,
        &AuditFilter {
            user: Some(bob),
            kinds: vec![" session_revoked ".into(), String::new()],
            ..AuditFilter::default()
        },
    )
    .await?;
    assert!(!revoked.is_empty());
    assert!(revoked.iter().all(|l| l.kind == "session_revoked"));

    // The user's page and the revoked session's lineage say the same.
    let page = staff::user(&host, bob).await?;
    assert_eq!(page.detail.user.username, "bob");
    assert!(
        page.sessions
            .iter()
            .any(|s| s.id == sid && s.revoked_at.is_some())
    );
    let lineage = staff::lineage(&host, &sid).await?;
    assert_eq!(lineage.lineage.session.id, sid);
    assert!(
        lineage
            .events
            .iter()
            .any(|e| e.reason.as_deref() == Some("tablet reported stolen"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_the_console_to_someone_who_is_not_staff() -> Result<()> {
    let host = TestHost::embedded(test_settings()).await;
    host.sign_in("alice").await;
    let e = staff::users(&host, None, UserFilter::All)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "forbidden", "{e}");
    let e = staff::act(&host, &StaffAction::Lock { user_id: 2 }, "because")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "forbidden", "{e}");
    assert_eq!(
        host.server
            .lock()
            .unwrap()
            .audit_count(AuditKind::UserLocked)?,
        0
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Audit export

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_private_files_and_formula_safe() -> Result<()> {
    let host = TestHost::embedded(test_settings()).await;
    host.sign_in("root").await;
    let bob = host.id_of("bob").await;
    let phone = host.device("bob", PASSWORD).await;
    let refresh = phone.dev_refresh_tokens().0.unwrap();
    let evil = "=HYPERLINK(\"http://evil.example/\",\"click\")";
    staff::act(&host, &StaffAction::LogoutAll { user_id: bob }, evil).await?;
    let filter = AuditFilter {
        user: Some(bob),
        ..AuditFilter::default()
    };
    let lines = staff::audit(&host, &filter).await?.len();

    let csv = export::export(&host, ExportFormat::Csv, &filter).await?;
    let jsonl = export::export(&host, ExportFormat::Jsonl, &filter).await?;
    for (exported, ext) in [(&csv, "csv"), (&jsonl, "jsonl")] {
        assert_eq!(exported.lines, lines);
        let path = PathBuf::from(&exported.path);
        assert_eq!(path.parent(), Some(host.export_dir().as_path()));
        let name = path.file_name().unwrap().to_str().unwrap();
        let stamp = name
            .strip_prefix("warden-audit-")
            .and_then(|n| n.strip_suffix(&format!(".{ext}")))
            .unwrap_or_else(|| panic!("{name}"));
        assert!(
            stamp.len() == 19
                && stamp
                    .chars()
                    .enumerate()
                    .all(|(i, c)| if i == 8 || i == 15 {
                        c == '-'
                    } else {
                        c.is_ascii_digit()
                    }),
            "{name}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)?.permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let text = std::fs::read_to_string(&path)?;
        assert!(!text.contains(refresh.expose()), "a token in {name}");
    }
    let text = std::fs::read_to_string(&csv.path)?;
    assert!(text.starts_with("id,at,kind,subject,actor,session_id,jti,address,reason,detail\r\n"));
    assert!(
        text.contains("\"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"click\"\")\""),
        "the reason is neutralised and quoted: {text}"
    );
    assert!(!text.contains(",=HYPERLINK"), "{text}");
    let text = std::fs::read_to_string(&jsonl.path)?;
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(records.len(), lines);
    assert!(
        records
            .iter()
            .any(|r| r["reason"] == evil && r["kind"] == "session_revoked")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_that_cannot_be_written_says_where() -> Result<()> {
    let host = TestHost::embedded(test_settings()).await;
    host.sign_in("root").await;
    // The export folder's place is taken by a file.
    std::fs::write(host.export_dir(), b"not a folder")?;
    let e = export::export(&host, ExportFormat::Jsonl, &AuditFilter::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "export");
    assert!(
        e.to_string()
            .starts_with(&format!("Cannot write {}", host.export_dir().display())),
        "{e}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Inspector

fn forged_alg_none() -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload =
        b.encode(br#"{"token_type":"access","user_id":"1","jti":"x","iat":1,"exp":4102444800}"#);
    format!("{header}.{payload}.")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_checks_the_session_tokens_and_flags_a_forgery() -> Result<()> {
    let host = TestHost::embedded(test_settings()).await;
    host.sign_in("alice").await;

    let access = inspector::inspect(&host, TokenInput::Access, VerifyInput::Server).await?;
    assert!(
        matches!(&access.signature, SignatureStatus::Valid { key } if key.contains("key ring")),
        "{:?}",
        access.signature
    );
    assert_eq!(access.token_type.as_deref(), Some("access"));
    assert!(access.claims.as_ref().is_some_and(|c| c.ok));
    let refresh = inspector::inspect(&host, TokenInput::Refresh, VerifyInput::None).await?;
    assert_eq!(refresh.token_type.as_deref(), Some("refresh"));
    assert!(matches!(
        refresh.signature,
        SignatureStatus::Unchecked { .. }
    ));

    // The server's HMAC secret verifies, another does not.
    let secret = inspector::inspect(
        &host,
        TokenInput::Access,
        VerifyInput::Secret(TEST_SECRET.into()),
    )
    .await?;
    assert!(secret.signature.is_valid(), "{:?}", secret.signature);
    let wrong = inspector::inspect(
        &host,
        TokenInput::Access,
        VerifyInput::Secret("another-secret-0123456789abcdef-0123456789".into()),
    )
    .await?;
    assert!(
        matches!(wrong.signature, SignatureStatus::Invalid { .. }),
        "{:?}",
        wrong.signature
    );

    // alg none, pasted with spaces around it: refused and flagged.
    let forged = inspector::inspect(
        &host,
        TokenInput::Pasted(format!("  {}\n", forged_alg_none())),
        VerifyInput::Server,
    )
    .await?;
    assert!(!forged.signature.is_valid(), "{:?}", forged.signature);
    assert!(forged.has_warning(WarningCode::AlgNone));

    let e = inspector::inspect(&host, TokenInput::Pasted(" ".into()), VerifyInput::None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.to_string().as_str()),
        ("invalid", "Paste a token, or pick the current one.")
    );
    let e = inspector::inspect(
        &host,
        TokenInput::Pasted("garbage".into()),
        VerifyInput::None,
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("This is not a JWT that can be read"),
        "{e}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_verifies_with_a_jwks_url_or_a_pem_key() -> Result<()> {
    let host = TestHost::embedded(Settings {
        ALGORITHM: Algorithm::EdDSA,
        ..Settings::default()
    })
    .await;
    host.sign_in("alice").await;
    let jwks = format!("{}.well-known/jwks.json", host.base_url);
    let i = inspector::inspect(&host, TokenInput::Access, VerifyInput::JwksUrl(jwks)).await?;
    assert!(
        matches!(&i.signature, SignatureStatus::Valid { key } if key.contains("JWKS")),
        "{:?}",
        i.signature
    );
    let ring = KeyRing::from_materials(host.service.key_materials())?;
    let pem = ring.active().public_pem().unwrap().to_string();
    let i = inspector::inspect(&host, TokenInput::Access, VerifyInput::Pem(pem)).await?;
    assert!(i.signature.is_valid(), "{:?}", i.signature);

    let e = inspector::inspect(
        &host,
        TokenInput::Access,
        VerifyInput::JwksUrl("file:///etc/passwd".into()),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "invalid_url");
    Ok(())
}

/// A JWKS URL whose body is one byte over the cap, on a plain socket.
fn oversized_jwks() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let mut body = br#"{"keys":[]}"#.to_vec();
            body.resize(warden_client::JWKS_MAX_BYTES + 1, b' ');
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}/.well-known/jwks.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_refuses_a_jwks_over_a_mebibyte() -> Result<()> {
    let host = TestHost::embedded(test_settings()).await;
    host.sign_in("alice").await;
    let url = oversized_jwks();
    let e = inspector::inspect(&host, TokenInput::Access, VerifyInput::JwksUrl(url.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "jwks");
    assert_eq!(
        e.to_string(),
        format!("The JWKS at {url} is over 1048576 bytes.")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_servers_keys_are_not_at_hand() -> Result<()> {
    let host = TestHost::remote(Settings {
        ACCESS_TOKEN_LIFETIME: Secs(120),
        ..test_settings()
    })
    .await;
    host.sign_in("alice").await;
    let e = inspector::inspect(&host, TokenInput::Access, VerifyInput::Server)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid");
    assert!(e.to_string().contains("use its JWKS URL or a key"), "{e}");
    // What the server accepts comes from its capabilities document: a token
    // forged to live longer than the server's lifetime is flagged.
    let forged = {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b.encode(br#"{"alg":"HS256","typ":"JWT","kid":"k"}"#);
        let payload = b.encode(
            br#"{"token_type":"access","user_id":"1","jti":"x","iat":1800000000,"exp":1800003600}"#,
        );
        format!("{header}.{payload}.c2ln")
    };
    let i = inspector::inspect(&host, TokenInput::Pasted(forged), VerifyInput::None).await?;
    assert!(
        i.warnings
            .iter()
            .any(|w| w.message.contains("ACCESS_TOKEN_LIFETIME") && w.message.contains("2m")),
        "{:?}",
        i.warnings
    );
    // Nor is its switch.
    let e = lab::server_online(&host, false).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Only the embedded server can be switched off from here."
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Fault lab

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_the_previous_refresh_token_trips_reuse_detection() -> Result<()> {
    let host = TestHost::embedded(test_settings()).await;
    host.sign_in("alice").await;
    let e = lab::replay_previous(&host).await.unwrap_err();
    assert_eq!(e.code(), "no_previous");

    host.manager().rotate_now().await?;
    let steps = lab::replay_previous(&host).await?;
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0].what, "Replay the previous refresh token");
    assert!(!steps[0].ok, "{steps:?}");
    assert!(steps[0].outcome.starts_with("refused: "), "{steps:?}");
    assert!(!steps[1].ok, "the family is revoked: {steps:?}");
    assert_eq!(
        host.server
            .lock()
            .unwrap()
            .audit_count(AuditKind::ReuseDetected)?,
        1
    );
    assert!(matches!(
        host.manager().state().phase,
        Phase::SignedOut {
            reason: Some(SignOutReason::ReuseDetected)
        }
    ));
    let view = StateView::of(&host.session);
    assert!(
        view.signed_out_message
            .as_deref()
            .is_some_and(|m| m.contains("reuse_detected")),
        "{view:?}"
    );

    // The timeline's "Why?" for the refused replay.
    let refused = host
        .manager()
        .timeline()
        .into_iter()
        .rev()
        .find(|x| x.status == Some(401))
        .unwrap();
    let detail = lab::exchange_detail(&host, refused.at, false).await?;
    assert!(detail.curl.starts_with("curl"), "{}", detail.curl);
    assert!(
        host.manager().dev_refresh_tokens().0.is_none(),
        "signed out: no token left in memory"
    );
    let why = detail.explanation.unwrap();
    assert!(
        why.cause
            .contains("already been rotated away was used again"),
        "{}",
        why.cause
    );
    let e = lab::exchange_detail(&host, -1, false).await.unwrap_err();
    assert_eq!(e.code(), "not_found");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_have_one_winner() -> Result<()> {
    let host = TestHost::embedded(test_settings()).await;
    host.sign_in("alice").await;
    for n in [0, 1, 65] {
        let e = lab::concurrent_refresh(&host, n).await.unwrap_err();
        assert_eq!(e.to_string(), "Fire between 2 and 64 refreshes.");
    }
    let steps = lab::concurrent_refresh(&host, 4).await?;
    assert_eq!(steps.len(), 5, "{steps:?}");
    assert_eq!(steps[..4].iter().filter(|s| s.ok).count(), 1, "{steps:?}");
    assert_eq!(
        steps[4].what,
        "1 of 4 got a new pair; then this session rotates"
    );
    assert!(
        !steps[4].ok,
        "the losers' replays revoked the family: {steps:?}"
    );

    // With a grace window, every concurrent caller gets the same successor.
    let host = TestHost::embedded(Settings {
        REFRESH_GRACE_PERIOD: Secs(30),
        ..test_settings()
    })
    .await;
    host.sign_in("alice").await;
    let steps = lab::concurrent_refresh(&host, 4).await?;
    assert!(steps.iter().all(|s| s.ok), "{steps:?}");
    assert_eq!(steps[4].outcome, "200: the session lives on");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_goes_offline_and_comes_back_on_the_same_address() -> Result<()> {
    let host = TestHost::embedded(test_settings()).await;
    host.sign_in("alice").await;
    assert!(!lab::server_online(&host, false).await?);
    let e = host.manager().rotate_now().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(host.manager().state().user.is_some(), "the session is kept");
    assert!(lab::server_online(&host, true).await?);
    host.manager().rotate_now().await?;
    assert!(matches!(host.manager().state().phase, Phase::Active));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skewed_client_clock_is_re_measured_from_the_servers_tokens() -> Result<()> {
    let clock = ClockUse::Alone(CLOCK.write().await);
    let host = TestHost::new(
        Settings {
            ACCESS_TOKEN_LIFETIME: Secs(3600),
            ..test_settings()
        },
        true,
        clock,
    );
    host.sign_in("alice").await;
    for wrong in [f64::NAN, 7.0 * 86_400.0 + 1.0] {
        let e = lab::clock_skew(&host, wrong).await.unwrap_err();
        assert_eq!(e.to_string(), "Skew by at most a week.");
    }
    let steps = lab::clock_skew(&host, 600.0).await?;
    let reset = lab::clock_skew(&host, 0.0).await?;
    assert_eq!(steps[0].outcome, "the local clock is now off by +600 s");
    assert!(steps[1].ok, "{steps:?}");
    let left: f64 = steps[2]
        .outcome
        .trim_end_matches(" s left")
        .parse()
        .unwrap();
    // Unmeasured, a clock 10 min fast would leave 50 min of a 60 min token.
    assert!((3300.0..=3600.0).contains(&left), "{steps:?}");
    assert_eq!(reset[0].outcome, "the local clock is right again");
    assert_eq!(warden_client::simulated_clock_skew(), 0.0);
    Ok(())
}

// ---------------------------------------------------------------------------
// Sessions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_servers_session_is_found_again_on_another_port() -> Result<()> {
    let host = TestHost::embedded(test_settings()).await;
    host.sign_in("alice").await;
    let check = session::check_access(host.manager()).await?;
    assert_eq!(
        (check.username.as_str(), check.path.as_str()),
        ("alice", "api/me/")
    );
    // Filed under the stable key, not the URL.
    assert!(host.vault.load(VAULT_KEY, "alice")?.is_some());
    assert!(host.vault.load(&host.base_url, "alice")?.is_none());
    // Next run the port differs (here: the same server by another name).
    let elsewhere = host.base_url.replace("127.0.0.1", "localhost");
    let restarted = session::session_manager(
        Server::Embedded {
            url: &elsewhere,
            vault_key: VAULT_KEY,
        },
        host.vault.clone(),
        test_manager_config(),
    )?;
    let state = restarted.restore("alice").await?;
    assert_eq!(state.user.as_deref(), Some("alice"));
    Ok(())
}

// ---------------------------------------------------------------------------
// The window's JSON

/// ipc.js's half of the fixture is checked by `node --test ui/`.
#[test]
fn the_commands_read_what_ipc_js_sends() {
    let wire: serde_json::Value =
        serde_json::from_str(include_str!("../../../ui/js/ipc.wire.json")).unwrap();
    let cases = |cmd: &str| wire[cmd].as_array().unwrap().clone();
    let mut kinds = Vec::new();
    for c in cases("staff_action") {
        let action: StaffAction = serde_json::from_value(c["sent"]["action"].clone()).unwrap();
        kinds.push(c["sent"]["action"]["kind"].as_str().unwrap().to_string());
        assert!(c["sent"]["reason"].is_string());
        if let StaffAction::SetPassword { password, .. } = action {
            assert_eq!(password, "temporary-Pass-1");
        }
    }
    assert_eq!(
        kinds,
        [
            "revoke_session",
            "logout_all",
            "lock",
            "unlock",
            "deactivate",
            "reactivate",
            "set_password"
        ],
        "every action once"
    );
    let mut tokens = Vec::new();
    for c in cases("inspect_token") {
        tokens.push(serde_json::from_value::<TokenInput>(c["sent"]["token"].clone()).unwrap());
        serde_json::from_value::<VerifyInput>(c["sent"]["verify"].clone()).unwrap();
    }
    assert_eq!(tokens[0], TokenInput::Access);
    assert_eq!(tokens[1], TokenInput::Refresh);
    assert_eq!(
        tokens[2],
        TokenInput::Pasted(" eyJhbGciOiJub25lIn0.e30. ".into())
    );
    let filters: Vec<UserFilter> = cases("staff_users")
        .iter()
        .map(|c| serde_json::from_value(c["sent"]["filter"].clone()).unwrap())
        .collect();
    assert_eq!(
        filters,
        [
            UserFilter::All,
            UserFilter::Active,
            UserFilter::Inactive,
            UserFilter::Locked,
            UserFilter::Staff
        ]
    );
    for c in cases("export_audit") {
        serde_json::from_value::<ExportFormat>(c["sent"]["format"].clone()).unwrap();
        let filter: AuditFilter = serde_json::from_value(c["sent"]["filter"].clone()).unwrap();
        assert!(filter.search().limit.is_some());
    }
}
