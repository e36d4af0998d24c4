//! The pipeline on in-memory adapters: replies as the API submits them, a closed tenant.
use shared::adapters::documents::{DocRateLimiter, DocTemplates};
use shared::app::outbound::{self, Submission};
use shared::domain::outbound::{OutboundBody, SendJob};
use shared::domain::ports::TenantUpdate;
use shared::domain::ports::{EncryptionContext, Purpose};
use shared::domain::tenant::{ApiKey, Role, Tenant, WhatsAppConnection};
use shared::testing::{LocalVault, ManualClock, MemoryDocs, MemoryInbox, MemoryQueue, MemoryTenantStore};

use super::*;
use shared::domain::inbox::OutboundStore as _;
use shared::domain::ports::Vault as _;

pub(crate) type FakeDeps = Deps<shared::testing::Fakes>;

const NUMBER_ID: &str = "106540352242922";

/// A tenant with its number connected, on in-memory adapters.
pub(crate) async fn fake_deps(now: Timestamp) -> (FakeDeps, TenantId) {
    let docs = MemoryDocs::default();
    let tenant_store = MemoryTenantStore::default();
    let inbox = MemoryInbox::default();
    let deps: FakeDeps = Deps {
        config: Config {
            store: StoreConfig { table_name: "t".into(), key_table_name: "k".into(), kms_key_id: "k".into() },
            graph_api_base_url: "https://graph.example".into(),
            graph_api_version: "v23.0".into(),
            outbound_queue_url: "o".into(),
            suggest_queue_url: "s".into(),
            live_queue_url: "l".into(),
            concurrency: 1,
        },
        ingest: inbox.clone(),
        contacts: inbox.clone(),
        conversations: inbox.clone(),
        outbox: inbox.clone(),
        timers: inbox.clone(),
        leads: inbox.clone(),
        agents: inbox,
        queues: DocQueues::new(docs.clone()),
        directory: DocDirectory::new(docs.clone()),
        events: DocEventLog::new(docs.clone()),
        flows: DocFlows::new(docs.clone()),
        live: shared::adapters::live::QueueLiveFeed::new(MemoryQueue::default()),
        tenants: tenant_store.clone(),
        connections: tenant_store.clone(),
        routing: tenant_store.clone(),
        vault: LocalVault,
        graph: shared::testing::MemoryLeadAds::default(),
        clock: ManualClock::at(now),
        outbound: MemoryQueue::default(),
        templates: DocTemplates::new(docs.clone()),
        limiter: DocRateLimiter::new(docs.clone()),
        audit: DocAuditLog::new(docs),
    };
    let tenant = TenantId::generate(now).unwrap();
    let context = |purpose| EncryptionContext { tenant_id: tenant.clone(), purpose };
    let signing = deps.vault.seal(&context(Purpose::TokenSigningKey), b"k").await.unwrap();
    let key = ApiKey::generate(tenant.clone(), now).unwrap().record("a", Role::Admin, now);
    deps.tenants.create_tenant(&Tenant::new(tenant.clone(), "T".into(), now, signing), &key).await.unwrap();
    let token = deps.vault.seal(&context(Purpose::WhatsAppAccessToken), b"EAA").await.unwrap();
    let connection = WhatsAppConnection {
        phone_number_id: NUMBER_ID.into(),
        display_phone_number: "15550100001".into(),
        waba_id: "102290129340398".into(),
        access_token: token,
        connected_at: now,
    };
    deps.connections.connect_whatsapp(&tenant, &connection).await.unwrap();
    (deps, tenant)
}

#[tokio::test]
async fn a_reply_is_submitted_stored_and_queued_as_the_api_would() {
    // Arrange: the customer writes in, through the ingest pipeline.
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    let envelope = serde_json::json!({"v": 1, "event": {"message": {
        "waba_id": "102290129340398", "phone_number_id": NUMBER_ID, "contact": null,
        "message": {"from": "5511988887777", "id": "wamid.IN1", "timestamp": "1800000000",
            "type": "text", "text": {"body": "hi"}}}}});
    let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [{
        "messageId": "m1", "body": envelope.to_string(), "attributes": {"ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:inbound.fifo"}]}))
    .unwrap();
    let response = handle(LambdaEvent::new(event, lambda_runtime::Context::default()), &deps).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let reply = serde_json::json!({"to": "5511988887777", "type": "text", "text": {"body": "Olá!"}});
    let body = OutboundBody::parse(&reply).unwrap();

    // Act
    let submission = Submission { tenant: &tenant, body: &body, scope: None, id: None };
    let accepted = outbound::submit(&deps.outbound_ports(), &submission).await.unwrap();

    // Assert
    let stored = deps.outbox.outbound(&tenant, &accepted.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.kind.as_str()), (MessageStatus::Queued, "text"));
    let job = SendJob { v: 1, tenant_id: tenant.clone(), message_id: accepted.id };
    assert_eq!(deps.outbound.sent(), [job.queue_message(&body.to)]);
}

