//! Tenants: the operator creates them (with their first admin API key), sets their plan and
//! reopens closed ones; a tenant's admins change its name and settings and may close it.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::app::secrets::seal_tenant_secret;
use shared::domain::audit::{Actor, ActorKind, AuditEntry, AuditLog as _};
use shared::domain::inbox::ContactStore;
use shared::domain::ports::{Purpose, TenantStore, TenantUpdate};
use shared::domain::privacy::PurgeStore;
use shared::domain::tenant::{
    ApiKey, InvalidSettings, Plan, RetentionSettings, Role, Tenant, TenantSettings, TenantStatus,
    CLOSURE_GRACE_DAYS,
};
use shared::domain::{Clock, TenantId, Timestamp};
use shared::kernel::random;
use shared::lambda::http::{json_response, Problem};

use super::json_body;
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// The request body of `POST /v1/tenants`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// The organisation's name (1 to 200 characters); defaults to the tenant id.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub name: Option<String>,
}

/// The answer: the key is shown this once and stored only as a hash (P12).
#[derive(Debug, Serialize, schemars::JsonSchema)]
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

/// A tenant as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TenantView {
    /// Its id.
    pub id: TenantId,
    /// Its name.
    pub name: String,
    /// `active` or `closed`.
    pub status: &'static str,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Closed, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
    /// Until when a closed tenant can be reopened (then its data is purged), epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reopen_until: Option<i64>,
    /// Preferences.
    pub settings: TenantSettings,
    /// Retention.
    pub retention: RetentionSettings,
    /// Plan limits.
    pub plan: Plan,
}

fn grace_end(closed_at: Timestamp) -> Timestamp {
    Timestamp::from_secs(closed_at.as_secs() + CLOSURE_GRACE_DAYS * 86_400)
}

impl From<&Tenant> for TenantView {
    fn from(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id.clone(),
            name: tenant.name.clone(),
            status: match tenant.status {
                TenantStatus::Active => "active",
                TenantStatus::Closed => "closed",
            },
            created_at: tenant.created_at.as_millis(),
            closed_at: tenant.closed_at.map(Timestamp::as_millis),
            reopen_until: tenant.closed_at.map(|at| grace_end(at).as_millis()),
            settings: tenant.settings.clone(),
            retention: tenant.retention,
            plan: tenant.plan,
        }
    }
}

/// `PATCH /v1/tenant`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    /// New name (1 to 200 characters).
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub name: Option<String>,
    /// New settings (replace the current ones as a whole).
    #[serde(default)]
    pub settings: Option<TenantSettings>,
}

/// `POST /v1/tenant/close`: the tenant's own id, as a confirmation.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseTenant {
    /// Must be the tenant's id.
    pub confirm_tenant_id: String,
}

/// Usage against the plan.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct UsageView {
    /// Contacts stored.
    pub contacts: Meter,
    /// Users (not deleted).
    pub users: Meter,
    /// The plan.
    pub plan: Plan,
}

/// One metered quantity.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Meter {
    /// In use.
    pub used: u64,
    /// Allowed.
    pub limit: u64,
}

fn valid_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if (1..=200).contains(&name.chars().count()) {
        Ok(name.to_owned())
    } else {
        Err(Problem::bad_request("name must be 1 to 200 characters").into())
    }
}

fn operator() -> Actor {
    Actor { kind: ActorKind::Operator, id: "operator".to_owned() }
}

/// Records an operator action in the tenant's own trail.
async fn audit_operator<A: Adapters>(deps: &Deps<A>, tenant: &TenantId, action: &str) {
    let entry = match AuditEntry::new(operator(), action, target("tenant", tenant.as_str()), deps.clock.now())
    {
        Ok(entry) => entry,
        Err(error) => {
            tracing::error!(action, error = format!("{error:#}"), "Audit entry not written");
            return;
        }
    };
    if let Err(error) = deps.audit.record(tenant, &entry).await {
        tracing::error!(action, error = format!("{error:#}"), "Audit entry not written");
    }
}

/// Creates a tenant.
///
/// # Errors
/// 400 for a bad body; 409/500 from the store.
pub async fn create<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let request: CreateTenant = json_body(ctx.body)?;
    let now = deps.clock.now();
    let tenant_id = TenantId::generate(now)?;
    let name = match request.name {
        None => tenant_id.to_string(),
        Some(name) => valid_name(&name)?,
    };
    // The key that signs the tenant's access tokens: random, sealed under the tenant's context.
    let signing_key = random::bytes::<32>()?;
    let token_key =
        seal_tenant_secret(&deps.vault, &tenant_id, Purpose::TokenSigningKey, &signing_key).await?;
    let tenant = Tenant::new(tenant_id.clone(), name.clone(), now, token_key);
    let key = ApiKey::generate(tenant_id.clone(), now)?;
    deps.tenants.create_tenant(&tenant, &key.record("admin", Role::Admin, now)).await?;
    tracing::info!(tenant_id = %tenant_id, api_key_id = %key.key_id, "Tenant created");
    audit_operator(deps, &tenant_id, "tenant.create").await;
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

