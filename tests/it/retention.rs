//! The retention run against moto: conversations past the tenant's retention period are never
//! served and are deleted with their messages (P50, P56); a shortened period takes effect at
//! once. Receipt times in the past stand in for the passing of days (no clock to move).

use std::time::{Duration, SystemTime};

use retention::{handle, Config, Deps, ScheduleInput};
use shared::adapters::dynamo::item::ItemExt as _;
use shared::adapters::dynamo::keys;
use shared::adapters::dynamo::{DynamoInbox, Table};
use shared::domain::inbox::{
    ConsentChange, ConsentKind, ConsentSource, ContactProfile, ContactStore, ConversationFilter,
    ConversationStore, IngestStore, LeadFilter, LeadStore, NewInboundMessage, NewLead,
};
use shared::domain::ports::{ConnectionStore, TenantRouting, TenantStore};
use shared::domain::privacy::{Integration, MetaPurge, PurgeStore, RetentionQueue};
use shared::domain::tenant::{ApiKey, RetentionSettings, Role, Tenant};
use shared::domain::{Clock, PhoneNumber, SystemClock, TenantId, Timestamp, Wamid};
use shared::wiring::{Aws, StoreConfig};

use crate::support::{table, tenant};

fn days_ago(days: u32) -> Timestamp {
    let now = SystemClock.now();
    Timestamp::from_millis(now.as_millis() - i64::from(days) * 86_400_000)
}

async fn deps(table: &Table) -> Deps<Aws> {
    let keyring = crate::support::keyring(table).await;
    let config = Config {
        store: StoreConfig {
            table_name: table.name().to_owned(),
            key_table_name: keyring.key_table().name().to_owned(),
            kms_key_id: crate::support::kms_key().await,
        },
        deadline_margin: Duration::from_secs(1),
        allow_as_of: false,
        // The retention job sends no live notice (only the timers job does, not run here).
        live_queue_url: "http://127.0.0.1:9/unused-live-queue".to_owned(),
        // Only the `timers` job queues there, and these tests run the retention job.
        inbound_queue_url: "http://127.0.0.1:9/unused-inbound.fifo".into(),
    };
    Deps::on(&crate::support::adapters().await, config)
}

/// The one inbox behind every inbox port of the production adapters (to seed and to look).
fn inbox(deps: &Deps<Aws>) -> &DynamoInbox {
    &deps.lifecycle
}

async fn run(deps: &Deps<Aws>) -> retention::RunReport {
    let mut context = lambda_runtime::Context::default();
    let deadline = SystemTime::now() + Duration::from_secs(120);
    context.deadline =
        u64::try_from(deadline.duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_millis())
            .expect("fits");
    handle(
        lambda_runtime::LambdaEvent::new(
            ScheduleInput { job: Some("retention".into()), ..ScheduleInput::default() },
            context,
        ),
        deps,
    )
    .await
    .expect("run")
}

/// Creates the tenant record (the run reads its settings).
async fn create_tenant(deps: &Deps<Aws>, tenant: &TenantId, name: &str) {
    let now = SystemClock.now();
    let record = Tenant::new(tenant.clone(), name.into(), now, crate::support::sealed_placeholder());
    let key = ApiKey::generate(tenant.clone(), now).expect("random");
    deps.tenants.create_tenant(&record, &key.record("admin", Role::Admin, now)).await.expect("tenant");
}

/// A message received `received` (days ago), under `settings`.
async fn receive(
    inbox: &DynamoInbox,
    tenant: &TenantId,
    phone: &str,
    wamid: &str,
    received: Timestamp,
    settings: RetentionSettings,
) {
    let from = ContactProfile { phone: PhoneNumber::parse(phone).ok(), ..ContactProfile::default() };
    let wamid = Wamid::parse(wamid).expect("valid");
    let message = NewInboundMessage {
        wamid: &wamid,
        from: &from,
        sent_at: received,
        kind: "text",
        raw: r#"{"text":{"body":"x"}}"#,
        retention: settings,
    };
    inbox.store_inbound_message(tenant, &message, received).await.expect("stored");
}