/// The live notices sent so far.
fn notices(deps: &FakeDeps) -> Vec<shared::domain::live::LiveNotice> {
    deps.live.queue().sent().iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect()
}

/// One inbound batch of `envelopes`.
fn batch(envelopes: &[serde_json::Value]) -> LambdaEvent<SqsEvent> {
    let records: Vec<serde_json::Value> = envelopes
        .iter()
        .enumerate()
        .map(|(n, envelope)| {
            serde_json::json!({"messageId": format!("m{n}"), "body": envelope.to_string(),
                "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:1:inbound.fifo"})
        })
        .collect();
    let event = serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();
    LambdaEvent::new(event, lambda_runtime::Context::default())
}

#[tokio::test]
async fn a_customer_message_and_a_status_of_our_reply_are_live_notices_with_ids_only() {
    // Arrange
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    let message = serde_json::json!({"v": 1, "event": {"message": {
        "waba_id": "102290129340398", "phone_number_id": NUMBER_ID, "contact": null,
        "message": {"from": "5511988887777", "id": "wamid.LIVE1", "timestamp": "1800000000",
            "type": "text", "text": {"body": "hi"}}}}});

    // Act: the customer writes; a reply is sent and Meta says it was delivered.
    let response = handle(batch(&[message]), &deps).await.unwrap();
    let reply = serde_json::json!({"to": "5511988887777", "type": "text", "text": {"body": "Olá!"}});
    let body = OutboundBody::parse(&reply).unwrap();
    let submission = Submission { tenant: &tenant, body: &body, scope: None, id: None };
    let accepted = outbound::submit(&deps.outbound_ports(), &submission).await.unwrap();
    let before_status = notices(&deps).len();
    let status = serde_json::json!({"v": 1, "event": {"status": {
        "waba_id": "102290129340398", "phone_number_id": NUMBER_ID,
        "status": {"id": "wamid.OUT1", "status": "delivered", "timestamp": "1800000005",
            "recipient_id": "5511988887777",
            "biz_opaque_callback_data": shared::domain::outbound::callback_data(&accepted.id)}}}});
    let status_response = handle(batch(&[status]), &deps).await.unwrap();

    // Assert
    assert!(response.batch_item_failures.is_empty() && status_response.batch_item_failures.is_empty());
    let sent = notices(&deps);
    let conversation = deps.outbox.outbound(&tenant, &accepted.id).await.unwrap().unwrap().conversation_id;
    assert_eq!(sent[0].kind, shared::domain::live::LiveKind::Message, "{sent:?}");
    assert_eq!((&sent[0].tenant_id, &sent[0].conversation_id), (&tenant, &conversation));
    let statuses: Vec<_> =
        sent[before_status..].iter().filter(|n| n.kind == shared::domain::live::LiveKind::Status).collect();
    assert_eq!(statuses.len(), 1, "{sent:?}");
    assert_eq!(statuses[0].conversation_id, conversation);
    for message in deps.live.queue().sent() {
        assert!(
            !message.body.contains("5511988887777") && !message.body.contains("hi\""),
            "ids only: {}",
            message.body
        );
    }
}

#[tokio::test]
async fn an_event_from_another_waba_than_the_numbers_is_dropped() {
    // Arrange: the number is connected under WABA 102290129340398.
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    let record = |id: &str, waba_id: &str, from: &str| {
        let envelope = serde_json::json!({"v": 1, "event": {"message": {
            "waba_id": waba_id, "phone_number_id": NUMBER_ID, "contact": null,
            "message": {"from": from, "id": format!("wamid.{id}"), "timestamp": "1800000000",
                "type": "text", "text": {"body": "hi"}}}}});
        serde_json::json!({"messageId": id, "body": envelope.to_string(),
            "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:1:inbound.fifo"})
    };
    let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
        record("m1", "999999999999999", "5511988887777"),
        record("m2", "102290129340398", "5511977776666"),
    ]}))
    .unwrap();

    // Act
    let response = handle(LambdaEvent::new(event, lambda_runtime::Context::default()), &deps).await.unwrap();

    // Assert: dropped (not retried), and nothing of it stored; the right WABA's event is.
    assert!(response.batch_item_failures.is_empty());
    let phone = |p: &str| PhoneNumber::parse(p).unwrap();
    assert!(deps.contacts.contact_by_phone(&tenant, &phone("5511988887777")).await.unwrap().is_none());
    assert!(deps.contacts.contact_by_phone(&tenant, &phone("5511977776666")).await.unwrap().is_some());
}

