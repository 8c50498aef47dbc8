//! One app per data directory. The first launch takes the instance lock and
//! opens the broker's socket; a second launch finds the lock held, asks the
//! first over the socket to show its window, and exits without having read
//! a single refresh token from the keyring (two apps rotating one session
//! would look like token theft to the server, which then revokes it).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;

use crate::broker::{self, AskError, BrokerAnswer, BrokerHost, BrokerRequest, BrokerServer};
use crate::error::{Error, Result};
use crate::locks::LockFile;
use crate::paths::{AppPaths, ensure_private_dir};

/// How long a second launch keeps trying to reach the first (which may be
/// starting, and not listening yet, or on its way out, and about to free
/// the lock).
const HANDOVER_WAIT: Duration = Duration::from_secs(10);
const RETRY: Duration = Duration::from_millis(100);

/// What a launch is.
#[derive(Debug)]
pub enum Launch {
    /// This is the app: it holds the data directory.
    First(AppInstance),
    /// Another app holds the data directory and was asked to show its
    /// window: this launch should exit.
    HandedOver,
}

/// The running app's claim on its data directory: the instance lock and
/// the broker's socket, bound (so a later launch can hand over) but not yet
/// served.
#[derive(Debug)]
pub struct AppInstance {
    lock: LockFile,
    listener: UnixListener,
    socket: PathBuf,
}

/// The claim while the broker serves; the lock goes with it.
#[derive(Debug)]
pub struct RunningInstance {
    server: BrokerServer,
    _lock: LockFile,
}

impl AppInstance {
    /// The broker's socket.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// Serves the broker for `host` until [`RunningInstance::stop`].
    pub fn serve<H: BrokerHost>(self, host: Arc<H>) -> RunningInstance {
        RunningInstance {
            server: broker::serve(self.listener, self.socket, host),
            _lock: self.lock,
        }
    }
}

impl RunningInstance {
    /// Closes the socket first (a launch from now on starts its own app
    /// once this one is gone, instead of handing over to it), then lets go
    /// of the data directory.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// Claims the data directory for this launch, or hands over to the app that
/// has it. Call before anything reads the keyring.
pub async fn claim(paths: &AppPaths) -> Result<Launch> {
    ensure_private_dir(&paths.data_dir).map_err(|e| Error::io("prepare", &paths.data_dir, e))?;
    let lock_path = paths.instance_lock();
    let socket = paths.socket();
    let deadline = tokio::time::Instant::now() + HANDOVER_WAIT;
    loop {
        if let Some(lock) =
            LockFile::try_acquire(&lock_path).map_err(|e| Error::io("lock", &lock_path, e))?
        {
            let listener = broker::bind(&socket)?;
            return Ok(Launch::First(AppInstance {
                lock,
                listener,
                socket,
            }));
        }
        match broker::ask(&socket, &BrokerRequest::Focus, Duration::from_secs(5)).await {
            Ok(BrokerAnswer::Focused) => return Ok(Launch::HandedOver),
            Ok(other) => {
                return Err(Error::Protocol(format!("{other:?} to a focus request")));
            }
            // Starting, or stopping: try again shortly.
            Err(AskError::NotRunning | AskError::Timeout(_)) => {}
            Err(e) => return Err(Error::Busy(e.to_string())),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Busy(format!(
                "Another Warden app holds {} but does not answer on {}.",
                paths.data_dir.display(),
                socket.display()
            )));
        }
        tokio::time::sleep(RETRY).await;
    }
}
