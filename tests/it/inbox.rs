//! The inbox adapter against moto, beyond the ports' contract (`contract.rs` runs that):
//! concurrent deliveries, placeholders, what an erasure counts.

use shared::adapters::dynamo::DynamoInbox;
use shared::domain::inbox::{
    ConsentChange, ConsentKind, ConsentSource, ContactProfile, ContactStore, ConversationStore, IngestStore,
    LifecycleStore, MessageStatus, NewInboundMessage, StatusChange, StatusOutcome, Stored,
};
use shared::domain::{Clock, PhoneNumber, SystemClock, Timestamp, Wamid};

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
    assert_eq!((total.consent_events, total.contact_aliases, total.contacts), (1, 2, 1), "phone and email");
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
async fn a_new_contact_is_never_found_without_its_fields() {
    // Arrange: a lead that introduces a person, whose answers cannot be stored (over DynamoDB's
    // 400 KB item limit): the write of the lead fails after the contact's.
    let table = table().await;
    let inbox = inbox(&table).await;
    let tenant = tenant();
    let who = person("5511977770001", "Lia");
    let answers = format!(r#"{{"field_data":[{{"name":"notes","values":["{}"]}}]}}"#, "x".repeat(500_000));
    let lead = shared::domain::inbox::NewLead {
        leadgen_id: "9001",
        page_id: "2001",
        contact: &who,
        lead_json: &answers,
        change_json: "{}",
    };
    let fine = shared::domain::inbox::NewLead { leadgen_id: "9002", lead_json: "{}", ..lead.clone() };

    // Act
    let failed = inbox.store_lead(&tenant, &lead, SystemClock.now()).await;
    let phone = PhoneNumber::parse("5511977770001").expect("valid");
    let after_failure = inbox.contact_by_phone(&tenant, &phone).await.expect("read");
    let stored = inbox.store_lead(&tenant, &fine, SystemClock.now()).await.expect("stored");
    let contact = inbox.contact_by_phone(&tenant, &phone).await.expect("read").expect("created whole");

    // Assert
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(after_failure, None, "nothing of the person without their lead");
    assert_eq!(stored, Stored::Created);
    assert_eq!(contact.name.as_deref(), Some("Lia"));
    assert_eq!(inbox.contact_count(&tenant).await.expect("count"), 1);
}

#[tokio::test]
async fn a_filtered_listing_stops_at_its_work_budget_even_over_expired_items() {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    use shared::adapters::dynamo::keys;
    use shared::domain::inbox::ContactFilter;
    // Arrange: 1,100 contacts whose expiry passed but that TTL has not removed yet (DynamoDB
    // deletes within days): every query still evaluates them, and its filter drops them all.
    let table = table().await;
    let inbox = inbox(&table).await;
    let tenant = tenant();
    let partition = keys::tenant_partition(&tenant);
    let expired: Vec<WriteRequest> = (0..1_100)
        .map(|i| {
            let item = [
                (keys::PK.to_owned(), AttributeValue::S(partition.clone())),
                (keys::SK.to_owned(), AttributeValue::S(format!("{}c_{i:05}", keys::CONTACT_PREFIX))),
                (keys::EXPIRES_AT.to_owned(), AttributeValue::N("1".to_owned())),
            ];
            let put = PutRequest::builder().set_item(Some(item.into_iter().collect())).build().expect("item");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    for batch in expired.chunks(25) {
        table
            .client()
            .batch_write_item()
            .request_items(table.name(), batch.to_vec())
            .send()
            .await
            .expect("batch write");
    }

    // Act: a full page of contacts with a tag nobody has.
    let filter = ContactFilter { tag: Some("vip".to_owned()) };
    let page = inbox.contacts(&tenant, &filter, None, 100).await.expect("listing");

    // Assert: a short (empty) page that continues the scan, not a read of all 1,100 items.
    assert!(page.items.is_empty());
    assert!(page.next.is_some(), "the listing stopped at its budget and continues from there");
}