/// One inbound record (an envelope) as SQS delivers it.
pub(crate) fn record(envelope: &serde_json::Value) -> LambdaEvent<SqsEvent> {
    let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [{
        "messageId": "m1", "body": envelope.to_string(), "attributes": {"ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:inbound.fifo"}]}))
    .unwrap();
    LambdaEvent::new(event, lambda_runtime::Context::default())
}

pub(crate) fn text(wamid: &str, body: &str) -> serde_json::Value {
    serde_json::json!({"v": 1, "event": {"message": {
        "waba_id": "102290129340398", "phone_number_id": NUMBER_ID, "contact": null,
        "message": {"from": "5511988887777", "id": wamid, "timestamp": "1800000000",
            "type": "text", "text": {"body": body}}}}})
}

#[tokio::test]
async fn a_keyword_opt_out_is_in_the_audit_trail_under_the_system_actor() {
    use shared::domain::audit::{ActorKind, AuditFilter, AuditLog as _};
    // Arrange
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;

    // Act
    let response = handle(record(&text("wamid.STOP1", "STOP")), &deps).await.unwrap();
    handle(record(&text("wamid.STOP1", "STOP")), &deps).await.unwrap();

    // Assert
    assert!(response.batch_item_failures.is_empty());
    let entries = deps.audit.entries(&tenant, &AuditFilter::default(), None, 10).await.unwrap().items;
    assert_eq!(entries.len(), 1, "once, however often it arrives: {entries:?}");
    let entry = &entries[0];
    assert_eq!((entry.actor.kind, entry.actor.id.as_str()), (ActorKind::System, "inbound"));
    assert_eq!(entry.action, "contact.consent.opt_out");
    assert_eq!(entry.fields, ["source=keyword"]);
    let phone = PhoneNumber::parse("5511988887777").unwrap();
    let contact = deps.contacts.contact_by_phone(&tenant, &phone).await.unwrap().unwrap();
    assert_eq!(entry.target.kind, "contact");
    assert!(entry.target.id == contact.id.as_str() || entry.target.id == "anonymized", "{entry:?}");
}

#[tokio::test]
async fn a_closed_tenant_collects_nothing_until_reopened() {
    // Arrange
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    deps.tenants.update_tenant(&tenant, &TenantUpdate::Closure(Some(now))).await.unwrap();
    let phone = PhoneNumber::parse("5511988887777").unwrap();

    // Act
    let closed = handle(record(&text("wamid.C1", "hi")), &deps).await.unwrap();
    let while_closed = deps.contacts.contact_by_phone(&tenant, &phone).await.unwrap();
    deps.tenants.update_tenant(&tenant, &TenantUpdate::Closure(None)).await.unwrap();
    handle(record(&text("wamid.C2", "hi again")), &deps).await.unwrap();

    // Assert
    assert!(closed.batch_item_failures.is_empty(), "dropped, not failed");
    assert_eq!(while_closed, None);
    assert!(deps.contacts.contact_by_phone(&tenant, &phone).await.unwrap().is_some(), "resumed");
}

