//! Where the app keeps things: the data directory (profiles, outbox, locks,
//! the embedded server's database) and the runtime directory (the broker's
//! socket). The app and the `warden` command compute the same paths, which
//! is how the command finds the running app.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::profiles::ProfileId;

/// `profiles.json`: the profiles, no secrets.
pub const PROFILES_FILE: &str = "profiles.json";
/// `outbox.json`: revocations waiting for their server, no secrets.
pub const OUTBOX_FILE: &str = "outbox.json";
/// Held by the running app for its whole life: one app per data directory.
pub const INSTANCE_LOCK_FILE: &str = "app.lock";
/// One lock file per profile, held by whoever rotates that profile's tokens.
pub const LOCKS_DIR: &str = "locks";

/// The directories of one app (one data directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPaths {
    /// Private (0700): profiles, outbox, lock files, the embedded database.
    pub data_dir: PathBuf,
    /// Private (0700), on a tmpfs when it is `$XDG_RUNTIME_DIR/warden`: the
    /// broker's socket.
    pub runtime_dir: PathBuf,
}

impl AppPaths {
    /// These directories (tests; the app uses [`AppPaths::from_env`]).
    pub fn new(data_dir: impl Into<PathBuf>, runtime_dir: impl Into<PathBuf>) -> AppPaths {
        AppPaths {
            data_dir: data_dir.into(),
            runtime_dir: runtime_dir.into(),
        }
    }

    /// The app's paths as the app and the `warden` command find them:
    /// `WARDEN_APP_DATA_DIR`, else the platform data directory
    /// (`~/.local/share/warden`); `$XDG_RUNTIME_DIR/warden` when the runtime
    /// directory is there and this user's alone, else `run/` in the data
    /// directory.
    pub fn from_env() -> io::Result<AppPaths> {
        let data_dir = match std::env::var_os("WARDEN_APP_DATA_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => directories::ProjectDirs::from("dev", "warden", "warden")
                .map(|p| p.data_dir().to_path_buf())
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        "no home directory; set WARDEN_APP_DATA_DIR",
                    )
                })?,
        };
        let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_absolute() && owned_privately(d))
            .map(|d| d.join("warden"))
            .unwrap_or_else(|| data_dir.join("run"));
        Ok(AppPaths {
            data_dir,
            runtime_dir,
        })
    }

    /// `profiles.json`.
    pub fn profiles_file(&self) -> PathBuf {
        self.data_dir.join(PROFILES_FILE)
    }

    /// `outbox.json`.
    pub fn outbox_file(&self) -> PathBuf {
        self.data_dir.join(OUTBOX_FILE)
    }

    /// `app.lock`.
    pub fn instance_lock(&self) -> PathBuf {
        self.data_dir.join(INSTANCE_LOCK_FILE)
    }

    /// `locks/`.
    pub fn locks_dir(&self) -> PathBuf {
        self.data_dir.join(LOCKS_DIR)
    }

    /// `locks/{id}.lock`.
    pub fn profile_lock(&self, id: &ProfileId) -> PathBuf {
        self.locks_dir().join(format!("{id}.lock"))
    }

    /// The broker's socket. Several data directories (tests, a second
    /// account's app) share one runtime directory, so the name carries a
    /// hash of the data directory's canonical path.
    pub fn socket(&self) -> PathBuf {
        let dir = self
            .data_dir
            .canonicalize()
            .unwrap_or_else(|_| self.data_dir.clone());
        let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
        let short: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        self.runtime_dir.join(format!("broker-{short}.sock"))
    }
}

/// This process's effective uid, as the owner of `/proc/self` (no `unsafe`
/// libc call needed).
pub fn own_uid() -> io::Result<u32> {
    use std::os::unix::fs::MetadataExt as _;
    Ok(std::fs::metadata("/proc/self")?.uid())
}

/// A directory that exists, is not a symlink, belongs to this user and lets
/// nobody else in.
fn owned_privately(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let (Ok(meta), Ok(uid)) = (std::fs::symlink_metadata(dir), own_uid()) else {
        return false;
    };
    meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0
}

/// Creates `dir` (and its parents) 0700 when missing, and checks that what
/// is there is a directory of this user's, not a symlink: everything the app
/// puts inside (the socket, lock files, profiles) relies on nobody else
/// being able to create, replace or read files there. A directory of ours
/// that others may enter is closed to them; one of someone else's is refused.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true).mode(0o700);
            builder.create(dir)?;
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a directory (a symlink?)", dir.display()),
        ));
    }
    if meta.uid() != own_uid()? {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user", dir.display()),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_dirs_are_created_0700_and_opened_ones_closed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn a_symlink_or_a_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        std::fs::create_dir(&target).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(ensure_private_dir(&link).is_err());
        let file = tmp.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(ensure_private_dir(&file).is_err());
    }

    #[test]
    fn each_data_directory_has_its_own_socket() {
        let a = AppPaths::new("/tmp/warden-a", "/run/user/1/warden");
        let b = AppPaths::new("/tmp/warden-b", "/run/user/1/warden");
        assert_ne!(a.socket(), b.socket());
        assert_eq!(a.socket(), a.clone().socket());
        assert!(a.socket().starts_with("/run/user/1/warden"));
        let name = a
            .socket()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(
            name.starts_with("broker-") && name.ends_with(".sock"),
            "{name}"
        );
        assert_eq!(name.len(), "broker-".len() + 16 + ".sock".len());
    }
}
