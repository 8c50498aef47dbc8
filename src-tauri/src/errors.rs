//! Errors as the window shows them: the user's words first, the code second.

use serde::Serialize;
use warden_client::{ClientError, SignOutReason};

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message} ({code})")]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CommandError {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

pub type CmdResult<T> = Result<T, CommandError>;

/// How a sign-out reason reads on the sign-in screen.
pub fn reason_words(reason: &SignOutReason) -> String {
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
    }
}

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> Self {
        let code = e.code();
        let message = match &e {
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
        };
        CommandError::new(code, message)
    }
}

/// Why the embedded backend refused a new account, as the sign-up form
/// shows it.
pub fn account_error(e: warden_embedded::EmbeddedError) -> CommandError {
    use warden_auth::AuthError;
    use warden_embedded::EmbeddedError;
    match e {
        EmbeddedError::Account(AuthError::Conflict(message)) => CommandError::new(
            "conflict",
            format!("{message} Choose another name, or sign in with that one."),
        ),
        EmbeddedError::Account(AuthError::InvalidInput { field, message }) => CommandError::new(
            "validation",
            format!("Please check the form: {field}: {message}"),
        ),
        other => {
            tracing::warn!(error = %other, "the local account was not created");
            CommandError::new(
                "embedded",
                format!("The local server could not create the account: {other}"),
            )
        }
    }
}

/// A wait as people say it: seconds under a minute, else whole minutes (rounded up).
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
        use warden_embedded::EmbeddedError;
        let taken = account_error(EmbeddedError::Account(AuthError::Conflict(
            "A user with that username already exists.".into(),
        )));
        assert_eq!(taken.code, "conflict");
        assert_eq!(
            taken.message,
            "A user with that username already exists. Choose another name, or sign in with that one."
        );
        let weak = account_error(EmbeddedError::Account(AuthError::invalid(
            "password",
            "This password is too short. It must contain at least 8 characters.",
        )));
        assert_eq!(weak.code, "validation");
        assert_eq!(
            weak.message,
            "Please check the form: password: This password is too short. It must contain at least 8 characters."
        );
        let other = account_error(EmbeddedError::Internal("boom".into()));
        assert_eq!(other.code, "embedded");
    }

    #[test]
    fn lockout_says_minutes() {
        let e = CommandError::from(ClientError::LockedOut { retry_after: 290 });
        assert!(e.message.contains("5 minutes"), "{}", e.message);
        let e = CommandError::from(ClientError::LockedOut { retry_after: 4 });
        assert!(
            e.message.contains("try again in 4 seconds"),
            "{}",
            e.message
        );
        let e = CommandError::from(ClientError::InvalidCredentials);
        assert_eq!(e.message, "Wrong username or password.");
    }
}
