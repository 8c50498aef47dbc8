//! Profiles: the named sessions the app holds at once, each a server, an
//! account and a keyring entry of its own. This module holds what a profile
//! is and the file they live in (`profiles.json`, 0600, no secrets), which
//! the app and the `warden` command both read; the running set of sessions
//! is [`crate::profile_set`].

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use warden_client::ClientConfig;

use crate::error::{Error, Result};
use crate::paths::AppPaths;
use crate::remembered;
use crate::remote::RemoteServer;

pub use crate::profile_set::{
    Activity, ActivityKind, BrowserLogoutOutcome, BrowserOpener, EmbeddedServer, ProfileSet,
    ProfileSetConfig, ProfileView, ProfilesEvent, RevocationOutcome, phase_name,
};

/// A profile's stable id: lowercase letters, digits and `-`, at most 40
/// (a random `p-` and 8 hex digits for new profiles). It names the lock file
/// and the keyring entry, so it never changes; the display name may.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ts", ts(type = "string"))]
pub struct ProfileId(String);

impl ProfileId {
    /// A new random id.
    pub fn generate() -> Result<ProfileId> {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Internal(format!("no randomness for a profile id: {e}")))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(ProfileId(format!("p-{hex}")))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProfileId {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(ProfileId(s))
        } else {
            Err(format!("not a profile id: {s:?}"))
        }
    }
}

impl From<ProfileId> for String {
    fn from(id: ProfileId) -> String {
        id.0
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of server a profile signs in to. The window and the `warden`
/// command both read it; the OpenID providers of issue 16 become one more
/// kind here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerKind {
    /// This computer's embedded Warden server (its port changes every run;
    /// the app knows it, the `warden` command does not).
    Embedded,
    /// A remote Warden or plain SimpleJWT server: URL, the paths that differ,
    /// the header type.
    Remote(RemoteServer),
    /// An OpenID Connect / OAuth 2.0 provider (issuer, client id, scopes).
    OpenId(crate::openid::OpenIdServer),
}

impl ServerKind {
    /// Where it is, in words: `this computer` or the URL's host and port.
    pub fn place(&self) -> String {
        match self {
            ServerKind::Embedded => "this computer".into(),
            ServerKind::Remote(r) => host_of(&r.url),
            ServerKind::OpenId(o) => host_of(&o.issuer),
        }
    }

    /// The remote server, `None` for the embedded one.
    pub fn remote(&self) -> Option<&RemoteServer> {
        match self {
            ServerKind::Embedded | ServerKind::OpenId(_) => None,
            ServerKind::Remote(r) => Some(r),
        }
    }

    /// How to reach it; the embedded server at `embedded_url` (`None`: it
    /// is not running here).
    pub fn client_config(&self, embedded_url: Option<&str>) -> Option<ClientConfig> {
        match self {
            ServerKind::Embedded => embedded_url.map(|url| {
                let mut c = ClientConfig::new(url);
                c.use_system_proxy = false;
                c
            }),
            ServerKind::Remote(r) => Some(r.client_config()),
            // Its sessions go through the provider's endpoints (crate::openid).
            ServerKind::OpenId(_) => None,
        }
    }
}

/// `https://auth.example.com:8443/base/` → `auth.example.com:8443`.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or(rest);
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() {
        url.to_string()
    } else {
        host.to_string()
    }
}

/// One named session: a server, an account, a keyring entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Profile {
    /// Stable; names its lock file and keyring entry.
    pub id: ProfileId,
    /// Shown in the switcher and accepted by `warden token NAME`; unique
    /// (case-insensitively) among the profiles.
    pub name: String,
    /// Where it signs in.
    pub server: ServerKind,
    /// The username signed in (or last signed in) with.
    pub account: String,
    /// The refresh token's keyring entry: service `warden`, account
    /// `{vault_key}|{account}`. `profile:{id}` for profiles made here; a
    /// session carried over from before profiles keeps the entry it had.
    pub vault_key: String,
}

impl Profile {
    /// The keyring entry of a new profile.
    pub fn vault_key_for(id: &ProfileId) -> String {
        format!("profile:{id}")
    }

