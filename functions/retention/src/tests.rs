//! The run on in-memory adapters: erasures, deadlines, jobs, failing tasks and stale queue entries.

use shared::domain::inbox::{ContactKey, ContactProfile, ContactStore, IngestStore, NewInboundMessage};
use shared::domain::privacy::{ErasureRequest, MetaPurge};
use shared::domain::{ContactId, ErasureId, PhoneNumber, TenantId, Timestamp, Wamid};
use shared::testing::{Fakes, ManualClock, MemoryDocs, MemoryInbox, MemoryPrivacy, MemoryTenantStore};

use super::*;

pub(crate) fn deps() -> Deps<Fakes> {
    let tenant_store = MemoryTenantStore::default();
    let privacy = MemoryPrivacy::default();
    let inbox = MemoryInbox::default();
    let inbox_for_center = inbox.clone();
    Deps {
        config: Config {
            store: StoreConfig {
                table_name: "t".into(),
                key_table_name: "k".into(),
                kms_key_id: "alias/k".into(),
            },
            deadline_margin: Duration::from_secs(1),
            allow_as_of: false,
            live_queue_url: "l".into(),
            inbound_queue_url: "i".into(),
        },
        conversations: inbox.clone(),
        leads: inbox.clone(),
        outbox: inbox.clone(),
        lifecycle: inbox,
        erasures: privacy.clone(),
        schedule: privacy.clone(),
        purges: privacy.clone(),
        tenants: tenant_store.clone(),
        connections: tenant_store.clone(),
        clock: ManualClock::at(Timestamp::from_secs(2_000_000_000)),
        audit: DocAuditLog::new(MemoryDocs::default()),
        events: DocEventLog::new(MemoryDocs::default()),
        timers: inbox_for_center.clone(),
        agents: inbox_for_center,
        queues: shared::adapters::documents::DocQueues::new(MemoryDocs::default()),
        directory: shared::adapters::documents::DocDirectory::new(MemoryDocs::default()),
        live: shared::adapters::live::QueueLiveFeed::new(shared::testing::MemoryQueue::default()),
        flows: shared::adapters::documents::DocFlows::new(MemoryDocs::default()),
        inbound: shared::testing::MemoryQueue::default(),
    }
}

/// The one in-memory inbox behind every inbox port of `deps` (to seed what arrived).
fn inbox(deps: &Deps<Fakes>) -> &MemoryInbox {
    &deps.lifecycle
}

pub(crate) fn event(deadline_in: Duration) -> LambdaEvent<ScheduleInput> {
    let mut context = lambda_runtime::Context::default();
    let deadline = SystemTime::now() + deadline_in;
    context.deadline =
        u64::try_from(deadline.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis())
            .unwrap_or(0);
    LambdaEvent::new(ScheduleInput { job: Some("retention".into()), ..ScheduleInput::default() }, context)
}

#[tokio::test]
async fn a_pending_erasure_is_carried_out_once_with_a_receipt() {
    // Arrange
    let deps = deps();
    let tenant = TenantId::parse("tn_a").expect("valid");
    let phone = PhoneNumber::parse("5511988887777").expect("valid");
    let profile = ContactProfile { phone: Some(phone.clone()), ..ContactProfile::default() };
    let wamid = Wamid::parse("wamid.1").expect("valid");
    let message = NewInboundMessage {
        wamid: &wamid,
        from: &profile,
        sent_at: Timestamp::from_secs(1),
        kind: "text",
        raw: "{}",
        retention: RetentionSettings::default(),
    };
    inbox(&deps).store_inbound_message(&tenant, &message, Timestamp::from_secs(1)).await.expect("stored");
    let id = ErasureId::generate(Timestamp::from_secs(5)).expect("random");
    let request = ErasureRequest {
        id: id.clone(),
        contacts: vec![inbox(&deps)
            .contact_id_of(&tenant, &ContactKey::Phone(phone.clone()))
            .await
            .expect("read")
            .expect("the contact exists")],
        status: ErasureStatus::Pending,
        requested_at: Timestamp::from_secs(5),
        progress: ErasureCounts::default(),
        receipt: None,
    };
    deps.erasures.request_erasure(&tenant, &request).await.expect("requested");

    // Act
    let first = handle(event(Duration::from_secs(60)), &deps).await.expect("run");
    let second = handle(event(Duration::from_secs(60)), &deps).await.expect("run");

    // Assert
    assert!(first.complete);
    assert_eq!(first.tasks[0].finished, 1);
    assert_eq!(
        second.tasks[0],
        TaskReport { name: "erasure_requests".into(), finished: 0, items: 0 },
        "idempotent"
    );
    let done = deps.erasures.erasure(&tenant, &id).await.expect("read").expect("exists");
    assert_eq!(done.status, ErasureStatus::Done);
    assert!(done.contacts.is_empty(), "the request keeps no reference to the person");
    let receipt = done.receipt.expect("receipt");
    assert_eq!((receipt.deleted.contacts, receipt.deleted.messages), (1, 1));
    assert_eq!(receipt.completed_at, 2_000_000_000_000);
    assert!(inbox(&deps).contact_by_phone(&tenant, &phone).await.expect("read").is_none());
}

