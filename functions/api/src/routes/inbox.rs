//! Conversations and their messages, and the paging every listing shares.
//!
//! Agents see a conversation when it is assigned to them or waits in one of their queues (P14);
//! any other conversation answers 404 to them, exactly like another tenant's.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::app::center;
use shared::domain::audit::{Actor, ActorKind};
use shared::domain::crm::{Activity, RecordStore as _};
use shared::domain::inbox::{
    ContactStore, ConversationFilter, ConversationState, ConversationStore, ConversationView,
};
use shared::domain::tenant::Role;
use shared::domain::{Clock, ConversationId, PhoneNumber, QueueId, UserId};
use shared::kernel::Page;
use shared::lambda::http::{json_response, Problem};

use super::{json_body, nullable, path_id};
use crate::auth::TenantPrincipal;
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// Page size when the client sets none.
pub const DEFAULT_LIMIT: u16 = 50;
/// The largest page a client may ask for.
pub const MAX_LIMIT: u16 = 100;

/// Query parameters, first value of each.
pub type Query = HashMap<String, String>;

/// `limit` and `cursor` of a listing.
#[derive(Debug)]
pub struct Paging {
    /// Page size.
    pub limit: u16,
    /// The store cursor to continue after.
    pub after: Option<String>,
}

/// The `cursor` parameter, decoded (cursors are base64url of what the store returned).
///
/// # Errors
/// 400 for a cursor this API did not return.
pub fn cursor(query: &Query) -> Result<Option<String>, ApiError> {
    query
        .get("cursor")
        .map(|cursor| {
            B64.decode(cursor)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| ApiError::from(Problem::bad_request("cursor is not one this API returned")))
        })
        .transpose()
}

/// A store cursor as the API hands it out.
#[must_use]
pub fn encode_cursor(cursor: &str) -> String {
    B64.encode(cursor)
}

/// `limit` and `cursor`.
///
/// # Errors
/// 400 for a limit outside 1 to [`MAX_LIMIT`] or a foreign cursor.
pub fn paging(query: &Query) -> Result<Paging, ApiError> {
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| Problem::bad_request(format!("limit must be 1 to {MAX_LIMIT}")))?,
    };
    let after = cursor(query)?;
    Ok(Paging { limit, after })
}

/// A page as the API returns it: `{items, next}`, `next` an opaque cursor.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "{T}Page")]
pub struct PageView<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl<T> From<Page<T>> for PageView<T> {
    fn from(page: Page<T>) -> Self {
        Self { items: page.items, next: page.next.as_deref().map(encode_cursor) }
    }
}

/// The `phone` parameter.
///
/// # Errors
/// 400 for a number that is not E.164.
pub fn phone_filter(query: &Query) -> Result<Option<PhoneNumber>, ApiError> {
    query
        .get("phone")
        .map(|raw| {
            PhoneNumber::parse(raw).map_err(|e| ApiError::from(Problem::bad_request(format!("phone: {e}"))))
        })
        .transpose()
}

/// An epoch-milliseconds parameter.
///
/// # Errors
/// 400 naming the parameter.
pub fn millis(query: &Query, name: &str) -> Result<Option<i64>, ApiError> {
    query
        .get(name)
        .map(|raw| {
            raw.parse::<i64>().ok().filter(|v| (0..=253_402_300_799_999).contains(v)).ok_or_else(|| {
                ApiError::from(Problem::bad_request(format!("{name} must be epoch milliseconds")))
            })
        })
        .transpose()
}

/// A short text parameter (1 to `max` characters).
///
/// # Errors
/// 400 naming the parameter.
pub fn text(query: &Query, name: &str, max: usize) -> Result<Option<String>, ApiError> {
    query
        .get(name)
        .map(|raw| {
            let value = raw.trim();
            if (1..=max).contains(&value.chars().count()) {
                Ok(value.to_owned())
            } else {
                Err(ApiError::from(Problem::bad_request(format!("{name} must be 1 to {max} characters"))))
            }
        })
        .transpose()
}

/// `GET /v1/conversations`.
///
/// # Errors
/// 400 for a bad filter, limit or cursor.
pub async fn conversations<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let tenant = &principal.tenant_id;
    let paging = paging(ctx.query)?;
    let filter = ConversationFilter { visible_to: principal.agent_scope(), ..filter_of(ctx.query)? };
    let contact = match phone_filter(ctx.query)? {
        Some(phone) => match deps.contacts.contact_by_phone(tenant, &phone).await? {
            Some(contact) => Some(contact.id),
            None => {
                return Ok(json_response(
                    StatusCode::OK,
                    &PageView::<ConversationView> { items: vec![], next: None },
                ))
            }
        },
        None => None,
    };
    let page = deps
        .conversations
        .conversations(tenant, contact.as_ref(), &filter, paging.after.as_deref(), paging.limit)
        .await?;
    Ok(json_response(StatusCode::OK, &PageView::from(page)))
}

