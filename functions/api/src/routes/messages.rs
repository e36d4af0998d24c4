//! `POST /v1/messages` and `GET /v1/messages/{message_id}` (P20–P22, P25): a message in the
//! Cloud API's own shape is checked against the Cloud API's rules and the tenant's policy, stored
//! as `queued` and put on `outbound.fifo`, exactly once per `Idempotency-Key`.
//!
//! The checks and the store-and-enqueue are [`shared::app::outbound::submit`], which `inbound`
//! uses too; this route adds what is the API's own: the `Idempotency-Key`, the audit entry and
//! the quality counters (P24) of what the API accepted or refused.
//!
//! Exactly once per key, crashes included: the key is claimed, then the message id is reserved
//! and noted on the claim before anything is stored. A retry that finds the claim lapsed (the
//! first request died) resumes from that id: what was stored is enqueued again under the same
//! id (the queue drops the duplicate; `send` sends only what it can claim), what was not is
//! submitted under it. A retry while the first is still running gets 409 with `Retry-After`,
//! and retrying then answers the first request's result.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::app::center;
use shared::app::outbound::{self, Submission, SubmitError};
use shared::domain::inbox::{ConversationStore, MessageView, OutboundStore};
use shared::domain::outbound::{OutboundBody, QualityMeter as _};
use shared::domain::ports::{Claim, IdempotencyRequest, IdempotencyStore};
use shared::domain::whatsapp::MetaError;
use shared::domain::{Clock, MessageId, TenantId, UserId};
use shared::kernel::digest::hex_sha256;
use shared::lambda::http::{json_response, Problem};

use super::path_id;
use crate::errors::{message_refused, ApiError};
use crate::{target, Adapters, Ctx, Deps};

/// The body of `POST /v1/messages`, as the OpenAPI document describes it: a Cloud API message
/// (`to`, `type` and the object named by `type`, e.g. `text: {body}`). The handler reads it as
/// JSON and [`OutboundBody::parse`] checks it against the Cloud API's rules (a 422 names the field),
/// so the schema only names its common fields; the per-type objects are Meta's.
#[derive(Debug)]
pub struct OutboundMessage;

impl schemars::JsonSchema for OutboundMessage {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OutboundMessage".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A message in the Cloud API's own shape (`to`, `type` and the object named by `type`; \
                `messaging_product` and `recipient_type` may be omitted), or a mark-as-read \
                (`to`, `status: read`, `message_id`).",
            "type": "object",
            "required": ["to"],
            "properties": {
                "to": {"type": "string", "description": "The recipient's number (E.164 digits, `+` optional).", "pattern": "^\\+?[0-9]{8,15}$"},
                "type": {"type": "string", "enum": shared::domain::outbound::MESSAGE_TYPES},
                "messaging_product": {"type": "string", "const": "whatsapp"},
                "recipient_type": {"type": "string", "const": "individual"},
                "text": {"type": "object", "required": ["body"], "properties": {
                    "body": {"type": "string", "minLength": 1, "maxLength": 4096},
                    "preview_url": {"type": "boolean"}}},
                "template": {"type": "object", "required": ["name", "language"], "properties": {
                    "name": {"type": "string"},
                    "language": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}},
                    "components": {"type": "array", "items": {"type": "object"}}}},
                "biz_opaque_callback_data": {"type": "string", "maxLength": 512},
                "context": {"type": "object", "required": ["message_id"], "properties": {"message_id": {"type": "string"}}},
                "status": {"type": "string", "const": "read"},
                "message_id": {"type": "string", "description": "The wamid to mark as read."}
            },
            "additionalProperties": true
        })
    }
}

/// The answer of `POST /v1/messages`.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Accepted {
    /// Leadline's id of the message.
    pub id: MessageId,
    /// `queued` (a retry after a crash answers where the message is now).
    pub status: shared::domain::inbox::MessageStatus,
}

/// An outbound message as `GET /v1/messages/{id}` shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MessageStatusView {
    /// Leadline's id.
    pub id: MessageId,
    /// `queued`, `sent`, `delivered`, `read`, `failed`, `blocked`, or `unknown`: handed to Meta
    /// without an answer saying whether Meta took it (never sent again; its status webhook or,
    /// after a day, a `failed` with `outcome-unknown` settles it).
    pub status: shared::domain::inbox::MessageStatus,
    /// Meta's id, once sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wamid: Option<String>,
    /// Why it failed or was blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<MetaError>,
    /// The message type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Every status reached, with when (epoch ms).
    pub statuses: std::collections::BTreeMap<String, i64>,
    /// The conversation it belongs to.
    pub conversation_id: shared::domain::ConversationId,
    /// Accepted, epoch ms.
    pub created_at: i64,
}

