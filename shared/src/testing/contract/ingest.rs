//! [`IngestStore`]'s contract: what Meta sends is stored exactly once — messages per wamid, leads
//! per leadgen id — statuses only move forward (failed is final), each recorded once in the
//! history with its own time, and a status that arrives before its send is not lost.

use super::{inbound, outbound, person, phone, tenant, wamid};
use crate::domain::inbox::{
    ContactProfile, ContactStore, ConversationStore, InboxError, IngestStore, LeadStage, LeadStore,
    MessageStatus, NewLead, OutboundStore, StatusChange, StatusOutcome, Stored,
};
use crate::domain::outbound::callback_data;
use crate::domain::tenant::RetentionSettings;
use crate::domain::whatsapp::MetaError;
use crate::domain::{MessageId, TenantId, Timestamp, Wamid};

fn status<'a>(
    wamid: &'a Wamid,
    status: MessageStatus,
    meta_status: &'a str,
    millis: i64,
    recipient: &'a ContactProfile,
) -> StatusChange<'a> {
    StatusChange {
        wamid,
        status,
        meta_status,
        at: Timestamp::from_millis(millis),
        recipient,
        error: None,
        callback: None,
        retention: RetentionSettings::default(),
    }
}

/// The same inbound message delivered twice is stored once.
pub async fn an_inbound_message_is_stored_once<S: IngestStore + ContactStore + ConversationStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let from = person("5511920000001", "Ana");
    let id = wamid("wamid.ONCE");

    // Act
    let first = store.store_inbound_message(&tenant, &inbound(&id, &from, 100), super::now()).await.unwrap();
    let again = store.store_inbound_message(&tenant, &inbound(&id, &from, 100), super::now()).await.unwrap();

    // Assert
    assert_eq!((first, again), (Stored::Created, Stored::Duplicate));
    let contact = store.contact_by_phone(&tenant, &phone("5511920000001")).await.unwrap().expect("contact");
    let conversation = contact.conversation_id.expect("a conversation");
    let messages = store.messages(&tenant, &conversation, None, 10).await.unwrap().items;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message.wamid.as_deref(), Some("wamid.ONCE"));
    assert_eq!((message.direction.as_str(), message.kind.as_str()), ("inbound", "text"));
    assert_eq!((message.status, message.timestamp), (MessageStatus::Received, 100_000));
    assert_eq!(
        message.payload.as_ref().and_then(|p| p.pointer("/text/body")).and_then(|b| b.as_str()),
        Some("hello")
    );
    assert_eq!(store.contact_count(&tenant).await.unwrap(), 1);
}

/// Inbound messages upsert their contact whatever their order: first seen is the earliest, last
/// seen, last inbound and the 24 h window the latest's, and the latest message's name wins.
pub async fn inbound_messages_upsert_their_contact<S: IngestStore + ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let digits = "5511920000002";

    // Act: sent at 200, then 100 (late, with an older name), then 300.
    for (w, name, secs) in
        [("wamid.B", "Ana", 200), ("wamid.A", "Old name", 100), ("wamid.C", "Ana Souza", 300)]
    {
        let from = person(digits, name);
        store.store_inbound_message(&tenant, &inbound(&wamid(w), &from, secs), super::now()).await.unwrap();
    }

    // Assert
    let contact = store.contact_by_phone(&tenant, &phone(digits)).await.unwrap().expect("contact");
    assert_eq!(contact.first_seen_at, 100_000);
    assert_eq!(contact.last_seen_at, 300_000);
    assert_eq!(contact.last_inbound_at, Some(300_000));
    assert_eq!(contact.service_window_until, Some(300_000 + 24 * 3_600_000));
    assert_eq!(contact.name.as_deref(), Some("Ana Souza"), "the latest message's name wins");
}

/// A message from nobody (no phone, BSUID or email) is refused with `NoContact`.
pub async fn a_message_from_nobody_is_no_contact<S: IngestStore>(store: &S) {
    let tenant = tenant();
    let nobody = ContactProfile::default();
    let id = wamid("wamid.NOBODY");

    let result = store.store_inbound_message(&tenant, &inbound(&id, &nobody, 100), super::now()).await;

    assert!(matches!(result, Err(InboxError::NoContact)), "{result:?}");
}

