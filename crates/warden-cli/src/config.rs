//! The config file, the `[server]` table and where the database lives.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use serde::Deserialize;
use warden_auth::keys::{KeyMaterial, KeyRing};
use warden_auth::settings::{Secs, Settings};
use warden_auth::{AuthService, Clock, Store, SystemClock};

pub const DEFAULT_BIND: &str = "127.0.0.1:8000";
pub const DEFAULT_FLUSH_INTERVAL: i64 = 3600;
/// Seconds a node may go without reading the revocation feed before it fails closed.
pub const DEFAULT_STALE_AFTER: i64 = 5;

/// Where the signing keys are kept (`[server] KEY_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStoreKind {
    /// The OS keyring when it works, else a 0600 file beside the database.
    #[default]
    Auto,
    Keyring,
    File,
    /// `SIGNING_KEY` (and `VERIFYING_KEY`) in the config file.
    Config,
}

impl KeyStoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStoreKind::Auto => "auto",
            KeyStoreKind::Keyring => "keyring",
            KeyStoreKind::File => "file",
            KeyStoreKind::Config => "config",
        }
    }
}

/// The `[server]` table: everything in the config file that is not an engine setting.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct ServerSection {
    pub BIND: Option<String>,
    pub ALLOW_REGISTRATION: Option<bool>,
    pub MAX_BODY_BYTES: Option<usize>,
    pub TRUST_PROXY_HEADERS: Option<bool>,
    /// Seconds or a humantime string.
    pub FLUSH_INTERVAL: Option<Secs>,
    pub KEY_STORE: Option<KeyStoreKind>,
    /// A `postgres://` URL (several nodes on one database) or a SQLite file
    /// path. `--database` / `WARDEN_DATABASE` and `WARDEN_DATABASE_URL` win over it.
    pub DATABASE: Option<String>,
    /// PostgreSQL connections one node keeps at most.
    pub DATABASE_MAX_CONNECTIONS: Option<usize>,
    /// The longest pause between two reads of the revocation feed, in
    /// milliseconds (default 50 on SQLite, which is polled; 1000 on
    /// PostgreSQL, where NOTIFY wakes the reader at once).
    pub REVOCATION_POLL_MS: Option<u64>,
    /// A node that could not read the revocation feed for this long refuses
    /// tokens (503) until it catches up. Seconds or a humantime string; default 5 s.
    pub REVOCATION_STALE_AFTER: Option<Secs>,
}

impl ServerSection {
    pub fn key_store(&self) -> KeyStoreKind {
        self.KEY_STORE.unwrap_or_default()
    }

    /// How the node follows the revocation feed.
    pub fn follow_settings(&self, postgres: bool) -> warden_auth::feed::FollowSettings {
        let poll_ms = self
            .REVOCATION_POLL_MS
            .unwrap_or(if postgres { 1000 } else { 50 })
            .clamp(1, 60_000);
        let stale = self
            .REVOCATION_STALE_AFTER
            .map_or(DEFAULT_STALE_AFTER, Secs::get)
            .max(1);
        warden_auth::feed::FollowSettings {
            poll: std::time::Duration::from_millis(poll_ms),
            stale_after: std::time::Duration::from_secs(stale.unsigned_abs())
                .max(std::time::Duration::from_millis(poll_ms.saturating_mul(3))),
            ..warden_auth::feed::FollowSettings::default()
        }
    }

    pub fn flush_interval(&self) -> std::time::Duration {
        let secs = self
            .FLUSH_INTERVAL
            .map_or(DEFAULT_FLUSH_INTERVAL, Secs::get)
            .max(1);
        std::time::Duration::from_secs(secs.unsigned_abs())
    }
}

/// Everything a subcommand needs to know before it touches the database.
#[derive(Debug, Clone)]
pub struct Context {
    pub settings: Settings,
    pub server: ServerSection,
    /// As given or defaulted (`None`: no default exists for this user); made
    /// absolute by [`Context::prepare_database`].
    database: Option<PathBuf>,
    /// Set when the database is PostgreSQL (then `database` is unused).
    database_url: Option<String>,
}

