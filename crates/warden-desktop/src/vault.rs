//! The embedded backend's port changes every run, but its sessions must be
//! found again: this vault files them under a stable key instead of the URL.

use std::sync::Arc;

use warden_client::{Vault, VaultError, VaultStatus};

#[derive(Debug)]
pub(crate) struct StableKeyVault {
    pub inner: Arc<dyn Vault>,
    pub key: String,
}

impl Vault for StableKeyVault {
    fn store(&self, _server_key: &str, user: &str, secret: &str) -> Result<(), VaultError> {
        self.inner.store(&self.key, user, secret)
    }
    fn load(&self, _server_key: &str, user: &str) -> Result<Option<String>, VaultError> {
        self.inner.load(&self.key, user)
    }
    fn delete(&self, _server_key: &str, user: &str) -> Result<(), VaultError> {
        self.inner.delete(&self.key, user)
    }
    fn status(&self) -> VaultStatus {
        self.inner.status()
    }
    fn persistent(&self) -> bool {
        self.inner.persistent()
    }
}
