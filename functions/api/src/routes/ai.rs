//! AI: the tenant's provider (`GET`, `PUT`, `DELETE /v1/ai`) and suggestions on a conversation
//! — replies, a summary or the sentiment (`POST /v1/conversations/{id}/suggestions`,
//! `GET …/suggestions/{id}`).
//!
//! P31: nothing is queued for a provider unless the tenant turned AI on (`ai_enabled`), an admin
//! connected one of the deployment's providers with the tenant's own key (sealed under
//! `{tenant_id, integration_secret}`, never returned), and the contact is not restricted (P63).
//! The `suggest` function checks the same again before the call, and sends only redacted text.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::app::secrets::seal_tenant_secret;
use shared::domain::ai::{
    ai_gate, suggestion_expiry, AiConnection, AiRefusal, SuggestionJob, SuggestionKind, SuggestionStore,
    SuggestionView,
};
use shared::domain::inbox::ContactStore;
use shared::domain::ports::{ConnectionStore, Purpose, Queue, QueueMessage, TenantStore};
use shared::domain::{Clock, Secret, SuggestionId};
use shared::lambda::http::{json_response, Problem};

use super::inbox::visible_conversation;
use super::{json_body, no_content, path_id, validated_token};
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// The request body of `PUT /v1/ai`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectAi {
    /// One of the providers this deployment offers (`GET /v1/ai` lists them when none is connected).
    pub provider: String,
    /// The model to ask, as the provider names it (`gpt-4o-mini`, `mistral-small-latest`, …).
    pub model: String,
    /// The tenant's API key at that provider.
    pub api_key: Secret,
}

/// The connection as the API shows it: everything but the key.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AiConnectionView {
    /// The provider.
    pub provider: String,
    /// The model.
    pub model: String,
    /// When it was connected (epoch milliseconds).
    pub connected_at: i64,
    /// Always true: a key is stored (encrypted); it is never returned.
    pub api_key_stored: bool,
}

impl From<&AiConnection> for AiConnectionView {
    fn from(c: &AiConnection) -> Self {
        Self {
            provider: c.provider.clone(),
            model: c.model.clone(),
            connected_at: c.connected_at.as_millis(),
            api_key_stored: true,
        }
    }
}

/// Connects (or replaces) the tenant's AI provider.
///
/// # Errors
/// 403 unless a tenant admin calls; 400 for a provider the deployment does not offer, a bad
/// model name or key.
pub async fn connect<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let admin = ctx.tenant()?;
    let request: ConnectAi = json_body(ctx.body)?;
    let offered = deps.config.ai_providers.names();
    if deps.config.ai_providers.base_url(&request.provider).is_none() {
        let detail = if offered.is_empty() {
            "this deployment offers no AI provider".to_owned()
        } else {
            format!("provider must be one of: {}", offered.join(", "))
        };
        return Err(Problem::bad_request(detail).into());
    }
    let model = request.model.trim();
    let model_ok = (1..=100).contains(&model.len())
        && model.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/'));
    if !model_ok {
        return Err(Problem::bad_request("model must be 1 to 100 of letters, digits and . _ - : /").into());
    }
    let key = validated_token("api_key", &request.api_key)?;
    let connection = AiConnection {
        provider: request.provider.clone(),
        model: model.to_owned(),
        api_key: seal_tenant_secret(
            &deps.vault,
            &admin.tenant_id,
            Purpose::IntegrationSecret,
            key.as_bytes(),
        )
        .await?,
        connected_at: deps.clock.now(),
    };
    deps.connections.connect_ai(&admin.tenant_id, &connection).await?;
    tracing::info!(provider = %connection.provider, "AI provider connected");
    deps.audit(admin, "integration.ai_connect", target("tenant", admin.tenant_id.as_str()), |e| {
        e.with_fields([format!("provider={}", connection.provider)])
    })
    .await;
    Ok(json_response(StatusCode::OK, &AiConnectionView::from(&connection)))
}