/// The `state`, `assignee`, `queue` and `updated_since` filters of a listing (no scope).
///
/// # Errors
/// 400 naming the bad parameter.
pub fn filter_of(query: &Query) -> Result<ConversationFilter, ApiError> {
    let state =
        text(query, "state", 16)?.map(|s| ConversationState::parse(&s).ok_or_else(bad_state)).transpose()?;
    Ok(ConversationFilter {
        state,
        assignee: text(query, "assignee", 64)?.map(|a| UserId::parse(a).map_err(|e| bad(&e))).transpose()?,
        queue: text(query, "queue", 64)?
            .map(|q| QueueId::parse(q).map_err(|e| bad_field("queue", &e)))
            .transpose()?,
        updated_since: millis(query, "updated_since")?,
        visible_to: None,
    })
}

fn bad_state() -> ApiError {
    Problem::bad_request(format!("state must be one of {}", ConversationState::NAMES.join(", "))).into()
}

fn bad_field(name: &str, error: &impl std::fmt::Display) -> ApiError {
    Problem::bad_request(format!("{name}: {error}")).into()
}

fn bad(error: &impl std::fmt::Display) -> ApiError {
    Problem::bad_request(error.to_string()).into()
}

/// The conversation of the path, if the caller may see it (404 otherwise, whatever the reason).
///
/// # Errors
/// 404.
pub async fn visible_conversation<A: Adapters>(
    ctx: &Ctx<'_>,
    deps: &Deps<A>,
) -> Result<ConversationView, ApiError> {
    let principal = ctx.tenant()?;
    let not_found = || ApiError::from(Problem::not_found("no such conversation"));
    let id = path_id(ctx.param("conversation_id"), ConversationId::parse, "conversation")?;
    let conversation =
        deps.conversations.conversation(&principal.tenant_id, &id).await?.ok_or_else(not_found)?;
    match principal.agent_scope() {
        Some(scope) if !scope.sees(&conversation) => Err(not_found()),
        _ => Ok(conversation),
    }
}

/// `GET /v1/conversations/{conversation_id}`.
///
/// # Errors
/// 404 for an unknown, another tenant's, or (for agents) another agent's conversation.
pub async fn conversation<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    Ok(json_response(StatusCode::OK, &visible_conversation(&ctx, deps).await?))
}

/// `PATCH /v1/conversations/{conversation_id}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversationBody {
    /// `bot`, `queued`, `open`, `pending` or `resolved`; the move from the current state must
    /// be one the state machine allows.
    #[serde(default)]
    pub state: Option<String>,
    /// A user id, or null to unassign (managers and admins).
    #[serde(default, deserialize_with = "nullable")]
    pub assignee: Option<Option<UserId>>,
    /// A queue name, or null (managers and admins).
    #[serde(default, deserialize_with = "nullable")]
    pub queue: Option<Option<String>>,
    /// The version the caller saw (as `If-Match` does): the change applies only if the
    /// conversation is still at it. Without either, the version just read.
    #[serde(default)]
    pub version: Option<u64>,
    /// Snooze until this time (epoch ms, in the future): the conversation waits on the customer
    /// (`pending`) and wakes when they write. Null clears it.
    #[serde(default, deserialize_with = "nullable")]
    pub snoozed_until: Option<Option<i64>>,
}

/// The version an `If-Match` header names (`3`, `"3"` or `W/"3"`), if any.
///
/// # Errors
/// 400 for a header that names no version.
fn if_match(headers: &lambda_http::http::HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(lambda_http::http::header::IF_MATCH) else { return Ok(None) };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| Problem::bad_request("If-Match must name a conversation version").into())
}

/// Who acted, for a timeline entry.
#[must_use]
pub fn actor_of(principal: &TenantPrincipal) -> Option<Actor> {
    Some(principal.actor.clone()).filter(|a| a.kind != ActorKind::System)
}