#[tokio::test]
async fn a_run_past_its_deadline_stops_and_leaves_the_work_for_the_next() {
    let deps = deps();
    let tenant = TenantId::parse("tn_a").expect("valid");
    let request = ErasureRequest {
        id: ErasureId::generate(Timestamp::from_secs(5)).expect("random"),
        contacts: vec![ContactId::generate(Timestamp::from_secs(5)).expect("random")],
        status: ErasureStatus::Pending,
        requested_at: Timestamp::from_secs(5),
        progress: ErasureCounts::default(),
        receipt: None,
    };
    deps.erasures.request_erasure(&tenant, &request).await.expect("requested");

    let cut_short = handle(event(Duration::ZERO), &deps).await.expect("run");

    assert!(!cut_short.complete);
    assert_eq!(deps.erasures.due_erasures(10).await.expect("queue").len(), 1);
}

/// A pending request to erase a contact (that nobody wrote from).
async fn pending_erasure(deps: &Deps<Fakes>, tenant: &TenantId) -> ErasureRequest {
    let request = ErasureRequest {
        id: ErasureId::generate(Timestamp::from_secs(5)).expect("random"),
        // Nobody wrote from it: the request names a contact that does not exist (any more).
        contacts: vec![ContactId::generate(Timestamp::from_secs(5)).expect("random")],
        status: ErasureStatus::Pending,
        requested_at: Timestamp::from_secs(5),
        progress: ErasureCounts::default(),
        receipt: None,
    };
    deps.erasures.request_erasure(tenant, &request).await.expect("requested");
    request
}

#[tokio::test]
async fn queue_entries_of_finished_or_missing_requests_are_dropped_not_read_for_ever() {
    // Arrange: one entry whose request is gone, one whose request is done but still queued,
    // and a pending one behind them.
    let deps = deps();
    let tenant = TenantId::parse("tn_a").expect("valid");
    let gone = pending_erasure(&deps, &tenant).await;
    deps.erasures.forget_erasure(&tenant, &gone.id).expect("forgotten");
    let finished = pending_erasure(&deps, &tenant).await;
    let receipt = ErasureReceipt {
        request_id: finished.id.clone(),
        requested_at: finished.requested_at.as_millis(),
        completed_at: 6_000,
        deleted: ErasureCounts::default(),
    };
    deps.erasures.complete_erasure(&tenant, &receipt).await.expect("completed");
    deps.erasures.requeue_erasure(&tenant, &finished).expect("requeued");
    let pending = pending_erasure(&deps, &tenant).await;

    // Act: a long deadline, so only the fix ends the run (the timeout fails the test).
    let run = tokio::time::timeout(Duration::from_secs(10), handle(event(Duration::from_secs(600)), &deps))
        .await
        .expect("the run ends")
        .expect("run");

    // Assert
    assert!(run.complete && run.failed.is_empty(), "{run:?}");
    assert_eq!(run.tasks[0].finished, 1, "only the pending request was carried out");
    assert!(deps.erasures.due_erasures(10).await.expect("queue").is_empty(), "every entry is gone");
    let done = deps.erasures.erasure(&tenant, &pending.id).await.expect("read").expect("kept");
    assert_eq!(done.status, ErasureStatus::Done);
    let untouched = deps.erasures.erasure(&tenant, &finished.id).await.expect("read").expect("kept");
    assert_eq!(untouched.receipt, Some(receipt), "the finished request keeps its receipt");
}

