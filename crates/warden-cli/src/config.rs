//! The config file, the `[server]` table and where the database lives.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use serde::Deserialize;
use warden_auth::{AuthService, Clock, KeyMaterial, KeyRing, Secs, Settings, Store, SystemClock};
use warden_server::{
    ALLOWED_HOSTS, AllowedHosts, AllowedOrigin, CORS_ALLOWED_ORIGINS, ConfigError, ServerConfig,
    TRUSTED_PROXIES, TrustedProxies,
};

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
    /// Django's `ALLOWED_HOSTS`; unset: the loopback names with the bound port.
    pub ALLOWED_HOSTS: Option<Vec<String>>,
    /// django-cors-headers' `CORS_ALLOWED_ORIGINS`; unset: no origin.
    pub CORS_ALLOWED_ORIGINS: Option<Vec<String>>,
    /// Peers (addresses or CIDR networks) whose `X-Forwarded-For` is believed.
    pub TRUSTED_PROXIES: Option<Vec<String>>,
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

/// The `[server]` lists that `WARDEN_<KEY>` (comma-separated) can override.
pub const LIST_KEYS: [&str; 3] = [ALLOWED_HOSTS, CORS_ALLOWED_ORIGINS, TRUSTED_PROXIES];

impl ServerSection {
    /// The HTTP layer's config, every list parsed and checked (the error
    /// names the key and the bad entry).
    pub fn server_config(&self) -> Result<ServerConfig, ConfigError> {
        let defaults = ServerConfig::default();
        Ok(ServerConfig {
            allow_registration: self.ALLOW_REGISTRATION.unwrap_or(false),
            max_body_bytes: self.MAX_BODY_BYTES.unwrap_or(defaults.max_body_bytes),
            allowed_hosts: match &self.ALLOWED_HOSTS {
                Some(entries) => AllowedHosts::parse(entries)?,
                None => AllowedHosts::Loopback,
            },
            cors_allowed_origins: AllowedOrigin::parse_list(
                self.CORS_ALLOWED_ORIGINS.as_deref().unwrap_or_default(),
            )?,
            trusted_proxies: TrustedProxies::parse(
                self.TRUSTED_PROXIES.as_deref().unwrap_or_default(),
            )?,
            ..defaults
        })
    }

    fn list_mut(&mut self, key: &str) -> Option<&mut Option<Vec<String>>> {
        match key {
            ALLOWED_HOSTS => Some(&mut self.ALLOWED_HOSTS),
            CORS_ALLOWED_ORIGINS => Some(&mut self.CORS_ALLOWED_ORIGINS),
            TRUSTED_PROXIES => Some(&mut self.TRUSTED_PROXIES),
            _ => None,
        }
    }

    /// `WARDEN_ALLOWED_HOSTS=a,b` and friends win over the file, as the
    /// engine settings' `WARDEN_*` do. An empty variable counts as unset.
    fn apply_env(&mut self, env: &[(String, String)]) {
        for key in LIST_KEYS {
            let name = format!("WARDEN_{key}");
            let Some((_, value)) = env.iter().rev().find(|(k, _)| *k == name) else {
                continue;
            };
            if value.trim().is_empty() {
                continue;
            }
            let entries = value
                .split(',')
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty())
                .collect();
            if let Some(slot) = self.list_mut(key) {
                *slot = Some(entries);
            }
        }
    }

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
/// overrides applied) and the `[server]` table (its lists' `WARDEN_*`
/// overrides applied too).
pub fn parse_config(text: &str) -> anyhow::Result<(Settings, ServerSection)> {
    parse_config_with(text, std::env::vars().collect())
}

/// [`parse_config`] with the environment given.
pub fn parse_config_with(
    text: &str,
    env: Vec<(String, String)>,
) -> anyhow::Result<(Settings, ServerSection)> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| anyhow!("{}", e.to_string().trim()))?;
    let mut server = match table.remove("server") {
        None => ServerSection::default(),
        Some(toml::Value::Table(t)) => {
            check_server_table(&t)?;
            toml::Value::Table(t)
                .try_into::<ServerSection>()
                .map_err(|e| anyhow!("[server]: {}", e.message()))?
        }
        Some(_) => bail!("`server` must be a table ([server])"),
    };
    server.apply_env(&env);
    let settings = Settings::load_table(table, env)?;
    Ok((settings, server))
}

