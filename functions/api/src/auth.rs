//! Authentication: `Authorization: Bearer <credential>`.
//!
//! - The operator key (creates tenants) is checked against its configured SHA-256.
//! - A tenant API key (`llk.<tenant>.<key id>.<secret>`) is looked up by tenant and key id and its
//!   secret compared by hash in constant time; revoked keys and closed tenants are refused.
//!
//! Every failure answers the same 401, so a caller learns nothing about which part was wrong.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{digest, SHA256};
use lambda_http::http::header::AUTHORIZATION;
use lambda_http::Request;
use shared::domain::ports::TenantStore;
use shared::domain::tenant::{ApiKey, Role, TenantStatus};
use shared::domain::{ApiKeyId, Clock, TenantId};

use crate::Deps;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The platform operator.
    Operator,
    /// A credential of one tenant.
    Tenant(TenantPrincipal),
}

/// A tenant credential, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPrincipal {
    /// The tenant: the only source of the tenant of a request.
    pub tenant_id: TenantId,
    /// The API key used.
    pub key_id: ApiKeyId,
    /// What it may do.
    pub role: Role,
}

impl Principal {
    /// The tenant id for log spans (`operator` for the operator).
    #[must_use]
    pub fn tenant_label(&self) -> &str {
        match self {
            Self::Operator => "operator",
            Self::Tenant(t) => t.tenant_id.as_str(),
        }
    }
}

/// Errors of [`authenticate`].
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer credential")]
    Missing,
    /// The credential is not valid (unknown, revoked, wrong secret, closed tenant).
    #[error("invalid credential")]
    Invalid,
    /// The credential store failed.
    #[error("credential lookup failed")]
    Unknown(#[from] anyhow::Error),
}

/// Parses 64 hex digits.
#[must_use]
pub fn decode_sha256_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

/// Verifies the request's credential.
///
/// # Errors
/// [`AuthError::Missing`], [`AuthError::Invalid`], [`AuthError::Unknown`].
pub async fn authenticate<S: TenantStore, V, C: Clock, I, P>(
    request: &Request,
    deps: &Deps<S, V, C, I, P>,
) -> Result<Principal, AuthError> {
    let header =
        request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(AuthError::Missing)?;
    let credential = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or(AuthError::Missing)?;

    if let Some(key) = ApiKey::parse(credential) {
        let record = deps
            .tenants
            .api_key(&key.tenant_id, &key.key_id)
            .await
            .map_err(|e| AuthError::Unknown(e.into()))?
            .ok_or(AuthError::Invalid)?;
        if !record.accepts(&key.secret) {
            return Err(AuthError::Invalid);
        }
        let tenant = deps.tenants.tenant(&key.tenant_id).await.map_err(|e| AuthError::Unknown(e.into()))?;
        if tenant.map(|t| t.status) != Some(TenantStatus::Active) {
            return Err(AuthError::Invalid);
        }
        return Ok(Principal::Tenant(TenantPrincipal {
            tenant_id: key.tenant_id,
            key_id: key.key_id,
            role: record.role,
        }));
    }

    let presented = digest(&SHA256, credential.as_bytes());
    if verify_slices_are_equal(presented.as_ref(), &deps.config.operator_key_sha256).is_ok() {
        return Ok(Principal::Operator);
    }
    Err(AuthError::Invalid)
}
