//! The embedded server's socket: who may share its port, and who it answers.
//!
//! - The port is bound with `SO_REUSEPORT`, which Linux lets only sockets of
//!   the same effective uid share. Going offline, a second such socket binds
//!   the port *without listening* before the listening one is closed
//!   ([`PortHold`]): connections are then refused while no other OS user can
//!   bind the port, wait for the app to retry, and receive its refresh token.
//! - Every accepted connection is checked against the kernel's socket table
//!   ([`crate::proc_net`]): one from another OS user (or one whose owner
//!   cannot be found) is closed before a byte of HTTP is read or written.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tracing::{debug, info, warn};

use crate::proc_net::{self, PeerOwner};

const BACKLOG: u32 = 1024;

fn new_socket(addr: SocketAddr) -> io::Result<TcpSocket> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseport(true)?;
    // Never SO_REUSEADDR: Linux lets two SO_REUSEADDR sockets of *any* users
    // share an address while neither listens, so with it another user could
    // bind next to a PortHold, listen once we stop, and get the connections.
    socket.set_reuseaddr(false)?;
    Ok(socket)
}

/// A listening socket on `addr` (port 0: an ephemeral one, never shared;
/// the kernel picks a port no other socket has).
pub(crate) fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = new_socket(addr)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// The port, bound but not listening: while this lives, a connection to it
/// is refused and only this OS user can bind it.
#[derive(Debug)]
pub(crate) struct PortHold {
    _socket: TcpSocket,
}

impl PortHold {
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<PortHold> {
        let socket = new_socket(addr)?;
        socket.bind(addr)?;
        Ok(PortHold { _socket: socket })
    }
}

/// A listener that hands axum only connections from processes of `uid`.
#[derive(Debug)]
pub(crate) struct SameUserListener {
    inner: TcpListener,
    uid: u32,
}

impl SameUserListener {
    pub(crate) fn new(inner: TcpListener, uid: u32) -> SameUserListener {
        SameUserListener { inner, uid }
    }

    /// Whether `stream` comes from a process of our user.
    async fn admits(&self, stream: &TcpStream, peer: SocketAddr) -> bool {
        let ours = match stream.local_addr() {
            Ok(a) => a,
            Err(e) => {
                debug!(error = %e, "an accepted connection has no local address; closed");
                return false;
            }
        };
        match proc_net::peer_owner(peer, ours).await {
            Ok(PeerOwner::Uid(uid)) if uid == self.uid => true,
            Ok(PeerOwner::Uid(uid)) => {
                info!(%peer, uid, "closed a connection from another OS user");
                false
            }
            Ok(owner) => {
                info!(%peer, ?owner, "closed a connection whose owner is unknown");
                false
            }
            Err(e) => {
                warn!(%peer, error = %e, "cannot read the socket table; connection closed");
                false
            }
        }
    }
}

impl axum::serve::Listener for SameUserListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let (stream, peer) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            };
            if self.admits(&stream, peer).await {
                return (stream, peer);
            }
            // Dropped unread: the peer sees the connection closed (or reset).
            drop(stream);
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// As axum's own TCP listener does: errors of one connection are skipped;
/// others (out of file descriptors) are waited out, so the loop does not spin.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    warn!(error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The holder refuses connections and keeps the port from this user's
    /// plain sockets too; a new listener takes over on the same port.
    #[tokio::test]
    async fn a_port_hold_refuses_and_keeps_the_port() {
        let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = PortHold::bind(addr).unwrap();
        drop(listener);
        let refused = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        let taken = std::net::TcpListener::bind(addr).unwrap_err();
        assert_eq!(taken.kind(), io::ErrorKind::AddrInUse);
        let again = bind_listener(addr).unwrap();
        drop(hold);
        let client = TcpStream::connect(addr).await.unwrap();
        let (_, peer) = again.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    }
}
