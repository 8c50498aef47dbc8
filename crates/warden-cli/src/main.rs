//! `warden`: run the server, administer users and sessions, manage signing
//! keys and inspect tokens, each a thin adapter over
//! `warden_auth::AuthService` and the store; and hand the desktop app's
//! sessions to other programs (`token`, `exec`, `profiles`, over
//! `warden_desktop`).
#![forbid(unsafe_code)]

/// `println!` that does not panic when stdout is closed (`warden user list | head -1`):
/// output nobody reads is dropped.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod admin;
mod config;
mod decode;
mod keystore;
mod login;
mod oidc_login;
mod output;
mod serve;
mod tokens;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::config::Context;

#[derive(Debug, Parser)]
#[command(
    name = "warden",
    version,
    about = "Warden: a SimpleJWT-compatible session manager",
    propagate_version = true
)]
struct Cli {
    /// TOML config: SimpleJWT-named settings at the top level, an optional [server] table.
    #[arg(long, global = true, env = "WARDEN_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The database: a SQLite file, or a postgres:// URL for PostgreSQL (several
    /// nodes on one database). Default: WARDEN_DATABASE_URL, then [server]
    /// DATABASE, then <data dir>/warden/warden.db.
    #[arg(long, global = true, env = "WARDEN_DATABASE", value_name = "PATH|URL")]
    database: Option<PathBuf>,
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on (overrides [server] BIND; port 0 picks a free port).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Administer accounts (directly on the database; no server needed).
    #[command(subcommand)]
    User(UserCommand),
    /// List and revoke sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Manage the signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Remove expired tokens, sessions and revocations (SimpleJWT's flushexpiredtokens).
    Flush,
    /// Sign in to a server with warden-client and print the request timeline,
    /// refusals explained (tokens redacted); or, with --oidc, sign in at an
    /// OpenID provider and make it a profile (`warden token` then works for it).
    #[command(group(ArgGroup::new("target").args(["trace", "oidc"]).required(true).multiple(false)))]
    Login(LoginArgs),
    /// Show a token's header and claims, with warnings (nothing is trusted unless
    /// the signature is checked: --verify, --jwks, --key or --secret-env).
    #[command(group(ArgGroup::new("keys").args(["verify", "jwks", "key", "secret_env"]).multiple(false)))]
    Decode {
        /// The token, or `-` to read it from stdin.
        token: String,
        /// Also check the signature with the local signing keys.
        #[arg(long)]
        verify: bool,
        /// Check the signature with a JWK Set: an http(s) URL or a file.
        #[arg(long, value_name = "URL|FILE")]
        jwks: Option<String>,
        /// Check the signature with a PEM public key file.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Check the signature with the HMAC secret in this environment variable.
        #[arg(long, value_name = "VAR")]
        secret_env: Option<String>,
        /// Print the inspection as JSON (what the desktop app's inspector shows).
        #[arg(long)]
        json: bool,
    },
    /// Print a valid access token of a desktop app profile (rotated first when
    /// near expiry), from the running app, or without one from the keyring.
    Token {
        /// The profile's name or id; default: the app's active profile, else the only one.
        profile: Option<String>,
        /// Print JSON: the token, its expiry, the profile, server and user.
        #[arg(long)]
        json: bool,
        /// Rotate first, even when the current access token is still fresh.
        #[arg(long)]
        rotate: bool,
    },
    /// Run a command with a profile's access token in its environment;
    /// exits with the command's status.
    Exec {
        /// The profile's name or id; default: the app's active profile, else the only one.
        profile: Option<String>,
        /// The environment variable the token goes in.
        #[arg(long, value_name = "NAME", default_value = tokens::DEFAULT_ENV)]
        env: String,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// List the desktop app's profiles (`*` marks the active one).
    Profiles {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct LoginArgs {
    /// The server's base URL (Warden or SimpleJWT), e.g. http://127.0.0.1:8000/.
    #[arg(long, value_name = "URL", requires = "username")]
    trace: Option<String>,
    /// The account to sign in as (with --trace).
    username: Option<String>,
    /// Sign in at this OpenID Connect / OAuth 2.0 provider (issuer URL) in
    /// the browser ($BROWSER, else xdg-open), and add a profile for it.
    #[arg(
        long,
        value_name = "ISSUER",
        requires = "client_id",
        conflicts_with = "username"
    )]
    oidc: Option<String>,
    /// The client id registered at the provider (a public client unless
    /// --client-secret-stdin).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// With --oidc: a confidential client; its secret is read from stdin (one
    /// line; never an argument, which other users can read in /proc) and
    /// kept in the keyring with the profile. Sent as client_secret_basic, or
    /// client_secret_post when the provider only takes that (see --client-auth).
    #[arg(long, requires = "oidc")]
    client_secret_stdin: bool,
    /// With --client-secret-stdin: how the secret is sent on token, refresh
    /// and revocation requests: `basic` (client_secret_basic), `post`
    /// (client_secret_post, in the form) or `automatic` (the default: basic
    /// when the provider offers it, else post). Kept in the profile.
    #[arg(
        long,
        value_name = "METHOD",
        default_value = "automatic",
        value_parser = ["automatic", "basic", "post"],
        requires = "client_secret_stdin"
    )]
    client_auth: String,
    /// With --oidc: an RFC 8707 resource indicator, the API the access
    /// tokens are for (providers often issue them as JWTs for a resource).
    #[arg(long, value_name = "URI", requires = "oidc")]
    resource: Option<String>,
    /// With --oidc: the device authorization grant (a code to enter on any
    /// device) instead of a browser here; for SSH sessions.
    #[arg(long, requires = "oidc")]
    device: bool,
    /// With --oidc: a scope to ask for besides `openid offline_access` (repeatable).
    #[arg(long = "scope", value_name = "SCOPE", requires = "oidc")]
    scopes: Vec<String>,
    /// With --oidc: sender-constrained tokens (DPoP) when the provider offers
    /// them; such tokens are useless to programs that cannot make proofs.
    #[arg(long, requires = "oidc")]
    dpop: bool,
    /// With --oidc: the profile's name (default: `SUBJECT @ host`).
    #[arg(long, value_name = "NAME", requires = "oidc")]
    name: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "password_stdin")]
    password_env: Option<String>,
    /// Read the password from stdin (one line) instead of prompting.
    #[arg(long)]
    password_stdin: bool,
    /// The Authorization header type the server expects (AUTH_HEADER_TYPES).
    #[arg(long, default_value = "Bearer", value_name = "TYPE")]
    header_type: String,
    /// Rotate the refresh token once after signing in.
    #[arg(long)]
    refresh: bool,
    /// After --refresh, present the rotated-away refresh token again (watch it refused).
    #[arg(long, requires = "refresh")]
    replay: bool,
    /// Verify the access token with the server.
    #[arg(long)]
    verify: bool,
    /// Print each exchange as a curl command (tokens redacted).
    #[arg(long)]
    curl: bool,
}

