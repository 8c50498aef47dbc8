//! Settings under SimpleJWT's names.
//!
//! Read from a TOML file whose keys are SimpleJWT's setting names, then
//! overridden by `WARDEN_<NAME>` environment variables, then checked by
//! [`Settings::validate`], whose error names the bad key. Durations are
//! integer seconds or humantime strings (`"6h"`, `"1day"`, `"90s"`).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rotation::MAX_GRACE_PERIOD;

/// The prefix of environment overrides: `WARDEN_ACCESS_TOKEN_LIFETIME=5m`.
pub(crate) const ENV_PREFIX: &str = "WARDEN_";

/// Signature algorithms Warden mints and accepts. `none` is not one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSA PKCS#1 v1.5 with SHA-256.
    RS256,
    /// RSA PKCS#1 v1.5 with SHA-384.
    RS384,
    /// RSA PKCS#1 v1.5 with SHA-512.
    RS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl Algorithm {
    /// Every algorithm.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The JOSE name, as in a token's `alg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Exact, case-sensitive match (`none`, `None`, `hs256` are not algorithms).
    pub fn parse(s: &str) -> Option<Algorithm> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// HMAC algorithms share one secret for signing and verifying.
    pub(crate) fn is_symmetric(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }

    /// Shortest HMAC secret accepted: the hash output size (RFC 7518 §3.2).
    pub(crate) fn min_secret_len(self) -> usize {
        match self {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => 0,
        }
    }
}

/// Which field a login form's `username` value is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginField {
    /// The username.
    Username,
    /// The e-mail address.
    Email,
    /// A value with `@` is an e-mail, anything else a username.
    UsernameOrEmail,
}

/// What the `user_id` claim carries (SimpleJWT's `USER_ID_FIELD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserIdField {
    /// The user's numeric id, as a string.
    Id,
    /// The username: looking a token's user up then reads the store.
    Username,
}

/// A duration written as seconds or as a humantime string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Secs(pub i64);

impl Secs {
    /// The seconds.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl Serialize for Secs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Secs(n)),
            Raw::Text(t) => parse_duration(&t)
                .map(Secs)
                .map_err(serde::de::Error::custom),
        }
    }
}

fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    let d: Duration = humantime::parse_duration(t).map_err(|e| {
        format!("`{t}` is not a duration ({e}); use seconds or e.g. \"5m\", \"6h\"")
    })?;
    i64::try_from(d.as_secs()).map_err(|_| format!("`{t}` is too long"))
}

/// Every setting, named as in SimpleJWT, plus Warden's own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(non_snake_case)]
pub struct Settings {
    /// How long an access token is valid.
    pub ACCESS_TOKEN_LIFETIME: Secs,
    /// How long a refresh token is valid.
    pub REFRESH_TOKEN_LIFETIME: Secs,
    /// A refresh also answers a new refresh token.
    pub ROTATE_REFRESH_TOKENS: bool,
    /// A rotated-away refresh token is refused (and its reuse detected).
    pub BLACKLIST_AFTER_ROTATION: bool,
    /// Accepted for SimpleJWT compatibility; Warden records every login's time regardless.
    pub UPDATE_LAST_LOGIN: bool,
    /// What new tokens are signed with.
    pub ALGORITHM: Algorithm,
    /// HMAC secret, or a PEM private key for RS/ES/EdDSA. Never logged.
    #[serde(serialize_with = "redact")]
    pub SIGNING_KEY: Option<String>,
    /// PEM public key for RS/ES/EdDSA (derived from the signing key when absent).
    pub VERIFYING_KEY: Option<String>,
    /// The `aud` minted into tokens and required of them.
    pub AUDIENCE: Option<String>,
    /// The `iss` minted into tokens and required of them.
    pub ISSUER: Option<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub LEEWAY: Secs,
    /// The words accepted before the token in `Authorization`.
    pub AUTH_HEADER_TYPES: Vec<String>,
    /// What the user claim carries.
    pub USER_ID_FIELD: UserIdField,
    /// The user claim's name.
    pub USER_ID_CLAIM: String,
    /// The token type claim's name.
    pub TOKEN_TYPE_CLAIM: String,
    /// The token id claim's name.
    pub JTI_CLAIM: String,
    /// Refuse the tokens of deactivated users.
    pub CHECK_USER_IS_ACTIVE: bool,
    /// How long a sliding token is valid as a credential.
    pub SLIDING_TOKEN_LIFETIME: Secs,
    /// How long a sliding token may be refreshed.
    pub SLIDING_TOKEN_REFRESH_LIFETIME: Secs,
    /// The claim holding a sliding token's refresh deadline.
    pub SLIDING_TOKEN_REFRESH_EXP_CLAIM: String,

