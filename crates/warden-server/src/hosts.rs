//! `ALLOWED_HOSTS` and `CORS_ALLOWED_ORIGINS`: the entries, parsed once when
//! the config is built, and how a request's `Host` and `Origin` are matched
//! against them.
//!
//! Host matching is Django's (`django.http.request.validate_host`): the name
//! is compared case-insensitively without a trailing dot, `"example.com"`
//! matches that name, `".example.com"` the domain and every subdomain, `"*"`
//! any well-formed name, and an entry without a port matches any port.
//! Warden's extension: an entry with a port (`"127.0.0.1:8000"`) matches only
//! that port (a `Host` without one counts as port 80: Warden speaks plain HTTP).
//!
//! Origins are django-cors-headers' exact `scheme://host[:port]` strings,
//! compared after lower-casing scheme and host and dropping a default port
//! (which a browser never sends).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::error::ConfigError;

/// The setting's name, as errors and the CLI's config say it.
pub const ALLOWED_HOSTS: &str = "ALLOWED_HOSTS";
/// The setting's name, as errors and the CLI's config say it.
pub const CORS_ALLOWED_ORIGINS: &str = "CORS_ALLOWED_ORIGINS";

/// The names a loopback bind answers to by default, each with the bound port.
pub(crate) const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// The default port of a `Host` without one.
const HTTP_PORT: u16 = 80;

/// A host name as Django splits it: lower-case name (or `[canonical IPv6]`)
/// and the port if one was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostName {
    pub(crate) name: String,
    pub(crate) port: Option<u16>,
}

/// Splits `host[:port]` the way Django's `host_validation_re` does: a name of
/// `[a-z0-9.-]` or a bracketed IPv6 literal, then an optional decimal port.
/// `None` for anything else (userinfo, spaces, a path, an empty port...).
pub(crate) fn split_host(raw: &str) -> Option<HostName> {
    let lower = raw.to_ascii_lowercase();
    let (name, port) = if let Some(rest) = lower.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inside.parse().ok()?;
        (format!("[{ip}]"), after)
    } else {
        let (name, after) = match lower.find(':') {
            Some(i) => lower.split_at(i),
            None => (lower.as_str(), ""),
        };
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !valid {
            return None;
        }
        (name.to_string(), after)
    };
    let port = match port {
        "" => None,
        p => {
            let digits = p.strip_prefix(':')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(digits.parse::<u16>().ok()?)
        }
    };
    Some(HostName { name, port })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NameMatch {
    /// `*`
    Any,
    /// `example.com`, `127.0.0.1`, `[::1]`
    Exact(String),
    /// `.example.com`: stored without the dot.
    Domain(String),
}

/// One `ALLOWED_HOSTS` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    name: NameMatch,
    port: Option<u16>,
}

impl HostPattern {
    /// Parses one entry; the error is the reason, for [`ConfigError::InvalidEntry`].
    pub fn parse(entry: &str) -> Result<HostPattern, String> {
        let e = entry.trim();
        if e.is_empty() {
            return Err("is empty".into());
        }
        if e == "*" {
            return Ok(HostPattern {
                name: NameMatch::Any,
                port: None,
            });
        }
        if e.contains("://") || e.contains('/') {
            return Err(
                "is a URL: ALLOWED_HOSTS takes host names such as \"example.com\", \
                        \".example.com\" or \"127.0.0.1:8000\" (no scheme, no path)"
                    .into(),
            );
        }
        if e.starts_with('*') {
            return Err(
                "is not a pattern Django knows: \".example.com\" matches a domain and its \
                 subdomains, \"*\" matches every host"
                    .into(),
            );
        }
        let (body, domain) = match e.strip_prefix('.') {
            Some(rest) => (rest, true),
            None => (e, false),
        };
        let Some(HostName { name, port }) = split_host(body) else {
            return Err(
                "is not a host name, IPv4 address or [IPv6] address with an optional :port".into(),
            );
        };
        let name = name.trim_end_matches('.').to_string();
        if name.is_empty() || (domain && name.starts_with('[')) {
            return Err("a leading dot must be followed by a domain name".into());
        }
        Ok(HostPattern {
            name: if domain {
                NameMatch::Domain(name)
            } else {
                NameMatch::Exact(name)
            },
            port,
        })
    }

    /// Exactly this address and port (`127.0.0.1:PORT`, `[::1]:PORT`).
    pub fn socket(addr: SocketAddr) -> HostPattern {
        let name = match addr.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        HostPattern {
            name: NameMatch::Exact(name),
            port: Some(addr.port()),
        }
    }