    /// The keyring entry where `warden token`, when no app runs, keeps the
    /// last access token it was given, so that the next call within the
    /// token's life does not rotate the family again. The app deletes it when
    /// it takes the profile over (it serves tokens itself from then on).
    pub fn access_cache_key(&self) -> String {
        format!("access-cache:{}", self.vault_key)
    }

    /// `alice @ auth.example.com`, the name a profile gets unless given one.
    pub fn default_name(account: &str, server: &ServerKind) -> String {
        format!("{account} @ {}", server.place())
    }

    /// `name (id)`, as error messages list profiles.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.id)
    }
}

/// `profiles.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfilesFile {
    /// The file's format; 1 today.
    #[serde(default = "format_version")]
    pub version: u32,
    /// The profile the window shows and `warden token` uses by default.
    #[serde(default)]
    pub active: Option<ProfileId>,
    /// In the order the window lists them.
    #[serde(default)]
    pub profiles: Vec<Profile>,
}

fn format_version() -> u32 {
    1
}

impl ProfilesFile {
    /// The file in `paths`, `Ok(None)` when there is none.
    pub fn load(paths: &AppPaths) -> Result<Option<ProfilesFile>> {
        let path = paths.profiles_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::UnreadableProfiles {
                path: path.display().to_string(),
                message: e.to_string(),
            })
    }

    /// Writes the file atomically, 0600.
    pub fn save(&self, paths: &AppPaths) -> Result<()> {
        use warden_embedded::keystore::{Replace, write_private_atomic};
        let path = paths.profiles_file();
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::Internal(e.to_string()))?;
        write_private_atomic(&path, &bytes, Replace::Always)
            .map_err(|e| Error::io("write", &path, e))
    }

    /// The app's profiles at start: the file, or, on the first start after
    /// an upgrade, the single remembered session (`last-session.json`) as
    /// the first profile, with the keyring entry it already has, so nobody
    /// is signed out by the upgrade. `embedded_vault_key` is the entry the
    /// embedded server's sessions were filed under. A file that cannot be
    /// read is set aside (`profiles.json.unreadable`), not overwritten.
    pub fn load_or_migrate(paths: &AppPaths, embedded_vault_key: &str) -> Result<ProfilesFile> {
        match Self::load(paths) {
            Ok(Some(file)) => return Ok(file),
            Ok(None) => {}
            Err(e @ Error::UnreadableProfiles { .. }) => {
                let path = paths.profiles_file();
                let aside = path.with_extension("json.unreadable");
                tracing::warn!(error = %e, aside = %aside.display(), "setting the profiles file aside");
                std::fs::rename(&path, &aside).map_err(|e| Error::io("rename", &path, e))?;
            }
            Err(e) => return Err(e),
        }
        let mut file = ProfilesFile {
            version: format_version(),
            ..ProfilesFile::default()
        };
        if let Some(last) = remembered::load(&paths.data_dir) {
            let (server, vault_key) = match last.server() {
                Some(remote) => {
                    // The entry was filed under the client's normalised base URL.
                    let config = remote.client_config();
                    let key = warden_client::Client::new(config.clone())
                        .map(|c| c.base_url().to_string())
                        .unwrap_or(config.base_url);
                    (ServerKind::Remote(remote), key)
                }
                None => (ServerKind::Embedded, embedded_vault_key.to_string()),
            };
            let id = ProfileId::generate()?;
            file.profiles.push(Profile {
                name: Profile::default_name(&last.user, &server),
                id: id.clone(),
                server,
                account: last.user,
                vault_key,
            });
            file.active = Some(id);
            file.save(paths)?;
            remembered::forget(&paths.data_dir);
            tracing::info!("the remembered session is now the first profile");
        }
        Ok(file)
    }

    /// The profile with this id.
    pub fn get(&self, id: &ProfileId) -> Option<&Profile> {
        self.profiles.iter().find(|p| &p.id == id)
    }

    /// The profile `selector` names (its id, or its name in any case), or
    /// without one the default: the active profile, else the only one.
    pub fn resolve(&self, selector: Option<&str>) -> Result<&Profile> {
        if self.profiles.is_empty() {
            return Err(Error::NoProfiles);
        }
        let Some(selector) = selector.map(str::trim).filter(|s| !s.is_empty()) else {
            if let Some(p) = self.active.as_ref().and_then(|id| self.get(id)) {
                return Ok(p);
            }
            return match self.profiles.as_slice() {
                [only] => Ok(only),
                _ => Err(Error::AmbiguousProfile {
                    known: self.labels(),
                }),
            };
        };
        if let Some(p) = self.profiles.iter().find(|p| p.id.as_str() == selector) {
            return Ok(p);
        }
        let mut named = self
            .profiles
            .iter()
            .filter(|p| p.name.eq_ignore_ascii_case(selector));
        match (named.next(), named.next()) {
            (Some(p), None) => Ok(p),
            (Some(_), Some(_)) => Err(Error::AmbiguousProfile {
                known: self.labels(),
            }),
            (None, _) => Err(Error::UnknownProfile {
                name: selector.to_string(),
                known: self.labels(),
            }),
        }
    }

    /// Every profile as `name (id)`.
    pub fn labels(&self) -> Vec<String> {
        self.profiles.iter().map(Profile::label).collect()
    }

    /// `name`, or `name (2)`, `name (3)`, ... whichever no other profile has.
    pub fn unique_name(&self, name: &str, except: Option<&ProfileId>) -> String {
        let taken = |n: &str| {
            self.profiles
                .iter()
                .any(|p| Some(&p.id) != except && p.name.eq_ignore_ascii_case(n))
        };
        if !taken(name) {
            return name.to_string();
        }
        (2u32..)
            .map(|i| format!("{name} ({i})"))
            .find(|n| !taken(n))
            .unwrap_or_else(|| name.to_string())
    }
}

