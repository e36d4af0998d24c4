//! Password hashing (P12): argon2id with OWASP's minimum parameters (19 MiB, 2 iterations, 1
//! lane), a random 128-bit salt per password, stored as a PHC string (which carries the
//! parameters, so they can be raised later without breaking stored hashes).

use anyhow::Context as _;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use shared::domain::Secret;
use shared::kernel::random;

/// Shortest password accepted (NIST SP 800-63B allows 8; 12 resists guessing far better).
pub const MIN_LENGTH: usize = 12;
/// Longest password accepted (bounds the hashing work an attacker can ask for).
pub const MAX_LENGTH: usize = 128;

fn hasher() -> Argon2<'static> {
    // The parameters are constants within argon2's bounds; `default()` would be the same
    // algorithm with these very values, spelled out here because they are a promise.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Too short or too long.
    #[error("password must be {MIN_LENGTH} to {MAX_LENGTH} characters")]
    Length,
    /// The same as the email.
    #[error("password must not be the email address")]
    IsEmail,
}

/// Checks a new password against the policy.
///
/// # Errors
/// [`WeakPassword`].
pub fn check(password: &Secret, email: &str) -> Result<(), WeakPassword> {
    let length = password.expose().chars().count();
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        return Err(WeakPassword::Length);
    }
    if password.expose().eq_ignore_ascii_case(email) {
        return Err(WeakPassword::IsEmail);
    }
    Ok(())
}

/// The PHC string of `password`.
///
/// # Errors
/// When hashing fails (it does not with these parameters; the error is kept, not unwrapped).
pub fn hash(password: &Secret) -> anyhow::Result<String> {
    let salt = random::bytes::<16>().context("no randomness for a salt")?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = hasher()
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    Ok(hash.to_string())
}

/// True when `password` matches the stored PHC string (constant-time in the hash).
#[must_use]
pub fn verify(password: &Secret, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|hash| hasher().verify_password(password.expose().as_bytes(), &hash).is_ok())
}

/// Spends the time of one verification, for logins of unknown emails: the answer's timing must
/// not tell which emails have accounts.
pub fn verify_nothing(password: &Secret) {
    // A fixed valid hash of a random password.
    const DECOY: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Q2yqQ4xI5cQFj5c8Hq1t9w7r1b0rKqS2B0b4yq3n2E";
    let _ = verify(password, DECOY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let password = Secret::new("correct horse battery");
        let first = hash(&password).unwrap();
        let second = hash(&password).unwrap();

        assert!(first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{first}");
        assert_ne!(first, second, "a fresh salt each time");
        assert!(verify(&password, &first));
        assert!(!verify(&Secret::new("correct horse battery!"), &first));
        assert!(!verify(&password, "not a hash"));
    }

    #[test]
    fn the_policy_refuses_short_long_and_email_passwords() {
        assert_eq!(check(&Secret::new("short"), "a@b.c"), Err(WeakPassword::Length));
        assert_eq!(check(&Secret::new("x".repeat(129)), "a@b.c"), Err(WeakPassword::Length));
        assert_eq!(
            check(&Secret::new("Someone@Example.com"), "someone@example.com"),
            Err(WeakPassword::IsEmail)
        );
        assert_eq!(check(&Secret::new("a long enough passphrase"), "a@b.c"), Ok(()));
    }
}
