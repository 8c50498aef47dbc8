//! Errors as the window shows them: the user's words first, the code second.
//! Each reaches the window as `{code, message}` (the code is stable, for the
//! window and for tests; the message is the Display text).

use std::path::PathBuf;

use warden_auth::inspect::InspectError;
use warden_client::{ClientError, JwksError, SignOutReason};
use warden_embedded::EmbeddedError;
use warden_proto::Reason;

/// Why a command failed, worded for the window's user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// What the server or the session manager answered.
    #[error("{}", client_words(.0))]
    Client(#[from] ClientError),
    /// A local account the embedded backend did not create.
    #[error("{}", account_words(.0))]
    Account(EmbeddedError),
    /// The embedded backend did not start, or cannot do what was asked.
    #[error("{0}")]
    Embedded(String),
    /// The engine's settings from the environment are not usable.
    #[error("Invalid WARDEN_* setting: {0}")]
    Settings(String),
    /// The app, or its local server, is not running yet; the text says which.
    #[error("{0}")]
    NotStarted(&'static str),
    /// The request cannot be carried out as made; the text says what to change.
    #[error("{0}")]
    Invalid(&'static str),
    /// A staff action without a reason.
    #[error("Say why: the reason goes into the audit log.")]
    ReasonRequired,
    /// The operation needs a session; the text says what to do.
    #[error("{0}")]
    NotSignedIn(&'static str),
    /// The fault lab's replay needs a refresh token that was rotated away.
    #[error("No refresh token was replaced yet: rotate once first.")]
    NoPreviousRefresh,
    /// The timeline dropped the exchange asked about.
    #[error("That exchange is no longer in the timeline.")]
    ExchangeGone,
    /// The inspector was given something that does not decode as a JWT.
    #[error("This is not a JWT that can be read: {source}")]
    Unreadable {
        /// Why, as the server would say it (`malformed`, `too_large`, ...).
        reason: Reason,
        /// What the decoder found.
        source: InspectError,
    },
    /// The JWKS URL gave no key set.
    #[error("{}", jwks_words(.0))]
    Jwks(#[from] JwksError),
    /// The sign-in form's server URL is not http(s).
    #[error(
        "The server URL must start with http:// or https:// (for example https://example.com/)."
    )]
    InvalidUrl,
    /// The sign-in form's header type is not one word.
    #[error("The header type is one word, such as Bearer or JWT.")]
    InvalidHeaderType,
    /// Which path of the sign-in form (`token`, `refresh`, ...).
    #[error("The {0} path must be a path on the server, such as auth/jwt/create/.")]
    InvalidPath(&'static str),
    /// The audit export could not write its file.
    #[error("Cannot write {}: {source}", path.display())]
    Export {
        /// The file it tried.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// Something that should not fail did (a task panicked, a name would not format).
    #[error("{0}")]
    Internal(String),
    /// A one-time step's failure (the app's start) told again to a later
    /// caller: its code and words, without the cause.
    #[error("{message}")]
    Repeated {
        /// The first failure's [`Error::code`].
        code: String,
        /// The first failure's text.
        message: String,
    },
    /// No profile exists yet (`warden token` before any sign-in).
    #[error("There are no profiles yet: sign in in the Warden app first.")]
    NoProfiles,
    /// No profile has that id or name.
    #[error("There is no profile named \"{name}\". Profiles: {}.", .known.join(", "))]
    UnknownProfile {
        /// What was asked for.
        name: String,
        /// Every profile, as `name (id)`.
        known: Vec<String>,
    },
    /// No profile was named and there is no default (or a name fits several).
    #[error("Name the profile: there are several ({}).", .known.join(", "))]
    AmbiguousProfile {
        /// Every profile, as `name (id)`.
        known: Vec<String>,
    },
    /// Another profile has that name.
    #[error("A profile named \"{0}\" exists already.")]
    NameTaken(String),
    /// The profile is there but nobody is signed in to it.
    #[error("Profile \"{profile}\" is not signed in{}. Sign in in the Warden app.", .reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default())]
    ProfileNotSignedIn {
        /// The profile's name.
        profile: String,
        /// Why its session ended, when it did.
        reason: Option<String>,
    },
    /// The embedded server runs inside the app: without it, no token of it is any use.
    #[error(
        "Profile \"{profile}\" signs in to the server inside the Warden app; start the app to get its tokens."
    )]
    NeedsApp {
        /// The profile's name.
        profile: String,
    },
    /// `profiles.json` is not what this version writes.
    #[error("{path} cannot be read: {message}")]
    UnreadableProfiles {
        /// The file.
        path: String,
        /// What the JSON reader said.
        message: String,
    },
    /// A file of the app's could not be read, written or locked.
    #[error("Cannot {action} {path}: {source}")]
    Io {
        /// What was tried (`read`, `write`, `lock`, ...).
        action: &'static str,
        /// The file or directory.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
    /// Another Warden process holds what was asked for and does not answer.
    #[error("{0}")]
    Busy(String),
    /// What the running app answered over its socket.
    #[error("{message}")]
    FromApp {
        /// The app's [`Error::code`].
        code: String,
        /// The app's words.
        message: String,
    },
    /// The running app's answer could not be understood.
    #[error("The Warden app answered something unexpected: {0}")]
    Protocol(String),
    /// Signed out here; the server is told once it can be reached.
    #[error("Signed out here. {0}")]
    Pending(String),
    /// Signed out here, but the server cannot be told (and never will be).
    #[error("Signed out here, but the server could not be told: {0}.")]
    NotRevoked(String),
    /// The desktop's notification server could not be reached.
    #[error("The desktop did not take the notification: {0}")]
    Notify(String),
}

/// The desktop core's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code the window and the tests match on.
    pub fn code(&self) -> &str {
        match self {
            Error::Client(e) => e.code(),
            Error::Account(EmbeddedError::Account(warden_auth::AuthError::Conflict(_))) => {
                "conflict"
            }
            Error::Account(EmbeddedError::Account(warden_auth::AuthError::InvalidInput {
                ..
            })) => "validation",
            Error::Account(_) | Error::Embedded(_) => "embedded",
            Error::Settings(_) => "settings",
            Error::NotStarted(_) => "not_started",
            Error::Invalid(_) => "invalid",
            Error::ReasonRequired => "reason_required",
            Error::NotSignedIn(_) => "not_signed_in",
            Error::NoPreviousRefresh => "no_previous",
            Error::ExchangeGone => "not_found",
            Error::Unreadable { reason, .. } => reason.as_str(),
            Error::Jwks(JwksError::NotHttp) | Error::InvalidUrl => "invalid_url",
            Error::Jwks(_) => "jwks",
            Error::InvalidHeaderType => "invalid_header_type",
            Error::InvalidPath(_) => "invalid_path",
            Error::Export { .. } => "export",
            Error::Internal(_) => "internal",
            Error::Repeated { code, .. } | Error::FromApp { code, .. } => code.as_str(),
            Error::NoProfiles => "no_profiles",
            Error::UnknownProfile { .. } => "unknown_profile",
            Error::AmbiguousProfile { .. } => "ambiguous_profile",
            Error::NameTaken(_) => "conflict",
            Error::ProfileNotSignedIn { .. } => "not_signed_in",
            Error::NeedsApp { .. } => "needs_app",
            Error::UnreadableProfiles { .. } => "unreadable_profiles",
            Error::Io { .. } => "io",
            Error::Busy(_) => "busy",
            Error::Protocol(_) => "protocol",
            Error::Pending(_) => "pending_revocation",
            Error::NotRevoked(_) => "not_revoked",
            Error::Notify(_) => "notify",
        }
    }

    /// This error as a later caller of the step that failed gets it.
    pub fn repeated(&self) -> Error {
        Error::Repeated {
            code: self.code().to_string(),
            message: self.to_string(),
        }
    }

    /// A file operation that failed, with the file.
    pub fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }

    /// A token the inspector cannot read.
    pub fn unreadable(e: InspectError) -> Error {
        Error::Unreadable {
            reason: e.reason(),
            source: e,
        }
    }

    /// Why the embedded backend refused a new account. An unexpected cause
    /// is logged here, once, since the window only shows its text.
    pub fn account(e: EmbeddedError) -> Error {
        use warden_auth::AuthError;
        if !matches!(
            e,
            EmbeddedError::Account(AuthError::Conflict(_) | AuthError::InvalidInput { .. })
        ) {
            tracing::warn!(error = %e, "the local account was not created");
        }
        Error::Account(e)
    }
}

/// What a failed command answers, as the window receives it (the
/// serialized form of [`Error`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "CommandError"))]
pub struct CommandError<'a> {
    /// Stable, for the window's logic and for tests (`not_signed_in`, ...).
    pub code: &'a str,
    /// The user's words: the error's Display text.
    pub message: String,
}

impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let body = CommandError {
            code: self.code(),
            message: self.to_string(),
        };
        serde::Serialize::serialize(&body, s)
    }
}

/// How a sign-out reason reads on the sign-in screen.
pub(crate) fn reason_words(reason: &SignOutReason) -> String {
    match reason {
        SignOutReason::LoggedOut => "You logged out.".into(),
        SignOutReason::Revoked { cause } => format!(
            "Your session was ended on another device (token_not_valid: {}).",
            cause.as_deref().unwrap_or("Token is blacklisted")
        ),
        SignOutReason::ReuseDetected => {
            "A copy of your refresh token was used elsewhere, so the session was ended to protect you (reuse_detected).".into()
        }
        SignOutReason::UserInactive => "Your account was deactivated (user_inactive).".into(),
        SignOutReason::UserNotFound => "Your account no longer exists (user_not_found).".into(),
        SignOutReason::RefreshExpired => "Your session expired; sign in again (token_not_valid: expired).".into(),
        SignOutReason::PasswordChanged => "Your password was changed, which ended this session (password_changed).".into(),
        SignOutReason::Rejected { message } => format!("The server ended the session ({message})."),
        SignOutReason::Provider { error, description } => match description {
            Some(d) => format!("The provider ended the session ({error}: {d}); sign in again."),
            None => format!("The provider ended the session ({error}); sign in again."),
        },
    }
}

