//! Live notices (issue #18), sent where the contact center's events are recorded: one call per
//! recorded event ([`notify_event`]), and one per status that moved one of Leadline's own sends
//! ([`notify_status`]); best effort.

use crate::domain::center::CenterEvent;
use crate::domain::inbox::{ConversationStore, OutboundStore};
use crate::domain::live::{LiveFeed, LiveKind, LiveNotice};
use crate::domain::{MessageId, TenantId, Timestamp};

/// Sends the live notice of `event`, if it makes one ([`LiveNotice::of_event`]) and the tenant
/// may be listening ([`LiveFeed::listening`]). A failure is logged and never fails the operation
/// that recorded the event: the change is written, and a lost notice only delays the page (its
/// refetch on reconnect and the polling fallback catch up).
pub async fn notify_event<L: LiveFeed>(feed: &L, tenant: &TenantId, event: &CenterEvent) {
    let Some(notice) = LiveNotice::of_event(tenant, event) else { return };
    if !feed.listening(tenant).await {
        return;
    }
    if let Err(error) = feed.notify(std::slice::from_ref(&notice)).await {
        tracing::warn!(error = format!("{error:#}"), kind = ?notice.kind, "Live notice not sent");
    }
}

/// Sends a [`LiveKind::Status`] notice for the outbound message `message` (its status moved),
/// if the tenant may be listening: then two reads find its conversation and who works it. Best
/// effort as [`notify_event`]: a failed read or send is logged; the page's polling of recent
/// sends catches up.
pub async fn notify_status<O: OutboundStore, C: ConversationStore, L: LiveFeed>(
    ports: (&O, &C, &L),
    tenant: &TenantId,
    message: &MessageId,
    at: Timestamp,
) {
    let (outbox, conversations, feed) = ports;
    if !feed.listening(tenant).await {
        return;
    }
    let conversation = match outbox.outbound(tenant, message).await {
        Ok(Some(sent)) => conversations.conversation(tenant, &sent.conversation_id).await,
        Ok(None) => return,
        Err(error) => Err(error),
    };
    let conversation = match conversation {
        Ok(Some(conversation)) => conversation,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(
                error = format!("{error:#}"),
                "Live status notice not sent: its conversation is unknown"
            );
            return;
        }
    };
    let notice = LiveNotice {
        tenant_id: tenant.clone(),
        conversation_id: conversation.id,
        kind: LiveKind::Status,
        at: at.as_millis(),
        queue: conversation.queue,
        assignee: conversation.assignee,
    };
    if let Err(error) = feed.notify(std::slice::from_ref(&notice)).await {
        tracing::warn!(error = format!("{error:#}"), "Live status notice not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::documents::DocLiveConnections;
    use crate::adapters::live::QueueLiveFeed;
    use crate::domain::center::EventKind;
    use crate::domain::inbox::ContactStore as _;
    use crate::domain::live::{
        LiveAudience, LiveConnection, LiveConnections as _, LiveKind, CONNECTION_TTL_SECS,
    };
    use crate::domain::tenant::Role;
    use crate::domain::{ConversationId, ExpiresAt, UserId};
    use crate::testing::{contract, MemoryDocs, MemoryInbox, MemoryQueue};

    fn event(kind: EventKind) -> CenterEvent {
        CenterEvent {
            id: "e".into(),
            kind,
            conversation_id: Some(ConversationId::parse("cv_1").unwrap()),
            at: 5,
            queue: None,
            agent: None,
            duration_ms: None,
            target_ms: None,
            by_system: false,
        }
    }

    #[tokio::test]
    async fn a_message_event_sends_one_notice_and_its_companions_none() {
        // Arrange
        let feed = QueueLiveFeed::new(MemoryQueue::default());
        let tenant = TenantId::parse("tn_1").unwrap();

        // Act
        for kind in [EventKind::Opened, EventKind::Received, EventKind::FirstReply, EventKind::BotDecision] {
            notify_event(&feed, &tenant, &event(kind)).await;
        }

        // Assert
        let sent = feed.queue().sent();
        assert_eq!(sent.len(), 1);
        let notice: LiveNotice = serde_json::from_str(&sent[0].body).unwrap();
        assert_eq!((notice.kind, notice.tenant_id, notice.at), (LiveKind::Message, tenant, 5));
        assert!(sent[0].group_id.is_none(), "the live queue is a standard queue");
    }

    /// A console of `tenant`'s, open for the next two hours.
    fn console_of(tenant: &TenantId) -> LiveConnection {
        let now = contract::now();
        LiveConnection {
            connection_id: format!("conn-{tenant}"),
            tenant_id: tenant.clone(),
            audience: LiveAudience {
                user_id: UserId::parse("us_1").unwrap(),
                role: Role::Agent,
                queues: vec![],
            },
            connected_at: now.as_millis(),
            expires_at: ExpiresAt::from_epoch_secs(now.as_secs() + CONNECTION_TTL_SECS),
        }
    }

    #[tokio::test]
    async fn no_notice_is_sent_for_a_tenant_without_a_connection_until_one_opens() {
        // Arrange: a feed that asks the connections; a tenant with a conversation and one of our
        // sends in it, and no console open yet.
        let connections = DocLiveConnections::new(MemoryDocs::default());
        let feed = QueueLiveFeed::new(MemoryQueue::default()).asking(connections.clone());
        let inbox = MemoryInbox::default();
        let tenant = TenantId::parse("tn_live_gate").unwrap();
        let at = contract::now();
        let contact =
            inbox.create_contact(&tenant, &contract::person("5511987654321", "Ana"), at).await.unwrap().0.id;
        let message = MessageId::generate(at).unwrap();
        inbox.store_outbound(&tenant, &contract::outbound(&message, &contact, at), at).await.unwrap();

        // Act: a message event and a status while nobody listens, then the same once a console opens.
        notify_event(&feed, &tenant, &event(EventKind::Received)).await;
        notify_status((&inbox, &inbox, &feed), &tenant, &message, at).await;
        let before = feed.queue().sent().len();
        connections.put_connection(&console_of(&tenant)).await.unwrap();
        notify_event(&feed, &tenant, &event(EventKind::Received)).await;
        notify_status((&inbox, &inbox, &feed), &tenant, &message, at).await;

        // Assert
        assert_eq!(before, 0, "nobody listening: nothing sent");
        let kinds: Vec<LiveKind> = feed
            .queue()
            .sent()
            .iter()
            .map(|m| serde_json::from_str::<LiveNotice>(&m.body).unwrap().kind)
            .collect();
        assert_eq!(kinds, [LiveKind::Message, LiveKind::Status]);
    }

    #[tokio::test]
    async fn a_queue_that_fails_fails_nothing() {
        // Arrange
        let feed = QueueLiveFeed::new(MemoryQueue::default());
        feed.queue().set_failing(true);

        // Act (returns: the caller's change stands)
        notify_event(&feed, &TenantId::parse("tn_1").unwrap(), &event(EventKind::Assigned)).await;

        // Assert
        assert!(feed.queue().sent().is_empty());
    }
}
