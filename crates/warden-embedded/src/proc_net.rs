//! Which OS user holds the other end of a local TCP connection, read from
//! the kernel's socket tables (`/proc/net/tcp`, `/proc/net/tcp6`).
//!
//! The embedded server answers only its own user: a refresh token it hands
//! out is as good as the keyring entry that holds it, so another account on
//! the same computer must not be able to ask for one (or guess passwords).
//! Loopback TCP carries no credentials, but both ends of a loopback
//! connection are sockets of this machine, and the kernel lists each with
//! the uid that created it: the peer's row is the one whose local address
//! is the peer's address and whose remote address is ours.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const TCP: &str = "/proc/net/tcp";
const TCP6: &str = "/proc/net/tcp6";

/// `st` values whose `uid` column says nothing about a live peer: a
/// listening socket, and TIME_WAIT (kept by the kernel, listed as uid 0).
const LISTEN: u8 = 0x0A;
const TIME_WAIT: u8 = 0x06;

/// One row of `/proc/net/tcp` or `/proc/net/tcp6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketRow {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: u8,
    pub uid: u32,
}

/// Parses one table row; `None` for the header or anything malformed.
///
/// `  0: 0100007F:A4F2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000 0 12345 …`
/// (`sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`).
pub(crate) fn parse_row(line: &str) -> Option<SocketRow> {
    let mut fields = line.split_whitespace();
    let slot = fields.next()?;
    if !slot.ends_with(':') {
        return None;
    }
    let local = parse_endpoint(fields.next()?)?;
    let remote = parse_endpoint(fields.next()?)?;
    let state = u8::from_str_radix(fields.next()?, 16).ok()?;
    // tx_queue:rx_queue, tr:tm->when, retrnsmt, then uid.
    let uid = fields.nth(3)?.parse().ok()?;
    Some(SocketRow {
        local,
        remote,
        state,
        uid,
    })
}

/// `ADDR:PORT` as the kernel prints it: the address as the raw bytes of its
/// 32-bit words, each word printed as a host-order hex number (so on x86
/// `127.0.0.1` reads `0100007F`), and the port as plain hex.
fn parse_endpoint(s: &str) -> Option<SocketAddr> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(addr)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(addr.get(i * 8..i * 8 + 8)?)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// One 32-bit word of an address, back in memory (network) order.
fn word(hex: &str) -> Option<[u8; 4]> {
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
}

/// An IPv4 peer seen through a dual-stack IPv6 socket is listed as
/// `::ffff:a.b.c.d`; compare it as the IPv4 address it is.
fn canonical(a: SocketAddr) -> SocketAddr {
    match a.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), a.port()),
            None => a,
        },
        IpAddr::V4(_) => a,
    }
}

/// What a table says about the socket at `peer` connected to `ours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerOwner {
    Uid(u32),
    /// No live row for that connection (it may have closed already).
    NotFound,
    /// Live rows that disagree: trust none of them.
    Ambiguous,
}

/// Finds the peer's row in one table's text.
pub(crate) fn owner_in(table: &str, peer: SocketAddr, ours: SocketAddr) -> PeerOwner {
    let (peer, ours) = (canonical(peer), canonical(ours));
    let mut found = PeerOwner::NotFound;
    for row in table.lines().filter_map(parse_row) {
        if row.state == LISTEN || row.state == TIME_WAIT {
            continue;
        }
        if canonical(row.local) != peer || canonical(row.remote) != ours {
            continue;
        }
        found = match found {
            PeerOwner::NotFound => PeerOwner::Uid(row.uid),
            PeerOwner::Uid(uid) if uid == row.uid => found,
            _ => return PeerOwner::Ambiguous,
        };
    }
    found
}

/// The uid of the process that holds the other end of the accepted
/// connection `peer` → `ours`, from `/proc/net/tcp` (then `tcp6`: a
/// dual-stack client socket lists an IPv4 connection there).
pub(crate) async fn peer_owner(peer: SocketAddr, ours: SocketAddr) -> io::Result<PeerOwner> {
    let mut result = PeerOwner::NotFound;
    for path in [TCP, TCP6] {
        let table = match tokio::fs::read_to_string(path).await {
            Ok(t) => t,
            // No IPv6 in this kernel: no tcp6 table.
            Err(e) if e.kind() == io::ErrorKind::NotFound && path == TCP6 => break,
            Err(e) => return Err(e),
        };
        result = owner_in(&table, peer, ours);
        if result != PeerOwner::NotFound {
            break;
        }
    }
    Ok(result)
}

