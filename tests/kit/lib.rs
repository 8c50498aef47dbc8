//! Test kit: a real engine over a real SQLite file with a manual clock.
//!
//! Shared by the workspace's integration suite and benchmarks (the criterion
//! benches and `warden-bench`); later suites (HTTP, client, desktop) build on it.
#![forbid(unsafe_code)]

pub mod client;
pub mod hostile;
pub mod http;
pub mod seed;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use warden_auth::model::ClientInfo;
use warden_auth::{
    Actor, AuthService, Clock, IssuedPair, KeyMaterial, KeyRing, LoginRequest, ManualClock,
    NewAccount, Settings,
};
use warden_store::SqliteStore;

/// A fixed HS256 secret for tests (never used outside them).
pub const TEST_SECRET: &str = "warden-test-secret-0123456789abcdef-0123456789abcdef";
pub const PASSWORD: &str = "correct horse battery";
/// A fixed start time, so expected `exp` values are exact.
pub const T0: i64 = 1_800_000_000;

/// An engine over a database file in a temp directory.
pub struct Engine {
    pub service: Arc<AuthService>,
    pub clock: ManualClock,
    pub settings: Settings,
    pub keys: Vec<KeyMaterial>,
    pub dir: tempfile::TempDir,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("dir", &self.dir.path())
            .finish()
    }
}

/// The settings tests start from: defaults plus a fixed HS256 secret.
pub fn test_settings() -> Settings {
    Settings {
        SIGNING_KEY: Some(TEST_SECRET.into()),
        ..Settings::default()
    }
}

impl Engine {
    pub fn new(settings: Settings) -> anyhow::Result<Engine> {
        let dir = tempfile::tempdir()?;
        let clock = ManualClock::new(T0);
        let keys = match KeyMaterial::from_settings(&settings, T0)? {
            Some(k) => vec![k],
            None => vec![KeyMaterial::generate(settings.ALGORITHM, T0)?],
        };
        let service = open_service(&dir.path().join("warden.db"), &settings, &clock, &keys)?;
        Ok(Engine {
            service,
            clock,
            settings,
            keys,
            dir,
        })
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("warden.db")
    }

    /// Drops the service and opens a new one on the same database file and keys,
    /// as a restarted process would.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let keys = self.service.key_materials();
        let replacement = open_service(&self.db_path(), &self.settings, &self.clock, &keys)?;
        let old = std::mem::replace(&mut self.service, replacement);
        drop(old);
        self.keys = keys;
        Ok(())
    }

    pub fn user(&self, username: &str) -> anyhow::Result<warden_auth::model::User> {
        Ok(self.service.create_user(
            &NewAccount {
                username: username.into(),
                email: Some(format!("{username}@example.com")),
                password: PASSWORD.into(),
                is_staff: false,
                email_verified: true,
            },
            None,
        )?)
    }

    pub fn staff(&self, username: &str) -> anyhow::Result<warden_auth::model::User> {
        Ok(self.service.create_user(
            &NewAccount {
                username: username.into(),
                email: None,
                password: PASSWORD.into(),
                is_staff: true,
                email_verified: true,
            },
            None,
        )?)
    }

    pub fn login(&self, username: &str) -> anyhow::Result<IssuedPair> {
        Ok(self.service.obtain_pair(&login(username, PASSWORD))?)
    }

    /// Copies the write-ahead log into the database file, so that what is
    /// timed next does not pay for the checkpoint of a seeding burst.
    pub fn checkpoint(&self) -> anyhow::Result<()> {
        SqliteStore::open(self.db_path())?.checkpoint()?;
        Ok(())
    }
}

/// `id` as staff, for the engine's operations that take an [`Actor`].
/// A kit whose staff user is not staff has nothing to test: panics then.
#[allow(clippy::panic)]
pub fn staff_actor(service: &AuthService, id: i64) -> Actor {
    match service.staff(id) {
        Ok(proof) => Actor::Staff(proof),
        Err(e) => panic!("user {id} is not staff: {e}"),
    }
}

pub fn login(identifier: &str, password: &str) -> LoginRequest {
    LoginRequest {
        identifier: identifier.into(),
        password: password.into(),
        client: ClientInfo {
            device_label: Some("test".into()),
            user_agent: Some("warden-tests".into()),
            address: Some("127.0.0.1".into()),
        },
    }
}

pub fn open_service(
    db: &Path,
    settings: &Settings,
    clock: &ManualClock,
    keys: &[KeyMaterial],
) -> anyhow::Result<Arc<AuthService>> {
    let store = Arc::new(SqliteStore::open(db)?);
    let ring = KeyRing::from_materials(keys.to_vec())?;
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    Ok(Arc::new(AuthService::new(
        settings.clone(),
        store,
        clock,
        ring,
    )?))
}