async fn tenant_of<A: Adapters>(deps: &Deps<A>, id: &TenantId) -> Result<Tenant, ApiError> {
    deps.tenants.tenant(id).await?.ok_or_else(|| ApiError::from(Problem::not_found("no such tenant")))
}

fn operator_target(ctx: &Ctx<'_>) -> Result<TenantId, ApiError> {
    super::path_id(ctx.param("tenant_id"), TenantId::parse, "tenant")
}

/// `POST /v1/tenants/{tenant_id}/reopen`.
///
/// # Errors
/// 404 unknown; 409 not closed; 410 past the grace period.
pub async fn reopen<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let id = operator_target(&ctx)?;
    let mut tenant = tenant_of(deps, &id).await?;
    let Some(closed_at) = tenant.closed_at.filter(|_| tenant.status == TenantStatus::Closed) else {
        return Err(Problem::conflict("the tenant is not closed").into());
    };
    if deps.clock.now() >= grace_end(closed_at) {
        return Err(Problem::new(
            StatusCode::GONE,
            "grace-period-over",
            "Grace period over",
            format!("a closed tenant can be reopened for {CLOSURE_GRACE_DAYS} days"),
        )
        .into());
    }
    deps.tenants.update_tenant(&id, &TenantUpdate::Closure(None)).await?;
    // Were this to fail, the purge still finds the tenant active and leaves it alone.
    deps.purges.cancel_purge(&id).await?;
    tenant.status = TenantStatus::Active;
    tenant.closed_at = None;
    audit_operator(deps, &id, "tenant.reopen").await;
    Ok(json_response(StatusCode::OK, &TenantView::from(&tenant)))
}

/// `PUT /v1/tenants/{tenant_id}/plan`.
///
/// # Errors
/// 404 unknown; 400 out of bounds.
pub async fn set_plan<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let id = operator_target(&ctx)?;
    let plan: Plan = json_body(ctx.body)?;
    let plan = plan.validated().map_err(|e| ApiError::from(Problem::bad_request(e)))?;
    let mut tenant = tenant_of(deps, &id).await?;
    deps.tenants.update_tenant(&id, &TenantUpdate::Plan(plan)).await?;
    tenant.plan = plan;
    audit_operator(deps, &id, "tenant.plan_update").await;
    Ok(json_response(StatusCode::OK, &TenantView::from(&tenant)))
}

/// `GET /v1/tenant`.
///
/// # Errors
/// 500 when the store fails.
pub async fn get<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let tenant = tenant_of(deps, &ctx.tenant()?.tenant_id).await?;
    Ok(json_response(StatusCode::OK, &TenantView::from(&tenant)))
}

/// `PATCH /v1/tenant`.
///
/// # Errors
/// 400 for a bad name or settings; 422 for `auto_resolve_after_minutes` out of bounds.
pub async fn update<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: UpdateTenant = json_body(ctx.body)?;
    let mut tenant = tenant_of(deps, &principal.tenant_id).await?;
    let mut fields = Vec::new();
    if let Some(name) = &body.name {
        tenant.name = valid_name(name)?;
        fields.push("name");
    }
    if let Some(settings) = body.settings {
        tenant.settings = settings.validated().map_err(|e| {
            // A well-formed number out of bounds is a value the rule refuses (422); the other
            // checks keep their 400.
            ApiError::from(match e {
                InvalidSettings::AutoResolve => Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-setting",
                    "Setting refused",
                    e.to_string(),
                ),
                other => Problem::bad_request(other.to_string()),
            })
        })?;
        fields.push("settings");
    }
    let update = TenantUpdate::Profile { name: tenant.name.clone(), settings: tenant.settings.clone() };
    deps.tenants.update_tenant(&principal.tenant_id, &update).await?;
    deps.audit(principal, "tenant.update", target("tenant", principal.tenant_id.as_str()), |e| {
        e.with_fields(fields)
    })
    .await;
    Ok(json_response(StatusCode::OK, &TenantView::from(&tenant)))
}

