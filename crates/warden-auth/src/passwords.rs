//! Password hashing with argon2id.
//!
//! Stored as PHC strings, so a hash made under older parameters still
//! verifies after the parameters change. A login for a user that does not
//! exist verifies against a dummy hash made with the same parameters, so an
//! unknown username costs the same time as a wrong password.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use parking_lot::{Condvar, Mutex};
use subtle::ConstantTimeEq as _;

use crate::error::{AuthError, Result};
use crate::settings::Settings;

/// Longest password accepted: argon2 takes any length, but a megabyte of
/// password per request is a cheap denial of service.
pub(crate) const MAX_PASSWORD_BYTES: usize = 1024;

/// Argon2id hashing with the settings' cost, the password rules, and a
/// dummy hash so that an unknown user costs the same time as a wrong password.
pub struct PasswordHasher {
    argon: Argon2<'static>,
    dummy: String,
    min_len: usize,
    memory: MemoryPool,
}

/// The working memory of argon2 (`ARGON2_MEMORY_KIB` per computation: 19 MiB
/// at OWASP's parameters), at most one buffer per CPU, allocated once and
/// reused. Without it every login allocated and freed 19 MiB on whichever
/// blocking thread served it: a burst of N concurrent logins cost N × 19 MiB,
/// and the allocator's per-thread arenas kept it afterwards (16 concurrent
/// logins left `warden serve` at 300+ MiB resident for good; see BENCHMARKS.md).
/// More computations at once than CPUs would not finish sooner anyway, so
/// callers beyond that wait their turn.
struct MemoryPool {
    idle: Mutex<Vec<Vec<Block>>>,
    free_slots: Mutex<usize>,
    slot_freed: Condvar,
}

impl MemoryPool {
    fn new() -> MemoryPool {
        let slots = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        MemoryPool {
            idle: Mutex::new(Vec::new()),
            free_slots: Mutex::new(slots),
            slot_freed: Condvar::new(),
        }
    }

    /// Runs `f` with at least `blocks` blocks of working memory.
    fn with<T>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        {
            let mut free = self.free_slots.lock();
            while *free == 0 {
                self.slot_freed.wait(&mut free);
            }
            *free -= 1;
        }
        let mut buf = self.idle.lock().pop().unwrap_or_default();
        if buf.len() < blocks {
            buf.resize(blocks, Block::default());
        }
        let out = f(&mut buf[..blocks]);
        self.idle.lock().push(buf);
        *self.free_slots.lock() += 1;
        self.slot_freed.notify_one();
        out
    }
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
    /// A hasher with the settings' Argon2 parameters and password rules.
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
            memory: MemoryPool::new(),
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
        // Through the pool too: hashing allocates the same working memory.
        self.memory.with(0, |_| {
            self.argon
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AuthError::Hash(e.to_string()))
        })
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
    pub(crate) fn verify_dummy(&self, password: &str) {
        let cut = password
            .get(..MAX_PASSWORD_BYTES.min(password.len()))
            .unwrap_or("");
        let _ = self.verify_phc(cut, &self.dummy);
    }

    /// What `PasswordVerifier::verify_password` does (algorithm, version and
    /// parameters from the PHC string; constant-time comparison), with the
    /// working memory from the pool.
    fn verify_phc(&self, password: &str, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(v)) => v,
            Some(Err(_)) => return false,
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let blocks = params.block_count();
        let argon = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        let computed = self.memory.with(blocks, |memory| {
            argon
                .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
                .is_ok()
        });
        computed && bool::from(expected.as_bytes().ct_eq(&out))
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

    pub(crate) fn check_policy(&self, password: &str, username: &str) -> Result<()> {
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
    fn verifies_hashes_of_other_parameters_and_concurrent_callers() {
        // A hash made elsewhere (other parameters, the argon2 crate's own path)
        // verifies through the pooled path; the pool's buffer grows to fit.
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(256, 2, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = other
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        let h = cheap();
        assert!(h.verify("correct horse", &phc));
        assert!(!h.verify("correct horse!", &phc));
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw pw pw pw", &salt)
        .unwrap()
        .to_string();
        assert!(h.verify("pw pw pw pw", &argon2i));
        assert!(!h.verify("pw pw pw pX", &argon2i));
        let h = std::sync::Arc::new(h);
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let h = std::sync::Arc::clone(&h);
                let phc = phc.clone();
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        assert!(h.verify("correct horse", &phc));
                        assert!(!h.verify(&format!("wrong {i}"), &phc));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(h.memory.idle.lock().len() <= std::thread::available_parallelism().unwrap().get());
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