/// A queued message, sent as `wamid` at `sent_ms`, to a new contact `digits`.
async fn sent_message<S: ContactStore + OutboundStore>(
    store: &S,
    tenant: &TenantId,
    digits: &str,
    wamid: &Wamid,
    sent_ms: i64,
) -> MessageId {
    let (contact, _) = store
        .create_contact(tenant, &person(digits, "Bia"), Timestamp::from_millis(sent_ms - 10))
        .await
        .unwrap();
    let id = MessageId::generate(Timestamp::from_millis(sent_ms)).unwrap();
    store
        .store_outbound(tenant, &outbound(&id, &contact.id, Timestamp::from_millis(sent_ms)), super::now())
        .await
        .unwrap();
    store.mark_sent(tenant, &id, Some(wamid), Timestamp::from_millis(sent_ms)).await.unwrap();
    id
}

/// Statuses only move forward and failed is final; each status is recorded once in the history,
/// with the time Meta gave it; a failure keeps its error.
pub async fn statuses_only_move_forward_and_failed_is_final<S: IngestStore + ContactStore + OutboundStore>(
    store: &S,
) {
    // Arrange
    let tenant = tenant();
    let digits = "5511920000003";
    let recipient = person(digits, "Bia");
    let w = wamid("wamid.FORWARD");
    let t = 1_700_000_000_000;
    let id = sent_message(store, &tenant, digits, &w, t).await;
    let error = MetaError {
        code: 131_026,
        title: Some("Message undeliverable".into()),
        message: None,
        error_data: None,
        href: None,
    };

    // Act
    let delivered = store
        .apply_status(
            &tenant,
            &status(&w, MessageStatus::Delivered, "delivered", t + 2_000, &recipient),
            super::now(),
        )
        .await
        .unwrap();
    let sent = store
        .apply_status(&tenant, &status(&w, MessageStatus::Sent, "sent", t + 1_000, &recipient), super::now())
        .await
        .unwrap();
    let delivered_again = store
        .apply_status(
            &tenant,
            &status(&w, MessageStatus::Delivered, "delivered", t + 9_000, &recipient),
            super::now(),
        )
        .await
        .unwrap();
    let callback = callback_data(&id);
    let read = store
        .apply_status(
            &tenant,
            &StatusChange {
                callback: Some(&callback),
                ..status(&w, MessageStatus::Read, "read", t + 3_000, &recipient)
            },
            super::now(),
        )
        .await
        .unwrap();
    let failed = store
        .apply_status(
            &tenant,
            &StatusChange {
                error: Some(&error),
                ..status(&w, MessageStatus::Failed, "failed", t + 4_000, &recipient)
            },
            super::now(),
        )
        .await
        .unwrap();
    let read_after_failure = store
        .apply_status(
            &tenant,
            &status(&w, MessageStatus::Read, "played", t + 5_000, &recipient),
            super::now(),
        )
        .await
        .unwrap();

    // Assert
    use StatusOutcome::{Applied, Stale};
    assert_eq!(
        [delivered, sent, delivered_again, read, failed, read_after_failure],
        [Applied, Stale, Stale, Applied, Applied, Stale]
    );
    let message = store.outbound(&tenant, &id).await.unwrap().expect("the message");
    assert_eq!(message.status, MessageStatus::Failed);
    assert_eq!(message.error.map(|e| e.code), Some(131_026));
    assert_eq!(message.statuses.get("sent"), Some(&(t + 1_000)), "Meta's time of the status");
    assert_eq!(message.statuses.get("delivered"), Some(&(t + 2_000)), "recorded once, first time kept");
    assert_eq!(message.statuses.get("read"), Some(&(t + 3_000)));
    assert_eq!(message.statuses.get("failed"), Some(&(t + 4_000)));
    assert_eq!(
        message.statuses.get("played"),
        Some(&(t + 5_000)),
        "the history is completed even when stale"
    );
}

/// A status that arrives before its send is recorded (`Applied`) and merged into the message when
/// the send is marked: the message shows the later status and its history.
pub async fn a_status_before_the_send_is_not_lost<
    S: IngestStore + ContactStore + OutboundStore + ConversationStore,