impl From<MessageView> for MessageStatusView {
    fn from(m: MessageView) -> Self {
        Self {
            id: m.id,
            status: m.status,
            wamid: m.wamid,
            error: m.error,
            kind: m.kind,
            statuses: m.statuses,
            conversation_id: m.conversation_id,
            created_at: m.timestamp,
        }
    }
}

/// How long a claimed key blocks a concurrent request with the same key: past the API's
/// timeout (30 s), so that a takeover never races a live holder.
const CLAIM_SECS: u64 = 35;
/// What a 409 in progress asks the client to wait before retrying (the first request usually
/// ends well within it).
const IN_PROGRESS_RETRY_SECS: u64 = 2;

fn idempotency_key(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let key =
        ctx.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > 255 {
        return Err(Problem::bad_request(
            "send an Idempotency-Key header (1 to 255 characters) with every message",
        )
        .into());
    }
    Ok(key.to_owned())
}

/// `POST /v1/messages`.
///
/// # Errors
/// 400 for a body the Cloud API would refuse or a missing key; 403 for an agent and a number
/// outside their scope (the same for one nobody knows, and before the policy, so that it tells
/// nothing about the number); 422 for the policy (consent, opt-out, window, template) or a key
/// reused for another body; 409 while the same key is in flight; 403 at the plan's monthly
/// limit; 503 when the queue is unavailable.
pub async fn send<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let key = idempotency_key(&ctx)?;
    let value: serde_json::Value = super::json_body(ctx.body)?;
    let body = OutboundBody::parse(&value).map_err(SubmitError::from)?;
    let canonical = serde_json::to_string(&value).unwrap_or_default();
    let hash = hex_sha256(&canonical);
    let request = IdempotencyRequest {
        tenant_id: &principal.tenant_id,
        scope: "api:messages",
        key: &key,
        payload_hash: &hash,
    };
    let now = deps.clock.now();
    // Reserved and noted with the claim, before anything is stored: a retry after a crash
    // resumes it.
    let reserved = MessageId::generate(now).map_err(anyhow::Error::new)?;
    let (id, resumed) = match deps
        .idempotency
        .claim_noting(&request, now, now.plus(std::time::Duration::from_secs(CLAIM_SECS)), reserved.as_str())
        .await?
    {
        Claim::Acquired => (reserved, false),
        Claim::Resumed { progress } => (MessageId::parse(progress).map_err(anyhow::Error::new)?, true),
        Claim::Completed { response } => {
            let accepted: Accepted = serde_json::from_str(&response).map_err(anyhow::Error::new)?;
            return Ok(json_response(StatusCode::ACCEPTED, &accepted));
        }
        Claim::Mismatch => {
            return Err(message_refused(
                "idempotency-key-reused",
                "this Idempotency-Key was used for another message",
            ));
        }
        Claim::InProgress => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "idempotency-key-in-progress",
                "Request in progress",
                "a request with this Idempotency-Key is in progress: retry with the same key and body \
                     after Retry-After seconds to get its result (never a second message)",
            )
            .with_retry_after(IN_PROGRESS_RETRY_SECS)
            .into());
        }
    };
    let ports = deps.outbound_ports();
    let resumed = if resumed {
        // The first request died after reserving `id`: finish what it stored, if anything.
        outbound::resume(&ports, &principal.tenant_id, &id, &body.to).await
    } else {
        Ok(None)
    };
    let outcome = match resumed {
        Ok(Some(accepted)) => Ok(accepted),
        Ok(None) => {
            let scope = principal.agent_scope();
            let submission = Submission {
                tenant: &principal.tenant_id,
                body: &body,
                scope: scope.as_ref(),
                id: Some(&id),
            };
            let outcome = outbound::submit(&ports, &submission).await;
            if let Ok(accepted) = &outcome {
                if let Some(user) = principal.user_id.as_ref().filter(|_| body.kind != "read") {
                    note_reply(deps, &principal.tenant_id, user, &accepted.id).await;
                }
                deps.audit(principal, "message.send", target("message", accepted.id.as_str()), |e| {
                    let entry = e.with_fields([body.kind.as_str()]);
                    match &accepted.contact {
                        Some(contact) => entry.about(contact),
                        None => entry,
                    }
                })
                .await;
            }
            let metric = match &outcome {
                Ok(_) => Some(outbound::Accepted::QUALITY_METRIC),
                Err(error) => error.quality_metric(),
            };
            if let Some(metric) = metric {
                if let Err(error) = deps.quality.count(&principal.tenant_id, metric, deps.clock.now()).await {
                    tracing::warn!(error = format!("{error:#}"), "Quality counter not updated");
                }
            }
            outcome
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(accepted) => {
            let accepted = Accepted { id: accepted.id, status: accepted.status };
            let response = serde_json::to_string(&accepted).map_err(anyhow::Error::new)?;
            deps.idempotency.complete(&request, &response, deps.clock.now()).await?;
            Ok(json_response(StatusCode::ACCEPTED, &accepted))
        }
        Err(error) => {
            if may_have_stored(&error)
                && deps.outbox.outbound(&principal.tenant_id, &id).await.ok() != Some(None)
            {
                // The message may be stored: keep the claim, so that the retry (once it lapses)
                // resumes this id instead of storing a second message.
                return Err(error.into());
            }
            // Nothing is stored, or it is stored failed: the key may be used again.
            if let Err(release) = deps.idempotency.release(&request).await {
                tracing::warn!(error = format!("{release:#}"), "Idempotency claim not released");
            }
            Err(error.into())
        }
    }
}

