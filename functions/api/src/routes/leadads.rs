//! `GET`, `PUT` and `DELETE /v1/leadads`: the tenant's Facebook Page for Lead Ads. The Page
//! token is sealed under `{tenant_id, page_access_token}` and never returned or logged (P11).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::app::secrets::seal_tenant_secret;
use shared::app::verification::verify_page;
use shared::domain::ports::{ConnectionStore, Purpose};
use shared::domain::tenant::PageConnection;
use shared::domain::{Clock, Secret};
use shared::lambda::http::{json_response, Problem};

use super::{json_body, meta_id, validated_token};
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// The request body of `PUT /v1/leadads`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectPage {
    /// The Page id (digits).
    pub page_id: String,
    /// A long-lived Page access token with `leads_retrieval`.
    pub page_access_token: Secret,
}

/// The connection as the API shows it: everything but the token.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LeadAdsPageView {
    /// The Page id.
    pub page_id: String,
    /// When it was connected (epoch milliseconds).
    pub connected_at: i64,
    /// Always true: a token is stored (encrypted); it is never returned.
    pub page_access_token_stored: bool,
}

impl From<&PageConnection> for LeadAdsPageView {
    fn from(c: &PageConnection) -> Self {
        Self {
            page_id: c.page_id.clone(),
            connected_at: c.connected_at.as_millis(),
            page_access_token_stored: true,
        }
    }
}

/// Connects (or replaces) the tenant's Page.
///
/// # Errors
/// 403 unless a tenant admin calls; 400 for a bad body; 422 naming the check when Graph does not
/// confirm the token as this Page's; 409 when another tenant has the Page; 502 when Meta refuses
/// otherwise, 503 when Graph cannot be reached.
pub async fn connect<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let admin = ctx.tenant()?;
    let request: ConnectPage = json_body(ctx.body)?;
    let page_id = meta_id("page_id", &request.page_id)?;
    let token = validated_token("page_access_token", &request.page_access_token)?;
    // Only a token that acts as this Page connects it (no squatting).
    verify_page(&deps.lead_ads, &page_id, &Secret::new(token.to_owned())).await?;
    let sealed =
        seal_tenant_secret(&deps.vault, &admin.tenant_id, Purpose::PageAccessToken, token.as_bytes()).await?;
    let connection = PageConnection { page_id, page_access_token: sealed, connected_at: deps.clock.now() };
    deps.connections.connect_page(&admin.tenant_id, &connection).await?;
    tracing::info!("Lead Ads Page connected");
    deps.audit(admin, "integration.leadads_connect", target("tenant", admin.tenant_id.as_str()), |e| e).await;
    Ok(json_response(StatusCode::OK, &LeadAdsPageView::from(&connection)))
}

/// The tenant's Page.
///
/// # Errors
/// 403 unless a tenant admin calls; 404 when not connected.
pub async fn get<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let admin = ctx.tenant()?;
    let connection = deps
        .connections
        .page_connection(&admin.tenant_id)
        .await?
        .ok_or_else(|| ApiError(Problem::not_found("no Page is connected")))?;
    Ok(json_response(StatusCode::OK, &LeadAdsPageView::from(&connection)))
}
