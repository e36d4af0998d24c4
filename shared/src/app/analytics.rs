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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::documents::DocEventLog;
    use crate::domain::center::analytics::{hour_of, Scope, HOUR_MS};
    use crate::domain::inbox::ConversationState;
    use crate::domain::{ConversationId, QueueId};
    use crate::testing::MemoryDocs;

    fn waiting(at: i64) -> ConversationView {
        ConversationView {
            id: ConversationId::parse("cv_1").unwrap(),
            contact_id: ContactId::parse("ct_1").unwrap(),
            state: ConversationState::Queued,
            version: 2,
            started_at: at,
            last_message_at: at,
            assignee: None,
            queue: Some(QueueId::parse("q_1").unwrap()),
            updated_at: at,
            queued_at: Some(at),
            cycle_started_at: at,
            first_reply_at: None,
            resolved_at: None,
            snoozed_until: None,
        }
    }

    #[tokio::test]
    async fn a_conversation_removed_while_it_waits_leaves_its_line_once_whatever_the_retries() {
        // Arrange: it entered the line an hour ago.
        let log = DocEventLog::new(MemoryDocs::default());
        let tenant = crate::testing::contract::tenant();
        let now = crate::testing::contract::now();
        let since = now.as_millis() - HOUR_MS;
        let conversation = waiting(since);
        let entered = CenterEvent {
            id: "cv_1#queued#v2".to_owned(),
            kind: EventKind::Queued,
            conversation_id: Some(conversation.id.clone()),
            at: since,
            queue: conversation.queue.clone(),
            agent: None,
            duration_ms: None,
            target_ms: None,
            by_system: false,
        };
        log.record(&tenant, &entered).await.unwrap();
        let later = hour_of(now.as_millis()) + HOUR_MS;
        assert_eq!(log.depth_before(&tenant, &Scope::Tenant, later).await.unwrap(), 1);

        // Act: removed, and the removal retried.
        before_removal(&log, &tenant, &conversation, now).await.unwrap();
        before_removal(&log, &tenant, &conversation, now).await.unwrap();

        // Assert
        let queue = Scope::Queue(QueueId::parse("q_1").unwrap());
        assert_eq!(log.depth_before(&tenant, &queue, later).await.unwrap(), 0);
        let events = log.events(&tenant, (since, later), None, 10).await.unwrap().items;
        let left: Vec<_> = events.iter().filter(|e| e.kind == EventKind::Dequeued).collect();
        assert_eq!(left.len(), 1, "{events:?}");
        assert_eq!(left[0].duration_ms, Some(HOUR_MS));
        assert!(events.iter().all(|e| e.conversation_id.is_none()), "anonymized after");
    }
}
