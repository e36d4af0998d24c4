//! Bearer credentials, `<prefix>.<tenant>.<id>.<secret>`: the shape shared by API keys, refresh
//! tokens and invitations.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;

use super::ids::TenantId;
use super::secret::Secret;
use crate::kernel::digest::hex_sha256;
use crate::kernel::random::{self, RandomUnavailable};

/// The parts of a presented `<prefix>.<tenant>.<id>.<secret>` credential (API keys, refresh
/// tokens, invitations). The tenant and id let the API find the stored hash with one read.
#[derive(Clone)]
pub struct BearerParts {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The id of the key, session or user.
    pub id: String,
    /// The secret part.
    pub secret: Secret,
}

impl std::fmt::Debug for BearerParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BearerParts({}, {}, [redacted])", self.tenant_id, self.id)
    }
}

impl BearerParts {
    /// Splits a presented credential with `prefix`; `None` for anything else.
    #[must_use]
    pub fn parse(prefix: &str, presented: &str) -> Option<Self> {
        let mut parts = presented.split('.');
        let (Some(found), Some(tenant), Some(id), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if found != prefix || secret.is_empty() || secret.len() > 128 || id.is_empty() || id.len() > 64 {
            return None;
        }
        Some(Self {
            tenant_id: TenantId::parse(tenant).ok()?,
            id: id.to_owned(),
            secret: Secret::new(secret),
        })
    }

    /// A new credential with a 256-bit random secret.
    ///
    /// # Errors
    /// [`RandomUnavailable`] when the system has no randomness (never an all-zero secret).
    pub fn generate(tenant_id: TenantId, id: impl Into<String>) -> Result<Self, RandomUnavailable> {
        let bytes = random::bytes::<32>()?;
        Ok(Self { tenant_id, id: id.into(), secret: Secret::new(B64.encode(bytes)) })
    }

    /// The full credential, to hand out once.
    #[must_use]
    pub fn reveal(&self, prefix: &str) -> Secret {
        Secret::new(format!("{prefix}.{}.{}.{}", self.tenant_id, self.id, self.secret.expose()))
    }

    /// SHA-256 (hex) of the secret: what is stored. The secrets are 256 random bits, so a fast
    /// hash is enough (slow hashes are for guessable passwords).
    #[must_use]
    pub fn secret_sha256(&self) -> String {
        hex_sha256(self.secret.expose())
    }

    /// True when the secret's hash is `expected_hex`, compared in constant time.
    #[must_use]
    pub fn matches(&self, expected_hex: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            self.secret_sha256().as_bytes(),
            expected_hex.as_bytes(),
        )
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_credentials_round_trip_and_hide_their_secret() {
        let parts = BearerParts::generate(TenantId::parse("tn_1").expect("valid"), "ses_1").expect("random");
        let shown = parts.reveal("llr");
        let parsed = BearerParts::parse("llr", shown.expose()).expect("parses");

        assert!(parsed.matches(&parts.secret_sha256()));
        assert!(BearerParts::parse("llk", shown.expose()).is_none());
        assert!(!format!("{parsed:?}").contains(parts.secret.expose()));
    }

    #[test]
    fn two_credentials_have_different_secrets() {
        let tenant = TenantId::parse("tn_1").expect("valid");
        let (first, second) =
            (BearerParts::generate(tenant.clone(), "a"), BearerParts::generate(tenant, "a"));
        assert!(matches!((first, second), (Ok(a), Ok(b)) if a.secret_sha256() != b.secret_sha256()));
    }
}