impl Context {
    pub fn load(config: Option<&Path>, database: Option<&Path>) -> anyhow::Result<Context> {
        let (settings, server) = match config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                parse_config(&text).with_context(|| format!("config file {}", path.display()))?
            }
            None => parse_config("")?,
        };
        let env_url = std::env::var("WARDEN_DATABASE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty());
        let (database, database_url) = match database {
            Some(p) if p.as_os_str().is_empty() => bail!("--database must not be empty"),
            Some(p) => match p.to_str() {
                Some(s) if warden_store_pg::is_postgres_url(s) => (None, Some(s.to_owned())),
                _ => (Some(p.to_path_buf()), None),
            },
            None => match env_url.or_else(|| server.DATABASE.clone()) {
                Some(u) if warden_store_pg::is_postgres_url(&u) => (None, Some(u)),
                Some(u) if u.is_empty() => bail!("[server] DATABASE must not be empty"),
                Some(path) => (Some(PathBuf::from(path)), None),
                None => (default_database(), None),
            },
        };
        Ok(Context {
            settings,
            server,
            database,
            database_url,
        })
    }

    /// True when the database is PostgreSQL (shared by several nodes).
    pub fn is_postgres(&self) -> bool {
        self.database_url.is_some()
    }

    /// The database for messages and logs (a URL's password masked).
    pub fn describe_database(&self) -> String {
        match (&self.database_url, &self.database) {
            (Some(url), _) => warden_store_pg::redacted_url(url),
            (None, Some(path)) => path.display().to_string(),
            (None, None) => "<no database>".into(),
        }
    }

    fn database(&self) -> anyhow::Result<&Path> {
        self.database.as_deref().ok_or_else(|| {
            anyhow!("cannot find a data directory for this user; pass --database PATH")
        })
    }

    /// Creates the database's directory (0700) when missing and returns the
    /// database's absolute path. Needed before anything opens or writes there.
    pub fn prepare_database(&self) -> anyhow::Result<PathBuf> {
        let database = self.database()?;
        let file_name = database
            .file_name()
            .ok_or_else(|| anyhow!("database path {} names no file", database.display()))?;
        let parent = match database.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.exists() {
            create_private_dir(&parent)?;
        }
        let parent = parent
            .canonicalize()
            .with_context(|| format!("database directory {}", parent.display()))?;
        Ok(parent.join(file_name))
    }

    /// The database's absolute path if its directory exists, without creating anything.
    pub fn existing_database(&self) -> Option<PathBuf> {
        if self.database_url.is_some() {
            return None;
        }
        let database = self.database.as_deref()?;
        let parent = match database.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let parent = parent.canonicalize().ok()?;
        Some(parent.join(database.file_name()?))
    }

    /// Opens the database: PostgreSQL when a URL was given (the returned
    /// path is then the masked URL, for messages only), else the SQLite file.
    pub fn open_store(&self) -> anyhow::Result<(PathBuf, Arc<dyn Store>)> {
        if let Some(url) = &self.database_url {
            let max = self
                .server
                .DATABASE_MAX_CONNECTIONS
                .unwrap_or(warden_store_pg::DEFAULT_MAX_CONNECTIONS);
            let store = warden_store_pg::PgStore::open_with(url, max).with_context(|| {
                format!(
                    "cannot open database {}",
                    warden_store_pg::redacted_url(url)
                )
            })?;
            return Ok((PathBuf::from(self.describe_database()), Arc::new(store)));
        }
        let path = self.prepare_database()?;
        let store = warden_store::SqliteStore::open(&path)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        Ok((path, Arc::new(store)))
    }

    /// An engine for administration commands, which never sign or verify a
    /// token: it gets a throw-away key instead of the real ones, so user and
    /// session administration never touches (or waits on) the key store.
    pub fn admin_service(&self) -> anyhow::Result<AuthService> {
        let (_, store) = self.open_store()?;
        let now = SystemClock.now();
        let key = match KeyMaterial::from_settings(&self.settings, now)? {
            Some(k) => k,
            None => KeyMaterial::generate(warden_auth::Algorithm::HS256, now)?,
        };
        let ring = KeyRing::new(key)?;
        Ok(AuthService::new(
            self.settings.clone(),
            store,
            Arc::new(SystemClock),
            ring,
        )?)
    }
}

