//! `TRUSTED_PROXIES` and the client address behind them.
//!
//! `X-Forwarded-For` is anyone's to write, so it is read only when the socket
//! peer is a trusted proxy, and then from the right: each trusted proxy
//! appends the address it received the request from, so the first entry from
//! the right that is not itself a trusted proxy is the client as the nearest
//! untrusted hop saw it. Entries left of it were written by that client and
//! prove nothing.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::ConfigError;
use crate::hosts::parse_entries;

/// The setting's name, as errors and the CLI's config say it.
pub const TRUSTED_PROXIES: &str = "TRUSTED_PROXIES";

/// An address with a prefix length (`10.0.0.0/8`, `::1/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

fn v4_mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn v6_mask(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl IpNetwork {
    /// An address (one host) or `address/prefix`. Host bits beyond the
    /// prefix are refused rather than silently dropped: `10.0.0.1/8` is more
    /// likely a typo than a wish to trust all of 10/8.
    pub fn parse(entry: &str) -> Result<IpNetwork, String> {
        let e = entry.trim();
        let (addr, prefix) = match e.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (e, None),
        };
        let Ok(addr) = addr.parse::<IpAddr>() else {
            return Err(
                "is not an IP address or network (e.g. \"127.0.0.1\", \"10.0.0.0/8\", \"::1\")"
                    .into(),
            );
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && !p.starts_with('+') => n,
                _ => return Err(format!("has a prefix length that is not 0 to {max}")),
            },
        };
        let network = IpNetwork { addr, prefix }.canonical();
        let masked = network.masked();
        if masked != network.addr {
            return Err(format!(
                "has bits set past its /{prefix} prefix (did you mean \"{masked}/{prefix}\"?)"
            ));
        }
        Ok(network)
    }

    /// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) as the IPv4 one,
    /// so it matches peers however the socket reports them.
    fn canonical(self) -> IpNetwork {
        match self.addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if self.prefix >= 96 => IpNetwork {
                    addr: IpAddr::V4(v4),
                    prefix: self.prefix - 96,
                },
                _ => self,
            },
            IpAddr::V4(_) => self,
        }
    }

    fn masked(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & v4_mask(self.prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & v6_mask(self.prefix))),
        }
    }

    /// `ip` is in the network (an IPv4-mapped IPv6 address as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = v4_mask(self.prefix);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = v6_mask(self.prefix);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-For` is believed (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNetwork>);

impl TrustedProxies {
    /// The setting's entries (addresses or networks); the first bad one is the error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, ConfigError> {
        parse_entries(TRUSTED_PROXIES, entries, IpNetwork::parse).map(TrustedProxies)
    }

    /// The networks trusted.
    pub fn networks(&self) -> &[IpNetwork] {
        &self.0
    }

    /// No proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client's address: `peer` unless `peer` is trusted; then the first
    /// `X-Forwarded-For` entry from the right that is not trusted (or the
    /// leftmost when every hop is), and `peer` again as soon as an entry
    /// cannot be read, since nothing past a garbled hop can be believed.
    /// `forwarded` is each `X-Forwarded-For` field in the order received.
    pub(crate) fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded: impl Iterator<Item = &'a [u8]>,
    ) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut fields: Vec<&[u8]> = forwarded.collect();
        if fields.is_empty() {
            return peer;
        }
        let mut nearest = peer;
        while let Some(field) = fields.pop() {
            let Ok(text) = std::str::from_utf8(field) else {
                return peer;
            };
            for entry in text.rsplit(',') {
                let Some(ip) = forwarded_ip(entry) else {
                    return peer;
                };
                if !self.contains(ip) {
                    return ip;
                }
                nearest = ip;
            }
        }
        nearest
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

