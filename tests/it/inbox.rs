//! The inbox adapter against moto: exactly-once writes and order-independent final states.

use shared::adapters::dynamo::DynamoInbox;
use shared::domain::inbox::{
    ConsentChange, ConsentKind, ConsentSource, ContactProfile, ContactStore, ConversationStore, IngestStore,
    LifecycleStore, MessageStatus, NewInboundMessage, NewOutboundMessage, OutboundClaim, OutboundStore,
    StatusChange, StatusOutcome, Stored,
};
use shared::domain::{Clock, MessageId, PhoneNumber, SystemClock, Timestamp, Wamid};

use crate::support::{inbox, table, tenant};

fn person(phone: &str, name: &str) -> ContactProfile {
    ContactProfile {
        phone: PhoneNumber::parse(phone).ok(),
        name: Some(name.into()),
        ..ContactProfile::default()
    }
}

async fn store(
    inbox: &DynamoInbox,
    tenant: &shared::domain::TenantId,
    from: &ContactProfile,
    wamid: &str,
    secs: i64,
) -> Stored {
    let wamid = Wamid::parse(wamid).expect("valid");
    let message = NewInboundMessage {
        wamid: &wamid,
        from,
        sent_at: Timestamp::from_secs(secs),
        kind: "text",
        raw: "{}",
        retention: shared::domain::tenant::RetentionSettings::default(),
    };
    // Sent long ago, received now: the retention clock runs from receipt.
    inbox.store_inbound_message(tenant, &message, SystemClock.now()).await.expect("stored")
}

#[tokio::test]
async fn out_of_order_messages_end_with_the_latest_window_and_earliest_first_seen() {
    // Arrange
    let inbox = inbox(&table().await).await;
    let tenant = tenant();
    let phone = "5511988880001";

    // Act: 200, then 100 (late), then 300; the late one with an older profile name.
    store(&inbox, &tenant, &person(phone, "Ana"), "wamid.B", 200).await;
    store(&inbox, &tenant, &person(phone, "Old name"), "wamid.A", 100).await;
    store(&inbox, &tenant, &person(phone, "Ana Souza"), "wamid.C", 300).await;

    // Assert
    let contact = inbox
        .contact_by_phone(&tenant, &PhoneNumber::parse(phone).expect("valid"))
        .await
        .expect("read")
        .expect("contact");
    assert_eq!(contact.first_seen_at, 100_000);
    assert_eq!(contact.last_inbound_at, Some(300_000));
    assert_eq!(contact.service_window_until, Some(300_000 + 24 * 3600 * 1000));
    assert_eq!(contact.name.as_deref(), Some("Ana Souza"), "the latest message's name wins");
    let conversation = contact.conversation_id.expect("conversation");
    let page = inbox.messages(&tenant, &conversation, None, 10).await.expect("messages");
    let order: Vec<_> = page.items.iter().map(|m| m.wamid.clone().unwrap_or_default()).collect();
    assert_eq!(order, ["wamid.A", "wamid.B", "wamid.C"], "listed by when they were sent");
    let conversation = inbox.conversation(&tenant, &conversation).await.expect("read").expect("exists");
    assert_eq!(conversation.last_message_at, 300_000);
}