/// Splits the file into the engine's settings (top level, `WARDEN_*` env
/// overrides applied) and the `[server]` table.
pub fn parse_config(text: &str) -> anyhow::Result<(Settings, ServerSection)> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| anyhow!("{}", e.to_string().trim()))?;
    let server = match table.remove("server") {
        None => ServerSection::default(),
        Some(toml::Value::Table(t)) => toml::Value::Table(t)
            .try_into::<ServerSection>()
            .map_err(|e| anyhow!("[server]: {}", e.message()))?,
        Some(_) => bail!("`server` must be a table ([server])"),
    };
    let settings = Settings::load_table(table, std::env::vars())?;
    Ok((settings, server))
}

fn default_database() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "warden")?;
    Some(dirs.data_dir().join("warden.db"))
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_table_is_split_off_and_checked() {
        let (settings, server) = parse_config(
            "ACCESS_TOKEN_LIFETIME = \"5m\"\n[server]\nBIND = \"0.0.0.0:1\"\nKEY_STORE = \"file\"\nFLUSH_INTERVAL = \"2h\"\n",
        )
        .unwrap();
        assert_eq!(settings.ACCESS_TOKEN_LIFETIME.get(), 300);
        assert_eq!(server.BIND.as_deref(), Some("0.0.0.0:1"));
        assert_eq!(server.key_store(), KeyStoreKind::File);
        assert_eq!(server.flush_interval().as_secs(), 7200);

        let err = parse_config("[server]\nBINDD = 1\n").unwrap_err();
        assert!(err.to_string().contains("BINDD"), "{err}");
        let err = parse_config("[server]\nKEY_STORE = \"vault\"\n").unwrap_err();
        assert!(err.to_string().contains("vault"), "{err}");
        let err = parse_config("NOT_A_SETTING = 1\n").unwrap_err();
        assert!(err.to_string().contains("NOT_A_SETTING"), "{err}");
    }

    #[test]
    fn optional_settings_are_accepted() {
        let secret = "s".repeat(40);
        let (settings, _) =
            parse_config(&format!("SIGNING_KEY = \"{secret}\"\nISSUER = \"me\"\n")).unwrap();
        assert_eq!(settings.SIGNING_KEY.as_deref(), Some(secret.as_str()));
        assert_eq!(settings.ISSUER.as_deref(), Some("me"));
        let err = parse_config("SIGNING_KEY = \"short\"\n").unwrap_err();
        assert!(err.to_string().contains("SIGNING_KEY"), "{err}");
        assert!(!err.to_string().contains("short"), "{err}");
        let err = parse_config("AUDIENCE = 3\n").unwrap_err();
        assert!(err.to_string().contains("AUDIENCE"), "{err}");
    }

    #[test]
    fn a_postgres_url_selects_postgres_and_sqlite_stays_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("warden.toml");
        std::fs::write(
            &cfg,
            "[server]\nDATABASE = \"postgres://u:pw@h/db\"\nREVOCATION_POLL_MS = 20\n",
        )
        .unwrap();
        if std::env::var_os("WARDEN_DATABASE_URL").is_none() {
            let ctx = Context::load(Some(&cfg), None).unwrap();
            assert!(ctx.is_postgres());
            assert_eq!(ctx.describe_database(), "postgres://u:***@h/db");
            assert!(ctx.existing_database().is_none());
            let follow = ctx.server.follow_settings(true);
            assert_eq!(follow.poll.as_millis(), 20);
            assert_eq!(follow.stale_after.as_secs(), DEFAULT_STALE_AFTER as u64);
            let ctx = Context::load(None, None).unwrap();
            assert!(!ctx.is_postgres(), "SQLite is the default");
        }
        // --database wins, as a path or as a URL.
        let ctx = Context::load(Some(&cfg), Some(Path::new("/tmp/w.db"))).unwrap();
        assert!(!ctx.is_postgres());
        let ctx = Context::load(None, Some(Path::new("postgresql://h/db"))).unwrap();
        assert!(ctx.is_postgres());
        // Defaults: SQLite is polled often, PostgreSQL is woken by NOTIFY.
        let (_, server) = parse_config("").unwrap();
        assert_eq!(server.follow_settings(false).poll.as_millis(), 50);
        assert_eq!(server.follow_settings(true).poll.as_millis(), 1000);
    }

    #[test]
    fn defaults_without_a_file() {
        let (settings, server) = parse_config("").unwrap();
        assert_eq!(
            settings,
            Settings::load_table(toml::Table::new(), std::env::vars()).unwrap()
        );
        assert_eq!(server.key_store(), KeyStoreKind::Auto);
        assert_eq!(server.flush_interval().as_secs(), 3600);
    }
}