/// `PATCH /v1/conversations/{conversation_id}`.
///
/// # Errors
/// 404 as for reads; 403 when an agent assigns or moves; 400 for a bad state, assignee, queue or
/// version; 409 for a move the state machine refuses or a version that is no longer current.
pub async fn update_conversation<A: Adapters>(
    ctx: Ctx<'_>,
    deps: &Deps<A>,
) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: UpdateConversationBody = json_body(ctx.body)?;
    let current = visible_conversation(&ctx, deps).await?;
    let state =
        body.state.as_deref().map(|s| ConversationState::parse(s).ok_or_else(bad_state)).transpose()?;
    let expected_version = match (body.version, if_match(ctx.headers)?) {
        (Some(body), Some(header)) if body != header => {
            return Err(Problem::bad_request("version and If-Match name different versions").into())
        }
        // Without one, the version this request just read and checked visibility on: a change
        // made meanwhile by someone else makes this one a conflict, never a silent overwrite.
        (version, header) => Some(version.or(header).unwrap_or(current.version)),
    };
    if (body.assignee.is_some() || body.queue.is_some()) && principal.role < Role::Manager {
        return Err(Problem::forbidden("assigning and moving conversations needs the manager role").into());
    }
    if let Some(Some(assignee)) = &body.assignee {
        let user = deps.directory_user(&principal.tenant_id, assignee).await?;
        if !user {
            return Err(Problem::bad_request("assignee is not a user of this tenant").into());
        }
    }
    let queue = body
        .queue
        .as_ref()
        .map(|queue| {
            queue.as_deref().map(|q| QueueId::parse(q.trim()).map_err(|e| bad_field("queue", &e))).transpose()
        })
        .transpose()?;
    if body.snoozed_until.flatten().is_some_and(|until| until <= deps.clock.now().as_millis()) {
        return Err(Problem::bad_request("snoozed_until must be in the future").into());
    }
    // An agent opening a conversation that waits in their queue takes it (a claim).
    let assignee = match (&body.assignee, principal.agent_scope(), state) {
        (None, Some(scope), Some(ConversationState::Open)) if current.state == ConversationState::Queued => {
            scope.user.map(Some)
        }
        (assignee, _, _) => assignee.clone(),
    };
    let change =
        center::Change { state, assignee, queue, snoozed_until: body.snoozed_until, expected_version };
    let now = deps.clock.now();
    let updated = center::apply(&deps.center_ports(), &principal.tenant_id, &current, &change).await?;
    if body.assignee.is_some() || body.queue.is_some() || updated.assignee.is_some() {
        // A manager assigned or routed it (or the engine gave it to someone): the bot stops.
        let why = "assigned or routed by a person";
        shared::app::flows::take_over(
            &deps.flows,
            &deps.center_ports(),
            &principal.tenant_id,
            &current.id,
            why,
        )
        .await;
    }
    let mut fields = Vec::new();
    if body.state.is_some() {
        fields.push("state");
    }
    if body.assignee.is_some() {
        fields.push("assignee");
    }
    if body.queue.is_some() {
        fields.push("queue");
    }
    if body.snoozed_until.is_some() {
        fields.push("snoozed_until");
    }
    if let Some(state) = state.filter(|s| *s != current.state) {
        let activity = Activity {
            at: now.as_millis(),
            kind: "conversation.state_changed".to_owned(),
            ref_id: Some(current.id.to_string()),
            detail: Some(state.as_str().to_owned()),
            actor: actor_of(principal),
        };
        deps.records.add_activity(&principal.tenant_id, &current.contact_id, &activity).await?;
    }
    deps.audit(principal, "conversation.update", target("conversation", current.id.as_str()), |e| {
        e.with_fields(fields).about(&current.contact_id)
    })
    .await;
    Ok(json_response(StatusCode::OK, &updated))
}

/// `GET /v1/conversations/{conversation_id}/messages`, oldest first.
///
/// # Errors
/// 404 as for the conversation; 400 for a bad limit or cursor.
pub async fn messages<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let conversation = visible_conversation(&ctx, deps).await?;
    let tenant = &ctx.tenant()?.tenant_id;
    let paging = paging(ctx.query)?;
    let page =
        deps.conversations.messages(tenant, &conversation.id, paging.after.as_deref(), paging.limit).await?;
    Ok(json_response(StatusCode::OK, &PageView::from(page)))
}

impl<A: Adapters> Deps<A> {
    /// True when `user` is a live (not deleted) user of `tenant`.
    ///
    /// # Errors
    /// 500 when the store fails.
    pub async fn directory_user(
        &self,
        tenant: &shared::domain::TenantId,
        user: &UserId,
    ) -> Result<bool, ApiError> {
        use shared::domain::identity::{Directory as _, UserStatus};
        Ok(self.directory.user(tenant, user).await?.is_some_and(|u| u.value.status != UserStatus::Deleted))
    }
}
