//! Blind indexing: how a person is found by phone number, BSUID or email without the table
//! holding anything that can be computed from the identifier alone.
//!
//! Phone numbers are few enough to enumerate, so a plain hash of one is as good as the number.
//! Every contact id and lookup entry is instead an HMAC-SHA-256 of the identifier under a
//! random per-tenant key ([`BlindIndex`]), which is itself stored only sealed by KMS. The same
//! person gets the same id within a tenant and unrelated ids across tenants.

use super::inbox::ContactKey;
use crate::kernel::digest::HmacKey;
use crate::kernel::hex;

/// A tenant's blind-index key. Cannot be printed.
#[derive(Clone)]
pub struct BlindIndex(HmacKey);

impl std::fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndex(..)")
    }
}

impl BlindIndex {
    /// The index under a 256-bit key.
    #[must_use]
    pub fn new(key: &[u8; 32]) -> Self {
        Self(HmacKey::new(key))
    }

    /// The keyed hash of one identifier, as 64 hex digits. `kind` separates the namespaces, so
    /// an email and a BSUID that happen to be the same string hash differently.
    #[must_use]
    pub fn hash(&self, kind: &str, value: &str) -> String {
        hex::encode(&self.0.sign(format!("{kind}:{value}").as_bytes()))
    }

    /// The keyed hash of a contact key, with its kind (`phone`, `bsuid`, `email`).
    #[must_use]
    pub fn hash_key(&self, key: &ContactKey) -> (&'static str, String) {
        let (kind, value) = key.kind_and_value();
        (kind, self.hash(kind, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PhoneNumber;

    #[test]
    fn the_same_identifier_hashes_alike_in_a_tenant_and_otherwise_in_the_next() {
        // Arrange
        let phone = ContactKey::Phone(PhoneNumber::parse("5511988887777").expect("valid"));
        let ours = BlindIndex::new(&[7; 32]);
        let theirs = BlindIndex::new(&[8; 32]);

        // Act
        let (kind, hash) = ours.hash_key(&phone);

        // Assert
        assert_eq!(kind, "phone");
        assert_eq!(hash, ours.hash_key(&phone).1);
        assert_ne!(hash, theirs.hash_key(&phone).1);
        assert!(!hash.contains("5511988887777"));
        assert_ne!(hash, ours.hash_key(&ContactKey::UserId("5511988887777".into())).1);
    }

    #[test]
    fn the_hash_is_not_the_unkeyed_hash_of_the_number() {
        // Arrange: what anyone could compute from the number alone.
        let digits = "5511988887777";
        let unkeyed = crate::kernel::digest::hex_sha256(&format!("phone:{digits}"));
        let index = BlindIndex::new(&[7; 32]);

        // Act
        let (_, hash) = index.hash_key(&ContactKey::Phone(PhoneNumber::parse(digits).expect("valid")));

        // Assert
        assert_ne!(unkeyed, hash);
    }

    #[test]
    fn the_key_cannot_be_printed() {
        assert_eq!(format!("{:?}", BlindIndex::new(&[1; 32])), "BlindIndex(..)");
    }
}