/// `POST /v1/tenant/close`.
///
/// # Errors
/// 400 when the confirmation is not the tenant's id.
pub async fn close<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: CloseTenant = json_body(ctx.body)?;
    if body.confirm_tenant_id != principal.tenant_id.as_str() {
        return Err(Problem::bad_request("confirm_tenant_id must be this tenant's id").into());
    }
    let mut tenant = tenant_of(deps, &principal.tenant_id).await?;
    let now = deps.clock.now();
    // The purge is queued first: a closure is never left without one (the retention run
    // checks the tenant is still closed, and for long enough, before it deletes anything).
    deps.purges.queue_purge(&principal.tenant_id, grace_end(now)).await?;
    deps.tenants.update_tenant(&principal.tenant_id, &TenantUpdate::Closure(Some(now))).await?;
    tenant.status = TenantStatus::Closed;
    tenant.closed_at = Some(now);
    deps.audit(principal, "tenant.close", target("tenant", principal.tenant_id.as_str()), |e| e).await;
    tracing::info!("Tenant closed");
    Ok(json_response(StatusCode::OK, &TenantView::from(&tenant)))
}

/// `GET /v1/usage`.
///
/// # Errors
/// 500 when a store fails.
pub async fn usage<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let view = usage_of(deps, &principal.tenant_id, principal.plan).await?;
    Ok(json_response(StatusCode::OK, &view))
}

async fn usage_of<A: Adapters>(deps: &Deps<A>, tenant: &TenantId, plan: Plan) -> Result<UsageView, ApiError> {
    let contacts = deps.contacts.contact_count(tenant).await?;
    let users = super::identity::user_count(deps, tenant).await?;
    Ok(UsageView {
        contacts: Meter { used: contacts, limit: plan.contacts },
        users: Meter { used: users, limit: u64::from(plan.users) },
        plan,
    })
}

// The operator's views of any tenant (leadline-admin): list, show, usage, close.

/// `GET /v1/tenants`: every tenant, closed ones included, oldest first.
///
/// # Errors
/// 400 for a bad limit or cursor; 500 when the store fails.
pub async fn list<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let paging = super::inbox::paging(ctx.query)?;
    let after = paging
        .after
        .map(TenantId::parse)
        .transpose()
        .map_err(|_| ApiError::from(Problem::bad_request("cursor is not one this API issued")))?;
    let page = deps.tenants.list_tenants(after.as_ref(), paging.limit).await?;
    let view = super::inbox::PageView::from(shared::kernel::Page {
        items: page.items.iter().map(TenantView::from).collect(),
        next: page.next,
    });
    Ok(json_response(StatusCode::OK, &view))
}

/// `GET /v1/tenants/{tenant_id}`.
///
/// # Errors
/// 404 unknown.
pub async fn show<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let tenant = tenant_of(deps, &operator_target(&ctx)?).await?;
    Ok(json_response(StatusCode::OK, &TenantView::from(&tenant)))
}

/// `GET /v1/tenants/{tenant_id}/usage`.
///
/// # Errors
/// 404 unknown; 500 when a store fails.
pub async fn operator_usage<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let tenant = tenant_of(deps, &operator_target(&ctx)?).await?;
    let view = usage_of(deps, &tenant.id, tenant.plan).await?;
    Ok(json_response(StatusCode::OK, &view))
}

/// `POST /v1/tenants/{tenant_id}/close`: as the tenant's own close (the same confirmation, the
/// same purge after the grace period), by the operator.
///
/// # Errors
/// 400 when the confirmation is not the tenant's id; 404 unknown; 409 already closed.
pub async fn operator_close<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let id = operator_target(&ctx)?;
    let body: CloseTenant = json_body(ctx.body)?;
    if body.confirm_tenant_id != id.as_str() {
        return Err(Problem::bad_request("confirm_tenant_id must be the tenant's id").into());
    }
    let mut tenant = tenant_of(deps, &id).await?;
    if tenant.status == TenantStatus::Closed {
        return Err(Problem::conflict("the tenant is already closed").into());
    }
    let now = deps.clock.now();
    // As in `close`: the purge is queued before the closure is written.
    deps.purges.queue_purge(&id, grace_end(now)).await?;
    deps.tenants.update_tenant(&id, &TenantUpdate::Closure(Some(now))).await?;
    tenant.status = TenantStatus::Closed;
    tenant.closed_at = Some(now);
    audit_operator(deps, &id, "tenant.close").await;
    tracing::info!(tenant_id = %id, "Tenant closed by the operator");
    Ok(json_response(StatusCode::OK, &TenantView::from(&tenant)))
}
