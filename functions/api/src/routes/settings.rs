//! `GET` and `PUT /v1/settings/retention`: how long the tenant keeps conversation data (P50,
//! P51), within the promises' bounds. A change is applied to existing data by the next
//! retention run.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use shared::domain::ports::TenantStore;
use shared::domain::tenant::RetentionSettings;
use shared::lambda::http::{json_response, Problem};

use super::json_body;
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// The body of `PUT /v1/settings/retention`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    /// Days after the last message a conversation is kept (1 to 365).
    pub conversation_days: u16,
    /// Days after which message content is sanitized (1 to `conversation_days`).
    pub content_days: u16,
    /// Keep what was received from Meta when an integration is disconnected (P54; default
    /// off: it is deleted by the next retention run).
    #[serde(default)]
    pub legal_hold: bool,
}

async fn current<A: Adapters>(ctx: &Ctx<'_>, deps: &Deps<A>) -> Result<RetentionSettings, ApiError> {
    let admin = ctx.tenant()?;
    let tenant = deps
        .tenants
        .tenant(&admin.tenant_id)
        .await?
        .ok_or_else(|| ApiError::from(Problem::not_found("tenant not found")))?;
    Ok(tenant.retention)
}

/// The tenant's retention settings.
///
/// # Errors
/// 403 unless a tenant admin calls.
pub async fn get<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    Ok(json_response(StatusCode::OK, &current(&ctx, deps).await?))
}

/// Changes them.
///
/// # Errors
/// 403 unless a tenant admin calls; 400 outside the bounds.
pub async fn put<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let admin = ctx.tenant()?;
    let request: RetentionBody = json_body(ctx.body)?;
    let settings = RetentionSettings::new(request.conversation_days, request.content_days)
        .map_err(|e| ApiError::from(Problem::bad_request(e.to_string())))?
        .with_legal_hold(request.legal_hold);
    deps.tenants.set_retention(&admin.tenant_id, settings).await?;
    tracing::info!(
        conversation_days = settings.conversation_days,
        content_days = settings.content_days,
        legal_hold = settings.legal_hold,
        "Retention settings changed"
    );
    deps.audit(admin, "settings.retention_update", target("tenant", admin.tenant_id.as_str()), |e| {
        e.with_fields(["conversation_days", "content_days", "legal_hold"])
    })
    .await;
    Ok(json_response(StatusCode::OK, &settings))
}
