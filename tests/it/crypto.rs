//! Crypto-shredding (P64) on DynamoDB and KMS: personal data is stored sealed under per-contact
//! keys and found through keyed hashes; erasing a contact destroys its key, so a backup copy of
//! the table no longer opens; the webhook path makes no KMS call per message.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::adapters::dynamo::{DynamoInbox, Table};
use shared::adapters::kms::Keyring;
use shared::domain::ai::SuggestionStore as _;
use shared::domain::inbox::{
    ContactPatch, ContactProfile, ContactStore, ConversationStore, IngestStore, LifecycleStore,
    MessageStatus, NewInboundMessage, NewOutboundMessage, OutboundStore, StatusChange, StatusOutcome,
};
use shared::domain::outbound::callback_data;
use shared::domain::tenant::RetentionSettings;
use shared::domain::{Clock, MessageId, PhoneNumber, SystemClock, TenantId, Wamid};
use shared::kernel::digest::hex_sha256;

use crate::support::{instance_keyring, keyring, ready_suggestion, table, tenant, unique};

type Item = HashMap<String, AttributeValue>;

/// Every item of `table`, as stored (what a backup holds).
async fn every_item(table: &Table) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = table
            .client()
            .scan()
            .table_name(table.name())
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("scan");
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return items,
        }
    }
}

