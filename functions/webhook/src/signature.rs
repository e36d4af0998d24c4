//! `X-Hub-Signature-256`: `sha256=` and the lowercase hex HMAC-SHA256 of the raw body, keyed
//! with the Meta app secret. Verified over the exact bytes received, before any parsing, in
//! constant time (P10).

use shared::kernel::digest::HmacKey;
use shared::kernel::hex;

/// The header Meta signs with.
pub const HEADER: &str = "x-hub-signature-256";

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header.
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("X-Hub-Signature-256 must be sha256=<64 hex digits>")]
    Malformed,
    /// The HMAC does not match the body.
    #[error("X-Hub-Signature-256 does not match the body")]
    Mismatch,
}

/// Checks `header` against the HMAC of `body` under `secret`.
///
/// # Errors
/// [`SignatureError`] saying what is wrong.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    verify_with(&HmacKey::new(secret), body, header)
}

/// [`verify`] with the key prepared once ([`HmacKey::new`] hashes the padded key: work the
/// handler does once per process rather than once per webhook).
///
/// # Errors
/// [`SignatureError`] saying what is wrong.
pub fn verify_with(key: &HmacKey, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let digits = header.trim().strip_prefix("sha256=").ok_or(SignatureError::Malformed)?;
    let tag = hex::decode::<32>(digits).ok_or(SignatureError::Malformed)?;
    if key.verify(body, &tag) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header value Meta would send for `body` (for tests, the local stack and tools).
#[must_use]
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex::encode(&HmacKey::new(secret).sign(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_meta_style_signatures() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[]}]}"#;
        let header = sign(b"s3cret", body);
        assert!(header.starts_with("sha256=") && header.len() == 71);
        assert_eq!(verify(b"s3cret", body, Some(&header)), Ok(()));
        assert_eq!(verify(b"other", body, Some(&header)), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"s3cret", b"{}", Some(&header)), Err(SignatureError::Mismatch));
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        assert_eq!(verify(b"k", b"{}", None), Err(SignatureError::Missing));
        assert_eq!(verify(b"k", b"{}", Some("sha1=abc")), Err(SignatureError::Malformed));
        assert_eq!(verify(b"k", b"{}", Some("sha256=zz")), Err(SignatureError::Malformed));
        let not_hex = format!("sha256={}", "g".repeat(64));
        assert_eq!(verify(b"k", b"{}", Some(&not_hex)), Err(SignatureError::Malformed));
    }
}
