//! `POST /v1/tenants`: the operator creates a tenant and receives its first admin API key.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::domain::ports::TenantStore;
use shared::domain::tenant::{ApiKey, RetentionSettings, Role, Tenant, TenantStatus};
use shared::domain::{Clock, TenantId};
use shared::lambda::http::{json_response, Problem};

use super::json_body;
use crate::auth::Principal;
use crate::errors::ApiError;
use crate::Deps;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// The organisation's name (1 to 200 characters); defaults to the tenant id.
    #[serde(default)]
    pub name: Option<String>,
}

/// The answer: the key is shown this once and stored only as a hash (P12).
#[derive(Debug, Serialize)]
pub struct TenantCreated {
    /// The new tenant.
    pub tenant_id: String,
    /// Its first admin API key.
    pub api_key: String,
    /// The key's id (for revocation and audit).
    pub api_key_id: String,
    /// The name.
    pub name: String,
}

/// Creates a tenant.
///
/// # Errors
/// 403 unless the operator calls; 400 for a bad body; 409/500 from the store.
pub async fn create<S: TenantStore, V, C: Clock, I, P>(
    principal: &Principal,
    body: &[u8],
    deps: &Deps<S, V, C, I, P>,
) -> Result<Response<Body>, ApiError> {
    if *principal != Principal::Operator {
        return Err(Problem::forbidden("only the operator key may create tenants").into());
    }
    let request: CreateTenant = json_body(body)?;
    let now = deps.clock.now();
    let tenant_id = TenantId::generate(now);
    let name = match request.name.map(|n| n.trim().to_owned()) {
        None => tenant_id.to_string(),
        Some(name) if (1..=200).contains(&name.chars().count()) => name,
        Some(_) => return Err(Problem::bad_request("name must be 1 to 200 characters").into()),
    };
    let tenant = Tenant {
        id: tenant_id.clone(),
        name: name.clone(),
        status: TenantStatus::Active,
        created_at: now,
        retention: RetentionSettings::default(),
    };
    let key = ApiKey::generate(tenant_id.clone(), now);
    deps.tenants.create_tenant(&tenant, &key.record("admin", Role::Admin, now)).await?;
    tracing::info!(tenant_id = %tenant_id, api_key_id = %key.key_id, "Tenant created");
    Ok(json_response(
        StatusCode::CREATED,
        &TenantCreated {
            tenant_id: tenant_id.to_string(),
            api_key: key.reveal().expose().to_owned(),
            api_key_id: key.key_id.to_string(),
            name,
        },
    ))
}
