//! Cross-process locks on files: the app's instance lock (one app per data
//! directory) and one lock per profile (whoever holds it may rotate that
//! profile's refresh token). `flock(2)` semantics through std's
//! [`File::try_lock`]: the kernel drops a lock when its holder exits, however
//! it exits, so a crash never leaves a profile locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a waiting holder tries again. A lock is held briefly by the
/// `warden` command (one refresh) and for good by the app, so waiting is
/// polling: cheap, and cancelled by dropping the future.
const POLL: Duration = Duration::from_millis(50);

/// An exclusive lock on a file, released when dropped (or when the process ends).
#[derive(Debug)]
pub struct LockFile {
    /// Holds the lock: the kernel ties it to this open file.
    _file: File,
    path: PathBuf,
}

impl LockFile {
    /// Takes the lock if nobody holds it: `Ok(None)` when someone does. The
    /// file is created 0600 when missing; its directory must exist and be
    /// private (see [`crate::paths::ensure_private_dir`]).
    pub fn try_acquire(path: &Path) -> io::Result<Option<LockFile>> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(LockFile {
                _file: file,
                path: path.to_path_buf(),
            })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Waits until the lock is free and takes it.
    pub async fn acquire(path: &Path) -> io::Result<LockFile> {
        loop {
            if let Some(lock) = Self::try_acquire(path)? {
                return Ok(lock);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_and_free_again_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.lock");
        let first = LockFile::try_acquire(&path).unwrap().unwrap();
        // A second open file description: another process would see the same.
        assert!(LockFile::try_acquire(&path).unwrap().is_none());
        let waiting = tokio::spawn({
            let path = path.clone();
            async move { LockFile::acquire(&path).await }
        });
        drop(first);
        let second = waiting.await.unwrap().unwrap();
        assert_eq!(second.path(), path);
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
