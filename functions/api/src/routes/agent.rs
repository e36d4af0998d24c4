//! What an agent's screen needs beyond the conversation routes: a conversation with its 24-hour
//! window (and, once it is closed, the approved templates to use), private notes on a
//! conversation, the agent's listings (`GET /v1/inbox`) and read marks.
//!
//! Every per-conversation route checks visibility with [`inbox::visible_conversation`], so an
//! agent is answered 404 for what is outside their scope, as everywhere else.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::domain::crm::{Activity, ContactRecord, RecordKind, RecordStore as _};
use shared::domain::inbox::{
    AgentScope, ContactStore as _, ConversationFilter, ConversationState, ConversationStore as _,
    ConversationView, MessageView,
};
use shared::domain::outbound::{service_window, ServiceWindow, TemplateStore as _};
use shared::domain::reads::{ReadMarkStore as _, MAX_UNREAD};
use shared::domain::tenant::Role;
use shared::domain::{Clock, RecordId, TenantId, Timestamp};
use shared::kernel::Page;
use shared::lambda::http::{json_response, Problem};

use super::inbox::{self, actor_of, paging, PageView};
use super::{json_body, no_content};
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// The longest private note, as for a contact's notes.
pub const MAX_NOTE_CHARS: usize = 10_000;
/// The characters of a message's text a listing previews.
pub const PREVIEW_CHARS: usize = 120;
/// The latest messages a listing item reads: its preview and unread count come from them.
const LATEST_READ: u16 = 100;

/// A template an agent may send once the window is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TemplateRef {
    /// Its name.
    pub name: String,
    /// Its language code.
    pub language: String,
}

/// `GET /v1/conversations/{conversation_id}`: the conversation, its window, and while the
/// window is closed the tenant's approved templates.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ConversationDetail {
    /// The conversation.
    #[serde(flatten)]
    pub conversation: ConversationView,
    /// The 24-hour customer-service window from the contact's latest message.
    pub window: ServiceWindow,
    /// The tenant's approved templates (present only while the window is closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<Vec<TemplateRef>>,
}

/// The window of a conversation's contact (closed when the contact is gone).
async fn window_of<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    conversation: &ConversationView,
    now: Timestamp,
) -> Result<(ServiceWindow, Option<String>), ApiError> {
    let contact = deps.contacts.contact(tenant, &conversation.contact_id).await?;
    let window =
        contact.as_ref().map_or(ServiceWindow { open: false, closes_at: None, seconds_left: None }, |c| {
            service_window(c, now)
        });
    Ok((window, contact.and_then(|c| c.name)))
}

/// `GET /v1/conversations/{conversation_id}`.
///
/// # Errors
/// 404 for an unknown, another tenant's, or (for agents) another agent's conversation.
pub async fn conversation<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let conversation = inbox::visible_conversation(&ctx, deps).await?;
    let tenant = &ctx.tenant()?.tenant_id;
    let (window, _) = window_of(deps, tenant, &conversation, deps.clock.now()).await?;
    let templates = if window.open {
        None
    } else {
        Some(
            deps.templates
                .templates(tenant)
                .await?
                .into_iter()
                .filter(|t| t.status.eq_ignore_ascii_case("APPROVED"))
                .map(|t| TemplateRef { name: t.name, language: t.language })
                .collect(),
        )
    };
    Ok(json_response(StatusCode::OK, &ConversationDetail { conversation, window, templates }))
}

/// `POST /v1/conversations/{conversation_id}/notes`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// The note, 1 to 10,000 characters; only the tenant's team ever reads it.
    pub text: String,
}

/// `GET /v1/conversations/{conversation_id}/notes`: the private notes written on this
/// conversation, oldest first. They are the contact's notes (erased, exported and kept with
/// them); a page holds the contact's notes of this conversation among the next `limit` of them,
/// so a page may be short before the last one.
///
/// # Errors
/// 404 as for the conversation; 400 for a bad limit or cursor.
pub async fn notes<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let conversation = inbox::visible_conversation(&ctx, deps).await?;
    let tenant = &ctx.tenant()?.tenant_id;
    let paging = paging(ctx.query)?;
    let page = deps
        .records
        .records(tenant, &conversation.contact_id, RecordKind::Note, paging.after.as_deref(), paging.limit)
        .await?;
    let items =
        page.items.into_iter().filter(|n| n.conversation_id.as_ref() == Some(&conversation.id)).collect();
    Ok(json_response(StatusCode::OK, &PageView::from(Page { items, next: page.next })))
}