#[tokio::test]
async fn a_failing_task_does_not_stop_the_others_and_the_run_reports_it() {
    // Arrange: the erasure store is down; a Meta purge of a tenant gone since is queued (the
    // next task after it drops it).
    let deps = deps();
    let purge = MetaPurge {
        tenant: TenantId::parse("tn_gone").expect("valid"),
        integration: Integration::LeadAds,
        source_id: "109876543210987".into(),
        disconnected_at: Timestamp::from_secs(1_000),
    };
    deps.purges.queue_meta_purge(&purge).await.expect("queued");
    deps.erasures.set_erasures_failing(true);

    // Act
    let outcome = handle(event(Duration::from_secs(60)), &deps).await;

    // Assert: the invocation fails (the function's Errors metric counts it), naming the task;
    // every other task ran.
    let Err(RunError::TasksFailed(report)) = outcome else {
        panic!("the run must fail: {outcome:?}");
    };
    // The deadline report reads the same (failing) erasure store: it fails too, and is named.
    assert_eq!(report.failed, vec!["erasure_requests".to_owned(), "erasure_deadlines".to_owned()]);
    let ran: Vec<&str> = report.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        ran,
        [
            "purge_closed_tenants",
            "purge_disconnected",
            "restamp",
            "sanitize_content",
            "expired_conversations",
            "settle_unknown"
        ]
    );
    assert!(report.complete);
    assert!(deps.purges.due_meta_purges(10).await.expect("queue").is_empty(), "the purge task ran");
    assert!(RunError::TasksFailed(report).to_string().contains("erasure_requests"));
}

#[tokio::test]
async fn another_job_is_refused() {
    let mut event = event(Duration::from_secs(60));
    event.payload.job = Some("backup".into());
    assert!(matches!(handle(event, &deps()).await, Err(RunError::UnknownJob(_))));
}

#[tokio::test]
async fn an_erasure_first_removes_the_conversations_ids_from_the_event_log() {
    // Arrange: a person's conversation with two contact center events.
    use shared::domain::center::{CenterEvent, EventKind, EventLog as _};
    let deps = deps();
    let tenant = TenantId::parse("tn_events").expect("valid");
    let phone = PhoneNumber::parse("5511988886666").expect("valid");
    let profile = ContactProfile { phone: Some(phone.clone()), ..ContactProfile::default() };
    let wamid = Wamid::parse("wamid.E1").expect("valid");
    let message = NewInboundMessage {
        wamid: &wamid,
        from: &profile,
        sent_at: Timestamp::from_secs(1),
        kind: "text",
        raw: "{}",
        retention: RetentionSettings::default(),
    };
    inbox(&deps).store_inbound_message(&tenant, &message, Timestamp::from_secs(1)).await.expect("stored");
    let contact = inbox(&deps)
        .contact_id_of(&tenant, &ContactKey::Phone(phone))
        .await
        .expect("read")
        .expect("the contact exists");
    let every = ConversationFilter::default();
    let page =
        deps.conversations.conversations(&tenant, Some(&contact), &every, None, 10).await.expect("listed");
    let conversation = page.items[0].id.clone();
    // The log keeps events a year from their time: recent ones.
    let at = shared::domain::SystemClock.now().as_millis();
    for kind in [EventKind::Opened, EventKind::Received] {
        let event = CenterEvent {
            id: format!("{conversation}:{kind:?}"),
            kind,
            conversation_id: Some(conversation.clone()),
            at,
            queue: None,
            agent: None,
            duration_ms: None,
            target_ms: None,
            by_system: false,
        };
        deps.events.record(&tenant, &event).await.expect("recorded");
    }
    let request = ErasureRequest {
        id: ErasureId::generate(Timestamp::from_secs(5)).expect("random"),
        contacts: vec![contact],
        status: ErasureStatus::Pending,
        requested_at: Timestamp::from_secs(5),
        progress: ErasureCounts::default(),
        receipt: None,
    };
    deps.erasures.request_erasure(&tenant, &request).await.expect("requested");

    // Act
    let run = handle(event(Duration::from_secs(60)), &deps).await.expect("run");

    // Assert
    assert!(run.complete);
    let events = deps.events.events(&tenant, (at, at + 1), None, 10).await.expect("listed");
    assert_eq!(events.items.len(), 2, "kept for the figures");
    assert!(events
        .items
        .iter()
        .all(|e| e.conversation_id.is_none() && !e.id.contains(conversation.as_str())));
}

