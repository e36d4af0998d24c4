//! P52 for the contact center's event log: when conversations go (retention ends, the contact
//! is erased, the integration is purged), their events lose the conversation id first; one
//! that still waits in a queue leaves its waiting line first ([`removal_event`]), so that queue
//! depth over time does not count it forever.

use crate::domain::center::{waits_in, CenterError, CenterEvent, EventKind, EventLog};
use crate::domain::inbox::{ConversationFilter, ConversationStore, ConversationView, InboxError};
use crate::domain::{ContactId, TenantId, Timestamp};

/// The `dequeued` event of `conversation` going away at `at` (erased, purged) while it waits in
/// a queue; `None` when it does not wait. Its id is fixed by the conversation's version, so a
/// retried removal records it once.
#[must_use]
pub fn removal_event(conversation: &ConversationView, at: Timestamp) -> Option<CenterEvent> {
    let queue = waits_in(conversation.state, conversation.queue.as_ref())?;
    Some(CenterEvent {
        id: format!("{}#dequeued#removed#v{}", conversation.id, conversation.version),
        kind: EventKind::Dequeued,
        conversation_id: Some(conversation.id.clone()),
        at: at.as_millis(),
        queue: Some(queue.clone()),
        agent: None,
        duration_ms: conversation.queued_at.map(|since| at.as_millis() - since),
        target_ms: None,
        by_system: true,
    })
}

/// Before `conversation` goes: it leaves its waiting line (if it waits), then its events lose
/// its id. Returns how many events changed.
///
/// # Errors
/// [`CenterError::Unknown`]; nothing is deleted, so the caller may simply retry.
pub async fn before_removal<E: EventLog>(
    events: &E,
    tenant: &TenantId,
    conversation: &ConversationView,
    at: Timestamp,
) -> Result<u64, CenterError> {
    if let Some(event) = removal_event(conversation, at) {
        events.record(tenant, &event).await?;
    }
    events.anonymize(tenant, &conversation.id).await
}

/// Errors of [`anonymize_contact`].
#[derive(Debug, thiserror::Error)]
pub enum AnonymizeError {
    /// Listing the contact's conversations failed.
    #[error("listing the contact's conversations failed")]
    Conversations(#[from] InboxError),
    /// The event log failed.
    #[error("anonymizing events failed")]
    Unknown(#[from] CenterError),
}

/// Removes the ids of every conversation of `contact` from the event log, after taking those
/// still waiting out of their queue's line at `at` ([`before_removal`]): called before the
/// contact's conversations are deleted (so that a retry after a failure still finds them).
/// Returns how many events changed.
///
/// # Errors
/// [`AnonymizeError`]; nothing is deleted, so the caller may simply retry.
pub async fn anonymize_contact<C: ConversationStore, E: EventLog>(
    conversations: &C,
    events: &E,
    tenant: &TenantId,
    contact: &ContactId,
    at: Timestamp,
) -> Result<u64, AnonymizeError> {
    let every = ConversationFilter::default();
    let mut after: Option<String> = None;
    let mut changed = 0;
    loop {
        let page = conversations.conversations(tenant, Some(contact), &every, after.as_deref(), 100).await?;
        for conversation in &page.items {
            changed += before_removal(events, tenant, conversation, at).await?;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(changed),
        }
    }
}
