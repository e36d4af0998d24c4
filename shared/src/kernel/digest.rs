//! SHA-256 and HMAC-SHA-256, with hex forms for table keys, ids and signatures.
//!
//! The compression function is RustCrypto's `sha2::block_api::compress256` (SHA-NI and ARMv8
//! back ends; the crate the SDK signs every AWS request with); the padding (FIPS 180-4, 5.1.1)
//! and HMAC's two passes (RFC 2104) are written here, over the caller's bytes: whole blocks are
//! compressed where they lie and only a block's remainder is copied. On the webhook's hot path
//! (verify the body, hash two short ids per event) the `digest` crate's buffering and output
//! arrays were a sixth of the HMAC's time and most of an id's (docs/performance.md, "Webhook
//! against pywa"); aws-lc-rs's calling cost was higher still. The hot functions are `#[inline]`
//! so that they are compiled with their caller's optimisation (the webhook's `opt-level = 3`)
//! rather than this crate's size-first one. Checked against aws-lc for keys and messages on
//! every block edge, and for messages given in parts cut anywhere.

use sha2::block_api::compress256;
use zeroize::Zeroize as _;

use super::hex;

/// SHA-256's block: HMAC's key length.
const BLOCK: usize = 64;

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const INITIAL_STATE: [u32; 8] =
    [0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19];

/// A SHA-256 computation under way.
struct Sha256Run {
    state: [u32; 8],
    /// The bytes of a block not yet complete (`filled` of them, always fewer than a block).
    block: [u8; BLOCK],
    filled: usize,
    /// Bytes hashed so far, the blocks already in `state` included.
    length: u64,
}

impl Sha256Run {
    /// A run from `state`, which has hashed `blocks` whole blocks (HMAC's padded key: one).
    #[inline]
    fn from(state: [u32; 8], blocks: u64) -> Self {
        Self { state, block: [0; BLOCK], filled: 0, length: blocks * BLOCK as u64 }
    }

    #[inline]
    fn update(&mut self, mut bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len() as u64);
        if self.filled > 0 {
            let take = (BLOCK - self.filled).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            self.block[self.filled..self.filled + take].copy_from_slice(head);
            self.filled += take;
            bytes = rest;
            if self.filled < BLOCK {
                return;
            }
            compress256(&mut self.state, std::slice::from_ref(&self.block));
            self.filled = 0;
        }
        let (blocks, rest) = bytes.as_chunks::<BLOCK>();
        if !blocks.is_empty() {
            compress256(&mut self.state, blocks);
        }
        self.block[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    /// The digest: `0x80`, zeros, and the length in bits as the last 8 bytes of the last block.
    #[inline]
    fn finish(mut self) -> [u8; 32] {
        const LENGTH_AT: usize = BLOCK - 8;
        self.block[self.filled] = 0x80;
        self.block[self.filled + 1..].fill(0);
        if self.filled >= LENGTH_AT {
            compress256(&mut self.state, std::slice::from_ref(&self.block));
            self.block.fill(0);
        }
        // The length is taken modulo 2^64 bits, as the standard's 64-bit field holds it.
        self.block[LENGTH_AT..].copy_from_slice(&self.length.wrapping_mul(8).to_be_bytes());
        compress256(&mut self.state, std::slice::from_ref(&self.block));
        let mut digest = [0u8; 32];
        for (bytes, word) in digest.chunks_exact_mut(4).zip(self.state) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        digest
    }
}

/// SHA-256 of `bytes`.
#[must_use]
#[inline]
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    sha256_of_parts(&[bytes])
}

/// SHA-256 of the concatenation of `parts`, without concatenating them.
#[must_use]
#[inline]
pub fn sha256_of_parts<P: AsRef<[u8]>>(parts: &[P]) -> [u8; 32] {
    let mut run = Sha256Run::from(INITIAL_STATE, 0);
    for part in parts {
        run.update(part.as_ref());
    }
    run.finish()
}

/// Lowercase hex SHA-256 of `value` (64 digits), for hashed key parts and stored secret hashes.
#[must_use]
pub fn hex_sha256(value: &str) -> String {
    hex::encode(&sha256(value.as_bytes()))
}

/// An HMAC-SHA-256 key, prepared once for many messages: the states after the padded key's inner
/// and outer blocks (what a tag is computed from, so as secret as the key; cleared on drop).
/// Cannot be printed.
#[derive(Clone)]
pub struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(..)")
    }
}

impl Drop for HmacKey {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl HmacKey {
    /// A key of any length (HMAC hashes longer keys first, as the RFC says).
    #[must_use]
    pub fn new(key: &[u8]) -> Self {
        // The key as RFC 2104 reads it: hashed when longer than a block, then zero-padded to one.
        let mut padded = [0u8; BLOCK];
        if key.len() > BLOCK {
            padded[..32].copy_from_slice(&sha256(key));
        } else {
            padded[..key.len()].copy_from_slice(key);
        }
        let state_after = |pad: u8, padded: &[u8; BLOCK]| {
            let mut block = padded.map(|byte| byte ^ pad);
            let mut state = INITIAL_STATE;
            compress256(&mut state, std::slice::from_ref(&block));
            block.zeroize();
            state
        };
        let key = Self { inner: state_after(0x36, &padded), outer: state_after(0x5c, &padded) };
        padded.zeroize();
        key
    }

    /// The 32-byte tag of `message`.
    #[must_use]
    #[inline]
    pub fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut inner = Sha256Run::from(self.inner, 1);
        inner.update(message);
        let mut outer = Sha256Run::from(self.outer, 1);
        outer.update(&inner.finish());
        outer.finish()
    }

    /// True when `tag` is the tag of `message`, compared in constant time.
    #[must_use]
    #[inline]
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(&self.sign(message), tag).is_ok()
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

    #[test]
    fn a_message_in_parts_hashes_as_the_whole_wherever_it_is_cut() {
        for message_len in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 200] {
            // Arrange
            let message: Vec<u8> = (0..message_len).map(|i| u8::try_from(i % 239).unwrap_or(0)).collect();
            let whole = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &message);
            for first in 0..=message_len {
                for second in first..=message_len.min(first + 70) {
                    let parts = [&message[..first], &message[first..second], &[][..], &message[second..]];

                    // Act
                    let digest = sha256_of_parts(&parts);

                    // Assert
                    assert_eq!(
                        &digest[..],
                        whole.as_ref(),
                        "{message_len} bytes cut at {first} and {second}"
                    );
                }
            }
        }
    }
}