/// The `timers` job wakes a snooze whose time came; an `as_of` ahead of the clock is honoured
/// only when the configuration allows it (the local stack), and then only for the tenant named.
#[tokio::test]
async fn the_timers_job_fires_what_is_due_and_runs_ahead_only_when_allowed() {
    use shared::domain::inbox::{ConversationPatch, ConversationState, ConversationStore as _};
    // Arrange: a conversation snoozed for an hour; the job ran once (its cursor is set).
    let mut deps = deps();
    let tenant = TenantId::parse("tn_timers").expect("valid");
    let phone = PhoneNumber::parse("5511977775555").expect("valid");
    let profile = ContactProfile { phone: Some(phone.clone()), ..ContactProfile::default() };
    let wamid = Wamid::parse("wamid.T1").expect("valid");
    let now = deps.clock.now();
    let message = NewInboundMessage {
        wamid: &wamid,
        from: &profile,
        sent_at: now,
        kind: "text",
        raw: "{}",
        retention: RetentionSettings::default(),
    };
    inbox(&deps).store_inbound_message(&tenant, &message, now).await.expect("stored");
    let every = ConversationFilter::default();
    let id = deps.conversations.conversations(&tenant, None, &every, None, 1).await.expect("listed").items[0]
        .id
        .clone();
    let snooze = ConversationPatch {
        state: Some(ConversationState::Pending),
        snoozed_until: Some(Some(now.as_millis() + 3_600_000)),
        ..ConversationPatch::default()
    };
    deps.conversations.update_conversation(&tenant, &id, &snooze, now).await.expect("snoozed");
    let timers = |as_of: Option<i64>, tenant: Option<&str>| {
        let mut event = event(Duration::from_secs(60));
        event.payload = ScheduleInput {
            job: Some("timers".into()),
            as_of,
            tenant: tenant.map(|t| TenantId::parse(t).expect("valid")),
        };
        event
    };
    let state = |deps: &Deps<Fakes>| {
        let id = id.clone();
        let tenant = tenant.clone();
        let conversations = deps.conversations.clone();
        async move { conversations.conversation(&tenant, &id).await.expect("read").expect("there").state }
    };
    handle(timers(None, None), &deps).await.expect("first run");
    let ahead = Some(now.as_millis() + 2 * 3_600_000);

    // Act
    handle(timers(ahead, Some("tn_timers")), &deps).await.expect("run");
    let refused = state(&deps).await;
    deps.config.allow_as_of = true;
    handle(timers(ahead, Some("tn_other")), &deps).await.expect("run");
    let other_tenant = state(&deps).await;
    let report = handle(timers(ahead, Some("tn_timers")), &deps).await.expect("run");

    // Assert
    assert_eq!(refused, ConversationState::Pending, "as_of refused without the configuration");
    assert_eq!(other_tenant, ConversationState::Pending, "only the named tenant's timers");
    assert_eq!(state(&deps).await, ConversationState::Open);
    assert_eq!(report.tasks[0].finished, 1);
}

#[test]
fn config_needs_the_inbound_queue_and_names_it_when_missing() {
    // Arrange
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        Env(move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    };
    let without: &[(&str, &str)] =
        &[("TABLE_NAME", "t"), ("KEY_TABLE_NAME", "kt"), ("KMS_KEY_ID", "k"), ("LIVE_QUEUE_URL", "l")];
    let with: &[(&str, &str)] = &[
        ("TABLE_NAME", "t"),
        ("KEY_TABLE_NAME", "kt"),
        ("KMS_KEY_ID", "k"),
        ("LIVE_QUEUE_URL", "l"),
        ("INBOUND_QUEUE_URL", "i"),
    ];

    // Act
    let missing = Config::from_env(&env(without)).err();
    let read = Config::from_env(&env(with)).map(|c| c.inbound_queue_url);

    // Assert
    assert_eq!(missing, Some(ConfigError::Missing("INBOUND_QUEUE_URL")));
    assert_eq!(read.ok().as_deref(), Some("i"));
}