/// This process's effective uid, as the owner of `/proc/self` (no `unsafe`
/// `geteuid` call needed).
pub(crate) fn own_uid() -> io::Result<u32> {
    use std::os::unix::fs::MetadataExt as _;
    Ok(std::fs::metadata("/proc/self")?.uid())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // Rows as a little-endian kernel (x86_64) prints them: each address
    // word back to front. A big-endian kernel prints the words the other
    // way round, and `word` reads them so, hence the cfg on these tests.
    const TCP_TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:8F4B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4182061 1 0000000000000000 100 0 0 10 0
   1: 0100007F:8F4B 0100007F:D3A6 01 00000000:00000000 00:00000000 00000000     0        0 4182998 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D3A6 0100007F:8F4B 01 00000000:00000000 00:00000000 00000000 65534        0 4182997 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:D3A8 0100007F:8F4B 06 00000000:00000000 03:00000F3C 00000000     0        0 0 3 0000000000000000
   4: 0A00020F:0016 0102000A:C350 01 00000000:00000000 02:0003F3D1 00000000  1000        0 4099920 2 0000000000000000 20 4 31 10 -1
";
    const TCP6_TABLE: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:D3B0 0000000000000000FFFF00000100007F:8F4B 01 00000000:00000000 00:00000000 00000000  1000        0 4183100 1 0000000000000000 20 4 30 10 -1
   1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:C001 01 00000000:00000000 00:00000000 00000000  1001        0 4183101 1 0000000000000000 20 4 30 10 -1
   2: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4183102 1 0000000000000000 100 0 0 10 0
";

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn reads_ipv4_rows_little_endian() {
        let rows: Vec<SocketRow> = TCP_TABLE.lines().filter_map(parse_row).collect();
        assert_eq!(rows.len(), 5, "the header is skipped");
        assert_eq!(
            rows[2],
            SocketRow {
                local: a("127.0.0.1:54182"),
                remote: a("127.0.0.1:36683"),
                state: 1,
                uid: 65534,
            }
        );
        assert_eq!(rows[0].state, LISTEN);
        assert_eq!(rows[4].local, a("15.2.0.10:22"));
        assert_eq!(rows[4].remote, a("10.0.2.1:50000"));
        assert_eq!(rows[4].uid, 1000);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn reads_ipv6_groups_little_endian() {
        let rows: Vec<SocketRow> = TCP6_TABLE.lines().filter_map(parse_row).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].local, a("[::ffff:127.0.0.1]:54192"));
        assert_eq!(rows[1].local, a("[::1]:8080"));
        assert_eq!(rows[1].remote, a("[::1]:49153"));
        assert_eq!(rows[2].local, a("[2001:db8::1]:80"));
        assert_eq!(rows[2].uid, 0);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn finds_the_peer_row_not_ours_nor_time_wait() {
        let ours = a("127.0.0.1:36683");
        // Row 1 is our accepted socket (uid 0); row 2 is the peer's.
        assert_eq!(
            owner_in(TCP_TABLE, a("127.0.0.1:54182"), ours),
            PeerOwner::Uid(65534)
        );
        // Only a TIME_WAIT row (uid 0 by the kernel): not a live peer.
        assert_eq!(
            owner_in(TCP_TABLE, a("127.0.0.1:54184"), ours),
            PeerOwner::NotFound
        );
        assert_eq!(
            owner_in(TCP_TABLE, a("127.0.0.1:1"), ours),
            PeerOwner::NotFound
        );
        // An IPv4 connection from a dual-stack socket is in tcp6, mapped.
        assert_eq!(
            owner_in(TCP6_TABLE, a("127.0.0.1:54192"), ours),
            PeerOwner::Uid(1000)
        );
        assert_eq!(
            owner_in(TCP6_TABLE, a("[::1]:49153"), a("[::1]:8080")),
            PeerOwner::NotFound,
            "direction matters: that row is the server's end"
        );
        assert_eq!(
            owner_in(TCP6_TABLE, a("[::1]:8080"), a("[::1]:49153")),
            PeerOwner::Uid(1001)
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn disagreeing_rows_are_trusted_by_no_one() {
        let twice = format!(
            "{TCP_TABLE}   5: 0100007F:D3A6 0100007F:8F4B 01 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 20 4 30 10 -1\n"
        );
        assert_eq!(
            owner_in(&twice, a("127.0.0.1:54182"), a("127.0.0.1:36683")),
            PeerOwner::Ambiguous
        );
    }

    #[test]
    fn malformed_rows_are_skipped() {
        for line in [
            "",
            "garbage",
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid",
            "   0: 0100007F:8F4B",
            "   0: 0100007F 0100007F:8F4B 01 0:0 0:0 0 0 0 1",
            "   0: 0100007G:8F4B 0100007F:8F4B 01 0:0 0:0 0 0 0 1",
            "   0: 0100007F:8F4B 0100007F:8F4B 01 0:0 0:0 0 x 0 1",
            "   0: 0100007F:18F4B 0100007F:8F4B 01 0:0 0:0 0 0 0 1",
            "   0: 00000000000000000000000001000000:1F90 0100:8F4B 01 0:0 0:0 0 0 0 1",
            "   0: +100007F:8F4B 0100007F:8F4B 01 0:0 0:0 0 0 0 1",
            "   0: 0100007F:8F4B 0100007F:8F4B 01 0:0 0:0 0",
        ] {
            assert_eq!(parse_row(line), None, "{line:?}");
        }
    }

    /// The live tables: a connection made here is found with this
    /// process's uid, whichever end is asked about.
    #[tokio::test]
    async fn finds_a_live_connection_of_this_process() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ours = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(ours).await.unwrap();
        let (_accepted, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let uid = own_uid().unwrap();
        assert_eq!(peer_owner(peer, ours).await.unwrap(), PeerOwner::Uid(uid));
        assert_eq!(
            peer_owner(ours, peer).await.unwrap(),
            PeerOwner::Uid(uid),
            "the server's end, asked the other way round"
        );
        assert_eq!(
            peer_owner(a("127.0.0.1:1"), ours).await.unwrap(),
            PeerOwner::NotFound
        );
    }
}