/// What the server or the session manager said, in the user's words.
pub(crate) fn client_words(e: &ClientError) -> String {
    match e {
        ClientError::InvalidCredentials => "Wrong username or password.".to_string(),
        ClientError::LockedOut { retry_after } => format!(
            "Too many failed sign-ins from here: try again in {}.",
            wait(*retry_after)
        ),
        ClientError::Throttled { .. } => "Too many requests; wait a moment and retry.".into(),
        ClientError::Network { .. } | ClientError::Offline { .. } => {
            "The server cannot be reached. Check the address and your connection.".into()
        }
        ClientError::Vault(v) => format!("The keyring cannot be used: {v}"),
        ClientError::SignedOut(r) => reason_words(r),
        ClientError::NotSignedIn => "You are not signed in.".into(),
        ClientError::Validation(_) => format!("Please check the form: {e}"),
        ClientError::Unavailable(_) => {
            format!("This server does not offer that ({e}).")
        }
        other => capitalise(&other.to_string()),
    }
}

fn account_words(e: &EmbeddedError) -> String {
    use warden_auth::AuthError;
    match e {
        EmbeddedError::Account(AuthError::Conflict(message)) => {
            format!("{message} Choose another name, or sign in with that one.")
        }
        EmbeddedError::Account(AuthError::InvalidInput { field, message }) => {
            format!("Please check the form: {field}: {message}")
        }
        other => format!("The local server could not create the account: {other}"),
    }
}

fn jwks_words(e: &JwksError) -> String {
    match e {
        JwksError::NotHttp => "The JWKS URL must start with http:// or https://.".into(),
        JwksError::Fetch { source, .. } | JwksError::Read { source, .. } => {
            format!("Cannot fetch the JWKS: {source}")
        }
        JwksError::Status { status, .. } => format!("The JWKS URL answered {status}."),
        other => format!("{}.", capitalise(&other.to_string())),
    }
}

/// A wait as people say it: seconds under a minute, else whole minutes
/// (rounded up). Words, not [`warden_auth::inspect::span`]'s `5m`: this is a
/// sentence on the sign-in screen.
fn wait(secs: u64) -> String {
    if secs < 60 {
        return if secs <= 1 {
            "1 second".into()
        } else {
            format!("{secs} seconds")
        };
    }
    let m = secs.div_ceil(60);
    if m <= 1 {
        "1 minute".into()
    } else {
        format!("{m} minutes")
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_accounts_say_why() {
        use warden_auth::AuthError;
        let taken = Error::account(EmbeddedError::Account(AuthError::Conflict(
            "A user with that username already exists.".into(),
        )));
        assert_eq!(taken.code(), "conflict");
        assert_eq!(
            taken.to_string(),
            "A user with that username already exists. Choose another name, or sign in with that one."
        );
        let weak = Error::account(EmbeddedError::Account(AuthError::invalid(
            "password",
            "This password is too short. It must contain at least 8 characters.",
        )));
        assert_eq!(weak.code(), "validation");
        assert_eq!(
            weak.to_string(),
            "Please check the form: password: This password is too short. It must contain at least 8 characters."
        );
        let other = Error::account(EmbeddedError::Internal("boom".into()));
        assert_eq!(other.code(), "embedded");
    }

    #[test]
    fn lockout_says_minutes() {
        let e = Error::from(ClientError::LockedOut { retry_after: 290 });
        assert!(e.to_string().contains("5 minutes"), "{e}");
        let e = Error::from(ClientError::LockedOut { retry_after: 4 });
        assert!(e.to_string().contains("try again in 4 seconds"), "{e}");
        let e = Error::from(ClientError::InvalidCredentials);
        assert_eq!(e.to_string(), "Wrong username or password.");
    }

    #[test]
    fn the_window_gets_code_and_message() {
        let e = Error::from(ClientError::InvalidCredentials);
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"code": "invalid_credentials", "message": "Wrong username or password."})
        );
        let again = Error::Settings("LEEWAY: must be between 0 and 300 seconds".into()).repeated();
        assert_eq!(
            serde_json::to_value(&again).unwrap(),
            serde_json::json!({"code": "settings", "message": "Invalid WARDEN_* setting: LEEWAY: must be between 0 and 300 seconds"})
        );
        let e = Error::from(JwksError::NotHttp);
        assert_eq!(e.code(), "invalid_url");
        assert_eq!(
            e.to_string(),
            "The JWKS URL must start with http:// or https://."
        );
    }
}