>(
    store: &S,
) {
    // Arrange: one status without recipient, one naming the recipient.
    let tenant = tenant();
    let nobody = ContactProfile::default();
    let digits = "5511920000004";
    let recipient = person(digits, "Caio");
    let t = 1_700_000_000_000;
    let (anonymous, named) = (wamid("wamid.EARLY1"), wamid("wamid.EARLY2"));
    let (contact, _) = store.create_contact(&tenant, &recipient, Timestamp::from_millis(t)).await.unwrap();

    // Act
    let first = store
        .apply_status(
            &tenant,
            &status(&anonymous, MessageStatus::Delivered, "delivered", t + 2_000, &nobody),
            super::now(),
        )
        .await
        .unwrap();
    let second = store
        .apply_status(
            &tenant,
            &status(&named, MessageStatus::Read, "read", t + 3_000, &recipient),
            super::now(),
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (w, offset) in [(&anonymous, 0), (&named, 1)] {
        let id = MessageId::generate(Timestamp::from_millis(t + offset)).unwrap();
        store
            .store_outbound(
                &tenant,
                &outbound(&id, &contact.id, Timestamp::from_millis(t + offset)),
                super::now(),
            )
            .await
            .unwrap();
        store.mark_sent(&tenant, &id, Some(w), Timestamp::from_millis(t + 1_000)).await.unwrap();
        ids.push(id);
    }

    // Assert
    assert_eq!((first, second), (StatusOutcome::Applied, StatusOutcome::Applied));
    let anonymous_message = store.outbound(&tenant, &ids[0]).await.unwrap().expect("message");
    assert_eq!(anonymous_message.status, MessageStatus::Delivered, "the later status is kept");
    assert_eq!(anonymous_message.statuses.get("delivered"), Some(&(t + 2_000)));
    assert_eq!(anonymous_message.wamid.as_deref(), Some("wamid.EARLY1"));
    let named_message = store.outbound(&tenant, &ids[1]).await.unwrap().expect("message");
    assert_eq!(named_message.status, MessageStatus::Read);
    assert_eq!(named_message.statuses.get("read"), Some(&(t + 3_000)));
    let conversation = store
        .contact(&tenant, &contact.id)
        .await
        .unwrap()
        .and_then(|c| c.conversation_id)
        .expect("conversation");
    let messages = store.messages(&tenant, &conversation, None, 10).await.unwrap().items;
    let with_named: Vec<_> = messages.iter().filter(|m| m.wamid.as_deref() == Some("wamid.EARLY2")).collect();
    assert_eq!(with_named.len(), 1, "the placeholder was merged, not kept beside the message: {messages:?}");
    assert_eq!(with_named[0].id, ids[1]);
}

/// A status whose callback names a message Leadline no longer holds is dropped (`Gone`).
pub async fn a_status_for_a_message_no_longer_held_is_gone<S: IngestStore>(store: &S) {
    let tenant = tenant();
    let w = wamid("wamid.GONE");
    let callback = callback_data(&MessageId::generate(super::now()).unwrap());
    let recipient = person("5511920000005", "Dora");

    let outcome = store
        .apply_status(
            &tenant,
            &StatusChange {
                callback: Some(&callback),
                ..status(&w, MessageStatus::Delivered, "delivered", 1_000, &recipient)
            },
            super::now(),
        )
        .await
        .unwrap();

    assert_eq!(outcome, StatusOutcome::Gone);
}

fn lead<'a>(leadgen_id: &'a str, contact: &'a ContactProfile) -> NewLead<'a> {
    NewLead {
        leadgen_id,
        page_id: "page-1",
        contact,
        lead_json: r#"{"id":"L","field_data":[{"name":"full_name","values":["Eva"]}]}"#,
        change_json: r#"{"form_id":"F1","ad_id":"A1"}"#,
    }
}

/// A lead is stored once per leadgen id, linked to its contact, new, and exists only in its tenant.
pub async fn a_lead_is_stored_once<S: IngestStore + ContactStore + LeadStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let who = person("5511920000006", "Eva");

    // Act
    let before = store.lead_exists(&tenant, "lead.ONCE").await.unwrap();
    let first = store.store_lead(&tenant, &lead("lead.ONCE", &who), Timestamp::from_secs(100)).await.unwrap();
    let again = store.store_lead(&tenant, &lead("lead.ONCE", &who), Timestamp::from_secs(200)).await.unwrap();

    // Assert
    assert!(!before);
    assert_eq!((first, again), (Stored::Created, Stored::Duplicate));
    assert!(store.lead_exists(&tenant, "lead.ONCE").await.unwrap());
    assert!(!store.lead_exists(&super::tenant(), "lead.ONCE").await.unwrap(), "another tenant has none");
    let contact = store.contact_by_phone(&tenant, &phone("5511920000006")).await.unwrap().expect("contact");
    let stored = store.lead(&tenant, "lead.ONCE").await.unwrap().expect("the lead");
    assert_eq!(stored.contact_id, contact.id);
    assert_eq!((stored.stage, stored.received_at), (LeadStage::New, 100_000), "the first store's");
    assert_eq!(stored.page_id.as_deref(), Some("page-1"));
    assert_eq!(stored.source.get("form_id").and_then(|f| f.as_str()), Some("F1"));
    assert_eq!(stored.lead.get("id").and_then(|f| f.as_str()), Some("L"));
}

