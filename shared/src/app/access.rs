//! Verifying a user's access token (P13), the one way every entry point does it: the `api`
//! function (`Authorization: Bearer`) and the `realtime` function (the WebSocket's `$connect`).
//!
//! The token (JWT, HS256 pinned, `kid` naming the key) is verified under its tenant's signing
//! key, then the user and the session are read (side by side) so that a disabled or deleted
//! user, a token generation bumped by a password change or a revocation, or a session ended by
//! logout is refused at once. Tokens of a closed tenant are refused. Every refusal is the same
//! [`AccessError::Invalid`], so a caller learns nothing about which part was wrong.

use crate::app::secrets::open_tenant_key;
use crate::domain::identity::{AccessClaims, Directory, User, UserStatus};
use crate::domain::ports::{Purpose, TenantStore, Vault};
use crate::domain::tenant::{Tenant, TenantStatus};
use crate::domain::{Clock, SecretBytes, TenantId};

/// Errors of [`verify_access_token`].
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Not a valid access token of an active user in an open session of an active tenant.
    #[error("invalid credential")]
    Invalid,
    /// A store or the key service failed: nothing is known.
    #[error("credential lookup failed")]
    Unknown(#[from] anyhow::Error),
}

/// The ports verification reads.
#[derive(Debug)]
pub struct AccessPorts<'a, T, V, D, C> {
    /// Tenants (status, sealed signing key).
    pub tenants: &'a T,
    /// Opens the signing key.
    pub vault: &'a V,
    /// Users and sessions.
    pub directory: &'a D,
    /// The time source (expiry).
    pub clock: &'a C,
}

/// A verified access token: who is calling, as stored now.
#[derive(Debug, Clone)]
pub struct AccessHolder {
    /// The tenant (active).
    pub tenant: Tenant,
    /// The user (active, of the token's generation).
    pub user: User,
    /// The token's claims (`exp`: when it stops being accepted).
    pub claims: AccessClaims,
}

/// The tenant, if it exists and is active.
///
/// # Errors
/// [`AccessError::Invalid`] for an unknown or closed tenant; [`AccessError::Unknown`].
pub async fn active_tenant<T: TenantStore>(tenants: &T, tenant_id: &TenantId) -> Result<Tenant, AccessError> {
    let tenant = tenants.tenant(tenant_id).await.map_err(|e| AccessError::Unknown(e.into()))?;
    tenant.filter(|t| t.status == TenantStatus::Active).ok_or(AccessError::Invalid)
}

/// The tenant's access-token signing key, opened from its envelope (the vault caches the data
/// key, so this costs no KMS call after the first per cache period).
///
/// # Errors
/// [`AccessError::Unknown`] when the key service fails.
pub async fn signing_key<V: Vault>(vault: &V, tenant: &Tenant) -> Result<SecretBytes, AccessError> {
    open_tenant_key(vault, &tenant.id, Purpose::TokenSigningKey, &tenant.token_key)
        .await
        .map_err(|e| AccessError::Unknown(e.into()))
}

/// True when `credential` has the shape of an access token (it names a tenant); API keys and
/// the operator key do not.
#[must_use]
pub fn is_access_token(credential: &str) -> bool {
    AccessClaims::claimed_tenant(credential).is_some()
}

/// Verifies an access token.
///
/// # Errors
/// [`AccessError::Invalid`] for anything but a valid token of an active user in a live session
/// of an active tenant; [`AccessError::Unknown`] when a store or the key service failed.
pub async fn verify_access_token<T: TenantStore, V: Vault, D: Directory, C: Clock>(
    ports: &AccessPorts<'_, T, V, D, C>,
    credential: &str,
) -> Result<AccessHolder, AccessError> {
    let tenant_id = AccessClaims::claimed_tenant(credential).ok_or(AccessError::Invalid)?;
    let tenant = active_tenant(ports.tenants, &tenant_id).await?;
    let key = signing_key(ports.vault, &tenant).await?;
    let now = ports.clock.now();
    let claims = AccessClaims::verify(credential, key.expose(), now).map_err(|_| AccessError::Invalid)?;
    // The user and the session, read side by side: one round trip of latency.
    let (user, session) = tokio::join!(
        ports.directory.user(&tenant_id, &claims.sub),
        ports.directory.session(&tenant_id, &claims.sid)
    );
    let user = user.map_err(|e| AccessError::Unknown(e.into()))?.ok_or(AccessError::Invalid)?.value;
    if user.status != UserStatus::Active || user.token_generation != claims.gen {
        return Err(AccessError::Invalid);
    }
    // Logout ends the session's access tokens too, before they expire.
    let session = session.map_err(|e| AccessError::Unknown(e.into()))?.ok_or(AccessError::Invalid)?.value;
    if session.user_id != user.id || session.revoked_at.is_some() || session.expires_at <= now {
        return Err(AccessError::Invalid);
    }
    Ok(AccessHolder { tenant, user, claims })
}