/// A person of the team replied: the contact center's reply events (the first reply of the
/// conversation's cycle is its first response). A failure is logged: the message is accepted.
async fn note_reply<A: Adapters>(deps: &Deps<A>, tenant: &TenantId, user: &UserId, id: &MessageId) {
    let conversation = match deps.outbox.outbound(tenant, id).await {
        Ok(Some(message)) => message.conversation_id,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "Reply not noted for the contact center");
            return;
        }
    };
    // A person writes: the bot stops at once (P40).
    shared::app::flows::take_over(&deps.flows, &deps.center_ports(), tenant, &conversation, "an agent wrote")
        .await;
    let at = deps.clock.now();
    if let Err(error) =
        center::agent_replied(&deps.center_ports(), tenant, &conversation, Some(user), id.as_str(), at).await
    {
        tracing::warn!(error = format!("{error:#}"), "Reply not noted for the contact center");
    }
}

/// Whether a failed submission may have left a stored, queued message behind: only a store
/// failure can (refusals come before storing; a message the queue refused is stored failed).
const fn may_have_stored(error: &SubmitError) -> bool {
    matches!(error, SubmitError::Unknown(_))
}

/// `GET /v1/messages/{message_id}`.
///
/// # Errors
/// 404 for an unknown, another tenant's or (agents) another agent's message.
pub async fn get<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let not_found = || ApiError::from(Problem::not_found("no such message"));
    let id = path_id(ctx.param("message_id"), MessageId::parse, "message")?;
    let message = deps.outbox.outbound(&principal.tenant_id, &id).await?.ok_or_else(not_found)?;
    if let Some(scope) = principal.agent_scope() {
        let conversation =
            deps.conversations.conversation(&principal.tenant_id, &message.conversation_id).await?;
        if !conversation.is_some_and(|c| scope.sees(&c)) {
            return Err(not_found());
        }
    }
    Ok(json_response(StatusCode::OK, &MessageStatusView::from(message)))
}

/// A month's sending quality.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct QualityView {
    /// The UTC month, `yyyy-mm`.
    pub month: String,
    /// `accepted`, `sent`, `failed.<code>`, `blocked.<reason>`, `refused.<reason>`,
    /// `opt_out.<source>`: how many.
    pub counters: std::collections::BTreeMap<String, u64>,
}

/// `GET /v1/quality[?month=yyyy-mm]` (P24).
///
/// # Errors
/// 400 for a month not shaped `yyyy-mm`.
pub async fn quality<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let month = match ctx.query.get("month") {
        None => deps.clock.now().utc_month(),
        Some(month) => {
            let valid = month.len() == 7
                && month.as_bytes()[4] == b'-'
                && month.chars().enumerate().all(|(i, c)| i == 4 || c.is_ascii_digit())
                && matches!(month[5..].parse::<u8>(), Ok(1..=12));
            if !valid {
                return Err(Problem::bad_request("month must be yyyy-mm").into());
            }
            month.clone()
        }
    };
    let counters = deps.quality.month(&principal.tenant_id, &month).await?;
    Ok(json_response(StatusCode::OK, &QualityView { month, counters }))
}
