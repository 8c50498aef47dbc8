//! Who was signed in last, and where: a small non-secret JSON file in the
//! data directory (the refresh token itself is only in the keyring).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::remote::RemoteServer;

const FILE: &str = "last-session.json";

/// The last sign-in, as the file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// The username.
    pub user: String,
    /// Written by versions before `remote`; read for them only.
    #[serde(default, skip_serializing)]
    pub server_url: Option<String>,
    /// `None`: the embedded backend.
    #[serde(default)]
    pub remote: Option<RemoteServer>,
}

impl Remembered {
    /// Where the user was signed in: `None` is the embedded backend.
    pub fn server(&self) -> Option<RemoteServer> {
        self.remote.clone().or_else(|| {
            self.server_url.as_ref().map(|url| RemoteServer {
                url: url.clone(),
                ..RemoteServer::default()
            })
        })
    }
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// The file is not secret (no token, no password) but says who uses this
/// computer: 0600 like the database, written atomically.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use warden_embedded::keystore::{Replace, write_private_atomic};
    write_private_atomic(path, bytes, Replace::Always)
}

/// The last sign-in remembered in `dir`; `None` when there is none or the
/// file is unreadable.
pub fn load(dir: &Path) -> Option<Remembered> {
    let text = std::fs::read_to_string(path(dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Remembers `r` in `dir`. A failure is logged, not returned: forgetting who
/// signed in costs a retyped username, never the session.
pub fn save(dir: &Path, r: &Remembered) {
    match serde_json::to_vec_pretty(r) {
        Ok(bytes) => {
            if let Err(e) = write_private(&path(dir), &bytes) {
                tracing::warn!(error = %e, "cannot remember the signed-in user");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot remember the signed-in user"),
    }
}

/// Forgets the last sign-in (after a logout).
pub fn forget(dir: &Path) {
    let _ = std::fs::remove_file(path(dir));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_files_with_server_url_still_restore_the_remote_server() {
        let old: Remembered =
            serde_json::from_str(r#"{"user":"alice","server_url":"http://127.0.0.1:9/"}"#).unwrap();
        assert_eq!(old.server().unwrap().url, "http://127.0.0.1:9/");
        let embedded: Remembered = serde_json::from_str(r#"{"user":"alice"}"#).unwrap();
        assert_eq!(embedded.server(), None);
    }

    #[test]
    fn a_remote_server_round_trips_with_its_paths_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let r = Remembered {
            user: "alice".into(),
            server_url: None,
            remote: Some(RemoteServer {
                url: "http://127.0.0.1:9/".into(),
                token_path: "auth/jwt/create/".into(),
                header_type: "JWT".into(),
                ..RemoteServer::default()
            }),
        };
        save(dir.path(), &r);
        assert_eq!(load(dir.path()), Some(r));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        forget(dir.path());
        assert_eq!(load(dir.path()), None);
    }
}