/// One `X-Forwarded-For` entry: an address, `[IPv6]`, or either with a port
/// (some proxies append one).
fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    if let Ok(ip) = e.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = e.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    e.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).unwrap()
    }

    fn client(p: &TrustedProxies, peer: &str, fields: &[&str]) -> String {
        p.client_address(ip(peer), fields.iter().map(|f| f.as_bytes()))
            .to_string()
    }

    #[test]
    fn networks_parse_and_contain() {
        let n = IpNetwork::parse("10.0.0.0/8").unwrap();
        assert!(n.contains(ip("10.255.1.2")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(n.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped peers");
        assert!(!n.contains(ip("::1")));
        let one = IpNetwork::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));
        let v6 = IpNetwork::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        assert!(
            IpNetwork::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
        assert!(
            IpNetwork::parse("::/0")
                .unwrap()
                .contains(ip("2001:db8::1"))
        );
        let mapped = IpNetwork::parse("::ffff:192.0.2.0/120").unwrap();
        assert_eq!(mapped.to_string(), "192.0.2.0/24");
        assert!(mapped.contains(ip("192.0.2.9")));
    }

    #[test]
    fn bad_entries_are_named_with_their_key() {
        for (bad, says) in [
            ("10.0.0.1/8", "10.0.0.0/8"),
            ("10.0.0.0/33", "0 to 32"),
            ("::/129", "0 to 128"),
            ("10.0.0.0/", "0 to 32"),
            ("10.0.0.0/+8", "0 to 32"),
            ("localhost", "not an IP address"),
            ("", "not an IP address"),
            ("10.0.0.0/8/8", "0 to 32"),
            ("[::1]", "not an IP address"),
        ] {
            let err = TrustedProxies::parse(&[bad]).unwrap_err().to_string();
            assert!(err.starts_with("TRUSTED_PROXIES: "), "{bad}: {err}");
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert!(TrustedProxies::parse::<&str>(&[]).unwrap().is_empty());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = TrustedProxies::default();
        assert_eq!(client(&none, "127.0.0.1", &["203.0.113.7"]), "127.0.0.1");
        let other = proxies(&["10.0.0.0/8"]);
        assert_eq!(client(&other, "127.0.0.1", &["203.0.113.7"]), "127.0.0.1");
    }

    #[test]
    fn a_trusted_peer_is_walked_from_the_right() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        assert_eq!(client(&p, "127.0.0.1", &["203.0.113.7"]), "203.0.113.7");
        assert_eq!(client(&p, "127.0.0.1", &[]), "127.0.0.1");
        // Left of the first untrusted entry is the client's own writing.
        assert_eq!(
            client(&p, "127.0.0.1", &["1.2.3.4, 203.0.113.7"]),
            "203.0.113.7"
        );
        assert_eq!(
            client(&p, "127.0.0.1", &["1.2.3.4, 203.0.113.7, 10.0.0.5"]),
            "203.0.113.7"
        );
        // Several fields are one list, in order.
        assert_eq!(
            client(&p, "127.0.0.1", &["198.51.100.1, 203.0.113.7", "10.0.0.5"]),
            "203.0.113.7"
        );
        // Every hop trusted: the farthest one.
        assert_eq!(client(&p, "127.0.0.1", &["10.0.0.9, 10.0.0.5"]), "10.0.0.9");
        // Ports and brackets some proxies add.
        assert_eq!(
            client(&p, "127.0.0.1", &["203.0.113.7:5555"]),
            "203.0.113.7"
        );
        assert_eq!(
            client(&p, "127.0.0.1", &["[2001:db8::7]:443"]),
            "2001:db8::7"
        );
        assert_eq!(client(&p, "127.0.0.1", &["[2001:db8::7]"]), "2001:db8::7");
        assert_eq!(
            client(&p, "::ffff:127.0.0.1", &["203.0.113.7"]),
            "203.0.113.7"
        );
    }

    #[test]
    fn garbage_falls_back_to_the_peer() {
        let p = proxies(&["127.0.0.1"]);
        for garbage in [
            "",
            "unknown",
            "203.0.113.7, not-an-ip",
            "203.0.113.7,",
            "999.1.1.1",
            "203.0.113.7 10.0.0.1",
        ] {
            assert_eq!(
                client(&p, "127.0.0.1", &[garbage]),
                "127.0.0.1",
                "{garbage:?}"
            );
        }
        // Garbage left of the first untrusted entry is never reached.
        assert_eq!(
            client(&p, "127.0.0.1", &["not-an-ip, 203.0.113.7"]),
            "203.0.113.7"
        );
        let invalid_utf8: &[u8] = b"\xff\xfe";
        assert_eq!(
            p.client_address(ip("127.0.0.1"), [invalid_utf8].into_iter())
                .to_string(),
            "127.0.0.1"
        );
    }
}