async fn conversation_of(
    inbox: &DynamoInbox,
    tenant: &TenantId,
    phone: &str,
) -> Option<shared::domain::ConversationId> {
    inbox
        .contact_by_phone(tenant, &PhoneNumber::parse(phone).expect("valid"))
        .await
        .expect("read")?
        .conversation_id
}

#[tokio::test]
async fn a_conversation_past_its_retention_is_never_served_and_the_run_deletes_it() {
    // Arrange: one conversation last received 100 days ago (default 90), one 10 days ago.
    let table = table().await;
    let deps = deps(&table).await;
    let tenant = tenant();
    let (old, recent) = ("5511977770001", "5511977770002");
    receive(inbox(&deps), &tenant, old, "wamid.OLD", days_ago(100), RetentionSettings::default()).await;
    receive(inbox(&deps), &tenant, recent, "wamid.NEW", days_ago(10), RetentionSettings::default()).await;
    let expired = conversation_of(inbox(&deps), &tenant, old).await.expect("linked");
    let live = conversation_of(inbox(&deps), &tenant, recent).await.expect("linked");
    // An AI suggestion made on it lately: derived from its content, it goes with it.
    let old_contact = inbox(&deps)
        .contact_by_phone(&tenant, &PhoneNumber::parse(old).expect("valid"))
        .await
        .expect("read")
        .expect("contact");
    let suggestion =
        crate::support::ready_suggestion(inbox(&deps), &tenant, &old_contact, &["See you"]).await;

    // Act + Assert: expired data is not served even before the run deletes it (P56).
    assert!(deps.conversations.conversation(&tenant, &expired).await.expect("read").is_none());
    assert!(deps.conversations.conversation(&tenant, &live).await.expect("read").is_some());
    let report = run(&deps).await;
    let again = run(&deps).await;

    // Assert: deleted everywhere, the live one kept, the contact kept; a second run does nothing.
    let expiring = report.tasks.iter().find(|t| t.name == "expired_conversations").expect("task ran");
    assert_eq!(
        (expiring.finished, expiring.items),
        (1, 4),
        "conversation, message, its record, the suggestion"
    );
    let suggestion_key = keys::suggestion(&tenant, &expired, &suggestion.id);
    assert!(table.get_including_expired(&suggestion_key).await.expect("read").is_none());
    assert!(table
        .get_including_expired(&keys::conversation(&tenant, &expired))
        .await
        .expect("read")
        .is_none());
    let leftovers = table
        .query_prefix(
            &keys::tenant_partition(&tenant),
            &keys::messages_prefix(&expired),
            SystemClock.now(),
            10,
            None,
        )
        .await
        .expect("query");
    assert!(leftovers.items.is_empty());
    assert!(deps.conversations.conversation(&tenant, &live).await.expect("read").is_some());
    let contact = inbox(&deps)
        .contact_by_phone(&tenant, &PhoneNumber::parse(old).expect("valid"))
        .await
        .expect("read")
        .expect("kept");
    assert!(contact.conversation_id.is_none());
    let second = again.tasks.iter().find(|t| t.name == "expired_conversations").expect("task ran");
    assert_eq!((second.finished, second.items), (0, 0));

    // A new message starts a new conversation.
    receive(inbox(&deps), &tenant, old, "wamid.AGAIN", SystemClock.now(), RetentionSettings::default()).await;
    let fresh = conversation_of(inbox(&deps), &tenant, old).await.expect("linked");
    assert_ne!(fresh, expired);
}