    /// Whether a request's host (already split, trailing dot removed) matches.
    pub(crate) fn matches(&self, host: &HostName) -> bool {
        let port_ok = self
            .port
            .is_none_or(|p| host.port.unwrap_or(HTTP_PORT) == p);
        port_ok
            && match &self.name {
                NameMatch::Any => true,
                NameMatch::Exact(n) => *n == host.name,
                NameMatch::Domain(d) => {
                    host.name == *d
                        || host
                            .name
                            .strip_suffix(d.as_str())
                            .is_some_and(|sub| sub.ends_with('.'))
                }
            }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            NameMatch::Any => f.write_str("*")?,
            NameMatch::Exact(n) => f.write_str(n)?,
            NameMatch::Domain(d) => write!(f, ".{d}")?,
        }
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

/// Which `Host` values the server answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AllowedHosts {
    /// `ALLOWED_HOSTS` not set: the loopback names with the bound port, fixed
    /// by [`AllowedHosts::bind`] once the socket is bound (port 0 works).
    /// Unbound (a router used without [`crate::serve`]), the loopback names
    /// on any port.
    #[default]
    Loopback,
    /// These patterns and nothing else.
    Only(Vec<HostPattern>),
}

impl AllowedHosts {
    /// An `ALLOWED_HOSTS` list. Empty is refused: it would refuse every
    /// request (leave the key out for the loopback default).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<AllowedHosts, ConfigError> {
        let patterns = parse_entries(ALLOWED_HOSTS, entries, HostPattern::parse)?;
        if patterns.is_empty() {
            return Err(ConfigError::Empty { key: ALLOWED_HOSTS });
        }
        Ok(AllowedHosts::Only(patterns))
    }

    /// Exactly one `address:port`: the embedded backend's own.
    pub fn exactly(addr: SocketAddr) -> AllowedHosts {
        AllowedHosts::Only(vec![HostPattern::socket(addr)])
    }

    /// The list for a server bound to `bound`: the default becomes the
    /// loopback names (and the bound address itself) with the bound port; a
    /// non-loopback bind has no safe default and is refused.
    pub fn bind(&self, bound: SocketAddr) -> Result<AllowedHosts, ConfigError> {
        match self {
            AllowedHosts::Only(_) => Ok(self.clone()),
            AllowedHosts::Loopback if bound.ip().is_loopback() => {
                let port = bound.port();
                let mut patterns: Vec<HostPattern> = LOOPBACK_NAMES
                    .iter()
                    .map(|name| HostPattern {
                        name: NameMatch::Exact((*name).to_string()),
                        port: Some(port),
                    })
                    .collect();
                let own = HostPattern::socket(bound);
                if !patterns.contains(&own) {
                    patterns.push(own);
                }
                Ok(AllowedHosts::Only(patterns))
            }
            AllowedHosts::Loopback => Err(ConfigError::AllowedHostsRequired { addr: bound }),
        }
    }

    /// Whether a raw `Host` value (or URI authority) is allowed.
    pub fn allows(&self, raw: &str) -> bool {
        let Some(mut host) = split_host(raw) else {
            return false;
        };
        // Django drops one trailing dot of the name ("localhost.:8000").
        if let Some(name) = host.name.strip_suffix('.') {
            host.name = name.to_string();
        }
        if host.name.is_empty() {
            return false;
        }
        match self {
            AllowedHosts::Loopback => LOOPBACK_NAMES.contains(&host.name.as_str()),
            AllowedHosts::Only(patterns) => patterns.iter().any(|p| p.matches(&host)),
        }
    }
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedHosts::Loopback => f.write_str("localhost, 127.0.0.1, [::1] (any port)"),
            AllowedHosts::Only(patterns) => {
                for (i, p) in patterns.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
        }
    }
}

/// One `CORS_ALLOWED_ORIGINS` entry, normalised (`https://app.example.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin(String);

impl AllowedOrigin {
    /// Parses one entry; the error is the reason, for [`ConfigError::InvalidEntry`].
    pub fn parse(entry: &str) -> Result<AllowedOrigin, String> {
        let e = entry.trim();
        if e == "null" {
            return Err(
                "cannot be allowed: sandboxed frames, local files and redirected \
                        requests of every site send \"Origin: null\""
                    .into(),
            );
        }
        if e == "*" {
            return Err("is not an origin: list each one as scheme://host[:port]".into());
        }
        normalise_origin(e).map(AllowedOrigin)
    }

    /// `scheme://host[:port]`, normalised.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses a `CORS_ALLOWED_ORIGINS` list (empty allows no origin).
    pub fn parse_list<S: AsRef<str>>(entries: &[S]) -> Result<Vec<AllowedOrigin>, ConfigError> {
        parse_entries(CORS_ALLOWED_ORIGINS, entries, AllowedOrigin::parse)
    }
}

