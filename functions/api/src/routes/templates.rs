//! Message templates: synced from Meta (`GET /<waba_id>/message_templates`) and listed with
//! their status and parameter counts, so that `POST /v1/messages` can check a template before
//! queueing it.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use shared::app::secrets::open_tenant_secret;
use shared::domain::outbound::{Template, TemplateStore as _};
use shared::domain::ports::{CloudApi as _, CloudApiError, ConnectionStore, Purpose};
use shared::lambda::http::{json_response, Problem};

use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// The tenant's templates.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TemplateList {
    /// By name and language.
    pub items: Vec<Template>,
}

/// `GET /v1/templates`.
///
/// # Errors
/// 500 when the store fails.
pub async fn list<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let items = deps.templates.templates(&ctx.tenant()?.tenant_id).await?;
    Ok(json_response(StatusCode::OK, &TemplateList { items }))
}

/// `POST /v1/templates/sync`.
///
/// # Errors
/// 409 without a WhatsApp connection; 502 when Meta refuses; 503 when Graph is unavailable.
pub async fn sync<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let tenant = &principal.tenant_id;
    let connection = deps.connections.whatsapp_connection(tenant).await?.ok_or_else(|| {
        ApiError::from(Problem::conflict("connect a WhatsApp number first (PUT /v1/whatsapp)"))
    })?;
    let token =
        open_tenant_secret(&deps.vault, tenant, Purpose::WhatsAppAccessToken, &connection.access_token)
            .await?;
    let entries = deps.cloud.message_templates(&connection.waba_id, &token).await.map_err(|e| match e {
        CloudApiError::Meta { error, .. } => ApiError::from(Problem::new(
            StatusCode::BAD_GATEWAY,
            "meta-refused",
            "Meta refused",
            format!(
                "Meta answered code {}: {}",
                error.code,
                error.message.or(error.title).unwrap_or_default()
            ),
        )),
        other => {
            crate::errors::graph_unavailable("Template sync", &other, "Meta could not be reached; try again")
        }
    })?;
    let templates: Vec<Template> = entries.iter().filter_map(Template::from_graph).collect();
    deps.templates.replace_templates(tenant, &templates).await?;
    deps.audit(principal, "template.sync", target("tenant", tenant.as_str()), |e| {
        e.with_count(templates.len() as u64)
    })
    .await;
    Ok(json_response(StatusCode::OK, &TemplateList { items: templates }))
}