    // --- Warden's own ---
    /// Seconds during which a retry of the immediately previous refresh token
    /// gets the same successor instead of tripping reuse detection. 0 = off (max 60).
    pub REFRESH_GRACE_PERIOD: Secs,
    /// Absolute session lifetime: rotation cannot keep a session alive longer.
    pub SESSION_MAX_LIFETIME: Secs,
    /// What the login form's `username` is matched against.
    pub LOGIN_FIELD: LoginField,
    /// Refuse login until the account's e-mail is verified.
    pub REQUIRE_VERIFIED_EMAIL: bool,
    /// Failed logins for one identifier from one client address within
    /// `LOCKOUT_WINDOW` that lock that identifier *from that address* for
    /// `LOCKOUT_DURATION`. The same identifier from another address is not
    /// stopped by it. 0 = failed logins are not counted at all (this and
    /// the two counters below are off).
    pub LOCKOUT_THRESHOLD: u32,
    /// The window failures are counted over (pair and address).
    pub LOCKOUT_WINDOW: Secs,
    /// How long a lock lasts, and the identifier ceiling's longest delay.
    pub LOCKOUT_DURATION: Secs,
    /// Failed logins for one identifier from all addresses (and all nodes)
    /// within `LOCKOUT_IDENTIFIER_WINDOW` after which every further attempt
    /// from an address the account has not signed in from must wait a delay
    /// that doubles with each failure (1 s, 2 s, 4 s, ... up to
    /// `LOCKOUT_DURATION`): distributed guessing is slowed, not walled; 0 = off.
    pub LOCKOUT_IDENTIFIER_CEILING: u32,
    /// The window the identifier's failures are counted over.
    pub LOCKOUT_IDENTIFIER_WINDOW: Secs,
    /// Failed logins from one address across all identifiers within
    /// `LOCKOUT_WINDOW` that block that address for `LOCKOUT_DURATION`
    /// (except for accounts that signed in from it before); 0 = off.
    pub LOCKOUT_ADDRESS_THRESHOLD: u32,
    /// SimpleJWT's "blacklist when the user is locked out": a lock from
    /// failed logins also ends every session of the account. Off by default:
    /// anyone who knows a username could then end its sessions at will.
    pub LOCKOUT_REVOKES_SESSIONS: bool,
    /// Longest token accepted, in bytes, before any parsing.
    pub MAX_TOKEN_BYTES: usize,
    /// Shortest password accepted for new passwords.
    pub PASSWORD_MIN_LENGTH: usize,
    /// argon2id cost (OWASP: 19 MiB, 2 passes, 1 lane).
    pub ARGON2_MEMORY_KIB: u32,
    /// argon2id passes.
    pub ARGON2_ITERATIONS: u32,
    /// argon2id lanes.
    pub ARGON2_PARALLELISM: u32,
}

