//! [`Vault`]'s contract: what is sealed opens under the same context, and only under it; an
//! altered envelope is refused.

use super::tenant;
use crate::domain::ports::{EncryptionContext, OpenError, Purpose, Vault};

/// A fresh tenant's context for `purpose`.
fn context(purpose: Purpose) -> EncryptionContext {
    EncryptionContext { tenant_id: tenant(), purpose }
}

/// Sealed then opened under the same context gives the plaintext back; the envelope holds no
/// plaintext.
pub async fn sealed_opens_under_the_same_context<V: Vault>(vault: &V) {
    let context = context(Purpose::WhatsAppAccessToken);

    let sealed = vault.seal(&context, b"EAAG-contract-token").await.unwrap();
    let opened = vault.open(&context, &sealed).await.unwrap();

    assert_eq!(opened.expose(), b"EAAG-contract-token");
    assert!(!sealed.encode().contains("EAAG"));
}

/// Another tenant, or another purpose of the same tenant, is refused.
pub async fn another_tenant_or_purpose_is_refused<V: Vault>(vault: &V) {
    let context = context(Purpose::PageAccessToken);
    let sealed = vault.seal(&context, b"page-token").await.unwrap();

    let as_other = vault.open(&EncryptionContext { tenant_id: tenant(), ..context.clone() }, &sealed).await;
    let as_other_purpose = vault
        .open(&EncryptionContext { purpose: Purpose::IntegrationSecret, ..context.clone() }, &sealed)
        .await;

    assert!(matches!(as_other, Err(OpenError::Refused)), "{as_other:?}");
    assert!(matches!(as_other_purpose, Err(OpenError::Refused)), "{as_other_purpose:?}");
    assert_eq!(vault.open(&context, &sealed).await.unwrap().expose(), b"page-token", "still opens");
}

/// An altered ciphertext, nonce or wrapped key is refused.
pub async fn an_altered_envelope_is_refused<V: Vault>(vault: &V) {
    let context = context(Purpose::IntegrationSecret);
    let sealed = vault.seal(&context, b"sk-contract-secret").await.unwrap();
    let mut ciphertext = sealed.clone();
    ciphertext.ciphertext[0] ^= 1;
    let mut nonce = sealed.clone();
    nonce.nonce[0] ^= 1;
    let mut wrapped = sealed.clone();
    let last = wrapped.wrapped_key.len() - 1;
    wrapped.wrapped_key[last] ^= 1;

    for (what, altered) in [("ciphertext", ciphertext), ("nonce", nonce), ("wrapped key", wrapped)] {
        let opened = vault.open(&context, &altered).await;
        assert!(matches!(opened, Err(OpenError::Refused)), "{what}: {opened:?}");
    }
}

/// Every check of the suite.
pub async fn all<V: Vault>(vault: &V) {
    sealed_opens_under_the_same_context(vault).await;
    another_tenant_or_purpose_is_refused(vault).await;
    an_altered_envelope_is_refused(vault).await;
}