#[tokio::test]
async fn concurrent_deliveries_of_one_message_store_it_once() {
    let inbox = inbox(&table().await).await;
    let tenant = tenant();
    let from = person("5511988880002", "Bia");

    let results =
        futures::future::join_all((0..5).map(|_| store(&inbox, &tenant, &from, "wamid.SAME", 100))).await;

    assert_eq!(results.iter().filter(|r| **r == Stored::Created).count(), 1, "{results:?}");
    let contact = inbox
        .contact_by_phone(&tenant, from.phone.as_ref().expect("phone"))
        .await
        .expect("read")
        .expect("contact");
    let page = inbox
        .messages(&tenant, &contact.conversation_id.expect("conversation"), None, 10)
        .await
        .expect("messages");
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn the_latest_consent_event_decides_whatever_the_arrival_order() {
    let inbox = inbox(&table().await).await;
    let tenant = tenant();
    let who = person("5511988880003", "Caio");
    let change = |kind, secs, cause| ConsentChange {
        contact: &who,
        kind,
        source: ConsentSource::Keyword,
        at: Timestamp::from_secs(secs),
        cause,
    };

    let later = inbox
        .record_consent(&tenant, &change(ConsentKind::OptIn, 200, "wamid.2"), Timestamp::from_secs(1))
        .await
        .expect("ok");
    let earlier = inbox
        .record_consent(&tenant, &change(ConsentKind::OptOut, 100, "wamid.1"), Timestamp::from_secs(1))
        .await
        .expect("ok");
    let again = inbox
        .record_consent(&tenant, &change(ConsentKind::OptOut, 100, "wamid.1"), Timestamp::from_secs(1))
        .await
        .expect("ok");

    assert_eq!((later, earlier, again), (Stored::Created, Stored::Created, Stored::Duplicate));
    let contact = inbox
        .contact_by_phone(&tenant, who.phone.as_ref().expect("phone"))
        .await
        .expect("read")
        .expect("contact");
    let state = contact.consent.expect("state");
    assert_eq!((state.state, state.at), (ConsentKind::OptIn, 200_000));
    let ledger = inbox.consent_ledger(&tenant, &contact.id).await.expect("ledger");
    let kinds: Vec<_> = ledger.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ConsentKind::OptOut, ConsentKind::OptIn], "the ledger is in time order");
}

#[tokio::test]
async fn a_status_for_a_wamid_without_recipient_is_kept_and_moves_only_forward() {
    let inbox = inbox(&table().await).await;
    let tenant = tenant();
    let wamid = Wamid::parse("wamid.NORECIPIENT").expect("valid");
    let nobody = ContactProfile::default();
    let change = |status, meta_status, secs| StatusChange {
        wamid: &wamid,
        status,
        meta_status,
        at: Timestamp::from_secs(secs),
        recipient: &nobody,
        error: None,
        callback: None,
        retention: shared::domain::tenant::RetentionSettings::default(),
    };

    let read = inbox
        .apply_status(&tenant, &change(MessageStatus::Read, "read", 300), Timestamp::from_secs(1))
        .await
        .expect("ok");
    let sent = inbox
        .apply_status(&tenant, &change(MessageStatus::Sent, "sent", 100), Timestamp::from_secs(1))
        .await
        .expect("ok");
    let read_again = inbox
        .apply_status(&tenant, &change(MessageStatus::Read, "read", 300), Timestamp::from_secs(1))
        .await
        .expect("ok");

    assert_eq!(
        (read, sent, read_again),
        (StatusOutcome::Applied, StatusOutcome::Stale, StatusOutcome::Stale)
    );
}

#[tokio::test]
async fn erasure_in_small_budgets_resumes_until_nothing_is_left() {
    // Arrange: a contact with 7 messages, a status record, consent and an email alias.
    let inbox = inbox(&table().await).await;
    let tenant = tenant();
    let mut who = person("5511988880004", "Dora");
    who.email = Some("dora@example.com".into());
    for i in 0..7 {
        store(&inbox, &tenant, &who, &format!("wamid.D{i}"), 100 + i).await;
    }
    let change = ConsentChange {
        contact: &who,
        kind: ConsentKind::OptIn,
        source: ConsentSource::LeadForm,
        at: Timestamp::from_secs(50),
        cause: "lead.1",
    };
    inbox.record_consent(&tenant, &change, Timestamp::from_secs(1)).await.expect("consent");
    let contact = inbox
        .contact_by_phone(&tenant, who.phone.as_ref().expect("phone"))
        .await
        .expect("read")
        .expect("contact");

    // Act: three items per call, as a run cut short by its deadline would go.
    let mut total = shared::domain::privacy::ErasureCounts::default();
    let mut calls = 0;
    loop {
        let pass = inbox.erase_contact(&tenant, &contact.id, 3).await.expect("erase");
        calls += 1;
        if pass.total() == 0 {
            break;
        }
        total.add(&pass);
        assert!(calls < 20, "erasure does not converge");
    }

    // Assert
    assert!(calls > 3, "it really went in small steps");
    assert_eq!((total.messages, total.message_id_records, total.conversations), (7, 7, 1));
    assert_eq!((total.consent_events, total.contact_aliases, total.contacts), (1, 1, 1));
    let key = shared::domain::inbox::ContactKey::Email("dora@example.com".into());
    assert!(
        inbox.find_contacts(&tenant, &key).await.expect("find").is_empty(),
        "the email no longer leads anywhere"
    );
    assert!(inbox
        .contact_by_phone(&tenant, who.phone.as_ref().expect("phone"))
        .await
        .expect("read")
        .is_none());
}