#[tokio::test]
async fn shortening_the_retention_period_takes_effect_at_the_next_run() {
    // Arrange: a tenant keeping 90 days, a conversation received 20 days ago.
    let table = table().await;
    let deps = deps(&table).await;
    let tenant = tenant();
    let now = SystemClock.now();
    create_tenant(&deps, &tenant, "Shorter").await;
    receive(inbox(&deps), &tenant, "5511977770003", "wamid.KEPT", days_ago(20), RetentionSettings::default())
        .await;
    let conversation = conversation_of(inbox(&deps), &tenant, "5511977770003").await.expect("linked");
    let before =
        table.get(&keys::conversation(&tenant, &conversation), now).await.expect("read").expect("live");
    let expires_before: i64 = before.number(keys::EXPIRES_AT).expect("stamped");

    // Act: keep 10 days from now on.
    deps.tenants.set_retention(&tenant, RetentionSettings::new(10, 5).expect("valid")).await.expect("set");
    let report = run(&deps).await;

    // Assert
    assert!(expires_before > (now.as_millis() / 1000) + 60 * 86_400, "90 days from receipt");
    let restamp = report.tasks.iter().find(|t| t.name == "restamp").expect("task ran");
    assert_eq!(restamp.finished, 1);
    let expiring = report.tasks.iter().find(|t| t.name == "expired_conversations").expect("task ran");
    assert_eq!(expiring.finished, 1, "20 days old under a 10-day period: deleted in the same run");
    assert!(table
        .get_including_expired(&keys::conversation(&tenant, &conversation))
        .await
        .expect("read")
        .is_none());
    assert!(deps.schedule.due_restamps(10).await.expect("queue").is_empty(), "re-stamping finished");
}

#[tokio::test]
async fn content_past_its_age_is_sanitized_and_its_metadata_kept() {
    // Arrange: one conversation, a message received 40 days ago and one 10 days ago (30-day content age).
    let table = table().await;
    let deps = deps(&table).await;
    let tenant = tenant();
    let phone = "5511977770004";
    receive(inbox(&deps), &tenant, phone, "wamid.AGED", days_ago(40), RetentionSettings::default()).await;
    receive(inbox(&deps), &tenant, phone, "wamid.FRESH", days_ago(10), RetentionSettings::default()).await;
    let conversation = conversation_of(inbox(&deps), &tenant, phone).await.expect("linked");

    // Act
    let report = run(&deps).await;
    let again = run(&deps).await;

    // Assert
    let sanitizing = report.tasks.iter().find(|t| t.name == "sanitize_content").expect("task ran");
    assert_eq!((sanitizing.finished, sanitizing.items), (1, 1));
    let messages =
        deps.conversations.messages(&tenant, &conversation, None, 10).await.expect("messages").items;
    let aged = messages.iter().find(|m| m.wamid.as_deref() == Some("wamid.AGED")).expect("aged message kept");
    let fresh = messages.iter().find(|m| m.wamid.as_deref() == Some("wamid.FRESH")).expect("fresh message");
    assert!(aged.payload.is_none(), "content removed");
    assert!(aged.content_sanitized_at.is_some());
    assert_eq!((aged.kind.as_str(), aged.direction.as_str()), ("text", "inbound"), "metadata kept");
    assert!(fresh.payload.is_some() && fresh.content_sanitized_at.is_none());
    assert!(
        deps.conversations.conversation(&tenant, &conversation).await.expect("read").is_some(),
        "the conversation lives on"
    );
    let second = again.tasks.iter().find(|t| t.name == "sanitize_content").expect("task ran");
    assert_eq!((second.finished, second.items), (0, 0));
}

