//! Where a session's tokens come from: the [`TokenProvider`] the session
//! manager rotates through. [`Client`] (SimpleJWT and Warden servers) and
//! [`OpenIdProvider`](crate::oidc::OpenIdProvider) (OpenID Connect / OAuth 2.0
//! providers) implement it.

use std::future::Future;
use std::pin::Pin;

use crate::client::Client;
use crate::config::Feature;
use crate::error::Result;
use crate::jwt::Secret;

/// A boxed future (the trait is used as `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Tokens a sign-in or a refresh gave. `Debug` shows no token.
#[derive(Clone)]
pub struct Issued {
    /// The access token (a JWT, or opaque).
    pub access: String,
    /// The new refresh token; `None` keeps the one presented.
    pub refresh: Option<String>,
    /// The access token's lifetime in seconds, when the answer said.
    pub expires_in: Option<u64>,
    /// The refresh token's lifetime in seconds, when the answer said.
    pub refresh_expires_in: Option<u64>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("expires_in", &self.expires_in)
            .field("refresh", &self.refresh.is_some())
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish_non_exhaustive()
    }
}

/// What the session manager needs from a token issuer.
pub trait TokenProvider: Send + Sync + std::fmt::Debug {
    /// The key vault entries are stored under (a server's base URL, an issuer).
    fn key(&self) -> &str;

    /// Tokens may be opaque (not JWTs): their times come from `expires_in`.
    fn opaque_tokens(&self) -> bool {
        false
    }

    /// Whether the issuer is a Warden or SimpleJWT server, whose routes
    /// (sessions, staff, logout everywhere, password change) may exist; an
    /// OpenID provider has none of them.
    fn warden_routes(&self) -> bool {
        true
    }

    /// Records its requests into `client`'s timeline from now on (the
    /// session manager's), when they do not go through it already.
    fn attach_timeline(&self, _client: &Client) {}

    /// Who the access token belongs to, as the issuer's own endpoint says
    /// (an OpenID provider's userinfo): the name and the path asked.
    /// `None`: the issuer has no such endpoint besides Warden's `api/me/`.
    fn identity<'a>(&'a self, _access: &'a str) -> Option<BoxFuture<'a, Result<(String, String)>>> {
        None
    }

    /// The OpenID provider it is, when it is one (its ID token, its
    /// discovery, its browser logout).
    fn as_openid(&self) -> Option<&crate::oidc::OpenIdProvider> {
        None
    }

    /// Exchanges a refresh token.
    fn refresh<'a>(&'a self, refresh: &'a str) -> BoxFuture<'a, Result<Issued>>;

    /// Ends the session at the issuer (logout, blacklist, revocation).
    fn end<'a>(&'a self, access: Option<&'a str>, refresh: &'a str) -> BoxFuture<'a, Result<()>>;

    /// What goes into the vault for this refresh token.
    fn seal(&self, refresh: &Secret) -> Result<Secret> {
        Ok(refresh.clone())
    }

    /// The refresh token in what [`TokenProvider::seal`] stored.
    fn unseal(&self, stored: Secret) -> Result<Secret> {
        Ok(stored)
    }
}

impl TokenProvider for Client {
    fn key(&self) -> &str {
        self.base_url()
    }

    fn refresh<'a>(&'a self, refresh: &'a str) -> BoxFuture<'a, Result<Issued>> {
        Box::pin(async move {
            let r = Client::refresh(self, refresh).await?;
            Ok(Issued {
                access: r.access,
                refresh: r.refresh,
                expires_in: None,
                refresh_expires_in: None,
            })
        })
    }

    fn end<'a>(&'a self, access: Option<&'a str>, refresh: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let use_logout =
                access.is_some() && self.supports(Feature::Logout).await.unwrap_or(false);
            match (access, use_logout) {
                (Some(access), true) => self.logout(access, refresh).await,
                _ => self.blacklist(refresh).await,
            }
        })
    }
}
