//! Random bytes for secrets, keys, nonces and ids, from the system's secure random source.
//!
//! A failing source is an error the caller must handle: silently carrying on would hand out an
//! all-zero key or id.

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};

/// The system's secure random source failed (it has no entropy to give). Callers map it to
/// their operation's `Unknown` case (through `anyhow`), so the request fails with a 5xx or the
/// record is retried, and nothing is created with a predictable secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system's secure random source is unavailable")]
pub struct RandomUnavailable;

/// `N` bytes from the system's secure random source.
///
/// # Errors
/// [`RandomUnavailable`] when the source fails.
pub fn bytes<const N: usize>() -> Result<[u8; N], RandomUnavailable> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|_| RandomUnavailable)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_draws_differ() {
        // 2^-256 chance of a false failure.
        let (first, second) = (bytes::<32>(), bytes::<32>());
        assert!(matches!((first, second), (Ok(a), Ok(b)) if a != b));
    }

    #[test]
    fn a_draw_is_not_all_zeros() {
        assert!(bytes::<16>().is_ok_and(|b| b != [0; 16]));
    }

    #[test]
    fn the_error_says_what_failed_and_becomes_an_unknown_error() {
        assert_eq!(RandomUnavailable.to_string(), "the system's secure random source is unavailable");
        let unknown = anyhow::Error::from(RandomUnavailable);
        assert_eq!(unknown.downcast_ref::<RandomUnavailable>(), Some(&RandomUnavailable));
    }
}
