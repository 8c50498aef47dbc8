//! Identifiers: 128-bit ids written as 32 lowercase hex digits, the same form
//! as SimpleJWT's `uuid4().hex` jti. Random (UUID v4 bits), except the jti of
//! a token the store keeps: time-ordered (UUID v7 bits, [`Jti::time_ordered`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Exactly 32 hex digits (either case) as a u128. Every authenticated request
/// parses two of these (jti and session id): a shift per digit instead of
/// `u128::from_str_radix`'s checked multiply-add.
fn parse_hex128(s: &str) -> Option<u128> {
    if s.len() != 32 {
        return None;
    }
    s.bytes().try_fold(0u128, |acc, b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        Some((acc << 4) | u128::from(digit))
    })
}

/// `v` as 32 lowercase hex digits. Every rotation writes five ids into its
/// claims and audit line; `{:032x}` through the formatter cost ~3k
/// instructions of a rotation under callgrind (BENCHMARKS.md, issue 17).
fn hex128(v: u128) -> [u8; 32] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, digit) in out.iter_mut().enumerate() {
        let nibble = (v >> (124 - 4 * i)) & 0xf;
        *digit = DIGITS[nibble as usize];
    }
    out
}

macro_rules! id128 {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u128);

        impl $name {
            /// A fresh random id (UUID v4 bits), from the thread's CSPRNG
            /// (ChaCha, seeded and reseeded from the OS) instead of a
            /// `getrandom` system call per id.
            pub fn random() -> Self {
                let bytes: [u8; 16] = rand::random();
                $name(uuid::Builder::from_random_bytes(bytes).into_uuid().as_u128())
            }

            /// Parses exactly 32 lowercase or uppercase hex digits.
            pub fn parse(s: &str) -> Option<Self> {
                parse_hex128(s).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let digits = hex128(self.0);
                // ASCII by construction.
                f.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:032x})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                $name::parse(s).ok_or(InvalidId)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| serde::de::Error::custom("expected 32 hex digits"))
            }
        }
    };
}

id128!(
    /// A session (token family): every token minted from one login carries it as `sid`.
    SessionId
);
id128!(
    /// A token's unique id, the `jti` claim.
    Jti
);

impl Jti {
    /// A fresh jti for a token the store keeps (UUID v7 layout): the current
    /// Unix time in milliseconds in the top 48 bits, then 74 random bits from
    /// the thread's CSPRNG. New tokens then sort after the ones before them,
    /// so the SQLite store's jti index takes a commit's new tokens at its end,
    /// on one page, instead of one random page each (schema 7; BENCHMARKS.md,
    /// issue 17). The time it shows is the token's `iat` anyway; 74 random
    /// bits keep it unguessable and unique.
    pub fn time_ordered() -> Self {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let bytes: [u8; 10] = rand::random();
        Jti(uuid::Builder::from_unix_timestamp_millis(millis, &bytes)
            .into_uuid()
            .as_u128())
    }
}

/// Not 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected 32 hex digits")]
pub struct InvalidId;

/// Users are numbered, as Django's `auth.User`; tokens carry the number as a string.
pub type UserId = i64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_as_32_hex_digits() {
        let id = SessionId::random();
        let s = id.to_string();
        assert_eq!(s.len(), 32);
        assert_eq!(s.parse::<SessionId>().unwrap(), id);
        assert_eq!(Jti::parse(&"0".repeat(32)), Some(Jti(0)));
    }

    #[test]
    fn time_ordered_jtis_are_v7_uuids_that_sort_by_their_millisecond() {
        let first = Jti::time_ordered();
        let uuid = uuid::Uuid::from_u128(first.0);
        assert_eq!(uuid.get_version_num(), 7);
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let ms = (first.0 >> 80) as u64;
        assert!(ms <= now_ms && now_ms - ms < 60_000, "{ms} vs {now_ms}");
        // Distinct within a millisecond, and a later millisecond sorts later.
        let many: std::collections::HashSet<u128> =
            (0..10_000).map(|_| Jti::time_ordered().0).collect();
        assert_eq!(many.len(), 10_000);
        let start = first.0 >> 80;
        let later = loop {
            let j = Jti::time_ordered();
            if j.0 >> 80 > start {
                break j;
            }
            std::thread::yield_now();
        };
        assert!(later > first);
    }

    #[test]
    fn ids_print_as_the_formatter_would() {
        for v in [
            0,
            1,
            0xf,
            u128::MAX,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ] {
            assert_eq!(Jti(v).to_string(), format!("{v:032x}"));
        }
        for _ in 0..1000 {
            let id = SessionId::random();
            assert_eq!(id.to_string(), format!("{:032x}", id.0));
        }
    }

    #[test]
    fn ids_reject_other_shapes() {
        assert!(Jti::parse("").is_none());
        assert!(Jti::parse(&"g".repeat(32)).is_none());
        assert!(Jti::parse(&"a".repeat(31)).is_none());
        assert!(Jti::parse(&"a".repeat(33)).is_none());
        assert!(Jti::parse("+0000000000000000000000000000000").is_none());
        // 32 bytes but not 32 ASCII digits.
        assert!(Jti::parse("é000000000000000000000000000000").is_none());
        assert!(Jti::parse(" 0000000000000000000000000000000").is_none());
    }

    #[test]
    fn ids_parse_like_from_str_radix_in_either_case() {
        for _ in 0..200 {
            let id = Jti::random();
            let lower = format!("{:032x}", id.0);
            let upper = lower.to_ascii_uppercase();
            assert_eq!(Jti::parse(&lower), Some(id));
            assert_eq!(Jti::parse(&upper), Some(id));
            assert_eq!(u128::from_str_radix(&lower, 16).ok(), Some(id.0));
        }
        assert_eq!(Jti::parse(&"f".repeat(32)), Some(Jti(u128::MAX)));
        assert_eq!(
            Jti::parse("0123456789abcdefABCDEF0000000001"),
            Some(Jti(0x0123456789abcdefabcdef0000000001))
        );
    }
}
