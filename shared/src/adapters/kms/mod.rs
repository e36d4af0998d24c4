//! Envelope encryption with KMS: a 256-bit data key from `GenerateDataKey`, AES-256-GCM over the
//! secret, and the wrapped data key stored beside the ciphertext. The encryption context
//! `{tenant_id, purpose}` binds the wrapped key in KMS (KMS refuses to unwrap it under another
//! context, and CloudTrail records who asked) and is the AEAD's associated data as well.
//!
//! Plaintext data keys are cached in memory with bounded age and use ([`cache`]), so that a hot
//! path (the `send` function decrypting the same tenant token for every message) makes about one
//! KMS call per tenant per cache period.

pub mod cache;
pub mod keyring;

use anyhow::Context as _;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use aws_sdk_kms::Client;
use zeroize::Zeroizing;

pub use cache::{CachePolicy, DataKeyCache, KeyCache};
pub use keyring::{Keyring, KmsCalls};

use crate::domain::ports::{EncryptionContext, OpenError, SealError, Vault};
use crate::domain::secret::Sealed;
use crate::domain::SecretBytes;
use crate::kernel::random;

/// The encryption context keys, as KMS and CloudTrail see them.
const CONTEXT_TENANT: &str = "tenant_id";
const CONTEXT_PURPOSE: &str = "purpose";

/// The AEAD associated data for `context`: the same binding as the KMS context.
fn associated_data(context: &EncryptionContext) -> Vec<u8> {
    format!("leadline/v1;tenant_id={};purpose={}", context.tenant_id, context.purpose.as_str()).into_bytes()
}

/// AES-256-GCM under `key` with a fresh random nonce: (nonce, ciphertext followed by the tag).
///
/// # Errors
/// When the key is not 32 bytes or the system has no randomness.
pub(crate) fn aead_seal(key: &[u8], aad: &[u8], plaintext: &[u8]) -> anyhow::Result<([u8; 12], Vec<u8>)> {
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| anyhow::anyhow!("bad data key length"))?,
    );
    let nonce = random::bytes::<12>()?;
    let mut ciphertext = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut ciphertext)
        .map_err(|_| anyhow::anyhow!("AES-GCM seal failed"))?;
    Ok((nonce, ciphertext))
}

/// Opens what [`aead_seal`] sealed; `None` when the tag does not verify (wrong key, wrong
/// associated data, or tampering).
pub(crate) fn aead_open(key: &[u8], aad: &[u8], nonce: [u8; 12], ciphertext: &[u8]) -> Option<SecretBytes> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    let plaintext =
        key.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut buffer).ok()?;
    Some(SecretBytes::new(plaintext.to_vec()))
}

/// Encrypts with a plaintext data key.
///
/// # Errors
/// When the key is not 32 bytes or the system has no randomness.
pub fn seal_with(
    key: &[u8],
    wrapped_key: Vec<u8>,
    context: &EncryptionContext,
    plaintext: &[u8],
) -> anyhow::Result<Sealed> {
    let (nonce, ciphertext) = aead_seal(key, &associated_data(context), plaintext)?;
    Ok(Sealed { wrapped_key, nonce, ciphertext })
}

/// Decrypts with a plaintext data key; `None` when the tag does not verify (wrong key, wrong
/// context, or tampering).
#[must_use]
pub fn open_with(key: &[u8], context: &EncryptionContext, sealed: &Sealed) -> Option<SecretBytes> {
    aead_open(key, &associated_data(context), sealed.nonce, &sealed.ciphertext)
}

/// [`Vault`] on KMS, with a data-key cache.
#[derive(Debug)]
pub struct KmsVault {
    client: Client,
    key_id: String,
    cache: DataKeyCache,
    /// Held while a cache miss is filled: concurrent opens of a cold key wait for the first
    /// one's KMS call instead of each making their own (misses are rare: one per tenant and
    /// cache period).
    filling: tokio::sync::Mutex<()>,
}

impl KmsVault {
    /// A vault using the KMS key `key_id` (id, ARN or `alias/…`).
    #[must_use]
    pub fn new(client: Client, key_id: impl Into<String>, policy: CachePolicy) -> Self {
        Self {
            client,
            key_id: key_id.into(),
            cache: DataKeyCache::new(policy),
            filling: tokio::sync::Mutex::new(()),
        }
    }