/// A name people can type and read: trimmed, 1 to 80 characters, no
/// control characters.
pub fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "A profile's name is 1 to 80 characters, without line breaks.",
        ));
    }
    Ok(name.to_string())
}

/// Whether a profiles file is there (the app has run with profiles).
pub fn exists(paths: &AppPaths) -> bool {
    Path::new(&paths.profiles_file()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(id: &str, name: &str) -> Profile {
        Profile {
            id: ProfileId::try_from(id.to_string()).unwrap(),
            name: name.into(),
            server: ServerKind::Embedded,
            account: "alice".into(),
            vault_key: format!("profile:{id}"),
        }
    }

    fn file(profiles: Vec<Profile>, active: Option<&str>) -> ProfilesFile {
        ProfilesFile {
            version: 1,
            active: active.map(|a| ProfileId::try_from(a.to_string()).unwrap()),
            profiles,
        }
    }

    #[test]
    fn ids_are_checked_and_generated_fresh() {
        assert!(ProfileId::try_from("p-0a1b2c3d".to_string()).is_ok());
        for bad in ["", "P-1", "a/b", "../x", "a b", &"x".repeat(41)] {
            assert!(ProfileId::try_from(bad.to_string()).is_err(), "{bad}");
        }
        let a = ProfileId::generate().unwrap();
        let b = ProfileId::generate().unwrap();
        assert_ne!(a, b);
        assert!(ProfileId::try_from(a.to_string()).is_ok());
        let parsed: std::result::Result<Profile, _> = serde_json::from_str(
            r#"{"id":"../etc","name":"x","server":{"kind":"embedded"},"account":"a","vault_key":"k"}"#,
        );
        assert!(parsed.is_err(), "a path in an id is refused when read");
    }

    #[test]
    fn server_kinds_read_as_the_window_and_the_command_expect() {
        let remote = ServerKind::Remote(RemoteServer {
            url: "https://auth.example.com:8443/base/".into(),
            header_type: "JWT".into(),
            ..RemoteServer::default()
        });
        let json = serde_json::to_value(&remote).unwrap();
        assert_eq!(json["kind"], "remote");
        assert_eq!(json["url"], "https://auth.example.com:8443/base/");
        assert_eq!(serde_json::from_value::<ServerKind>(json).unwrap(), remote);
        assert_eq!(remote.place(), "auth.example.com:8443");
        assert_eq!(
            serde_json::to_value(ServerKind::Embedded).unwrap(),
            serde_json::json!({"kind": "embedded"})
        );
        assert_eq!(ServerKind::Embedded.place(), "this computer");
        assert!(ServerKind::Embedded.client_config(None).is_none());
    }

    #[test]
    fn the_default_is_the_active_profile_else_the_only_one() {
        let one = file(vec![profile("p-1", "work")], None);
        assert_eq!(one.resolve(None).unwrap().name, "work");
        let two = file(vec![profile("p-1", "work"), profile("p-2", "home")], None);
        let e = two.resolve(None).unwrap_err();
        assert_eq!(e.code(), "ambiguous_profile");
        assert!(
            e.to_string().contains("work (p-1)") && e.to_string().contains("home (p-2)"),
            "{e}"
        );
        let two = file(two.profiles, Some("p-2"));
        assert_eq!(two.resolve(None).unwrap().name, "home");
        assert_eq!(two.resolve(Some(" ")).unwrap().name, "home");
        assert_eq!(
            file(vec![], None).resolve(None).unwrap_err().code(),
            "no_profiles"
        );
    }

    #[test]
    fn profiles_are_named_by_id_or_name_in_any_case() {
        let f = file(vec![profile("p-1", "Work"), profile("p-2", "home")], None);
        assert_eq!(f.resolve(Some("p-2")).unwrap().name, "home");
        assert_eq!(f.resolve(Some("work")).unwrap().id.as_str(), "p-1");
        let e = f.resolve(Some("play")).unwrap_err();
        assert_eq!(e.code(), "unknown_profile");
        assert!(
            e.to_string().contains("play") && e.to_string().contains("Work (p-1)"),
            "{e}"
        );
        assert_eq!(f.unique_name("work", None), "work (2)");
        assert_eq!(f.unique_name("work", Some(&f.profiles[0].id)), "work");
        assert_eq!(f.unique_name("play", None), "play");
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name("  staging  ").unwrap(), "staging");
        assert!(check_name("").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"x".repeat(81)).is_err());
    }

    #[test]
    fn the_remembered_session_becomes_the_first_profile_with_its_keyring_entry() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::new(dir.path(), dir.path().join("run"));
        remembered::save(
            dir.path(),
            &remembered::Remembered {
                user: "alice".into(),
                server_url: None,
                remote: Some(RemoteServer {
                    url: "http://127.0.0.1:9/".into(),
                    header_type: "JWT".into(),
                    ..RemoteServer::default()
                }),
            },
        );
        let f = ProfilesFile::load_or_migrate(&paths, "warden-embedded:/x/warden.db").unwrap();
        assert_eq!(f.profiles.len(), 1);
        let p = &f.profiles[0];
        assert_eq!(f.active.as_ref(), Some(&p.id));
        assert_eq!(p.account, "alice");
        assert_eq!(p.vault_key, "http://127.0.0.1:9/", "the entry it had");
        assert_eq!(p.name, "alice @ 127.0.0.1:9");
        assert!(remembered::load(dir.path()).is_none(), "migrated once");
        // Written, 0600, and read back as it is from now on.
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(paths.profiles_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = ProfilesFile::load_or_migrate(&paths, "ignored").unwrap();
        assert_eq!(again, f);

        // The embedded server's session keeps the embedded entry.
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::new(dir.path(), dir.path().join("run"));
        remembered::save(
            dir.path(),
            &remembered::Remembered {
                user: "bob".into(),
                server_url: None,
                remote: None,
            },
        );
        let f = ProfilesFile::load_or_migrate(&paths, "warden-embedded:/x/warden.db").unwrap();
        assert_eq!(f.profiles[0].server, ServerKind::Embedded);
        assert_eq!(f.profiles[0].vault_key, "warden-embedded:/x/warden.db");
        assert_eq!(f.profiles[0].name, "bob @ this computer");
    }

    #[test]
    fn an_unreadable_file_is_set_aside_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::new(dir.path(), dir.path().join("run"));
        std::fs::write(paths.profiles_file(), b"{ not json").unwrap();
        let f = ProfilesFile::load_or_migrate(&paths, "k").unwrap();
        assert!(f.profiles.is_empty());
        let aside = dir.path().join("profiles.json.unreadable");
        assert_eq!(std::fs::read(aside).unwrap(), b"{ not json");
    }
}
