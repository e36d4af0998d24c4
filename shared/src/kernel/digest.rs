//! SHA-256 and HMAC-SHA-256 (aws-lc-rs), with hex forms for table keys, ids and signatures.

use aws_lc_rs::{digest, hmac};

use super::hex;

/// SHA-256 of `bytes`.
#[must_use]
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// Lowercase hex SHA-256 of `value` (64 digits), for hashed key parts and stored secret hashes.
#[must_use]
pub fn hex_sha256(value: &str) -> String {
    hex::encode(&sha256(value.as_bytes()))
}

/// An HMAC-SHA-256 key, prepared once for many messages. Cannot be printed.
#[derive(Clone)]
pub struct HmacKey(hmac::Key);

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(..)")
    }
}

impl HmacKey {
    /// A key of any length (HMAC hashes longer keys first, as the RFC says).
    #[must_use]
    pub fn new(key: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    /// The 32-byte tag of `message`.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&self.0, message).as_ref());
        out
    }

    /// True when `tag` is the tag of `message`, compared in constant time.
    #[must_use]
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.0, message, tag).is_ok()
    }
}

/// The HMAC-SHA-256 tag of `message` under `key`.
#[must_use]
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    HmacKey::new(key).sign(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_vector() {
        assert_eq!(hex_sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(hex::encode(&sha256(b"abc")), hex_sha256("abc"));
    }

    #[test]
    fn hmac_matches_rfc_4231_and_verifies_only_its_own_tags() {
        // RFC 4231, test case 2.
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(&tag), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

        let key = HmacKey::new(b"Jefe");
        assert!(key.verify(b"what do ya want for nothing?", &tag));
        assert!(!key.verify(b"what do ya want for something?", &tag));
        assert!(!key.verify(b"what do ya want for nothing?", &tag[..31]));
        assert_eq!(format!("{key:?}"), "HmacKey(..)");
    }
}