#[tokio::test]
async fn a_conversation_changed_before_its_first_message_is_logged_still_counts_as_opened() {
    use shared::domain::center::{EventKind, EventLog as _};
    use shared::domain::inbox::{ConversationPatch, ConversationState, IngestStore as _, NewInboundMessage};
    // Arrange: the first message is stored, and a manager changes the new conversation before
    // the pipeline reaches its contact-center step (a race the API can win).
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    let (retention, _) = settings_of(&deps, &tenant).await.unwrap();
    let from = whatsapp_user(Some("5511988887777"), None);
    let wamid = Wamid::parse("wamid.FIRST".to_owned()).unwrap();
    let first = NewInboundMessage {
        wamid: &wamid,
        from: &from,
        sent_at: now,
        kind: "text",
        raw: r#"{"type":"text"}"#,
        retention,
    };
    deps.ingest.store_inbound_message(&tenant, &first, now).await.unwrap();
    let phone = PhoneNumber::parse("5511988887777").unwrap();
    let contact = deps.contacts.contact_by_phone(&tenant, &phone).await.unwrap().unwrap();
    let conversation = contact.conversation_id.unwrap();
    let snooze = ConversationPatch {
        state: Some(ConversationState::Pending),
        snoozed_until: Some(Some(now.as_millis() + 60_000)),
        ..ConversationPatch::default()
    };
    let changed = deps.conversations.update_conversation(&tenant, &conversation, &snooze, now).await.unwrap();
    assert_eq!(changed.version, 1);

    // Act: the pipeline goes on with that message (its delivery).
    let response = handle(record(&text("wamid.FIRST", "hi")), &deps).await.unwrap();

    // Assert: the conversation is counted as opened, once.
    assert!(response.batch_item_failures.is_empty());
    let events = deps.events.events(&tenant, (0, i64::MAX), None, 100).await.unwrap().items;
    let opened = events.iter().filter(|e| e.kind == EventKind::Opened).count();
    assert_eq!(opened, 1, "{events:?}");
}

#[test]
fn lead_answers_name_the_person() {
    let lead: GraphLead = serde_json::from_str(
        r#"{"id":"1","field_data":[{"name":"first_name","values":["Ana"]},{"name":"last_name","values":["Souza"]},
        {"name":"email","values":[" Ana@Example.COM "]},{"name":"phone_number","values":["+55 11 98888-7777"]}]}"#,
    )
    .expect("parses");
    let profile = lead_profile(&lead);
    assert_eq!(profile.name.as_deref(), Some("Ana Souza"));
    assert_eq!(profile.email.as_deref(), Some("ana@example.com"));
    assert_eq!(profile.phone.as_ref().map(PhoneNumber::as_digits), Some("5511988887777"));
}

#[test]
fn config_requires_https_graph_and_names_missing_variables() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        Env(move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    };
    let base: &[(&str, &str)] = &[
        ("TABLE_NAME", "t"),
        ("KEY_TABLE_NAME", "kt"),
        ("KMS_KEY_ID", "k"),
        ("GRAPH_API_BASE_URL", "http://graph.facebook.com"),
        ("OUTBOUND_QUEUE_URL", "o"),
        ("SUGGEST_QUEUE_URL", "s"),
    ];
    assert!(matches!(
        Config::from_env(&env(base)),
        Err(ConfigError::Invalid { name: "GRAPH_API_BASE_URL", .. })
    ));
    assert_eq!(
        Config::from_env(&env(&[("TABLE_NAME", "t")])).err(),
        Some(ConfigError::Missing("KEY_TABLE_NAME"))
    );
    assert_eq!(
        Config::from_env(&env(&[("TABLE_NAME", "t"), ("KEY_TABLE_NAME", "kt")])).err(),
        Some(ConfigError::Missing("KMS_KEY_ID"))
    );
}

#[tokio::test]
async fn a_received_event_the_log_failed_to_write_fails_the_record_and_its_redelivery_writes_it_once() {
    use shared::domain::center::{EventKind, EventLog as _};
    // Arrange: the event log's table fails writes for the first delivery (issue #19's chaos
    // matrix: the event was logged as "not recorded" and the record acknowledged, so lost).
    let now = Timestamp::from_secs(1_800_000_000);
    let (mut deps, tenant) = fake_deps(now).await;
    let log = MemoryDocs::default();
    deps.events = DocEventLog::new(log.clone());
    let message = serde_json::json!({"v": 1, "event": {"message": {
        "waba_id": "102290129340398", "phone_number_id": NUMBER_ID, "contact": null,
        "message": {"from": "5511988887777", "id": "wamid.LOG1", "timestamp": "1800000000",
            "type": "text", "text": {"body": "hi"}}}}});
    log.fail_writes(true);

    // Act
    let first = handle(batch(std::slice::from_ref(&message)), &deps).await.unwrap();
    log.fail_writes(false);
    let again = handle(batch(std::slice::from_ref(&message)), &deps).await.unwrap();
    let third = handle(batch(&[message]), &deps).await.unwrap();

    // Assert
    assert_eq!(first.batch_item_failures.len(), 1, "retried, not acknowledged");
    assert!(again.batch_item_failures.is_empty() && third.batch_item_failures.is_empty());
    let events = deps.events.events(&tenant, (0, i64::MAX), None, 100).await.unwrap().items;
    let count = |kind: EventKind| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!((count(EventKind::Opened), count(EventKind::Received), events.len()), (1, 1, 2), "{events:?}");
}