fn redact<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("<redacted>"),
        None => s.serialize_none(),
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ACCESS_TOKEN_LIFETIME: Secs(6 * 3600),
            REFRESH_TOKEN_LIFETIME: Secs(24 * 3600),
            ROTATE_REFRESH_TOKENS: true,
            BLACKLIST_AFTER_ROTATION: true,
            UPDATE_LAST_LOGIN: false,
            ALGORITHM: Algorithm::HS256,
            SIGNING_KEY: None,
            VERIFYING_KEY: None,
            AUDIENCE: None,
            ISSUER: None,
            LEEWAY: Secs(0),
            AUTH_HEADER_TYPES: vec!["Bearer".into(), "JWT".into()],
            USER_ID_FIELD: UserIdField::Id,
            USER_ID_CLAIM: "user_id".into(),
            TOKEN_TYPE_CLAIM: "token_type".into(),
            JTI_CLAIM: "jti".into(),
            CHECK_USER_IS_ACTIVE: true,
            SLIDING_TOKEN_LIFETIME: Secs(5 * 60),
            SLIDING_TOKEN_REFRESH_LIFETIME: Secs(24 * 3600),
            SLIDING_TOKEN_REFRESH_EXP_CLAIM: "refresh_exp".into(),
            REFRESH_GRACE_PERIOD: Secs(0),
            SESSION_MAX_LIFETIME: Secs(30 * 24 * 3600),
            LOGIN_FIELD: LoginField::Username,
            REQUIRE_VERIFIED_EMAIL: false,
            LOCKOUT_THRESHOLD: 5,
            LOCKOUT_WINDOW: Secs(15 * 60),
            LOCKOUT_DURATION: Secs(15 * 60),
            LOCKOUT_IDENTIFIER_CEILING: 20,
            LOCKOUT_IDENTIFIER_WINDOW: Secs(24 * 3600),
            LOCKOUT_ADDRESS_THRESHOLD: 100,
            LOCKOUT_REVOKES_SESSIONS: false,
            MAX_TOKEN_BYTES: 8 * 1024,
            PASSWORD_MIN_LENGTH: 8,
            ARGON2_MEMORY_KIB: 19 * 1024,
            ARGON2_ITERATIONS: 2,
            ARGON2_PARALLELISM: 1,
        }
    }
}

/// A bad setting, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The settings file could not be read.
    #[error("cannot read settings file {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What the file system said.
        message: String,
    },
    /// A setting's value is not allowed (alone or with the others).
    #[error("{key}: {message}")]
    Invalid {
        /// The setting.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The file is not TOML of known settings.
    #[error("settings file: {0}")]
    Syntax(String),
}

