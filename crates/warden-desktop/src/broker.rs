//! The running app's local socket: other Warden processes ask it for
//! tokens (`warden token`, `warden exec`) and a second launch of the app asks
//! it to show its window, so that one process rotates each profile.
//!
//! Reachable by this OS user only: the socket is 0600 in a 0700 directory of
//! the user's (`$XDG_RUNTIME_DIR/warden`), and every connection's peer
//! credentials are checked; another uid's connection is closed unanswered.
//!
//! The protocol is newline-delimited JSON, one [`BrokerRequest`] per line,
//! one [`BrokerAnswer`] per line, both typed here once for the app and the
//! command.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::profile_set::ProfileSet;
use crate::profiles::ProfileId;

/// The longest request line read; anything longer closes the connection.
pub const MAX_LINE: usize = 16 * 1024;
/// A connection that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(30);
/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 32;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum BrokerRequest {
    /// A second launch of the app: show your window (it then exits).
    Focus,
    /// A valid access token of `profile` (its id or name; `None`: the
    /// active profile, else the only one), rotated first when near expiry.
    Token {
        /// The profile's id or name; `None`: the default.
        profile: Option<String>,
        /// Rotate first even when the current token is fresh (`warden token
        /// --rotate`). Absent in older clients' requests: `false`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        rotate: bool,
    },
    /// The profiles (names, ids, servers, who is signed in).
    Profiles,
}

/// What the app answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum BrokerAnswer {
    /// The window was asked to show itself.
    Focused,
    /// The token asked for.
    Token(TokenGrant),
    /// The profiles.
    Profiles {
        /// In the app's order.
        profiles: Vec<ProfileSummary>,
        /// The profile `warden token` uses by default.
        active: Option<ProfileId>,
    },
    /// `code` as in the window's errors (`unknown_profile`, `not_signed_in`, ...).
    Error {
        /// Stable, for programs.
        code: String,
        /// For people.
        message: String,
    },
}

/// An access token handed to another program.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenGrant {
    /// The access token itself.
    pub access_token: String,
    /// The header type the server expects (`Bearer`, `JWT`).
    pub token_type: String,
    /// The token's `exp` (Unix seconds, the server's clock).
    pub expires_at: Option<i64>,
    /// Seconds it stays valid from now (this computer's clock, corrected for
    /// the server's skew).
    pub expires_in: Option<i64>,
    /// The profile it belongs to.
    pub profile: ProfileId,
    /// That profile's name.
    pub profile_name: String,
    /// The server's base URL.
    pub server: String,
    /// The account it was issued to.
    pub user: String,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("access_token", &warden_client::redact(&self.access_token))
            .field("expires_at", &self.expires_at)
            .field("profile", &self.profile)
            .field("server", &self.server)
            .field("user", &self.user)
            .finish()
    }
}

/// One profile as `warden profiles` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSummary {
    /// Its stable id.
    pub id: ProfileId,
    /// Its name.
    pub name: String,
    /// `this computer` or the server's host and port.
    pub server: String,
    /// The username.
    pub account: String,
    /// `active`, `offline`, `signed_out`, ... (the session's phase).
    pub state: String,
}

/// What the broker needs from the app.
pub trait BrokerHost: Send + Sync + 'static {
    /// A second launch asked this app to show its window.
    fn focus(&self);
    /// The profiles, once the app has started them (waits until then).
    fn profiles(&self) -> impl Future<Output = Result<Arc<ProfileSet>>> + Send;
}

/// The broker serving its socket; [`BrokerServer::stop`] (or dropping it)
/// stops accepting and removes the socket.
#[derive(Debug)]
pub struct BrokerServer {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    socket: PathBuf,
}

impl BrokerServer {
    /// Stops accepting (connections in flight finish) and removes the socket,
    /// so a later launch does not hand over to an app on its way out.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let _ = std::fs::remove_file(&self.socket);
    }

    /// Where it listens.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for BrokerServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if self.task.is_some() {
            let _ = std::fs::remove_file(&self.socket);
        }
    }
}

/// Binds the socket at `path` (replacing a stale one: the caller holds the
/// instance lock, so no live app owns it) and makes it 0600.
pub fn bind(path: &Path) -> Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(dir) = path.parent() {
        crate::paths::ensure_private_dir(dir).map_err(|e| Error::io("prepare", dir, e))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("replace", path, e)),
    }
    let listener = UnixListener::bind(path).map_err(|e| Error::io("listen on", path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io("protect", path, e))?;
    Ok(listener)
}

/// Serves `listener` for `host` until stopped. `socket` is removed on stop.
pub fn serve<H: BrokerHost>(listener: UnixListener, socket: PathBuf, host: Arc<H>) -> BrokerServer {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let uid = match crate::paths::own_uid() {
            Ok(uid) => uid,
            Err(e) => {
                tracing::error!(error = %e, "cannot tell this process's uid; the broker stays closed");
                return;
            }
        };
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let permit = tokio::select! {
                p = Arc::clone(&slots).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                _ = stopped.changed() => break,
            };
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stopped.changed() => break,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "the broker could not accept a connection");
                    continue;
                }
            };
            let host = Arc::clone(&host);
            tokio::spawn(async move {
                connection(stream, uid, host).await;
                drop(permit);
            });
        }
        tracing::debug!("the broker stopped");
    });
    BrokerServer {
        stop,
        task: Some(task),
        socket,
    }
}

