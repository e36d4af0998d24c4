//! A tenant's secrets (tokens, provider keys, signing keys) sealed and opened under the
//! encryption context `{tenant_id, purpose}`, the same way at every site.

use crate::domain::ports::{EncryptionContext, OpenError, Purpose, SealError, Vault};
use crate::domain::secret::Sealed;
use crate::domain::{Secret, SecretBytes, TenantId};

/// Errors of [`open_tenant_secret`] and [`open_tenant_key`].
#[derive(Debug, thiserror::Error)]
pub enum OpenSecretError {
    /// The envelope was not sealed for this tenant and purpose, or was altered: retrying
    /// cannot help.
    #[error("the envelope does not open under this tenant and purpose")]
    Refused,
    /// The key service failed (network, throttling): retrying may help.
    #[error("could not open the tenant's secret")]
    Unknown(#[from] anyhow::Error),
}

impl From<OpenError> for OpenSecretError {
    fn from(error: OpenError) -> Self {
        match error {
            OpenError::Refused => Self::Refused,
            OpenError::Unknown(e) => Self::Unknown(e),
        }
    }
}

fn context(tenant: &TenantId, purpose: Purpose) -> EncryptionContext {
    EncryptionContext { tenant_id: tenant.clone(), purpose }
}

/// Seals `plaintext` for `tenant` and `purpose`.
///
/// # Errors
/// [`SealError::Unknown`] when the key service fails.
pub async fn seal_tenant_secret<V: Vault>(
    vault: &V,
    tenant: &TenantId,
    purpose: Purpose,
    plaintext: &[u8],
) -> Result<Sealed, SealError> {
    vault.seal(&context(tenant, purpose), plaintext).await
}

/// Opens a secret of `tenant` sealed for `purpose`, as bytes (signing keys).
///
/// # Errors
/// [`OpenSecretError::Refused`] for an envelope of another tenant or purpose;
/// [`OpenSecretError::Unknown`] when the key service fails.
pub async fn open_tenant_key<V: Vault>(
    vault: &V,
    tenant: &TenantId,
    purpose: Purpose,
    sealed: &Sealed,
) -> Result<SecretBytes, OpenSecretError> {
    Ok(vault.open(&context(tenant, purpose), sealed).await?)
}

/// Opens a secret of `tenant` sealed for `purpose`, as text (access tokens, provider keys).
/// Tokens are ASCII; bytes that are not UTF-8 are replaced rather than refused, so that the
/// service that issued the token is the one to reject it.
///
/// # Errors
/// [`OpenSecretError::Refused`] for an envelope of another tenant or purpose;
/// [`OpenSecretError::Unknown`] when the key service fails.
pub async fn open_tenant_secret<V: Vault>(
    vault: &V,
    tenant: &TenantId,
    purpose: Purpose,
    sealed: &Sealed,
) -> Result<Secret, OpenSecretError> {
    let bytes = open_tenant_key(vault, tenant, purpose, sealed).await?;
    Ok(Secret::new(String::from_utf8_lossy(bytes.expose()).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use crate::testing::LocalVault;

    #[tokio::test]
    async fn a_secret_opens_for_its_tenant_and_purpose_only() {
        let tenant = TenantId::generate(Timestamp::from_millis(1_800_000_000_000)).unwrap();
        let other = TenantId::generate(Timestamp::from_millis(1_800_000_000_001)).unwrap();
        let sealed =
            seal_tenant_secret(&LocalVault, &tenant, Purpose::PageAccessToken, b"EAAPAGE").await.unwrap();

        let opened = open_tenant_secret(&LocalVault, &tenant, Purpose::PageAccessToken, &sealed).await;
        let wrong_tenant = open_tenant_secret(&LocalVault, &other, Purpose::PageAccessToken, &sealed).await;
        let wrong_purpose =
            open_tenant_secret(&LocalVault, &tenant, Purpose::WhatsAppAccessToken, &sealed).await;

        assert_eq!(opened.unwrap().expose(), "EAAPAGE");
        assert!(matches!(wrong_tenant, Err(OpenSecretError::Refused)));
        assert!(matches!(wrong_purpose, Err(OpenSecretError::Refused)));
    }
}