/// What serde's messages would not say clearly: a key that was replaced,
/// and a list given as something else (serde's type error names no key).
fn check_server_table(t: &toml::Table) -> anyhow::Result<()> {
    if t.contains_key("TRUST_PROXY_HEADERS") {
        bail!(
            "[server] TRUST_PROXY_HEADERS was replaced by TRUSTED_PROXIES: list the addresses \
             or networks of the proxies whose X-Forwarded-For to believe, e.g. \
             TRUSTED_PROXIES = [\"127.0.0.1\", \"10.0.0.0/8\"]"
        );
    }
    for key in LIST_KEYS {
        if let Some(v) = t.get(key) {
            let strings = v
                .as_array()
                .is_some_and(|a| a.iter().all(toml::Value::is_str));
            if !strings {
                bail!(
                    "[server] {key} must be an array of strings, e.g. {key} = [\"{}\"]",
                    match key {
                        ALLOWED_HOSTS => "warden.example.com",
                        CORS_ALLOWED_ORIGINS => "https://app.example.com",
                        _ => "10.0.0.0/8",
                    }
                );
            }
        }
    }
    Ok(())
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

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn server_lists_come_from_the_file_and_the_environment_wins() {
        let file = "[server]\nALLOWED_HOSTS = [\"warden.example.com\"]\n\
                    CORS_ALLOWED_ORIGINS = [\"https://app.example.com\"]\n\
                    TRUSTED_PROXIES = [\"10.0.0.0/8\"]\n";
        let (_, server) = parse_config_with(file, vec![]).unwrap();
        let config = server.server_config().unwrap();
        assert_eq!(config.allowed_hosts.to_string(), "warden.example.com");
        assert_eq!(
            config.cors_allowed_origins[0].as_str(),
            "https://app.example.com"
        );
        assert_eq!(config.trusted_proxies.to_string(), "10.0.0.0/8");

        let (_, server) = parse_config_with(
            file,
            env(&[
                ("WARDEN_ALLOWED_HOSTS", " .example.org , localhost:8000,"),
                ("WARDEN_CORS_ALLOWED_ORIGINS", "http://localhost:3000"),
                ("WARDEN_TRUSTED_PROXIES", "127.0.0.1, ::1"),
            ]),
        )
        .unwrap();
        let config = server.server_config().unwrap();
        assert_eq!(
            config.allowed_hosts.to_string(),
            ".example.org, localhost:8000"
        );
        assert_eq!(
            config.cors_allowed_origins[0].as_str(),
            "http://localhost:3000"
        );
        assert_eq!(config.trusted_proxies.to_string(), "127.0.0.1/32, ::1/128");

        // An empty variable is unset: the file's value stays.
        let (_, server) = parse_config_with(file, env(&[("WARDEN_ALLOWED_HOSTS", " ")])).unwrap();
        assert_eq!(
            server.server_config().unwrap().allowed_hosts.to_string(),
            "warden.example.com"
        );
        // Nothing set: the loopback default, no origin, no proxy.
        let (_, server) = parse_config_with("", vec![]).unwrap();
        let config = server.server_config().unwrap();
        assert_eq!(config.allowed_hosts, AllowedHosts::Loopback);
        assert!(config.cors_allowed_origins.is_empty());
        assert!(config.trusted_proxies.is_empty());
    }

    #[test]
    fn bad_server_lists_name_the_key() {
        for (file, vars, says) in [
            (
                "[server]\nALLOWED_HOSTS = [\"http://example.com/\"]\n",
                vec![],
                "ALLOWED_HOSTS: \"http://example.com/\"",
            ),
            (
                "",
                env(&[("WARDEN_ALLOWED_HOSTS", "ok.example,*.bad.example")]),
                "ALLOWED_HOSTS: \"*.bad.example\"",
            ),
            (
                "[server]\nALLOWED_HOSTS = []\n",
                vec![],
                "ALLOWED_HOSTS is an empty list",
            ),
            (
                "",
                env(&[("WARDEN_CORS_ALLOWED_ORIGINS", "https://app.example.com/")]),
                "CORS_ALLOWED_ORIGINS: \"https://app.example.com/\"",
            ),
            (
                "[server]\nTRUSTED_PROXIES = [\"10.0.0.1/8\"]\n",
                vec![],
                "TRUSTED_PROXIES: \"10.0.0.1/8\"",
            ),
        ] {
            let (_, server) = parse_config_with(file, vars).unwrap();
            let err = server.server_config().unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
        for (file, says) in [
            (
                "[server]\nALLOWED_HOSTS = \"example.com\"\n",
                "ALLOWED_HOSTS must be an array of strings",
            ),
            (
                "[server]\nTRUSTED_PROXIES = [1]\n",
                "TRUSTED_PROXIES must be an array of strings",
            ),
            (
                "[server]\nTRUST_PROXY_HEADERS = true\n",
                "TRUST_PROXY_HEADERS was replaced by TRUSTED_PROXIES",
            ),
        ] {
            let err = parse_config_with(file, vec![]).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
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
