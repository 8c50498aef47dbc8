//! A remote server as the sign-in form describes it: a URL and, for servers
//! that mount SimpleJWT elsewhere, the paths that differ and the header type.

use serde::{Deserialize, Serialize};
use warden_client::ClientConfig;

use crate::error::{Error, Result};

/// Empty strings mean "the default" (SimpleJWT's paths, `Bearer`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct RemoteServer {
    /// The base URL; empty means the embedded server.
    pub url: String,
    /// SimpleJWT's obtain-pair route.
    pub token_path: String,
    /// SimpleJWT's refresh route.
    pub refresh_path: String,
    /// SimpleJWT's verify route.
    pub verify_path: String,
    /// SimpleJWT's blacklist route.
    pub blacklist_path: String,
    /// The route that says who the token belongs to.
    pub me_path: String,
    /// `AUTH_HEADER_TYPES`' word (`Bearer`, `JWT`).
    pub header_type: String,
}

impl RemoteServer {
    /// Trims every field and checks it. `Ok(None)`: no URL, i.e. the
    /// embedded server.
    pub fn normalized(self) -> Result<Option<RemoteServer>> {
        let url = self.url.trim().to_string();
        if url.is_empty() {
            return Ok(None);
        }
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://"))
            || url.len() <= "http://".len()
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::InvalidUrl);
        }
        let url = if url.ends_with('/') {
            url
        } else {
            format!("{url}/")
        };
        let header_type = self.header_type.trim().to_string();
        if !header_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::InvalidHeaderType);
        }
        Ok(Some(RemoteServer {
            url,
            token_path: path(&self.token_path, "token")?,
            refresh_path: path(&self.refresh_path, "refresh")?,
            verify_path: path(&self.verify_path, "verify")?,
            blacklist_path: path(&self.blacklist_path, "blacklist")?,
            me_path: path(&self.me_path, "account")?,
            header_type,
        }))
    }

    /// The client configuration for this server: defaults, then overrides.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(self.url.clone());
        let set = |target: &mut String, value: &str| {
            if !value.is_empty() {
                *target = value.to_string();
            }
        };
        set(&mut config.paths.token, &self.token_path);
        set(&mut config.paths.token_refresh, &self.refresh_path);
        set(&mut config.paths.token_verify, &self.verify_path);
        set(&mut config.paths.token_blacklist, &self.blacklist_path);
        set(&mut config.paths.me, &self.me_path);
        set(&mut config.auth_header_type, &self.header_type);
        config
    }
}

/// A route relative to the server URL: no scheme, no leading slash, no
/// spaces; `""` keeps the default.
fn path(value: &str, what: &'static str) -> Result<String> {
    let p = value.trim().trim_start_matches('/');
    if p.contains("://")
        || p.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        return Err(Error::InvalidPath(what));
    }
    Ok(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(url: &str) -> RemoteServer {
        RemoteServer {
            url: url.into(),
            ..RemoteServer::default()
        }
    }

    #[test]
    fn empty_url_means_the_embedded_server() {
        assert_eq!(remote("  ").normalized().unwrap(), None);
    }

    #[test]
    fn urls_get_a_trailing_slash_and_bad_ones_are_refused() {
        let r = remote(" http://127.0.0.1:8000 ")
            .normalized()
            .unwrap()
            .unwrap();
        assert_eq!(r.url, "http://127.0.0.1:8000/");
        for bad in ["127.0.0.1:8000", "ftp://x/", "http://", "http://a b/"] {
            let e = remote(bad).normalized().unwrap_err();
            assert_eq!(e.code(), "invalid_url", "{bad}");
        }
    }

    #[test]
    fn custom_paths_and_header_type_reach_the_client_config() {
        let r = RemoteServer {
            url: "https://example.com/base".into(),
            token_path: "/auth/jwt/create/".into(),
            refresh_path: "auth/jwt/refresh/".into(),
            header_type: " JWT ".into(),
            ..RemoteServer::default()
        }
        .normalized()
        .unwrap()
        .unwrap();
        let c = r.client_config();
        assert_eq!(c.base_url, "https://example.com/base/");
        assert_eq!(c.paths.token, "auth/jwt/create/");
        assert_eq!(c.paths.token_refresh, "auth/jwt/refresh/");
        assert_eq!(c.paths.token_verify, "api/token/verify/", "default kept");
        assert_eq!(
            c.paths.token_blacklist, "api/token/blacklist/",
            "default kept"
        );
        assert_eq!(c.auth_header_type, "JWT");
    }

    #[test]
    fn bad_paths_and_header_types_are_refused() {
        let mut r = remote("https://example.com/");
        r.token_path = "https://evil.example/".into();
        assert_eq!(r.clone().normalized().unwrap_err().code(), "invalid_path");
        r.token_path = "api/token/?x=1".into();
        assert_eq!(r.clone().normalized().unwrap_err().code(), "invalid_path");
        let mut r = remote("https://example.com/");
        r.header_type = "Bearer x".into();
        assert_eq!(r.normalized().unwrap_err().code(), "invalid_header_type");
    }
}