#[derive(Debug, Args)]
struct PasswordSource {
    /// Read the password from stdin (one line) instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account.
    Add {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Give the account staff rights.
        #[arg(long)]
        staff: bool,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Set a new password; every session of the user ends.
    Passwd {
        username: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Lock an account (indefinitely unless --until or --for); its sessions end.
    #[command(group(ArgGroup::new("when").args(["until", "for_"]).multiple(false)))]
    Lock {
        username: String,
        /// Lock until this instant (RFC 3339, e.g. 2030-01-01T00:00:00Z).
        #[arg(long, value_name = "RFC3339")]
        until: Option<String>,
        /// Lock for this long (e.g. 1h, 30m, 2days).
        #[arg(long = "for", value_name = "DURATION")]
        for_: Option<String>,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Lift a lock, including failed-login lockouts.
    Unlock {
        username: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Deactivate an account; every session ends.
    Deactivate {
        username: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reactivate a deactivated account.
    Reactivate {
        username: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Grant or revoke staff rights.
    #[command(group(ArgGroup::new("change").args(["grant", "revoke"]).required(true)))]
    Staff {
        username: String,
        #[arg(long)]
        grant: bool,
        #[arg(long)]
        revoke: bool,
        #[arg(long)]
        reason: Option<String>,
    },
    /// List accounts.
    List {
        /// Only accounts whose username or e-mail contains this (case-insensitive).
        #[arg(long)]
        query: Option<String>,
    },
    /// Show one account.
    Show { username: String },
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// A user's sessions, newest first.
    List {
        username: String,
        /// Include revoked sessions.
        #[arg(long)]
        all: bool,
    },
    /// End one session (its refresh and access tokens are refused).
    Revoke { session_id: String },
    /// End every session of a user.
    RevokeAll { username: String },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// The signing keys: kid, algorithm, created, retired (never the secrets).
    List,
    /// Make a new signing key; the old one keeps verifying until its tokens expire.
    Rotate,
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        // One line, like every other failure; the payload never holds secrets
        // (nothing here formats a token or key into a panic).
        eprintln!("error: internal error: {info}");
    }));
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("warden")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // A keyring call stuck past its timeout must not hold the process open.
    runtime.shutdown_timeout(Duration::from_secs(1));
    let _ = std::io::stdout().flush();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, without repeating a cause that the
/// message above it already quotes.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

fn init_logging(format: LogFormat, verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second subscriber cannot be installed; there is only ever one here.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // The desktop app's sessions need no server configuration or database.
    match &cli.command {
        Command::Token {
            profile,
            json,
            rotate,
        } => {
            tokens::token(profile.as_deref(), *json, *rotate).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Exec {
            profile,
            env,
            command,
        } => return tokens::exec(profile.as_deref(), env, command).await,
        Command::Profiles { json } => {
            tokens::profiles(*json).await?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let ctx = Context::load(cli.config.as_deref(), cli.database.as_deref())?;
    match cli.command {
        Command::Serve { bind } => serve::run(ctx, bind).await?,
        Command::User(cmd) => user(ctx, cmd).await?,
        Command::Sessions(cmd) => sessions(ctx, cmd).await?,
        Command::Keys(KeysCommand::List) => keystore::list_command(&ctx).await?,
        Command::Keys(KeysCommand::Rotate) => keystore::rotate_command(&ctx).await?,
        Command::Flush => blocking(move || admin::flush(&ctx)).await?,
        Command::Login(args) => {
            if let (Some(issuer), Some(client_id)) = (args.oidc, args.client_id) {
                return oidc_login::run(oidc_login::OidcLoginOptions {
                    issuer,
                    client_id,
                    client_secret_stdin: args.client_secret_stdin,
                    client_auth: args.client_auth.parse().map_err(anyhow::Error::msg)?,
                    resource: args.resource,
                    device: args.device,
                    scopes: args.scopes,
                    dpop: args.dpop,
                    name: args.name,
                })
                .await;
            }
            let (Some(url), Some(username)) = (args.trace, args.username) else {
                anyhow::bail!(
                    "warden login needs --trace URL USERNAME, or --oidc ISSUER --client-id ID"
                );
            };
            return login::run(login::LoginOptions {
                url,
                username,
                password_env: args.password_env,
                password_stdin: args.password_stdin,
                header_type: args.header_type,
                refresh: args.refresh,
                replay: args.replay,
                verify: args.verify,
                curl: args.curl,
            })
            .await;
        }
        Command::Decode {
            token,
            verify,
            jwks,
            key,
            secret_env,
            json,
        } => {
            let keys = decode::KeySource {
                verify,
                jwks,
                key,
                secret_env,
            };
            return decode::run(&ctx, &token, keys, json).await;
        }
        Command::Token { .. } | Command::Exec { .. } | Command::Profiles { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

async fn user(ctx: Context, cmd: UserCommand) -> anyhow::Result<()> {
    use admin::Change;
    // Passwords are read here, on the main thread, before any database work.
    match cmd {
        UserCommand::Add {
            username,
            email,
            staff,
            password,
        } => {
            let password = admin::read_new_password(password.password_stdin)?;
            blocking(move || admin::add_user(&ctx, &username, email, staff, &password)).await
        }
        UserCommand::Passwd { username, password } => {
            let password = admin::read_new_password(password.password_stdin)?;
            blocking(move || admin::set_password(&ctx, &username, &password)).await
        }
        UserCommand::Lock {
            username,
            until,
            for_,
            reason,
        } => {
            let until = admin::lock_until(until.as_deref(), for_.as_deref())?;
            blocking(move || admin::change(&ctx, &username, Change::Lock(until), Some(&reason)))
                .await
        }
        UserCommand::Unlock { username, reason } => {
            blocking(move || admin::change(&ctx, &username, Change::Unlock, reason.as_deref()))
                .await
        }
        UserCommand::Deactivate { username, reason } => {
            blocking(move || {
                admin::change(&ctx, &username, Change::Active(false), reason.as_deref())
            })
            .await
        }
        UserCommand::Reactivate { username, reason } => {
            blocking(move || {
                admin::change(&ctx, &username, Change::Active(true), reason.as_deref())
            })
            .await
        }
        UserCommand::Staff {
            username,
            grant,
            revoke: _,
            reason,
        } => {
            blocking(move || {
                admin::change(&ctx, &username, Change::Staff(grant), reason.as_deref())
            })
            .await
        }
        UserCommand::List { query } => blocking(move || admin::list_users(&ctx, query)).await,
        UserCommand::Show { username } => blocking(move || admin::show_user(&ctx, &username)).await,
    }
}

async fn sessions(ctx: Context, cmd: SessionsCommand) -> anyhow::Result<()> {
    match cmd {
        SessionsCommand::List { username, all } => {
            blocking(move || admin::list_sessions(&ctx, &username, all)).await
        }
        SessionsCommand::Revoke { session_id } => {
            blocking(move || admin::revoke_session(&ctx, &session_id)).await
        }
        SessionsCommand::RevokeAll { username } => {
            blocking(move || admin::revoke_all(&ctx, &username)).await
        }
    }
}

/// Runs synchronous engine work (password hashing, SQLite) off the async workers.
async fn blocking<T, F>(work: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> anyhow::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| anyhow::anyhow!("internal error: {e}"))?
}
