//! `GET`, `PUT` and `DELETE /v1/whatsapp`: the tenant's WhatsApp Business number. The access
//! token is sealed under `{tenant_id, whatsapp_access_token}` before it is stored, and never
//! returned or logged (P11).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::app::secrets::seal_tenant_secret;
use shared::app::verification::verify_number;
use shared::domain::ports::{ConnectionStore, Purpose};
use shared::domain::tenant::WhatsAppConnection;
use shared::domain::{Clock, PhoneNumber, Secret};
use shared::lambda::http::{json_response, Problem};

use super::{json_body, meta_id, validated_token};
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// The request body of `PUT /v1/whatsapp`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectWhatsApp {
    /// Meta's phone number id (digits).
    pub phone_number_id: String,
    /// The number customers see.
    pub display_phone_number: String,
    /// The WhatsApp Business Account id (digits).
    pub waba_id: String,
    /// The Cloud API access token.
    pub access_token: Secret,
}

/// The connection as the API shows it: everything but the token.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ConnectionView {
    /// Meta's phone number id.
    pub phone_number_id: String,
    /// The number customers see (E.164 digits).
    pub display_phone_number: String,
    /// The WhatsApp Business Account id.
    pub waba_id: String,
    /// When it was connected (epoch milliseconds).
    pub connected_at: i64,
    /// Always true: a token is stored (encrypted); it is never returned.
    pub access_token_stored: bool,
}

impl From<&WhatsAppConnection> for ConnectionView {
    fn from(c: &WhatsAppConnection) -> Self {
        Self {
            phone_number_id: c.phone_number_id.clone(),
            display_phone_number: c.display_phone_number.clone(),
            waba_id: c.waba_id.clone(),
            connected_at: c.connected_at.as_millis(),
            access_token_stored: true,
        }
    }
}

/// Connects (or replaces) the tenant's number.
///
/// # Errors
/// 403 unless a tenant admin calls; 400 for a bad body; 422 naming the check when Graph does not
/// confirm, with the token given, that the number is the WABA's; 409 when another tenant has the
/// number; 502 when Meta refuses otherwise, 503 when Graph cannot be reached.
pub async fn connect<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let admin = ctx.tenant()?;
    let request: ConnectWhatsApp = json_body(ctx.body)?;
    let phone_number_id = meta_id("phone_number_id", &request.phone_number_id)?;
    let waba_id = meta_id("waba_id", &request.waba_id)?;
    let display = PhoneNumber::parse(&request.display_phone_number)
        .map_err(|e| ApiError(Problem::bad_request(format!("display_phone_number: {e}"))))?;
    let token = validated_token("access_token", &request.access_token)?;
    // Only a number the token may read, of the WABA named, is connected (no squatting).
    verify_number(&deps.cloud, &phone_number_id, &waba_id, &display, &Secret::new(token.to_owned())).await?;
    let sealed =
        seal_tenant_secret(&deps.vault, &admin.tenant_id, Purpose::WhatsAppAccessToken, token.as_bytes())
            .await?;
    let connection = WhatsAppConnection {
        phone_number_id,
        display_phone_number: display.as_digits().to_owned(),
        waba_id,
        access_token: sealed,
        connected_at: deps.clock.now(),
    };
    deps.connections.connect_whatsapp(&admin.tenant_id, &connection).await?;
    tracing::info!("WhatsApp number connected");
    deps.audit(admin, "integration.whatsapp_connect", target("tenant", admin.tenant_id.as_str()), |e| e)
        .await;
    Ok(json_response(StatusCode::OK, &ConnectionView::from(&connection)))
}

/// The tenant's connection.
///
/// # Errors
/// 403 unless a tenant admin calls; 404 when not connected.
pub async fn get<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let admin = ctx.tenant()?;
    let connection = deps
        .connections
        .whatsapp_connection(&admin.tenant_id)
        .await?
        .ok_or_else(|| ApiError(Problem::not_found("no WhatsApp number is connected")))?;
    Ok(json_response(StatusCode::OK, &ConnectionView::from(&connection)))
}