fn invalid(key: &str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Names of the settings, in declaration order, for overrides and error messages.
pub(crate) fn setting_names() -> Vec<String> {
    // Optional settings serialise only when set, so set them all for the census.
    let all = Settings {
        SIGNING_KEY: Some(String::new()),
        VERIFYING_KEY: Some(String::new()),
        AUDIENCE: Some(String::new()),
        ISSUER: Some(String::new()),
        ..Settings::default()
    };
    match toml::Value::try_from(all) {
        Ok(toml::Value::Table(t)) => t.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

impl Settings {
    /// Parses TOML text (keys are SimpleJWT's names) over the defaults.
    pub fn from_toml_str(text: &str) -> Result<Settings, SettingsError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| SettingsError::Syntax(e.message().to_string()))?;
        Self::from_table(table)
    }

    /// Applies `WARDEN_*` overrides from `env` to an already parsed table (for
    /// callers whose config file holds more than the engine's settings), and validates.
    pub fn load_table(
        mut table: toml::Table,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let known = setting_names();
        for (k, v) in env {
            if let Some(name) = k.strip_prefix(ENV_PREFIX)
                && known.iter().any(|n| n == name)
            {
                table.insert(name.to_string(), env_value(name, &v)?);
            }
        }
        let settings = Self::from_table(table)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Reads the file (if given), applies `WARDEN_*` overrides from `env`, and validates.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let table = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| SettingsError::Io {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| SettingsError::Syntax(e.message().to_string()))?
            }
            None => toml::Table::new(),
        };
        Self::load_table(table, env)
    }

    fn from_table(table: toml::Table) -> Result<Settings, SettingsError> {
        // Deserialise key by key so an error names the key it is about.
        let defaults = match toml::Value::try_from(Settings::default()) {
            Ok(toml::Value::Table(t)) => t,
            _ => return Err(SettingsError::Syntax("defaults do not serialise".into())),
        };
        let known = setting_names();
        for (key, value) in &table {
            if !known.iter().any(|k| k == key) {
                return Err(invalid(key, "unknown setting"));
            }
            let mut probe = defaults.clone();
            probe.insert(key.clone(), value.clone());
            if let Err(e) = toml::Value::Table(probe).try_into::<Settings>() {
                return Err(invalid(key, e.message().to_string()));
            }
        }
        let mut merged = defaults;
        merged.extend(table);
        toml::Value::Table(merged)
            .try_into::<Settings>()
            .map_err(|e| SettingsError::Syntax(e.message().to_string()))
    }

    /// Checks every rule; the error names the first bad key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let positive = [
            ("ACCESS_TOKEN_LIFETIME", self.ACCESS_TOKEN_LIFETIME),
            ("REFRESH_TOKEN_LIFETIME", self.REFRESH_TOKEN_LIFETIME),
            ("SLIDING_TOKEN_LIFETIME", self.SLIDING_TOKEN_LIFETIME),
            (
                "SLIDING_TOKEN_REFRESH_LIFETIME",
                self.SLIDING_TOKEN_REFRESH_LIFETIME,
            ),
            ("SESSION_MAX_LIFETIME", self.SESSION_MAX_LIFETIME),
        ];
        for (key, v) in positive {
            if v.0 <= 0 {
                return Err(invalid(key, "must be longer than 0 seconds"));
            }
            if v.0 > 10 * 365 * 24 * 3600 {
                return Err(invalid(key, "must be at most 10 years"));
            }
        }
        if self.REFRESH_TOKEN_LIFETIME < self.ACCESS_TOKEN_LIFETIME {
            return Err(invalid(
                "REFRESH_TOKEN_LIFETIME",
                "must not be shorter than ACCESS_TOKEN_LIFETIME",
            ));
        }
        if self.SESSION_MAX_LIFETIME < self.REFRESH_TOKEN_LIFETIME {
            return Err(invalid(
                "SESSION_MAX_LIFETIME",
                "must not be shorter than REFRESH_TOKEN_LIFETIME",
            ));
        }
        if self.LEEWAY.0 < 0 || self.LEEWAY.0 > 300 {
            return Err(invalid("LEEWAY", "must be between 0 and 300 seconds"));
        }
        if self.REFRESH_GRACE_PERIOD.0 < 0 || self.REFRESH_GRACE_PERIOD.0 > MAX_GRACE_PERIOD {
            return Err(invalid(
                "REFRESH_GRACE_PERIOD",
                format!("must be between 0 and {MAX_GRACE_PERIOD} seconds"),
            ));
        }
        if self.REFRESH_GRACE_PERIOD.0 > 0 && !self.BLACKLIST_AFTER_ROTATION {
            return Err(invalid(
                "REFRESH_GRACE_PERIOD",
                "only makes sense with BLACKLIST_AFTER_ROTATION = true",
            ));
        }
        if self.AUTH_HEADER_TYPES.is_empty() {
            return Err(invalid("AUTH_HEADER_TYPES", "must name at least one type"));
        }
        for t in &self.AUTH_HEADER_TYPES {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(invalid(
                    "AUTH_HEADER_TYPES",
                    format!("`{t}` is not a single word"),
                ));
            }
        }
        let claims = [
            ("USER_ID_CLAIM", &self.USER_ID_CLAIM),
            ("TOKEN_TYPE_CLAIM", &self.TOKEN_TYPE_CLAIM),
            ("JTI_CLAIM", &self.JTI_CLAIM),
            (
                "SLIDING_TOKEN_REFRESH_EXP_CLAIM",
                &self.SLIDING_TOKEN_REFRESH_EXP_CLAIM,
            ),
        ];
        const RESERVED: [&str; 7] = ["exp", "iat", "nbf", "iss", "aud", "sid", "sub"];
        for (i, (key, name)) in claims.iter().enumerate() {
            if name.is_empty() {
                return Err(invalid(key, "must not be empty"));
            }
            if RESERVED.contains(&name.as_str()) {
                return Err(invalid(key, format!("`{name}` is a registered claim")));
            }
            if claims[..i].iter().any(|(_, other)| other == name) {
                return Err(invalid(key, format!("`{name}` is used by another claim")));
            }
        }
        match (&self.SIGNING_KEY, self.ALGORITHM.is_symmetric()) {
            (Some(k), true) if k.len() < self.ALGORITHM.min_secret_len() => {
                return Err(invalid(
                    "SIGNING_KEY",
                    format!(
                        "{} needs a secret of at least {} bytes",
                        self.ALGORITHM.as_str(),
                        self.ALGORITHM.min_secret_len()
                    ),
                ));
            }
            (Some(k), false) if !k.contains("-----BEGIN") => {
                return Err(invalid(
                    "SIGNING_KEY",
                    format!("{} needs a PEM private key", self.ALGORITHM.as_str()),
                ));
            }
            _ => {}
        }
        if self.VERIFYING_KEY.is_some() && self.ALGORITHM.is_symmetric() {
            return Err(invalid(
                "VERIFYING_KEY",
                "is for asymmetric algorithms; HMAC verifies with SIGNING_KEY",
            ));
        }
        if self.LOCKOUT_THRESHOLD > 0 {
            if self.LOCKOUT_WINDOW.0 <= 0 {
                return Err(invalid("LOCKOUT_WINDOW", "must be longer than 0 seconds"));
            }
            if self.LOCKOUT_DURATION.0 <= 0 {
                return Err(invalid("LOCKOUT_DURATION", "must be longer than 0 seconds"));
            }
            if self.LOCKOUT_IDENTIFIER_CEILING > 0 && self.LOCKOUT_IDENTIFIER_WINDOW.0 <= 0 {
                return Err(invalid(
                    "LOCKOUT_IDENTIFIER_WINDOW",
                    "must be longer than 0 seconds",
                ));
            }
        }
        if !(256..=1024 * 1024).contains(&self.MAX_TOKEN_BYTES) {
            return Err(invalid(
                "MAX_TOKEN_BYTES",
                "must be between 256 and 1048576",
            ));
        }
        if self.PASSWORD_MIN_LENGTH == 0 || self.PASSWORD_MIN_LENGTH > 1024 {
            return Err(invalid("PASSWORD_MIN_LENGTH", "must be between 1 and 1024"));
        }
        if self.ARGON2_MEMORY_KIB < 8 * self.ARGON2_PARALLELISM.max(1) {
            return Err(invalid(
                "ARGON2_MEMORY_KIB",
                "must be at least 8 KiB per lane",
            ));
        }
        if self.ARGON2_ITERATIONS == 0 {
            return Err(invalid("ARGON2_ITERATIONS", "must be at least 1"));
        }
        if self.ARGON2_PARALLELISM == 0 || self.ARGON2_PARALLELISM > 64 {
            return Err(invalid("ARGON2_PARALLELISM", "must be between 1 and 64"));
        }
        Ok(())
    }

    /// The longest any token can live: how long a retired signing key and a
    /// revocation entry must be kept.
    pub fn longest_token_lifetime(&self) -> i64 {
        [
            self.ACCESS_TOKEN_LIFETIME.0,
            self.REFRESH_TOKEN_LIFETIME.0,
            self.SLIDING_TOKEN_REFRESH_LIFETIME.0,
            self.SLIDING_TOKEN_LIFETIME.0,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
        .saturating_add(self.LEEWAY.0)
    }
}