/// `POST /v1/conversations/{conversation_id}/notes`: a private note (never sent), written by the
/// caller.
///
/// # Errors
/// 404 as for the conversation; 400 for an empty or too long text.
pub async fn create_note<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: NoteBody = json_body(ctx.body)?;
    let conversation = inbox::visible_conversation(&ctx, deps).await?;
    let text = body.text.trim().to_owned();
    if !(1..=MAX_NOTE_CHARS).contains(&text.chars().count()) {
        return Err(Problem::bad_request(format!("text must be 1 to {MAX_NOTE_CHARS} characters")).into());
    }
    let now = deps.clock.now();
    let note = ContactRecord {
        id: RecordId::generate(now)?,
        contact_id: conversation.contact_id.clone(),
        kind: RecordKind::Note,
        text,
        due_at: None,
        assignee: None,
        done_at: None,
        starts_at: None,
        ends_at: None,
        location: None,
        conversation_id: Some(conversation.id.clone()),
        author: principal.actor.clone(),
        created_at: now.as_millis(),
        updated_at: now.as_millis(),
    };
    deps.records.put_record(&principal.tenant_id, &note, None).await?;
    let activity = Activity {
        at: now.as_millis(),
        kind: "note.created".to_owned(),
        ref_id: Some(note.id.to_string()),
        detail: None,
        actor: actor_of(principal),
    };
    deps.records.add_activity(&principal.tenant_id, &conversation.contact_id, &activity).await?;
    deps.audit(principal, "note.create", target("note", note.id.as_str()), |e| {
        e.about(&conversation.contact_id)
    })
    .await;
    Ok(json_response(StatusCode::CREATED, &note))
}

/// `POST /v1/conversations/{conversation_id}/read`: the caller has read the conversation up to
/// now (or its latest message, if that is later by the store's clock).
///
/// # Errors
/// 404 as for the conversation.
pub async fn mark_read<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let user = principal
        .user_id
        .as_ref()
        .ok_or_else(|| ApiError::from(Problem::forbidden("read marks are a logged-in user's")))?;
    let conversation = inbox::visible_conversation(&ctx, deps).await?;
    let at = deps.clock.now().as_millis().max(conversation.last_message_at);
    deps.read_marks.mark_read(&principal.tenant_id, user, &conversation.id, at).await?;
    Ok(no_content())
}

/// The latest message of a listing item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LastMessage {
    /// The first 120 characters of its text, or its type (`image`, `template`, …).
    pub preview: String,
    /// When it was sent, epoch ms.
    pub at: i64,
    /// `inbound` or `outbound`.
    pub direction: String,
}

/// One conversation of an agent's listing.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct InboxItem {
    /// The conversation.
    #[serde(flatten)]
    pub conversation: ConversationView,
    /// The contact's name, if known.
    pub contact_name: Option<String>,
    /// The latest message, if any.
    pub last_message: Option<LastMessage>,
    /// Customer messages after the caller last read it (at most 99).
    pub unread_count: u32,
    /// Seconds it has waited in its queue, while `queued` (else null).
    pub waiting_seconds: Option<i64>,
    /// The 24-hour customer-service window.
    pub window: ServiceWindow,
}

/// The preview of a message: its text's first [`PREVIEW_CHARS`] characters, else its type.
#[must_use]
pub fn preview(message: &MessageView) -> String {
    message
        .payload
        .as_ref()
        .and_then(|p| p.pointer("/text/body"))
        .and_then(serde_json::Value::as_str)
        .map_or_else(|| message.kind.clone(), |text| text.chars().take(PREVIEW_CHARS).collect())
}

/// The customer messages among `newest_first` sent after `read_at` (all when never read), at
/// most [`MAX_UNREAD`].
#[must_use]
pub fn unread(newest_first: &[MessageView], read_at: Option<i64>) -> u32 {
    let count = newest_first
        .iter()
        .take_while(|m| read_at.is_none_or(|r| m.timestamp > r))
        .filter(|m| m.direction == "inbound")
        .count();
    u32::try_from(count).unwrap_or(u32::MAX).min(MAX_UNREAD)
}

/// The views of `GET /v1/inbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    /// Assigned to the caller.
    Mine,
    /// Queued in the caller's queues.
    Waiting,
    /// Everything (managers and admins).
    All,
}