/// A lead whose answers give only an email links the existing contact with that email.
pub async fn a_lead_finds_its_contact_by_email<S: IngestStore + ContactStore + LeadStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let known = ContactProfile { email: Some("fabi@example.com".into()), ..person("5511920000007", "Fabi") };
    let (contact, _) = store.create_contact(&tenant, &known, Timestamp::from_secs(1)).await.unwrap();
    let by_email = ContactProfile {
        email: Some("fabi@example.com".into()),
        name: Some("Fabi".into()),
        ..ContactProfile::default()
    };

    // Act
    store.store_lead(&tenant, &lead("lead.EMAIL", &by_email), Timestamp::from_secs(100)).await.unwrap();

    // Assert
    let stored = store.lead(&tenant, "lead.EMAIL").await.unwrap().expect("the lead");
    assert_eq!(stored.contact_id, contact.id);
    assert_eq!(store.contact_count(&tenant).await.unwrap(), 1, "no second contact");
}

/// A lead that names nobody is refused with `NoContact`.
pub async fn a_lead_from_nobody_is_no_contact<S: IngestStore>(store: &S) {
    let tenant = tenant();
    let nobody = ContactProfile::default();

    let result = store.store_lead(&tenant, &lead("lead.NOBODY", &nobody), Timestamp::from_secs(1)).await;

    assert!(matches!(result, Err(InboxError::NoContact)), "{result:?}");
    assert!(!store.lead_exists(&tenant, "lead.NOBODY").await.unwrap());
}

/// Deduplication is per tenant: the same wamid in two tenants is two messages.
pub async fn the_same_wamid_in_two_tenants_is_two_messages<S: IngestStore>(store: &S) {
    let from = person("5511920000008", "Gil");
    let id = wamid("wamid.SHARED");

    let first =
        store.store_inbound_message(&tenant(), &inbound(&id, &from, 100), super::now()).await.unwrap();
    let second =
        store.store_inbound_message(&tenant(), &inbound(&id, &from, 100), super::now()).await.unwrap();

    assert_eq!((first, second), (Stored::Created, Stored::Created));
}

/// Every check of the suite.
pub async fn all<S: IngestStore + ContactStore + ConversationStore + OutboundStore + LeadStore>(store: &S) {
    an_inbound_message_is_stored_once(store).await;
    inbound_messages_upsert_their_contact(store).await;
    a_message_from_nobody_is_no_contact(store).await;
    statuses_only_move_forward_and_failed_is_final(store).await;
    a_status_before_the_send_is_not_lost(store).await;
    a_status_for_a_message_no_longer_held_is_gone(store).await;
    a_lead_is_stored_once(store).await;
    a_lead_finds_its_contact_by_email(store).await;
    a_lead_from_nobody_is_no_contact(store).await;
    the_same_wamid_in_two_tenants_is_two_messages(store).await;
}