/// An environment value as TOML: numbers, booleans and arrays as written,
/// anything else as a string (`WARDEN_ALGORITHM=RS256`, `WARDEN_LEEWAY=30s`).
fn env_value(key: &str, raw: &str) -> Result<toml::Value, SettingsError> {
    let doc = format!("v = {raw}");
    if let Ok(mut t) = doc.parse::<toml::Table>()
        && let Some(v) = t.remove("v")
    {
        return Ok(v);
    }
    if raw.trim_start().starts_with('[') {
        return Err(invalid(key, "is not a valid TOML array"));
    }
    Ok(toml::Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_reference_setup() {
        let s = Settings::default();
        assert_eq!(s.ACCESS_TOKEN_LIFETIME, Secs(6 * 3600));
        assert_eq!(s.REFRESH_TOKEN_LIFETIME, Secs(86_400));
        assert!(s.ROTATE_REFRESH_TOKENS && s.BLACKLIST_AFTER_ROTATION);
        assert_eq!(s.ALGORITHM, Algorithm::HS256);
        assert_eq!(s.AUTH_HEADER_TYPES, vec!["Bearer", "JWT"]);
        assert_eq!(s.USER_ID_CLAIM, "user_id");
        assert_eq!(s.TOKEN_TYPE_CLAIM, "token_type");
        assert_eq!(s.JTI_CLAIM, "jti");
        assert_eq!(s.REFRESH_GRACE_PERIOD, Secs(0));
        s.validate().unwrap();
    }

    #[test]
    fn toml_with_humantime_and_seconds() {
        let s = Settings::from_toml_str(
            "ACCESS_TOKEN_LIFETIME = \"5m\"\nREFRESH_TOKEN_LIFETIME = 7200\nALGORITHM = \"ES256\"",
        )
        .unwrap();
        assert_eq!(s.ACCESS_TOKEN_LIFETIME, Secs(300));
        assert_eq!(s.REFRESH_TOKEN_LIFETIME, Secs(7200));
        assert_eq!(s.ALGORITHM, Algorithm::ES256);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Settings::from_toml_str("ACCESS_LIFETIME = 5").unwrap_err();
        assert_eq!(
            e,
            SettingsError::Invalid {
                key: "ACCESS_LIFETIME".into(),
                message: "unknown setting".into()
            }
        );
    }

    #[test]
    fn wrong_type_is_named() {
        let e = Settings::from_toml_str("ROTATE_REFRESH_TOKENS = \"yes\"").unwrap_err();
        assert!(
            matches!(e, SettingsError::Invalid { ref key, .. } if key == "ROTATE_REFRESH_TOKENS"),
            "{e}"
        );
        let e = Settings::from_toml_str("ACCESS_TOKEN_LIFETIME = \"soon\"").unwrap_err();
        assert!(
            matches!(e, SettingsError::Invalid { ref key, .. } if key == "ACCESS_TOKEN_LIFETIME"),
            "{e}"
        );
        let e = Settings::from_toml_str("USER_ID_FIELD = \"pk\"").unwrap_err();
        assert!(
            matches!(e, SettingsError::Invalid { ref key, .. } if key == "USER_ID_FIELD"),
            "{e}"
        );
        assert_eq!(
            Settings::from_toml_str("USER_ID_FIELD = \"username\"")
                .unwrap()
                .USER_ID_FIELD,
            UserIdField::Username
        );
        let e = Settings::from_toml_str("ALGORITHM = \"none\"").unwrap_err();
        assert!(
            matches!(e, SettingsError::Invalid { ref key, .. } if key == "ALGORITHM"),
            "{e}"
        );
    }

    #[test]
    fn environment_overrides_file() {
        let dir = std::env::temp_dir().join(format!("warden-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("warden.toml");
        std::fs::write(&path, "ACCESS_TOKEN_LIFETIME = \"10m\"\nLEEWAY = 5\n").unwrap();
        let s = Settings::load(
            Some(&path),
            env(&[
                ("WARDEN_ACCESS_TOKEN_LIFETIME", "2m"),
                ("WARDEN_ROTATE_REFRESH_TOKENS", "false"),
                ("WARDEN_AUTH_HEADER_TYPES", "[\"Token\"]"),
                ("WARDEN_ALGORITHM", "HS512"),
                ("HOME", "/root"),
                ("WARDEN_NOT_A_SETTING", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(s.ACCESS_TOKEN_LIFETIME, Secs(120));
        assert_eq!(s.LEEWAY, Secs(5));
        assert!(!s.ROTATE_REFRESH_TOKENS);
        assert_eq!(s.AUTH_HEADER_TYPES, vec!["Token"]);
        assert_eq!(s.ALGORITHM, Algorithm::HS512);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_environment_value_is_named() {
        let e = Settings::load(None, env(&[("WARDEN_LOCKOUT_THRESHOLD", "many")])).unwrap_err();
        assert!(
            matches!(e, SettingsError::Invalid { ref key, .. } if key == "LOCKOUT_THRESHOLD"),
            "{e}"
        );
    }

    #[test]
    fn missing_file_is_reported_with_its_path() {
        let e = Settings::load(Some(Path::new("/nonexistent/warden.toml")), env(&[])).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/warden.toml"), "{e}");
    }

    fn key_of(s: Settings) -> String {
        match s.validate().unwrap_err() {
            SettingsError::Invalid { key, .. } => key,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn validate_names_each_bad_key() {
        let d = Settings::default;
        assert_eq!(
            key_of(Settings {
                ACCESS_TOKEN_LIFETIME: Secs(0),
                ..d()
            }),
            "ACCESS_TOKEN_LIFETIME"
        );
        assert_eq!(
            key_of(Settings {
                REFRESH_TOKEN_LIFETIME: Secs(60),
                ..d()
            }),
            "REFRESH_TOKEN_LIFETIME"
        );
        assert_eq!(
            key_of(Settings {
                SESSION_MAX_LIFETIME: Secs(3600),
                ..d()
            }),
            "SESSION_MAX_LIFETIME"
        );
        assert_eq!(
            key_of(Settings {
                LEEWAY: Secs(-1),
                ..d()
            }),
            "LEEWAY"
        );
        assert_eq!(
            key_of(Settings {
                REFRESH_GRACE_PERIOD: Secs(61),
                ..d()
            }),
            "REFRESH_GRACE_PERIOD"
        );
        assert_eq!(
            key_of(Settings {
                REFRESH_GRACE_PERIOD: Secs(5),
                BLACKLIST_AFTER_ROTATION: false,
                ..d()
            }),
            "REFRESH_GRACE_PERIOD"
        );
        assert_eq!(
            key_of(Settings {
                AUTH_HEADER_TYPES: vec![],
                ..d()
            }),
            "AUTH_HEADER_TYPES"
        );
        assert_eq!(
            key_of(Settings {
                AUTH_HEADER_TYPES: vec!["Bea rer".into()],
                ..d()
            }),
            "AUTH_HEADER_TYPES"
        );
        assert_eq!(
            key_of(Settings {
                JTI_CLAIM: "user_id".into(),
                ..d()
            }),
            "JTI_CLAIM"
        );
        assert_eq!(
            key_of(Settings {
                TOKEN_TYPE_CLAIM: "exp".into(),
                ..d()
            }),
            "TOKEN_TYPE_CLAIM"
        );
        assert_eq!(
            key_of(Settings {
                SIGNING_KEY: Some("short".into()),
                ..d()
            }),
            "SIGNING_KEY"
        );
        assert_eq!(
            key_of(Settings {
                ALGORITHM: Algorithm::RS256,
                SIGNING_KEY: Some("x".repeat(64)),
                ..d()
            }),
            "SIGNING_KEY"
        );
        assert_eq!(
            key_of(Settings {
                VERIFYING_KEY: Some("pem".into()),
                ..d()
            }),
            "VERIFYING_KEY"
        );
        assert_eq!(
            key_of(Settings {
                LOCKOUT_WINDOW: Secs(0),
                ..d()
            }),
            "LOCKOUT_WINDOW"
        );
        assert_eq!(
            key_of(Settings {
                MAX_TOKEN_BYTES: 10,
                ..d()
            }),
            "MAX_TOKEN_BYTES"
        );
        assert_eq!(
            key_of(Settings {
                ARGON2_ITERATIONS: 0,
                ..d()
            }),
            "ARGON2_ITERATIONS"
        );
    }

    #[test]
    fn optional_settings_load_from_file_and_environment() {
        let s = Settings::from_toml_str(
            "SIGNING_KEY = \"0123456789abcdef0123456789abcdef-file\"\nISSUER = \"https://issuer\"",
        )
        .unwrap();
        assert_eq!(
            s.SIGNING_KEY.as_deref(),
            Some("0123456789abcdef0123456789abcdef-file")
        );
        assert_eq!(s.ISSUER.as_deref(), Some("https://issuer"));
        let s = Settings::load(
            None,
            env(&[
                ("WARDEN_AUDIENCE", "api"),
                ("WARDEN_SIGNING_KEY", &"k".repeat(40)),
            ]),
        )
        .unwrap();
        assert_eq!(s.AUDIENCE.as_deref(), Some("api"));
        assert_eq!(s.SIGNING_KEY.map(|k| k.len()), Some(40));
        // Every field of Settings is a known name.
        assert_eq!(setting_names().len(), 36);
    }

    #[test]
    fn signing_key_is_redacted_when_serialised() {
        let s = Settings {
            SIGNING_KEY: Some("super-secret-value-that-is-long-enough!!".into()),
            ..Settings::default()
        };
        let text = toml::to_string(&s).unwrap();
        assert!(!text.contains("super-secret"), "{text}");
        assert!(text.contains("<redacted>"));
    }
}