/// `GET /v1/inbox?view=mine|waiting|all` with the filters `state`, `queue`, `assignee` and
/// `updated_since`: `mine` — the caller's conversations, `open` or `pending` unless `state` says
/// otherwise; `waiting` — the `queued` conversations of the caller's queues; `all` — every
/// conversation (managers and admins). In the store's listing order: by conversation id, which
/// is time-ordered, so the conversation that started first comes first; each item reads its
/// contact, its latest messages and the caller's read mark, so a page costs at most three reads
/// per item. A page may hold fewer than `limit` items before the last one (`mine` without
/// `state` leaves out the assigned conversations that are not open or pending).
///
/// # Errors
/// 400 for a bad view, filter, limit or cursor; 403 for an API key, and for an agent asking
/// for `all`.
pub async fn list<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let tenant = &principal.tenant_id;
    let user = principal
        .user_id
        .clone()
        .ok_or_else(|| ApiError::from(Problem::forbidden("the inbox is a logged-in user's")))?;
    let paging = paging(ctx.query)?;
    let view = match ctx.query.get("view").map_or("mine", String::as_str) {
        "mine" => View::Mine,
        "waiting" => View::Waiting,
        "all" => View::All,
        _ => return Err(Problem::bad_request("view must be mine, waiting or all").into()),
    };
    let asked = inbox::filter_of(ctx.query)?;
    let empty = || Ok(json_response(StatusCode::OK, &PageView::<InboxItem> { items: vec![], next: None }));
    let filter = match view {
        View::Mine => {
            if asked.assignee.as_ref().is_some_and(|a| *a != user) {
                return empty();
            }
            ConversationFilter { assignee: Some(user.clone()), ..asked.clone() }
        }
        View::Waiting => {
            if principal.queues.is_empty() || asked.state.is_some_and(|s| s != ConversationState::Queued) {
                return empty();
            }
            ConversationFilter {
                state: Some(ConversationState::Queued),
                visible_to: Some(AgentScope { user: None, queues: principal.queues.clone() }),
                ..asked.clone()
            }
        }
        View::All if principal.role < Role::Manager => {
            return Err(Problem::forbidden("the view all is for managers and admins").into())
        }
        View::All => asked.clone(),
    };
    let page = deps
        .conversations
        .conversations(tenant, None, &filter, paging.after.as_deref(), paging.limit)
        .await?;
    let now = deps.clock.now();
    let mut items = Vec::with_capacity(page.items.len());
    for conversation in page.items {
        let default_mine = view == View::Mine && asked.state.is_none();
        if default_mine && !matches!(conversation.state, ConversationState::Open | ConversationState::Pending)
        {
            continue;
        }
        let (window, contact_name) = window_of(deps, tenant, &conversation, now).await?;
        let latest = deps.conversations.messages_before(tenant, &conversation.id, None, LATEST_READ).await?;
        let read_at = deps.read_marks.last_read(tenant, &user, &conversation.id).await?;
        let last_message = latest.first().map(|m| LastMessage {
            preview: preview(m),
            at: m.timestamp,
            direction: m.direction.clone(),
        });
        items.push(InboxItem {
            unread_count: unread(&latest, read_at),
            contact_name,
            last_message,
            waiting_seconds: waiting_seconds(&conversation, now),
            window,
            conversation,
        });
    }
    Ok(json_response(StatusCode::OK, &PageView::from(Page { items, next: page.next })))
}

/// Whole seconds a conversation has waited in its queue, while it is `queued` there.
#[must_use]
pub fn waiting_seconds(conversation: &ConversationView, now: Timestamp) -> Option<i64> {
    conversation
        .queued_at
        .filter(|_| conversation.state == ConversationState::Queued)
        .map(|since| ((now.as_millis() - since) / 1000).max(0))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use shared::domain::inbox::MessageStatus;
    use shared::domain::{ConversationId, MessageId};

    use super::*;

    fn message(direction: &str, at: i64, payload: Option<serde_json::Value>) -> MessageView {
        MessageView {
            id: MessageId::parse(format!("msg_{at}")).unwrap(),
            conversation_id: ConversationId::parse("cv_1").unwrap(),
            wamid: None,
            direction: direction.to_owned(),
            kind: if payload.is_some() { "text".to_owned() } else { "image".to_owned() },
            timestamp: at,
            status: MessageStatus::Delivered,
            statuses: BTreeMap::new(),
            error: None,
            payload,
            content_sanitized_at: None,
        }
    }

    #[test]
    fn unread_counts_customer_messages_after_the_mark_up_to_99() {
        let newest_first =
            [message("inbound", 50, None), message("outbound", 40, None), message("inbound", 30, None)];
        assert_eq!(unread(&newest_first, None), 2);
        assert_eq!(unread(&newest_first, Some(35)), 1);
        assert_eq!(unread(&newest_first, Some(50)), 0);
        let many: Vec<MessageView> = (0..100).rev().map(|at| message("inbound", at, None)).collect();
        assert_eq!(unread(&many, None), MAX_UNREAD);
    }

    #[test]
    fn the_preview_is_the_texts_start_or_the_type() {
        let long = "é".repeat(130);
        let text = message("inbound", 1, Some(serde_json::json!({"text": {"body": long}})));
        assert_eq!(preview(&text).chars().count(), PREVIEW_CHARS);
        assert_eq!(preview(&message("inbound", 1, None)), "image");
    }
}