    fn context_pairs(context: &EncryptionContext) -> [(&'static str, &str); 2] {
        [(CONTEXT_TENANT, context.tenant_id.as_str()), (CONTEXT_PURPOSE, context.purpose.as_str())]
    }
}

/// A fresh 256-bit data key from KMS under `context` (pairs of the encryption context):
/// the plaintext and the wrapped form.
///
/// # Errors
/// When KMS fails or answers with something that is not a 256-bit key.
pub(crate) async fn generate_data_key(
    client: &Client,
    key_id: &str,
    context: &[(&str, &str)],
) -> anyhow::Result<(Zeroizing<[u8; 32]>, Vec<u8>)> {
    let mut request = client.generate_data_key().key_id(key_id).key_spec(DataKeySpec::Aes256);
    for (name, value) in context {
        request = request.encryption_context(*name, *value);
    }
    let output = request.send().await.context("KMS GenerateDataKey failed")?;
    let plaintext = output.plaintext.context("KMS returned no plaintext data key")?;
    let wrapped = output.ciphertext_blob.context("KMS returned no wrapped data key")?;
    let key: [u8; 32] = plaintext
        .as_ref()
        .try_into()
        .map_err(|_| anyhow::anyhow!("KMS returned a data key that is not 256 bits"))?;
    Ok((Zeroizing::new(key), wrapped.into_inner()))
}

/// Unwraps a data key KMS wrapped under `context`.
///
/// # Errors
/// [`OpenError::Refused`] when KMS will never unwrap it under this context; `Unknown` otherwise.
pub(crate) async fn decrypt_data_key(
    client: &Client,
    key_id: &str,
    wrapped: &[u8],
    context: &[(&str, &str)],
) -> Result<Zeroizing<[u8; 32]>, OpenError> {
    let mut request = client.decrypt().key_id(key_id).ciphertext_blob(Blob::new(wrapped));
    for (name, value) in context {
        request = request.encryption_context(*name, *value);
    }
    let output = match request.send().await {
        Ok(output) => output,
        Err(e) => {
            return Err(match e.into_service_error() {
                // AWS answers InvalidCiphertext for a context mismatch; moto answers
                // AccessDenied for a blob it cannot parse. Neither can succeed on retry.
                DecryptError::InvalidCiphertextException(_)
                | DecryptError::IncorrectKeyException(_)
                | DecryptError::InvalidKeyUsageException(_) => OpenError::Refused,
                other if other.meta().code() == Some("AccessDeniedException") => OpenError::Refused,
                other => OpenError::Unknown(anyhow::Error::new(other).context("KMS Decrypt failed")),
            });
        }
    };
    let plaintext = output.plaintext.ok_or_else(|| anyhow::anyhow!("KMS returned no plaintext"))?;
    let key: [u8; 32] = plaintext
        .as_ref()
        .try_into()
        .map_err(|_| anyhow::anyhow!("KMS returned a data key that is not 256 bits"))?;
    Ok(Zeroizing::new(key))
}

impl Vault for KmsVault {
    async fn seal(&self, context: &EncryptionContext, plaintext: &[u8]) -> Result<Sealed, SealError> {
        let (key, wrapped) = match self.cache.encryption_key(context) {
            Some(cached) => cached,
            None => {
                let (key, wrapped) =
                    generate_data_key(&self.client, &self.key_id, &Self::context_pairs(context)).await?;
                self.cache.remember_for_encryption(context, &key, &wrapped);
                (key, wrapped)
            }
        };
        Ok(seal_with(key.as_ref(), wrapped, context, plaintext)?)
    }

    async fn open(&self, context: &EncryptionContext, sealed: &Sealed) -> Result<SecretBytes, OpenError> {
        let key = match self.cache.decryption_key(context, &sealed.wrapped_key) {
            Some(key) => key,
            None => {
                let _filling = self.filling.lock().await;
                match self.cache.decryption_key(context, &sealed.wrapped_key) {
                    Some(key) => key,
                    None => {
                        let key = decrypt_data_key(
                            &self.client,
                            &self.key_id,
                            &sealed.wrapped_key,
                            &Self::context_pairs(context),
                        )
                        .await?;
                        self.cache.remember_for_decryption(context, &sealed.wrapped_key, &key);
                        key
                    }
                }
            }
        };
        open_with(key.as_ref(), context, sealed).ok_or(OpenError::Refused)
    }
}
