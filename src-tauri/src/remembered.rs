//! Who was signed in last, and where: a small non-secret JSON file in the
//! data directory (the refresh token itself is only in the keyring).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const FILE: &str = "last-session.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub user: String,
    /// `None`: the embedded backend.
    pub server_url: Option<String>,
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

pub fn load(dir: &Path) -> Option<Remembered> {
    let text = std::fs::read_to_string(path(dir)).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn save(dir: &Path, r: &Remembered) {
    match serde_json::to_vec_pretty(r) {
        Ok(bytes) => {
            if let Err(e) = std::fs::write(path(dir), bytes) {
                tracing::warn!(error = %e, "cannot remember the signed-in user");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot remember the signed-in user"),
    }
}

pub fn forget(dir: &Path) {
    let _ = std::fs::remove_file(path(dir));
}