/// The tenant's AI provider.
///
/// # Errors
/// 403 unless a tenant admin calls; 404 when none is connected (the detail lists those offered).
pub async fn get<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let admin = ctx.tenant()?;
    let connection = deps.connections.ai_connection(&admin.tenant_id).await?.ok_or_else(|| {
        let offered = deps.config.ai_providers.names();
        ApiError(Problem::not_found(format!(
            "no AI provider is connected (this deployment offers: {})",
            if offered.is_empty() { "none".to_owned() } else { offered.join(", ") }
        )))
    })?;
    Ok(json_response(StatusCode::OK, &AiConnectionView::from(&connection)))
}

/// Disconnects the provider and deletes its key: nothing more is sent to it (requests still
/// queued end `refused`).
///
/// # Errors
/// 403 unless a tenant admin calls; 404 when none is connected.
pub async fn disconnect<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let admin = ctx.tenant()?;
    if !deps.connections.disconnect_ai(&admin.tenant_id).await? {
        return Err(Problem::not_found("no AI provider is connected").into());
    }
    tracing::info!("AI provider disconnected");
    deps.audit(admin, "integration.ai_disconnect", target("tenant", admin.tenant_id.as_str()), |e| e).await;
    Ok(no_content())
}

/// The request body of `POST /v1/conversations/{id}/suggestions` (may be empty).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSuggestion {
    /// `replies` (default), `summary` or `sentiment`.
    #[serde(default)]
    pub kind: SuggestionKind,
}

/// Asks the AI for replies, a summary or the sentiment of a conversation; the `suggest`
/// function fills the request in.
///
/// # Errors
/// 404 as for reading the conversation; 409 (`ai-disabled`, `ai-not-connected`,
/// `contact-restricted`) when AI may not process it; 503 when it could not be queued.
pub async fn request<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let tenant_id = &principal.tenant_id;
    let request: RequestSuggestion = json_body(ctx.body)?;
    let conversation = visible_conversation(&ctx, deps).await?;
    let tenant = deps
        .tenants
        .tenant(tenant_id)
        .await?
        .ok_or_else(|| ApiError(Problem::not_found("no such tenant")))?;
    let connection = deps.connections.ai_connection(tenant_id).await?;
    let restricted_at =
        deps.contacts.contact(tenant_id, &conversation.contact_id).await?.and_then(|c| c.restricted_at);
    ai_gate(&tenant.settings, connection.as_ref(), restricted_at).map_err(refused)?;
    let now = deps.clock.now();
    let suggestion =
        SuggestionView::pending(conversation.id.clone(), conversation.contact_id.clone(), request.kind, now)?;
    deps.suggestions
        .create_suggestion(tenant_id, &suggestion, suggestion_expiry(now, tenant.retention))
        .await?;
    let job = SuggestionJob {
        tenant_id: tenant_id.clone(),
        conversation_id: suggestion.conversation_id.clone(),
        suggestion_id: suggestion.id.clone(),
    };
    let body = serde_json::to_string(&job).map_err(anyhow::Error::from)?;
    if let Err(error) =
        deps.suggest.send_batch(&[QueueMessage { body, group_id: None, dedup_id: None }]).await
    {
        tracing::error!(error = format!("{error:#}"), "Suggestion request not queued");
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "the request could not be queued; ask again",
        )
        .with_retry_after(5)
        .into());
    }
    deps.audit(principal, "ai.suggestion_request", target("conversation", conversation.id.as_str()), |e| {
        e.with_fields([format!("kind={}", request.kind.as_str())]).about(&conversation.contact_id)
    })
    .await;
    Ok(json_response(StatusCode::ACCEPTED, &suggestion))
}

/// One suggestion request and, once ready, what the AI produced.
///
/// # Errors
/// 404 as for reading the conversation, or for an unknown request.
pub async fn get_suggestion<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let conversation = visible_conversation(&ctx, deps).await?;
    let id = path_id(ctx.param("suggestion_id"), SuggestionId::parse, "suggestion")?;
    let suggestion = deps
        .suggestions
        .suggestion(&principal.tenant_id, &conversation.id, &id)
        .await?
        .ok_or_else(|| ApiError(Problem::not_found("no such suggestion")))?;
    Ok(json_response(StatusCode::OK, &suggestion))
}

/// 409 naming why AI may not run.
fn refused(refusal: AiRefusal) -> ApiError {
    Problem::new(
        StatusCode::CONFLICT,
        refusal.code(),
        "AI may not process this conversation",
        refusal.to_string(),
    )
    .into()
}
