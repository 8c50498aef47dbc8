//! `warden login --oidc ISSUER --client-id ID [--client-secret-stdin [--client-auth basic|post]]
//! [--resource URI] [--device]`: signs in at an
//! OpenID provider (authorization code + PKCE in the browser through a
//! loopback listener, or the device grant) and adds a profile for the
//! session, whose refresh token goes to the keyring; `warden token` then
//! rotates it through the provider's token endpoint.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use warden_client::oidc::{
    ClientAuth, OAuthErrorCode, OpenIdClient, OpenIdProvider, explain_oauth, system_browser,
};
use warden_client::{ClientError, KeyringVault, Secret, TokenProvider};
use warden_desktop::AppPaths;
use warden_desktop::openid::{ClientAuthChoice, OpenIdServer, add_profile};

/// What `warden login --oidc` was asked to do.
#[derive(Debug)]
pub struct OidcLoginOptions {
    pub issuer: String,
    pub client_id: String,
    pub client_secret_stdin: bool,
    pub client_auth: ClientAuthChoice,
    pub resource: Option<String>,
    pub device: bool,
    pub scopes: Vec<String>,
    pub dpop: bool,
    pub name: Option<String>,
}

fn explained(e: ClientError) -> anyhow::Error {
    match &e {
        ClientError::OAuth(o) => {
            let why = explain_oauth(o);
            anyhow!("{e}\n  why: {}\n  fix: {}", why.cause, why.fix)
        }
        _ => anyhow!(e),
    }
}

/// [`explained`], saying for an `invalid_client` how the secret was sent.
fn explained_for(client: &OpenIdClient, choice: ClientAuthChoice, e: ClientError) -> anyhow::Error {
    let sent = match (&e, client.config().auth) {
        (ClientError::OAuth(o), auth)
            if o.code == OAuthErrorCode::InvalidClient && auth != ClientAuth::None =>
        {
            let how = match choice {
                ClientAuthChoice::Automatic => "picked automatically from the provider's discovery",
                _ => "as asked with --client-auth",
            };
            Some(format!(
                "\n  sent: the secret with {} ({how})",
                auth.as_str()
            ))
        }
        _ => None,
    };
    let e = explained(e);
    match sent {
        Some(sent) => anyhow!("{e}{sent}"),
        None => e,
    }
}

/// A confidential client's secret: the first line of stdin.
fn read_client_secret() -> anyhow::Result<Secret> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the client secret from stdin")?;
    let secret = line.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        anyhow::bail!("no client secret on stdin (--client-secret-stdin)");
    }
    Ok(Secret::new(secret.to_string()))
}

pub async fn run(opts: OidcLoginOptions) -> anyhow::Result<ExitCode> {
    let client_secret = if opts.client_secret_stdin {
        Some(read_client_secret()?)
    } else {
        None
    };
    let server = OpenIdServer {
        issuer: opts.issuer.trim_end_matches('/').to_string(),
        client_id: opts.client_id,
        confidential: client_secret.is_some(),
        client_auth: opts.client_auth,
        scopes: opts.scopes,
        resource: opts.resource,
        dpop: opts.dpop,
    };
    let client = Arc::new(
        OpenIdClient::discover(server.config_with(client_secret.clone()))
            .await
            .map_err(explained)
            .with_context(|| format!("cannot use {} as an OpenID provider", server.issuer))?,
    );
    let signed = if opts.device {
        let device = client
            .device_start()
            .await
            .map_err(|e| explained_for(&client, server.client_auth, e))?;
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "To sign in, open {} and enter the code {}",
            device.verification_uri, device.user_code
        )?;
        if let Some(complete) = &device.verification_uri_complete {
            writeln!(err, "or open: {complete}")?;
        }
        drop(err);
        client
            .device_finish(&device)
            .await
            .map_err(|e| explained_for(&client, server.client_auth, e))?
    } else {
        eprintln!("Opening the browser to sign in at {} ...", server.issuer);
        client
            .sign_in_browser(Box::new(system_browser))
            .await
            .map_err(|e| explained_for(&client, server.client_auth, e))?
    };
    let refresh = signed.tokens.refresh_token.clone().ok_or_else(|| {
        anyhow!("the provider issued no refresh token (is offline_access allowed for this client?)")
    })?;
    let provider = OpenIdProvider::new(client.clone());
    // The ID token is kept with the session: the hint of a later logout.
    provider.set_id_token(signed.tokens.id_token.clone());
    let sealed = provider.seal(&Secret::new(refresh))?;
    let paths = AppPaths::from_env().context("cannot find the Warden app's data directory")?;
    let profile = add_profile(
        &paths,
        Arc::new(KeyringVault::new()),
        server,
        client_secret.as_ref(),
        &signed.subject,
        &sealed,
        opts.name.as_deref(),
    )
    .await?;
    println!(
        "Signed in as {} at {}; profile \"{}\" ({}). `warden token \"{}\"` gives its access token.",
        signed.subject,
        client.issuer(),
        profile.name,
        profile.id,
        profile.name
    );
    Ok(ExitCode::SUCCESS)
}
