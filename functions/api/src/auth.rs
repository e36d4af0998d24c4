//! Authentication: `Authorization: Bearer <credential>`, one of
//!
//! - an access token (JWT, HS256 pinned, `kid` naming the key) issued at login: verified by
//!   [`shared::app::access::verify_access_token`] (signature under the tenant's key, then the
//!   user and the session, so that a disabled user or an ended session is refused at once, P13);
//! - a tenant API key (`llk.<tenant>.<key id>.<secret>`): looked up by tenant and key id, its
//!   secret compared by hash in constant time; revoked keys are refused;
//! - the operator key (creates tenants), checked against its configured SHA-256.
//!
//! Credentials of a closed tenant are refused. Every failure answers the same 401, so a caller
//! learns nothing about which part was wrong. No header at all is the anonymous caller, which
//! only the public operations (login, refresh, the OpenAPI document) accept.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use lambda_http::http::header::AUTHORIZATION;
use lambda_http::Request;
use shared::app::access::{self, AccessError, AccessHolder, AccessPorts};
use shared::domain::audit::{Actor, ActorKind};
use shared::domain::inbox::AgentScope;
use shared::domain::ports::ApiKeyStore;
use shared::domain::tenant::{ApiKey, Plan, Role, Tenant};
use shared::domain::{TenantId, UserId};
use shared::kernel::digest::sha256;

use crate::{Adapters, Deps};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No credential.
    Anonymous,
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
    /// Who, for the audit trail: a user or an API key.
    pub actor: Actor,
    /// The user, when a person logged in.
    pub user_id: Option<UserId>,
    /// What it may do.
    pub role: Role,
    /// The user's queues (agents).
    pub queues: Vec<shared::domain::QueueId>,
    /// The tenant's plan.
    pub plan: Plan,
}

impl TenantPrincipal {
    /// For agents, what they may see; `None` for managers and admins, who see everything.
    #[must_use]
    pub fn agent_scope(&self) -> Option<AgentScope> {
        (self.role == Role::Agent)
            .then(|| AgentScope { user: self.user_id.clone(), queues: self.queues.clone() })
    }
}

impl Principal {
    /// The tenant id for log spans (`operator` / `anonymous` otherwise).
    #[must_use]
    pub fn tenant_label(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Operator => "operator",
            Self::Tenant(t) => t.tenant_id.as_str(),
        }
    }
}

/// Errors of [`authenticate`].
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The credential is not valid (unknown, revoked, expired, wrong secret, closed tenant).
    #[error("invalid credential")]
    Invalid,
    /// The credential store or key service failed.
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

/// The tenant, if it exists and is active.
async fn active_tenant<A: Adapters>(deps: &Deps<A>, tenant_id: &TenantId) -> Result<Tenant, AuthError> {
    Ok(access::active_tenant(&deps.tenants, tenant_id).await?)
}

/// The tenant's access-token signing key, opened from its envelope (the vault caches the data
/// key, so this costs no KMS call after the first per cache period).
///
/// # Errors
/// [`AuthError::Unknown`] when the key service fails.
pub async fn signing_key<A: Adapters>(
    deps: &Deps<A>,
    tenant: &Tenant,
) -> Result<shared::domain::SecretBytes, AuthError> {
    Ok(access::signing_key(&deps.vault, tenant).await?)
}

impl From<AccessError> for AuthError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Invalid => Self::Invalid,
            AccessError::Unknown(e) => Self::Unknown(e),
        }
    }
}

/// Verifies the request's credential.
///
/// # Errors
/// [`AuthError::Invalid`], [`AuthError::Unknown`].
pub async fn authenticate<A: Adapters>(request: &Request, deps: &Deps<A>) -> Result<Principal, AuthError> {
    let Some(header) = request.headers().get(AUTHORIZATION) else { return Ok(Principal::Anonymous) };
    let credential = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or(AuthError::Invalid)?;

    if let Some(key) = ApiKey::parse(credential) {
        let record = deps
            .api_keys
            .api_key(&key.tenant_id, &key.key_id)
            .await
            .map_err(|e| AuthError::Unknown(e.into()))?
            .ok_or(AuthError::Invalid)?;
        if !record.accepts(&key.secret) {
            return Err(AuthError::Invalid);
        }
        let tenant = active_tenant(deps, &key.tenant_id).await?;
        return Ok(Principal::Tenant(TenantPrincipal {
            tenant_id: key.tenant_id,
            actor: Actor { kind: ActorKind::ApiKey, id: key.key_id.to_string() },
            user_id: None,
            role: record.role,
            queues: Vec::new(),
            plan: tenant.plan,
        }));
    }

    if access::is_access_token(credential) {
        // Verified as every entry point verifies it (the WebSocket's `$connect` too).
        let ports = AccessPorts {
            tenants: &deps.tenants,
            vault: &deps.vault,
            directory: &deps.directory,
            clock: &deps.clock,
        };
        let AccessHolder { tenant, user, .. } = access::verify_access_token(&ports, credential).await?;
        return Ok(Principal::Tenant(TenantPrincipal {
            tenant_id: tenant.id,
            actor: Actor { kind: ActorKind::User, id: user.id.to_string() },
            user_id: Some(user.id),
            role: user.role,
            queues: user.queues,
            plan: tenant.plan,
        }));
    }

    let presented = sha256(credential.as_bytes());
    if verify_slices_are_equal(&presented, &deps.config.operator_key_sha256).is_ok() {
        return Ok(Principal::Operator);
    }
    Err(AuthError::Invalid)
}