#[tokio::test]
async fn an_outbound_claim_is_held_once_freed_by_its_holder_and_ends_with_the_send() {
    // Arrange: a contact who wrote, and two messages queued for them.
    let inbox = inbox(&table().await).await;
    let tenant = tenant();
    let now = SystemClock.now();
    let ana = person("5511955554444", "Ana");
    store(&inbox, &tenant, &ana, "wamid.CLAIMIN", now.as_secs()).await;
    let contact = inbox
        .contact_by_phone(&tenant, ana.phone.as_ref().expect("phone"))
        .await
        .expect("read")
        .expect("contact");
    let mut ids = Vec::new();
    for offset in [0, 1] {
        let id = MessageId::generate(now).expect("random");
        let message = NewOutboundMessage {
            id: &id,
            contact: &contact.id,
            kind: "text",
            body: "{}",
            at: Timestamp::from_millis(now.as_millis() + offset),
            retention: shared::domain::tenant::RetentionSettings::default(),
        };
        inbox.store_outbound(&tenant, &message, now).await.expect("queued");
        ids.push(id);
    }
    let (first, second) = (&ids[0], &ids[1]);
    let until = Timestamp::from_millis(now.as_millis() + 60_000);
    let wamid = Wamid::parse("wamid.CLAIMOUT").expect("valid");

    // Act
    let taken = inbox.claim_outbound(&tenant, first, until, now).await.expect("claim");
    let again = inbox.claim_outbound(&tenant, first, until, now).await.expect("claim");
    let after_expiry =
        inbox.claim_outbound(&tenant, first, until, Timestamp::from_millis(until.as_millis() + 1)).await;
    inbox.release_outbound(&tenant, first, Timestamp::from_millis(0)).await.expect("not ours: no-op");
    let still_held = inbox.claim_outbound(&tenant, first, until, now).await.expect("claim");
    inbox.release_outbound(&tenant, first, until).await.expect("release");
    let retaken = inbox.claim_outbound(&tenant, first, until, now).await.expect("claim");
    let sent_at = Timestamp::from_millis(now.as_millis() + 5);
    inbox.mark_sent(&tenant, first, Some(&wamid), sent_at).await.expect("sent");
    let redelivered = inbox.claim_outbound(&tenant, first, until, now).await.expect("claim");
    let unknown = inbox
        .claim_outbound(&tenant, &MessageId::generate(now).expect("random"), until, now)
        .await
        .expect("claim");
    let previous = inbox.previous_send(&tenant, second).await.expect("previous");
    let before_any = inbox.previous_send(&tenant, first).await.expect("previous");

    // Assert
    assert_eq!(taken, OutboundClaim::Acquired);
    assert_eq!(again, OutboundClaim::Held(until));
    assert_eq!(after_expiry.expect("claim"), OutboundClaim::Acquired, "a lapsed claim is free");
    assert_eq!(still_held, OutboundClaim::Held(until), "someone else's claim is not released");
    assert_eq!(retaken, OutboundClaim::Acquired);
    assert_eq!(redelivered, OutboundClaim::Handled);
    assert_eq!(unknown, OutboundClaim::Missing);
    assert_eq!(previous, Some(sent_at), "the pair limit counts from the first message's send");
    assert_eq!(before_any, None);
    let stored = inbox.outbound(&tenant, first).await.expect("read").expect("message");
    assert_eq!((stored.status, stored.wamid.as_deref()), (MessageStatus::Sent, Some("wamid.CLAIMOUT")));
}
