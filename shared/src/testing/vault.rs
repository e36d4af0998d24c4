//! Envelope encryption with a key held in memory instead of KMS.

use super::*;

/// A vault that wraps data keys with a key held in memory instead of KMS. Real AES-256-GCM, and
/// the context is bound exactly as with KMS, so "wrong tenant cannot open" holds here too.
#[derive(Debug, Default)]
pub struct LocalVault;

const LOCAL_MASTER_KEY: [u8; 32] = [42; 32];

impl Vault for LocalVault {
    async fn seal(&self, context: &EncryptionContext, plaintext: &[u8]) -> Result<Sealed, SealError> {
        let data_key = crate::kernel::random::bytes::<32>().map_err(anyhow::Error::from)?;
        let wrapped = seal_with(&LOCAL_MASTER_KEY, vec![0], context, &data_key)?;
        let mut sealed = seal_with(&data_key, Vec::new(), context, plaintext)?;
        sealed.wrapped_key = wrapped.encode().into_bytes();
        Ok(sealed)
    }

    async fn open(&self, context: &EncryptionContext, sealed: &Sealed) -> Result<SecretBytes, OpenError> {
        let wrapped = std::str::from_utf8(&sealed.wrapped_key).map_err(|_| OpenError::Refused)?;
        let wrapped = Sealed::decode(wrapped).map_err(|_| OpenError::Refused)?;
        let data_key = open_with(&LOCAL_MASTER_KEY, context, &wrapped).ok_or(OpenError::Refused)?;
        open_with(data_key.expose(), context, sealed).ok_or(OpenError::Refused)
    }
}