/// Every string the items hold, keys and nested values included.
fn strings(items: &[Item]) -> Vec<String> {
    fn walk(value: &AttributeValue, out: &mut Vec<String>) {
        match value {
            AttributeValue::S(s) | AttributeValue::N(s) => out.push(s.clone()),
            AttributeValue::Ss(list) => out.extend(list.iter().cloned()),
            AttributeValue::L(list) => list.iter().for_each(|v| walk(v, out)),
            AttributeValue::M(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for item in items {
        item.values().for_each(|v| walk(v, &mut out));
    }
    out
}

/// A table restored from `backup`, read by a freshly started instance (cold key cache) that
/// uses the live key table, as a restore from PITR would.
async fn restore(backup: &[Item], live: &Keyring) -> DynamoInbox {
    let restored = table().await;
    for item in backup {
        restored
            .client()
            .put_item()
            .table_name(restored.name())
            .set_item(Some(item.clone()))
            .send()
            .await
            .expect("restore an item");
    }
    let cold = instance_keyring(&restored, live.key_table().name()).await;
    DynamoInbox::new(restored, cold)
}

async fn receive(inbox: &DynamoInbox, tenant: &TenantId, profile: &ContactProfile, wamid: &str, raw: &str) {
    let wamid = Wamid::parse(wamid).expect("wamid");
    let now = SystemClock.now();
    let message = NewInboundMessage {
        wamid: &wamid,
        from: profile,
        sent_at: now,
        kind: "text",
        raw,
        retention: RetentionSettings::default(),
    };
    inbox.store_inbound_message(tenant, &message, now).await.expect("stored");
}

fn person(phone: &str, name: &str) -> ContactProfile {
    ContactProfile {
        phone: Some(PhoneNumber::parse(phone).expect("phone")),
        name: Some(name.to_owned()),
        ..ContactProfile::default()
    }
}

#[tokio::test]
async fn personal_data_is_stored_sealed_and_found_by_keyed_hashes_only() {
    // Arrange
    let table = table().await;
    let inbox = DynamoInbox::new(table.clone(), keyring(&table).await);
    let (ours, theirs) = (tenant(), tenant());
    let phone = "5511977770001";
    let body = r#"{"text":{"body":"the spare key is under the blue pot"}}"#;
    let email = "maria.sigilo@example.com";

    // Act
    for tenant in [&ours, &theirs] {
        receive(&inbox, tenant, &person(phone, "Maria Sigilo"), &format!("wamid.{}", unique("S")), body)
            .await;
    }
    let contact = inbox
        .contact_by_phone(&ours, &PhoneNumber::parse(phone).expect("phone"))
        .await
        .expect("read")
        .expect("contact");
    let patch = ContactPatch {
        email: Some(Some(email.to_owned())),
        attributes: Some([("tax_id".to_owned(), "123.456.789-00".to_owned())].into()),
        ..ContactPatch::default()
    };
    inbox.update_contact(&ours, &contact.id, &patch, SystemClock.now()).await.expect("patched");

    // Assert: nothing personal at rest, not even a hash anyone could recompute.
    let stored = strings(&every_item(&table).await).join("\n");
    for secret in [phone, "Maria Sigilo", "the spare key", email, "123.456.789-00"] {
        assert!(!stored.contains(secret), "{secret:?} is stored in the clear");
    }
    for unkeyed in
        [hex_sha256(&format!("phone:{phone}")), hex_sha256(email), hex_sha256(&format!("email:{email}"))]
    {
        assert!(!stored.contains(&unkeyed[..32]), "an unkeyed hash of an identifier is stored");
    }
    // ... and all of it readable through the inbox, in each tenant under its own id.
    let ours_now = inbox.contact_by_email(&ours, email).await.expect("read").expect("found by email");
    assert_eq!(ours_now.id, contact.id);
    assert_eq!(ours_now.phone.as_deref(), Some(phone));
    assert_eq!(ours_now.name.as_deref(), Some("Maria Sigilo"));
    assert_eq!(ours_now.attributes.get("tax_id").map(String::as_str), Some("123.456.789-00"));
    let conversation = ours_now.conversation_id.expect("conversation");
    let messages = inbox.messages(&ours, &conversation, None, 10).await.expect("messages");
    assert_eq!(messages.items[0].payload, Some(serde_json::from_str(body).expect("json")));
    let theirs_now = inbox
        .contact_by_phone(&theirs, &PhoneNumber::parse(phone).expect("phone"))
        .await
        .expect("read")
        .expect("contact");
    assert_ne!(theirs_now.id, contact.id, "one person, unrelated ids across tenants");
    assert!(inbox.contact_by_email(&theirs, email).await.expect("read").is_none());
}

#[tokio::test]
async fn an_erased_contacts_data_no_longer_opens_even_from_a_backup() {
    // Arrange: a person with a message, and a backup of the table taken before the erasure.
    let table = table().await;
    let keyring = keyring(&table).await;
    let inbox = DynamoInbox::new(table.clone(), keyring.clone());
    let tenant = tenant();
    let phone = PhoneNumber::parse("5511977770002").expect("phone");
    let body = r#"{"text":{"body":"my new address is 12 Rua Augusta"}}"#;
    receive(&inbox, &tenant, &person(phone.as_digits(), "João Apagado"), "wamid.ERASE1", body).await;
    let contact = inbox.contact_by_phone(&tenant, &phone).await.expect("read").expect("contact");
    let reply = "We will deliver to your new address on Monday";
    let suggestion = ready_suggestion(&inbox, &tenant, &contact, &[reply]).await;
    let backup = every_item(&table).await;
    assert!(!strings(&backup).join("\n").contains(reply), "suggested replies are sealed at rest");
    let before = restore(&backup, &keyring).await;
    let readable = before.contact_by_phone(&tenant, &phone).await.expect("read").expect("restored");
    assert_eq!(
        readable.name.as_deref(),
        Some("João Apagado"),
        "control: the backup opens before the erasure"
    );

    // Act: the erasure, as the retention run carries it out.
    loop {
        let counts = inbox.erase_contact(&tenant, &contact.id, 100).await.expect("erase");
        if counts == Default::default() {
            break;
        }
    }

    // Assert: the same backup, restored, still holds the ciphertext but opens to nothing.
    let after = restore(&backup, &keyring).await;
    let restored = after.contact_by_phone(&tenant, &phone).await.expect("read").expect("the record is there");
    assert_eq!((restored.phone, restored.name), (None, None), "identifiers no longer open");
    let conversation = restored.conversation_id.expect("conversation");
    let messages = after.messages(&tenant, &conversation, None, 10).await.expect("messages");
    assert_eq!(messages.items.len(), 1, "the message record is in the backup");
    assert_eq!(messages.items[0].payload, None, "its content no longer opens");
    let (id, conversation) = (&suggestion.id, &suggestion.conversation_id);
    let restored_suggestion =
        after.suggestion(&tenant, conversation, id).await.expect("read").expect("in the backup");
    assert!(restored_suggestion.result.replies.is_empty(), "its replies no longer open");
    assert!(
        inbox.contact(&tenant, &contact.id).await.expect("read").is_none(),
        "and the live table is empty of it"
    );
    assert!(inbox.suggestion(&tenant, conversation, id).await.expect("read").is_none());
}

#[tokio::test]
async fn the_webhook_path_makes_no_kms_call_per_message() {
    // Arrange: 10 people writing 10 messages each.
    let table = table().await;
    let keyring = keyring(&table).await;
    let inbox = DynamoInbox::new(table.clone(), keyring.clone());
    let tenant = tenant();
    let people: Vec<ContactProfile> =
        (0..10).map(|i| person(&format!("55119777710{i:02}"), &format!("Person {i}"))).collect();

    // Act
    for round in 0..10 {
        for (i, profile) in people.iter().enumerate() {
            receive(&inbox, &tenant, profile, &format!("wamid.W{round}P{i}"), r#"{"text":{"body":"hi"}}"#)
                .await;
        }
    }
    // A fresh instance (cold caches) receiving 5 more from each.
    let cold = instance_keyring(&table, keyring.key_table().name()).await;
    let fresh = DynamoInbox::new(table.clone(), cold.clone());
    for round in 0..5 {
        for (i, profile) in people.iter().enumerate() {
            receive(&fresh, &tenant, profile, &format!("wamid.C{round}P{i}"), r#"{"text":{"body":"hi"}}"#)
                .await;
        }
    }

    // Assert: one key per tenant and per person, made once; a cold instance unwraps each once.
    let warm_calls = keyring.kms_calls();
    assert_eq!(
        (warm_calls.generate, warm_calls.decrypt),
        (11, 0),
        "100 messages: 1 index key + 10 data keys"
    );
    let cold_calls = cold.kms_calls();
    assert_eq!((cold_calls.generate, cold_calls.decrypt), (0, 11), "50 messages on a cold instance");
}

#[tokio::test]
async fn a_status_arriving_after_the_erasure_records_nothing_about_the_person() {
    // Arrange: a person Leadline wrote to, then erased.
    let table = table().await;
    let inbox = DynamoInbox::new(table.clone(), keyring(&table).await);
    let tenant = tenant();
    let phone = PhoneNumber::parse("5511977770003").expect("phone");
    let profile = person(phone.as_digits(), "Ana Tardia");
    receive(&inbox, &tenant, &profile, "wamid.LATE1", r#"{"text":{"body":"hello"}}"#).await;
    let contact = inbox.contact_by_phone(&tenant, &phone).await.expect("read").expect("contact");
    let id = MessageId::generate(SystemClock.now()).expect("random");
    let outbound = NewOutboundMessage {
        id: &id,
        contact: &contact.id,
        kind: "text",
        body: r#"{"type":"text","text":{"body":"your order shipped"}}"#,
        at: SystemClock.now(),
        retention: RetentionSettings::default(),
    };
    inbox.store_outbound(&tenant, &outbound, SystemClock.now()).await.expect("queued");
    while inbox.erase_contact(&tenant, &contact.id, 100).await.expect("erase") != Default::default() {}

    // Act: Meta's delivery report for the message, naming the recipient, arrives late.
    let wamid = Wamid::parse("wamid.LATEOUT").expect("wamid");
    let callback = callback_data(&id);
    let change = StatusChange {
        wamid: &wamid,
        status: MessageStatus::Delivered,
        meta_status: "delivered",
        at: SystemClock.now(),
        recipient: &ContactProfile { phone: Some(phone.clone()), ..ContactProfile::default() },
        error: None,
        callback: Some(&callback),
        retention: RetentionSettings::default(),
    };
    let outcome = inbox.apply_status(&tenant, &change, SystemClock.now()).await.expect("applied");

    // Assert
    assert_eq!(outcome, StatusOutcome::Gone);
    assert!(inbox.contact_by_phone(&tenant, &phone).await.expect("read").is_none(), "no contact again");
    assert!(
        strings(&every_item(&table).await).iter().all(|s| !s.contains("LATEOUT")),
        "nothing of the status is kept"
    );
}

#[tokio::test]
async fn a_cold_instance_lists_a_page_of_contacts_with_one_key_read_each() {
    // Arrange: 20 people, then a fresh instance.
    let table = table().await;
    let keyring = keyring(&table).await;
    let inbox = DynamoInbox::new(table.clone(), keyring.clone());
    let tenant = tenant();
    for i in 0..20 {
        let profile = person(&format!("55119777720{i:02}"), &format!("Listed {i:02}"));
        receive(&inbox, &tenant, &profile, &format!("wamid.LIST{i}"), r#"{"text":{"body":"hi"}}"#).await;
    }
    let cold = instance_keyring(&table, keyring.key_table().name()).await;
    let fresh = DynamoInbox::new(table.clone(), cold.clone());

    // Act
    let page = fresh.contacts(&tenant, &Default::default(), None, 50).await.expect("listed");

    // Assert: every identifier opened, in the listing's order, one unwrap per person.
    let mut names: Vec<String> = page.items.iter().filter_map(|c| c.name.clone()).collect();
    assert_eq!(names.len(), 20);
    assert!(page.items.iter().all(|c| c.phone.as_deref().is_some_and(|p| p.starts_with("55119777720"))));
    let ids: Vec<&str> = page.items.iter().map(|c| c.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "the table's order is kept");
    names.sort();
    assert_eq!(names[0], "Listed 00");
    assert_eq!(cold.kms_calls().decrypt, 20);
}