impl fmt::Display for AllowedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a request's `Origin` value is one of `allowed`.
pub(crate) fn origin_allowed(allowed: &[AllowedOrigin], raw: &str) -> bool {
    match normalise_origin(raw) {
        Ok(origin) => allowed.iter().any(|a| a.0 == origin),
        Err(_) => false,
    }
}

/// `scheme://host[:port]` lower-cased, without a default port; the error
/// says what is wrong, in django-cors-headers' terms.
fn normalise_origin(raw: &str) -> Result<String, String> {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return Err("is missing a scheme or host: write scheme://host[:port]".into());
    };
    let scheme = scheme.to_ascii_lowercase();
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    if !scheme_ok {
        return Err("has no valid scheme: write scheme://host[:port]".into());
    }
    if rest.is_empty() {
        return Err("is missing a host: write scheme://host[:port]".into());
    }
    if let Some(i) = rest.find(['/', '?', '#']) {
        let what = match rest.as_bytes().get(i) {
            Some(b'?') => "a query",
            Some(b'#') => "a fragment",
            _ if &rest[i..] == "/" => "a path (no trailing slash)",
            _ => "a path",
        };
        return Err(format!(
            "should not have {what}: an origin is scheme://host[:port]"
        ));
    }
    if rest.contains('@') {
        return Err("should not have a user name: an origin is scheme://host[:port]".into());
    }
    let Some(HostName { name, port }) = split_host(rest) else {
        return Err("has no valid host name, IPv4 address or [IPv6] address".into());
    };
    let default_port = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    Ok(match port {
        Some(p) if Some(p) != default_port => format!("{scheme}://{name}:{p}"),
        _ => format!("{scheme}://{name}"),
    })
}