#[tokio::test]
async fn a_longer_content_age_keeps_content_until_its_new_day() {
    // Arrange: received 40 days ago under the default 30-day age (due 10 days ago)...
    let table = table().await;
    let deps = deps(&table).await;
    let tenant = tenant();
    create_tenant(&deps, &tenant, "Longer").await;
    let phone = "5511977770005";
    receive(inbox(&deps), &tenant, phone, "wamid.KEEP", days_ago(40), RetentionSettings::default()).await;
    let conversation = conversation_of(inbox(&deps), &tenant, phone).await.expect("linked");

    // ...then the tenant keeps content 60 days before the run.
    deps.tenants.set_retention(&tenant, RetentionSettings::new(90, 60).expect("valid")).await.expect("set");
    let _ = run(&deps).await;

    // Assert: kept, and queued again for the day it turns 60 days old.
    let messages =
        deps.conversations.messages(&tenant, &conversation, None, 10).await.expect("messages").items;
    assert!(messages[0].payload.is_some(), "not sanitized under the longer age");
    let due_day = shared::domain::inbox::epoch_day(days_ago(40)) + 60;
    let queued =
        deps.schedule.due_on(shared::domain::privacy::DayQueue::Sanitize, due_day, 10).await.expect("queue");
    assert!(queued.iter().any(|(t, c)| *t == tenant && *c == conversation), "re-queued for day {due_day}");
}

#[tokio::test]
async fn a_closed_tenant_is_purged_after_its_grace_period_and_only_then() {
    // Arrange: one tenant closed 91 days ago (with a number and people), one
    // closed 10 days ago, one closed long ago but reopened since.
    let table = table().await;
    let deps = deps(&table).await;
    let (gone, waiting, reopened) = (tenant(), tenant(), tenant());
    for (tenant, name) in [(&gone, "Gone"), (&waiting, "Waiting"), (&reopened, "Reopened")] {
        create_tenant(&deps, tenant, name).await;
        receive(
            inbox(&deps),
            tenant,
            "5511933332222",
            &format!("wamid.P{name}"),
            days_ago(100),
            RetentionSettings::default(),
        )
        .await;
    }
    let phone_number_id = crate::support::unique("pnid");
    let connection = shared::domain::tenant::WhatsAppConnection {
        phone_number_id: phone_number_id.clone(),
        display_phone_number: "15550100009".into(),
        waba_id: "102290129340398".into(),
        access_token: crate::support::sealed_placeholder(),
        connected_at: days_ago(200),
    };
    deps.connections.connect_whatsapp(&gone, &connection).await.expect("connect");
    let grace = |closed: Timestamp| Timestamp::from_millis(closed.as_millis() + 90 * 86_400_000);
    for (tenant, closed) in [(&gone, days_ago(91)), (&waiting, days_ago(10)), (&reopened, days_ago(91))] {
        deps.purges.queue_purge(tenant, grace(closed)).await.expect("queue");
        deps.tenants
            .update_tenant(tenant, &shared::domain::ports::TenantUpdate::Closure(Some(closed)))
            .await
            .expect("close");
    }
    deps.tenants
        .update_tenant(&reopened, &shared::domain::ports::TenantUpdate::Closure(None))
        .await
        .expect("reopen");

    // Act
    let first = run(&deps).await;
    let second = run(&deps).await;

    // Assert
    let key_table = table.sibling(deps.config.store.key_table_name.clone());
    let items_in = |table: &Table, tenant: &TenantId| {
        let table = table.clone();
        let partition = keys::tenant_partition(tenant);
        async move {
            table
                .query_prefix(&partition, "", Timestamp::from_millis(0), 100, None)
                .await
                .expect("query")
                .items
                .len()
        }
    };
    let items_of = |tenant: &TenantId| items_in(&table, tenant);
    assert_eq!(items_of(&gone).await, 0, "everything of the purged tenant is gone");
    assert_eq!(items_in(&key_table, &gone).await, 0, "its people's data keys too (P64)");
    assert!(items_in(&key_table, &waiting).await > 0, "a tenant in its grace period keeps its keys");
    assert!(deps.tenants.tenant(&gone).await.expect("read").is_none());
    assert!(
        deps.tenants.tenant_for_phone_number_id(&phone_number_id).await.expect("route").is_none(),
        "its number routes nowhere"
    );
    assert!(items_of(&waiting).await > 0, "still in its grace period");
    assert!(items_of(&reopened).await > 0, "reopened: kept");
    assert!(
        deps.purges.due_purges(days_ago(0), 10).await.expect("queue").is_empty(),
        "the reopened entry is dropped"
    );
    let purge = |report: &retention::RunReport| {
        report
            .tasks
            .iter()
            .find(|t| t.name == "purge_closed_tenants")
            .map(|t| (t.finished, t.items))
            .expect("task")
    };
    assert_eq!(purge(&first).0, 1);
    assert!(purge(&first).1 >= 5, "{first:?}");
    assert_eq!(purge(&second), (0, 0), "a second run changes nothing");
}

