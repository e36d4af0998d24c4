//! SHA-256 and HMAC-SHA-256, with hex forms for table keys, ids and signatures.
//!
//! RustCrypto's `sha2` and `hmac` (SHA-NI and ARMv8 back ends), the crates the SDK signs every AWS
//! request with. aws-lc-rs would do as well but for its calling cost on the webhook's hot path:
//! its C helpers, built for size, were a sixth of the webhook's verify-and-split time and the
//! HMAC 15 % slower (docs/performance.md, "Webhook against pywa").

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroize as _;

use super::hex;

/// SHA-256's block: HMAC's key length.
const BLOCK: usize = 64;

/// SHA-256 of `bytes`.
#[must_use]
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lowercase hex SHA-256 of `value` (64 digits), for hashed key parts and stored secret hashes.
#[must_use]
pub fn hex_sha256(value: &str) -> String {
    hex::encode(&sha256(value.as_bytes()))
}

/// An HMAC-SHA-256 key, prepared once for many messages (the padded key's two blocks hashed
/// once). Cannot be printed.
#[derive(Clone)]
pub struct HmacKey(Hmac<Sha256>);

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(..)")
    }
}

impl HmacKey {
    /// A key of any length (HMAC hashes longer keys first, as the RFC says).
    #[must_use]
    pub fn new(key: &[u8]) -> Self {
        // The key as RFC 2104 reads it: hashed when longer than a block, then zero-padded to one
        // (so the constructor takes a block and cannot fail).
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..32].copy_from_slice(&sha256(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mac = Hmac::new(&block.into());
        block.zeroize();
        Self(mac)
    }

    /// The 32-byte tag of `message`.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// True when `tag` is the tag of `message`, compared in constant time.
    #[must_use]
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.verify_slice(tag).is_ok()
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

    #[test]
    fn a_key_longer_than_a_block_is_hashed_first() {
        // RFC 4231, test case 6: a 131-byte key.
        let tag = hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex::encode(&tag), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn the_same_tags_and_hashes_as_aws_lc_for_every_key_and_message_length() {
        // Keys of 0 to 130 bytes (below, at and above a block) and messages across block edges.
        for key_len in [0, 1, 20, 63, 64, 65, 130] {
            let key: Vec<u8> = (0..key_len).map(|i| u8::try_from(i % 251).unwrap_or(0)).collect();
            for message_len in [0, 1, 55, 56, 63, 64, 65, 593, 1000] {
                let message: Vec<u8> = (0..message_len).map(|i| u8::try_from(i % 241).unwrap_or(0)).collect();
                let expected = aws_lc_rs::hmac::sign(
                    &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key),
                    &message,
                );
                assert_eq!(
                    &hmac_sha256(&key, &message)[..],
                    expected.as_ref(),
                    "key {key_len}, message {message_len}"
                );
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &message);
                assert_eq!(&sha256(&message)[..], digest.as_ref(), "message {message_len}");
            }
        }
    }
}