/// Parses every entry of `key`, naming the first bad one.
pub(crate) fn parse_entries<S: AsRef<str>, T>(
    key: &'static str,
    entries: &[S],
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, ConfigError> {
    entries
        .iter()
        .map(|e| {
            parse(e.as_ref()).map_err(|reason| ConfigError::InvalidEntry {
                key,
                entry: e.as_ref().to_string(),
                reason,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(entries).unwrap()
    }

    #[test]
    fn exact_names_match_case_insensitively_on_any_port() {
        let h = hosts(&["example.com"]);
        for ok in [
            "example.com",
            "EXAMPLE.com",
            "example.com:8000",
            "example.com.",
            "example.com.:1",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for no in [
            "www.example.com",
            "example.com.evil",
            "evilexample.com",
            "example.co",
            "",
            "example.com:",
            "example.com:abc",
            "example.com:99999",
            "user@example.com",
            "example.com/path",
            "exa mple.com",
            "example.com:80:80",
        ] {
            assert!(!h.allows(no), "{no}");
        }
    }

    #[test]
    fn a_leading_dot_matches_the_domain_and_its_subdomains() {
        let h = hosts(&[".example.com"]);
        for ok in ["example.com", "www.example.com", "a.b.example.com:443"] {
            assert!(h.allows(ok), "{ok}");
        }
        for no in [
            "evilexample.com",
            "example.com.evil.net",
            "com",
            "example.org",
        ] {
            assert!(!h.allows(no), "{no}");
        }
    }

    #[test]
    fn a_star_matches_any_well_formed_host_but_not_garbage() {
        let h = hosts(&["*"]);
        for ok in ["anything.example", "127.0.0.1:1", "[::1]:8000", "x"] {
            assert!(h.allows(ok), "{ok}");
        }
        for no in ["", "a b", "a@b", "[not-ip]", "x:"] {
            assert!(!h.allows(no), "{no}");
        }
    }

    #[test]
    fn an_entry_with_a_port_matches_only_that_port() {
        let h = hosts(&["127.0.0.1:8000", "[::1]:8000", "example.com:80"]);
        assert!(h.allows("127.0.0.1:8000"));
        assert!(!h.allows("127.0.0.1:8001"));
        assert!(!h.allows("127.0.0.1"), "no port is port 80");
        assert!(h.allows("[::1]:8000"));
        assert!(
            h.allows("[0:0:0:0:0:0:0:1]:8000"),
            "IPv6 compared as addresses"
        );
        assert!(!h.allows("[::1]:80"));
        assert!(!h.allows("::1:8000"), "IPv6 needs brackets");
        assert!(h.allows("example.com"), "no port is port 80");
        assert!(h.allows("example.com:80"));
        assert!(!h.allows("example.com:8080"));
    }

    #[test]
    fn the_loopback_default_pins_the_bound_port() {
        let bound: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let h = AllowedHosts::Loopback.bind(bound).unwrap();
        for ok in [
            "127.0.0.1:4321",
            "localhost:4321",
            "LOCALHOST:4321",
            "[::1]:4321",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for no in [
            "127.0.0.1:4322",
            "localhost",
            "evil.example:4321",
            "127.0.0.2:4321",
        ] {
            assert!(!h.allows(no), "{no}");
        }
        // Another loopback address answers to itself too.
        let other = AllowedHosts::Loopback
            .bind("127.0.0.2:9".parse().unwrap())
            .unwrap();
        assert!(other.allows("127.0.0.2:9"));
        assert!(other.allows("localhost:9"));
        // Unbound: loopback names on any port, nothing else.
        assert!(AllowedHosts::Loopback.allows("localhost:1"));
        assert!(!AllowedHosts::Loopback.allows("evil.example"));
        // A list is kept as it is.
        let list = hosts(&["example.com"]);
        assert_eq!(list.bind(bound).unwrap(), list);
    }

    #[test]
    fn a_non_loopback_bind_needs_allowed_hosts() {
        for addr in ["0.0.0.0:8000", "192.0.2.1:8000", "[::]:8000"] {
            let err = AllowedHosts::Loopback
                .bind(addr.parse().unwrap())
                .unwrap_err();
            assert!(err.to_string().contains("ALLOWED_HOSTS"), "{err}");
        }
        assert!(
            hosts(&["example.com"])
                .bind("0.0.0.0:8000".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn the_embedded_backend_answers_exactly_its_own_address() {
        let h = AllowedHosts::exactly("127.0.0.1:5555".parse().unwrap());
        assert!(h.allows("127.0.0.1:5555"));
        assert!(!h.allows("localhost:5555"));
        assert!(!h.allows("127.0.0.1:5556"));
        assert_eq!(h.to_string(), "127.0.0.1:5555");
    }

    #[test]
    fn bad_entries_are_named_with_their_key() {
        for bad in [
            "",
            "  ",
            "http://example.com",
            "example.com/",
            "*.example.com",
            "*:8000",
            "exa mple.com",
            "example.com:",
            "example.com:70000",
            "[::1",
            "[nope]",
            ".[::1]",
            ".",
        ] {
            let err = AllowedHosts::parse(&[bad]).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("ALLOWED_HOSTS: "), "{bad:?}: {text}");
            assert!(text.contains(&format!("{bad:?}")), "{bad:?}: {text}");
        }
        let err = AllowedHosts::parse::<&str>(&[]).unwrap_err();
        assert!(err.to_string().contains("ALLOWED_HOSTS"), "{err}");
        // Normalised for display: lower case, no trailing dot.
        assert_eq!(
            hosts(&["Example.COM.", ".Sub.Example.com:81", "[0::1]"]).to_string(),
            "example.com, .sub.example.com:81, [::1]"
        );
    }

    #[test]
    fn origins_are_exact_and_normalised() {
        let allowed =
            AllowedOrigin::parse_list(&["https://App.example.com", "http://localhost:3000"])
                .unwrap();
        for ok in [
            "https://app.example.com",
            "https://app.example.com:443",
            "HTTPS://APP.EXAMPLE.COM",
            "http://localhost:3000",
        ] {
            assert!(origin_allowed(&allowed, ok), "{ok}");
        }
        for no in [
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://evil.example.com",
            "https://app.example.com.evil",
            "http://localhost:3001",
            "http://localhost",
            "null",
            "",
            "https://app.example.com/",
            "app.example.com",
        ] {
            assert!(!origin_allowed(&allowed, no), "{no}");
        }
        let custom =
            AllowedOrigin::parse_list(&["tauri://localhost", "http://[::1]:8080"]).unwrap();
        assert_eq!(custom[0].as_str(), "tauri://localhost");
        assert!(origin_allowed(&custom, "http://[0::1]:8080"));
    }

    #[test]
    fn bad_origins_are_named_with_their_key_and_the_reason() {
        for (bad, says) in [
            ("https://example.com/", "trailing slash"),
            ("https://example.com/app", "path"),
            ("https://example.com?x", "query"),
            ("https://example.com#x", "fragment"),
            ("example.com", "scheme"),
            ("https://", "host"),
            ("https://user@example.com", "user"),
            ("null", "Origin: null"),
            ("*", "scheme://host"),
            ("1http://x", "scheme"),
            ("https://exa mple.com", "host"),
        ] {
            let err = AllowedOrigin::parse_list(&[bad]).unwrap_err().to_string();
            assert!(err.starts_with("CORS_ALLOWED_ORIGINS: "), "{bad}: {err}");
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