/// Who is at the other end of `stream`: their uid and, for the timeline,
/// `name (pid N)`.
fn peer(stream: &UnixStream) -> Option<(u32, String)> {
    let cred = stream.peer_cred().ok()?;
    let who = match cred.pid() {
        Some(pid) => {
            let name: String = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .unwrap_or_default()
                .trim()
                .chars()
                .filter(|c| c.is_ascii_graphic() || *c == ' ')
                .take(32)
                .collect();
            if name.is_empty() {
                format!("pid {pid}")
            } else {
                format!("{name} (pid {pid})")
            }
        }
        None => "a local program".to_string(),
    };
    Some((cred.uid(), who))
}

async fn connection<H: BrokerHost>(stream: UnixStream, uid: u32, host: Arc<H>) {
    let Some((peer_uid, who)) = peer(&stream) else {
        return;
    };
    if peer_uid != uid {
        // Closed before a byte is read or written: another user learns
        // nothing, not even which profiles exist.
        tracing::warn!(peer_uid, "refused a broker connection from another user");
        return;
    }
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    loop {
        let mut line = Vec::new();
        let read = tokio::time::timeout(
            IDLE,
            (&mut lines)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut line),
        )
        .await;
        match read {
            Ok(Ok(0)) | Err(_) => return,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "broker connection failed");
                return;
            }
        }
        if line.last() != Some(&b'\n') {
            // Too long, or cut off: nothing sensible to answer.
            return;
        }
        let answer = match serde_json::from_slice::<BrokerRequest>(&line) {
            Ok(request) => answer(request, &who, &*host).await,
            Err(e) => BrokerAnswer::Error {
                code: "bad_request".into(),
                message: format!("not a request: {e}"),
            },
        };
        let Ok(mut out) = serde_json::to_vec(&answer) else {
            return;
        };
        out.push(b'\n');
        if write.write_all(&out).await.is_err() {
            return;
        }
    }
}

async fn answer<H: BrokerHost>(request: BrokerRequest, who: &str, host: &H) -> BrokerAnswer {
    let result = match request {
        BrokerRequest::Focus => {
            host.focus();
            return BrokerAnswer::Focused;
        }
        BrokerRequest::Token { profile, rotate } => match host.profiles().await {
            Ok(set) => set
                .hand_out(profile.as_deref(), who, rotate)
                .await
                .map(BrokerAnswer::Token),
            Err(e) => Err(e),
        },
        BrokerRequest::Profiles => match host.profiles().await {
            Ok(set) => {
                let (profiles, active) = set.summaries();
                Ok(BrokerAnswer::Profiles { profiles, active })
            }
            Err(e) => Err(e),
        },
    };
    result.unwrap_or_else(|e| BrokerAnswer::Error {
        code: e.code().to_string(),
        message: e.to_string(),
    })
}

/// Why [`ask`] got no answer.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// No app listens there (no socket, or a stale one).
    #[error("no Warden app is running")]
    NotRunning,
    /// The socket could not be used.
    #[error("the Warden app's socket: {0}")]
    Io(#[from] std::io::Error),
    /// No answer in time.
    #[error("the Warden app did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// An answer that is not one.
    #[error("the Warden app answered something unexpected: {0}")]
    Protocol(String),
}

/// Sends one request to the app listening on `socket` and reads its answer.
pub async fn ask(
    socket: &Path,
    request: &BrokerRequest,
    timeout: Duration,
) -> std::result::Result<BrokerAnswer, AskError> {
    use std::io::ErrorKind;
    let mut stream = match UnixStream::connect(socket).await {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            return Err(AskError::NotRunning);
        }
        Err(e) => return Err(AskError::Io(e)),
    };
    let exchange = async {
        let mut line =
            serde_json::to_vec(request).map_err(|e| AskError::Protocol(e.to_string()))?;
        line.push(b'\n');
        stream.write_all(&line).await?;
        let (read, _write) = stream.split();
        let mut reader = BufReader::new(read).take(1024 * 1024);
        let mut answer = Vec::new();
        reader.read_until(b'\n', &mut answer).await?;
        if answer.is_empty() {
            // Closed unanswered: an app on its way out, or one that refuses us.
            return Err(AskError::NotRunning);
        }
        serde_json::from_slice(&answer).map_err(|e| AskError::Protocol(e.to_string()))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| AskError::Timeout(timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_are_one_json_object_each() {
        let r = BrokerRequest::Token {
            profile: Some("work".into()),
            rotate: false,
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"request": "token", "profile": "work"})
        );
        let parsed: BrokerRequest = serde_json::from_str(r#"{"request":"focus"}"#).unwrap();
        assert_eq!(parsed, BrokerRequest::Focus);
        let grant = TokenGrant {
            access_token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ".into(),
            token_type: "Bearer".into(),
            expires_at: Some(1_800_000_300),
            expires_in: Some(300),
            profile: ProfileId::try_from("p-1".to_string()).unwrap(),
            profile_name: "work".into(),
            server: "https://auth.example.com/".into(),
            user: "alice".into(),
        };
        let a = BrokerAnswer::Token(grant.clone());
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["answer"], "token");
        assert_eq!(json["expires_at"], 1_800_000_300);
        assert_eq!(serde_json::from_value::<BrokerAnswer>(json).unwrap(), a);
        assert!(
            !format!("{grant:?}").contains("c2lnbmF0dXJl"),
            "no token in Debug"
        );
    }
}