#[tokio::test]
async fn a_disconnected_integrations_data_is_deleted_unless_held_or_still_connected() {
    // Arrange: three tenants with a conversation and leads from two Pages; each disconnected
    // its number and Page "P1" just now. One is under legal hold; one's disconnection failed
    // after queueing (its number is still connected as before).
    let table = table().await;
    let deps = deps(&table).await;
    let (plain, held, failed) = (tenant(), tenant(), tenant());
    let phone_number_id = crate::support::unique("pnid");
    for (tenant, name) in [(&plain, "Plain"), (&held, "Held"), (&failed, "Failed")] {
        create_tenant(&deps, tenant, name).await;
        receive(
            inbox(&deps),
            tenant,
            "5511933334444",
            &format!("wamid.D{name}"),
            days_ago(3),
            Default::default(),
        )
        .await;
        for (page, leadgen) in [("P1", "L1"), ("P2", "L2")] {
            let person = ContactProfile {
                email: Some(format!("{leadgen}@example.com").to_lowercase()),
                ..Default::default()
            };
            let lead = NewLead {
                leadgen_id: leadgen,
                page_id: page,
                contact: &person,
                lead_json: "{}",
                change_json: "{}",
            };
            inbox(&deps).store_lead(tenant, &lead, days_ago(2)).await.expect("lead");
        }
    }
    // The plain tenant also has a person the business created (with a name), who then wrote
    // and opted in by keyword: they came through WhatsApp and another way.
    let bia = ContactProfile {
        phone: PhoneNumber::parse("5511933335555").ok(),
        name: Some("Bia".into()),
        ..ContactProfile::default()
    };
    inbox(&deps).create_contact(&plain, &bia, days_ago(4)).await.expect("created");
    receive(inbox(&deps), &plain, "5511933335555", "wamid.Bia", days_ago(3), Default::default()).await;
    let start = ConsentChange {
        contact: &bia,
        kind: ConsentKind::OptIn,
        source: ConsentSource::Keyword,
        at: days_ago(3),
        cause: "wamid.BiaStart",
    };
    inbox(&deps).record_consent(&plain, &start, days_ago(3)).await.expect("consent");
    deps.tenants
        .set_retention(&held, RetentionSettings::default().with_legal_hold(true))
        .await
        .expect("hold");
    let connection = shared::domain::tenant::WhatsAppConnection {
        phone_number_id: phone_number_id.clone(),
        display_phone_number: "15550100009".into(),
        waba_id: "102290129340398".into(),
        access_token: crate::support::sealed_placeholder(),
        connected_at: days_ago(30),
    };
    deps.connections.connect_whatsapp(&failed, &connection).await.expect("connect");
    let now = SystemClock.now();
    for tenant in [&plain, &held, &failed] {
        for (integration, source_id) in
            [(Integration::WhatsApp, phone_number_id.as_str()), (Integration::LeadAds, "P1")]
        {
            let purge = MetaPurge {
                tenant: tenant.clone(),
                integration,
                source_id: source_id.to_owned(),
                disconnected_at: now,
            };
            deps.purges.queue_meta_purge(&purge).await.expect("queued");
        }
    }

    // Act
    let first = run(&deps).await;
    let second = run(&deps).await;

    // Assert
    let every = &ConversationFilter::default();
    let conversations = |tenant: &TenantId| {
        let (inbox, tenant) = (inbox(&deps), tenant.clone());
        async move { inbox.conversations(&tenant, None, every, None, 10).await.expect("list").items.len() }
    };
    let leads = |tenant: &TenantId| {
        let (inbox, tenant) = (inbox(&deps), tenant.clone());
        async move {
            let mut ids: Vec<String> = inbox
                .leads(&tenant, &LeadFilter::default(), None, 10)
                .await
                .expect("list")
                .items
                .into_iter()
                .map(|l| l.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(conversations(&plain).await, 0, "the WhatsApp conversation is deleted");
    assert_eq!(leads(&plain).await, vec!["L2"], "only the disconnected Page's lead goes");
    let by_phone = |digits: &str| {
        let (inbox, tenant, phone) =
            (inbox(&deps), plain.clone(), PhoneNumber::parse(digits).expect("valid"));
        async move { inbox.contact_by_phone(&tenant, &phone).await.expect("read") }
    };
    assert_eq!(by_phone("5511933334444").await, None, "came only through WhatsApp: gone");
    let bia = by_phone("5511933335555").await.expect("came through the business too: stays");
    assert_eq!(bia.name.as_deref(), Some("Bia"), "the business's name stays");
    assert_eq!(bia.consent, None, "the opt-in given through WhatsApp goes");
    let by_email = |email: &str| {
        let (inbox, tenant, email) = (inbox(&deps), plain.clone(), email.to_owned());
        async move { inbox.contact_by_email(&tenant, &email).await.expect("read") }
    };
    assert_eq!(by_email("l1@example.com").await, None, "came only through the disconnected Page: gone");
    assert!(by_email("l2@example.com").await.is_some(), "the other Page's lead keeps its person");
    assert!(
        inbox(&deps)
            .contact_by_phone(&held, &PhoneNumber::parse("5511933334444").expect("valid"))
            .await
            .expect("read")
            .is_some(),
        "legal hold: the person stays"
    );
    assert_eq!(
        (conversations(&held).await, leads(&held).await),
        (1, vec!["L1".to_owned(), "L2".to_owned()]),
        "legal hold"
    );
    assert_eq!(
        (conversations(&failed).await, leads(&failed).await.len()),
        (1, 1),
        "still connected: the number's data stays"
    );
    assert!(deps.purges.due_meta_purges(10).await.expect("queue").is_empty(), "every entry is done");
    let purged = |report: &retention::RunReport| {
        report.tasks.iter().find(|t| t.name == "purge_disconnected").map(|t| t.items).unwrap_or_default()
    };
    assert!(purged(&first) > 0);
    assert_eq!(purged(&second), 0, "a second run deletes nothing");
}

#[tokio::test]
async fn erasure_queue_entries_of_finished_or_missing_requests_are_dropped() {
    use shared::adapters::dynamo::item::{item_with_key, s};
    use shared::domain::privacy::{
        DueErasure, ErasureCounts, ErasureReceipt, ErasureRequest, ErasureStatus, ErasureStore,
    };
    use shared::domain::ErasureId;
    // Arrange: a finished request whose queue entry came back (as an older build could leave
    // it), and a request deleted without its entry.
    let table = table().await;
    let deps = deps(&table).await;
    let tenant = tenant();
    let request = |at: Timestamp| ErasureRequest {
        id: ErasureId::generate(at).expect("random"),
        contacts: vec![],
        status: ErasureStatus::Pending,
        requested_at: at,
        progress: ErasureCounts::default(),
        receipt: None,
    };
    let (finished, gone) = (request(days_ago(2)), request(days_ago(1)));
    for request in [&finished, &gone] {
        deps.erasures.request_erasure(&tenant, request).await.expect("requested");
    }
    let receipt = ErasureReceipt {
        request_id: finished.id.clone(),
        requested_at: finished.requested_at.as_millis(),
        completed_at: SystemClock.now().as_millis(),
        deleted: ErasureCounts::default(),
    };
    deps.erasures.complete_erasure(&tenant, &receipt).await.expect("completed");
    let mut entry = item_with_key(&keys::due_erasure(&tenant, &finished.id, finished.requested_at));
    entry.insert(keys::ENTITY.to_owned(), s("due_erasure"));
    entry.insert(keys::attr::TENANT_ID.to_owned(), s(tenant.as_str()));
    entry.insert(keys::attr::ERASURE_ID.to_owned(), s(finished.id.as_str()));
    table.client().put_item().table_name(table.name()).set_item(Some(entry)).send().await.expect("raw put");
    table
        .client()
        .delete_item()
        .table_name(table.name())
        .set_key(Some(shared::adapters::dynamo::item::key_attributes(&keys::erasure(&tenant, &gone.id))))
        .send()
        .await
        .expect("raw delete");
    let entries = [
        DueErasure { tenant: tenant.clone(), id: finished.id.clone(), requested_at: finished.requested_at },
        DueErasure { tenant: tenant.clone(), id: gone.id.clone(), requested_at: gone.requested_at },
    ];
    let queued = deps.erasures.due_erasures(1_000).await.expect("queue");
    assert!(entries.iter().all(|e| queued.contains(e)), "both queued: {queued:?}");

    // Act: a run that would otherwise read them until its deadline.
    let report = tokio::time::timeout(Duration::from_secs(60), run(&deps)).await.expect("the run ends");

    // Assert
    assert!(report.complete, "{report:?}");
    let queued = deps.erasures.due_erasures(1_000).await.expect("queue");
    assert!(entries.iter().all(|e| !queued.contains(e)), "both dropped: {queued:?}");
    let kept = deps.erasures.erasure(&tenant, &finished.id).await.expect("read").expect("kept");
    assert_eq!(kept.receipt, Some(receipt), "the finished request keeps its receipt");
}

#[tokio::test]
async fn a_message_unknown_past_the_settle_deadline_ends_failed_and_a_recent_one_waits() {
    use shared::domain::inbox::{MessageStatus, NewOutboundMessage, OutboundStore};
    use shared::domain::MessageId;
    // Arrange: two sends whose answers were lost, two days ago and just now.
    let table = table().await;
    let deps = deps(&table).await;
    let tenant = tenant();
    create_tenant(&deps, &tenant, "Settle").await;
    let phone = "5511955550001";
    receive(inbox(&deps), &tenant, phone, "wamid.SETTLE_IN", days_ago(3), RetentionSettings::default()).await;
    let contact = inbox(&deps)
        .contact_by_phone(&tenant, &PhoneNumber::parse(phone).expect("valid"))
        .await
        .expect("read")
        .expect("contact");
    let mut ids = Vec::new();
    for accepted in [days_ago(2), SystemClock.now()] {
        let id = MessageId::generate(accepted).expect("random");
        let message = NewOutboundMessage {
            id: &id,
            contact: &contact.id,
            kind: "text",
            body: r#"{"to":"5511955550001","type":"text","text":{"body":"x"}}"#,
            at: accepted,
            retention: RetentionSettings::default(),
        };
        inbox(&deps).store_outbound(&tenant, &message, accepted).await.expect("stored");
        assert!(inbox(&deps).mark_unknown(&tenant, &id, accepted).await.expect("unknown"));
        ids.push(id);
    }

    // Act
    let report = run(&deps).await;

    // Assert
    let old = inbox(&deps).outbound(&tenant, &ids[0]).await.expect("read").expect("message");
    let recent = inbox(&deps).outbound(&tenant, &ids[1]).await.expect("read").expect("message");
    assert!(report.complete, "{report:?}");
    assert_eq!(old.status, MessageStatus::Failed);
    assert_eq!(old.error.and_then(|e| e.title).as_deref(), Some("outcome-unknown"));
    assert_eq!(recent.status, MessageStatus::Unknown, "settled only after the deadline");
    let settled = report.tasks.iter().find(|t| t.name == "settle_unknown").expect("the task ran");
    assert_eq!(settled.items, 1);
}
