//! Password hashing with argon2id.
//!
//! Stored as PHC strings, so a hash made under older parameters still
//! verifies after the parameters change. A login for a user that does not
//! exist verifies against a dummy hash made with the same parameters, so an
//! unknown username costs the same time as a wrong password.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{AuthError, Result};
use crate::settings::Settings;

/// Longest password accepted: argon2 takes any length, but a megabyte of
/// password per request is a cheap denial of service.
pub const MAX_PASSWORD_BYTES: usize = 1024;

pub struct PasswordHasher {
    argon: Argon2<'static>,
    dummy: String,
    min_len: usize,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.argon.params();
        f.debug_struct("PasswordHasher")
            .field("m_cost_kib", &p.m_cost())
            .field("t_cost", &p.t_cost())
            .field("p_cost", &p.p_cost())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        let params = Params::new(
            settings.ARGON2_MEMORY_KIB,
            settings.ARGON2_ITERATIONS,
            settings.ARGON2_PARALLELISM,
            None,
        )
        .map_err(|e| AuthError::Hash(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut hasher = PasswordHasher {
            argon,
            dummy: String::new(),
            min_len: settings.PASSWORD_MIN_LENGTH,
        };
        hasher.dummy = hasher.hash_unchecked("warden-dummy-password-for-timing")?;
        Ok(hasher)
    }

    /// Checks the password rules, then hashes.
    pub fn hash(&self, password: &str, username: &str) -> Result<String> {
        self.check_policy(password, username)?;
        self.hash_unchecked(password)
    }

    fn hash_unchecked(&self, password: &str) -> Result<String> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| AuthError::Hash(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AuthError::Hash(e.to_string()))
    }

    /// True when `password` matches the PHC string. A malformed stored hash is a
    /// mismatch (logged by the caller), never an error the user sees.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        if password.len() > MAX_PASSWORD_BYTES {
            // Still spend the time, so length does not become an oracle.
            let _ = self.verify_phc(
                password.get(..MAX_PASSWORD_BYTES).unwrap_or(""),
                &self.dummy,
            );
            return false;
        }
        self.verify_phc(password, phc)
    }

    /// Spends the time of one verification against a hash that matches nothing.
    pub fn verify_dummy(&self, password: &str) {
        let cut = password
            .get(..MAX_PASSWORD_BYTES.min(password.len()))
            .unwrap_or("");
        let _ = self.verify_phc(cut, &self.dummy);
    }

    fn verify_phc(&self, password: &str, phc: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => self
                .argon
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// True when the stored hash was made with other parameters than today's.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        let now = self.argon.params();
        parsed.algorithm.as_str() != "argon2id"
            || params.m_cost() != now.m_cost()
            || params.t_cost() != now.t_cost()
            || params.p_cost() != now.p_cost()
    }

    pub fn check_policy(&self, password: &str, username: &str) -> Result<()> {
        let chars = password.chars().count();
        if chars < self.min_len {
            return Err(AuthError::invalid(
                "password",
                format!(
                    "This password is too short. It must contain at least {} characters.",
                    self.min_len
                ),
            ));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(AuthError::invalid(
                "password",
                format!(
                    "This password is too long. It must be at most {MAX_PASSWORD_BYTES} bytes."
                ),
            ));
        }
        if !username.is_empty() && password.eq_ignore_ascii_case(username) {
            return Err(AuthError::invalid(
                "password",
                "The password is too similar to the username.",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        // Tests of the logic use small parameters; the OWASP parameters are
        // exercised by the engine suite and the benchmarks.
        PasswordHasher::from_settings(&Settings {
            ARGON2_MEMORY_KIB: 64,
            ARGON2_ITERATIONS: 1,
            ..Settings::default()
        })
        .unwrap()
    }

    #[test]
    fn hashes_are_argon2id_phc_and_verify() {
        let h = cheap();
        let phc = h.hash("correct horse", "alice").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(h.verify("correct horse", &phc));
        assert!(!h.verify("correct horsE", &phc));
        assert!(!h.verify("", &phc));
    }

    #[test]
    fn same_password_gets_a_new_salt_each_time() {
        let h = cheap();
        assert_ne!(
            h.hash("correct horse", "a").unwrap(),
            h.hash("correct horse", "a").unwrap()
        );
    }

    #[test]
    fn default_parameters_are_owasp() {
        let h = PasswordHasher::from_settings(&Settings::default()).unwrap();
        let phc = h.hash("correct horse", "bob").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!h.needs_rehash(&phc));
        assert!(cheap().needs_rehash(&phc));
    }

    #[test]
    fn malformed_stored_hash_is_a_mismatch_not_a_panic() {
        let h = cheap();
        assert!(!h.verify("x", "not a phc string"));
        assert!(!h.verify("x", ""));
        assert!(h.needs_rehash("garbage"));
    }

    #[test]
    fn oversized_password_never_verifies() {
        let h = cheap();
        let long = "a".repeat(MAX_PASSWORD_BYTES + 1);
        let phc = h.hash_unchecked(&long).unwrap();
        assert!(!h.verify(&long, &phc));
    }

    #[test]
    fn policy_names_the_problem() {
        let h = cheap();
        assert!(matches!(
            h.hash("short", "u"),
            Err(AuthError::InvalidInput {
                field: "password",
                ..
            })
        ));
        assert!(matches!(
            h.hash("Alice12345", "alice12345"),
            Err(AuthError::InvalidInput { .. })
        ));
        assert!(matches!(
            h.hash(&"x".repeat(MAX_PASSWORD_BYTES + 1), "u"),
            Err(AuthError::InvalidInput { .. })
        ));
    }
}
