//! The send path on in-memory adapters: once, retries by Meta's code, failures, policy at send
//! time. The same scenarios run end to end against the sandbox Graph API in `tests/it/send.rs`.

use shared::adapters::documents::DocQuality;
use shared::domain::inbox::{
    ConsentChange, ConsentKind, ConsentSource, ContactProfile, ContactStore, IngestStore, MessageStatus,
    NewInboundMessage, NewOutboundMessage, OutboundStore,
};
use shared::domain::ports::{ConnectionStore, EncryptionContext, Purpose, TenantStore, Vault};
use shared::domain::tenant::{ApiKey, RetentionSettings, Role, Tenant, WhatsAppConnection};
use shared::domain::{MessageId, PhoneNumber, TenantId, Timestamp, Wamid};
use shared::lambda::batch::{RecordError, RecordMeta};
use shared::testing::{Fakes, LocalVault, MemoryCloud, MemoryDocs, MemoryInbox, MemoryTenantStore};

use super::*;

/// The fakes, with a clock that follows tokio's (paused) time, so that waits move it.
type TestDeps = Deps<Fakes<TokioClock>>;

/// The one in-memory inbox behind every inbox port of `deps` (to seed what arrived).
fn inbox(deps: &TestDeps) -> &MemoryInbox {
    &deps.contacts
}

/// `NOW` plus the time tokio says has passed since the clock was made.
#[derive(Debug)]
struct TokioClock(tokio::time::Instant);

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(NOW + i64::try_from(self.0.elapsed().as_millis()).unwrap_or(i64::MAX))
    }
}

const NOW: i64 = 1_800_000_000_000;
const PHONE: &str = "5511988887777";

async fn deps() -> (TestDeps, TenantId) {
    let tenant = TenantId::generate(Timestamp::from_millis(NOW)).expect("random");
    let tenant_store = MemoryTenantStore::default();
    let inbox = MemoryInbox::default();
    let deps: TestDeps = Deps {
        config: Config {
            store: StoreConfig { table_name: "t".into(), key_table_name: "k".into(), kms_key_id: "k".into() },
            graph_api_base_url: "https://graph.example".into(),
            graph_api_version: "v23.0".into(),
            concurrency: 1,
            throughput_per_second: 80,
            instances: 1,
            pair_interval_ms: 6000,
            lease: Duration::from_secs(DEFAULT_LEASE_SECONDS),
        },
        outbox: inbox.clone(),
        contacts: inbox,
        tenants: tenant_store.clone(),
        connections: tenant_store.clone(),
        vault: LocalVault,
        cloud: MemoryCloud::default(),
        quality: DocQuality::new(MemoryDocs::default()),
        pacer: SendPacer::new(ThroughputShare { per_second: 80, instances: 1 }),
        clock: TokioClock(tokio::time::Instant::now()),
    };
    let now = Timestamp::from_millis(NOW);
    let signing = deps
        .vault
        .seal(&EncryptionContext { tenant_id: tenant.clone(), purpose: Purpose::TokenSigningKey }, b"k")
        .await
        .unwrap();
    let record = Tenant::new(tenant.clone(), "T".into(), now, signing);
    deps.tenants
        .create_tenant(
            &record,
            &ApiKey::generate(tenant.clone(), now).expect("random").record("a", Role::Admin, now),
        )
        .await
        .unwrap();
    let token = deps
        .vault
        .seal(
            &EncryptionContext { tenant_id: tenant.clone(), purpose: Purpose::WhatsAppAccessToken },
            b"EAATOKEN",
        )
        .await
        .unwrap();
    let connection = WhatsAppConnection {
        phone_number_id: "106540352242922".into(),
        display_phone_number: "15550100001".into(),
        waba_id: "102290129340398".into(),
        access_token: token,
        connected_at: now,
    };
    deps.connections.connect_whatsapp(&tenant, &connection).await.unwrap();
    (deps, tenant)
}

/// The contact wrote to the business (an open window) and the message is queued.
async fn queued(deps: &TestDeps, tenant: &TenantId, body: serde_json::Value) -> SendJob {
    let now = Timestamp::from_millis(NOW);
    let profile = ContactProfile { phone: PhoneNumber::parse(PHONE).ok(), ..ContactProfile::default() };
    let wamid = Wamid::parse("wamid.IN1").unwrap();
    let inbound = NewInboundMessage {
        wamid: &wamid,
        from: &profile,
        sent_at: now,
        kind: "text",
        raw: "{}",
        retention: RetentionSettings::default(),
    };
    inbox(deps).store_inbound_message(tenant, &inbound, now).await.unwrap();
    let contact =
        deps.contacts.contact_by_phone(tenant, &PhoneNumber::parse(PHONE).unwrap()).await.unwrap().unwrap();
    let id = MessageId::generate(now).expect("random");
    let body = OutboundBody::parse(&body).unwrap().graph_body.to_string();
    let message = NewOutboundMessage {
        id: &id,
        contact: &contact.id,
        kind: "text",
        body: &body,
        at: now,
        retention: RetentionSettings::default(),
    };
    deps.outbox.store_outbound(tenant, &message, now).await.unwrap();
    SendJob { v: 1, tenant_id: tenant.clone(), message_id: id }
}

fn meta() -> RecordMeta {
    RecordMeta { message_id: "m1".into(), receive_count: 1, group_id: None }
}

fn deadline() -> Timestamp {
    Timestamp::from_millis(NOW + 60_000)
}

fn text() -> serde_json::Value {
    serde_json::json!({"to": PHONE, "type": "text", "text": {"body": "Olá"}})
}

#[tokio::test(start_paused = true)]
async fn a_queued_message_is_sent_once_even_when_delivered_twice() {
    // Arrange
    let (deps, tenant) = deps().await;
    let job = queued(&deps, &tenant, text()).await;

    // Act
    send_one(&meta(), &job, deadline(), &deps).await.unwrap();
    send_one(&meta(), &job, deadline(), &deps).await.unwrap();

    // Assert
    let sent = deps.cloud.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "106540352242922");
    assert_eq!(sent[0].1["text"]["body"], "Olá");
    let stored = deps.outbox.outbound(&tenant, &job.message_id).await.unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Sent);
    assert_eq!(stored.wamid.as_deref(), Some("wamid.MEMORY1"));
    let month = deps.quality.month(&tenant, &deps.clock.now().utc_month()).await.unwrap();
    assert!(month.is_empty(), "a send costs no counter write (counted when accepted): {month:?}");
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_with_backoff_and_sends_once() {
    // Arrange
    let (deps, tenant) = deps().await;
    let job = queued(&deps, &tenant, text()).await;
    deps.cloud.fail_next(130_429);
    deps.cloud.fail_next(130_429);

    // Act
    send_one(&meta(), &job, deadline(), &deps).await.unwrap();

    // Assert
    assert_eq!(deps.cloud.sent().len(), 1);
    assert_eq!(
        deps.outbox.outbound(&tenant, &job.message_id).await.unwrap().unwrap().status,
        MessageStatus::Sent
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_past_the_attempts_leaves_the_record_to_sqs_and_frees_the_claim() {
    // Arrange
    let (deps, tenant) = deps().await;
    let job = queued(&deps, &tenant, text()).await;
    for _ in 0..4 {
        deps.cloud.fail_next(131_056);
    }

    // Act
    let first = send_one(&meta(), &job, deadline(), &deps).await;
    let redelivered = send_one(&meta(), &job, deadline(), &deps).await;

    // Assert
    assert!(matches!(first, Err(RecordError::Retryable(_))), "{first:?}");
    assert!(redelivered.is_ok(), "the claim was freed, the redelivery may send: {redelivered:?}");
    assert_eq!(deps.cloud.sent().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_live_claim_keeps_a_second_delivery_away_from_meta() {
    // Arrange: another invocation holds the claim until the deadline.
    let (deps, tenant) = deps().await;
    let job = queued(&deps, &tenant, text()).await;
    let now = deps.clock.now();
    let taken = deps.outbox.claim_outbound(&tenant, &job.message_id, deadline(), now).await.unwrap();

    // Act
    let concurrent = send_one(&meta(), &job, deadline(), &deps).await;

    // Assert
    assert_eq!(taken, OutboundClaim::Acquired);
    assert!(matches!(concurrent, Err(RecordError::Retryable(_))), "{concurrent:?}");
    assert!(deps.cloud.sent().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_second_message_to_one_person_waits_for_the_pair_limit() {
    // Arrange: two messages queued for one person.
    let (deps, tenant) = deps().await;
    let first = queued(&deps, &tenant, text()).await;
    let second = queued(&deps, &tenant, text()).await;
    let started = tokio::time::Instant::now();

    // Act
    send_one(&meta(), &first, deadline(), &deps).await.unwrap();
    let after_first = started.elapsed();
    send_one(&meta(), &second, deadline(), &deps).await.unwrap();

    // Assert
    assert_eq!(deps.cloud.sent().len(), 2);
    assert!(after_first < Duration::from_secs(1), "the first goes at once: {after_first:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "six seconds between the two: {:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn the_callback_data_names_the_message_unless_the_caller_set_their_own() {
    // Arrange
    let (deps, tenant) = deps().await;
    let ours = queued(&deps, &tenant, text()).await;
    let mut with_own = text();
    with_own["biz_opaque_callback_data"] = serde_json::json!("crm-42");
    let theirs = queued(&deps, &tenant, with_own).await;

    // Act
    send_one(&meta(), &ours, deadline(), &deps).await.unwrap();
    send_one(&meta(), &theirs, deadline(), &deps).await.unwrap();

    // Assert
    let sent = deps.cloud.sent();
    assert_eq!(sent[0].1["biz_opaque_callback_data"], callback_data(&ours.message_id));
    assert_eq!(sent[1].1["biz_opaque_callback_data"], "crm-42");
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_ends_failed_with_its_code_and_no_retry() {
    // Arrange
    let (deps, tenant) = deps().await;
    let job = queued(&deps, &tenant, text()).await;
    deps.cloud.fail_next(131_026);

    // Act
    let result = send_one(&meta(), &job, deadline(), &deps).await;

    // Assert
    assert!(result.is_ok());
    assert!(deps.cloud.sent().is_empty());
    let stored = deps.outbox.outbound(&tenant, &job.message_id).await.unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Failed);
    assert_eq!(stored.error.map(|e| e.code), Some(131_026));
    let month = deps.quality.month(&tenant, &deps.clock.now().utc_month()).await.unwrap();
    assert_eq!(month.get("failed.131026"), Some(&1));
}

#[tokio::test(start_paused = true)]
async fn an_opt_out_between_queueing_and_sending_blocks_the_message() {
    // Arrange
    let (deps, tenant) = deps().await;
    let job = queued(&deps, &tenant, text()).await;
    let profile = ContactProfile { phone: PhoneNumber::parse(PHONE).ok(), ..ContactProfile::default() };
    let stop = ConsentChange {
        contact: &profile,
        kind: ConsentKind::OptOut,
        source: ConsentSource::Keyword,
        at: Timestamp::from_millis(NOW + 1),
        cause: "wamid.STOP",
    };
    deps.contacts.record_consent(&tenant, &stop, Timestamp::from_millis(NOW + 1)).await.unwrap();

    // Act
    send_one(&meta(), &job, deadline(), &deps).await.unwrap();

    // Assert
    assert!(deps.cloud.sent().is_empty());
    let stored = deps.outbox.outbound(&tenant, &job.message_id).await.unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Blocked);
    assert_eq!(stored.error.and_then(|e| e.title).as_deref(), Some("opted_out"));
}

#[tokio::test(start_paused = true)]
async fn a_restriction_between_queueing_and_sending_blocks_the_message() {
    // Arrange
    let (deps, tenant) = deps().await;
    let job = queued(&deps, &tenant, text()).await;
    let profile = ContactProfile { phone: PhoneNumber::parse(PHONE).ok(), ..ContactProfile::default() };
    let objection = ConsentChange {
        contact: &profile,
        kind: ConsentKind::Restrict,
        source: ConsentSource::Agent,
        at: Timestamp::from_millis(NOW + 1),
        cause: "api:objection",
    };
    deps.contacts.record_consent(&tenant, &objection, Timestamp::from_millis(NOW + 1)).await.unwrap();

    // Act
    send_one(&meta(), &job, deadline(), &deps).await.unwrap();

    // Assert
    assert!(deps.cloud.sent().is_empty());
    let stored = deps.outbox.outbound(&tenant, &job.message_id).await.unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Blocked);
    assert_eq!(stored.error.and_then(|e| e.title).as_deref(), Some("restricted"));
    let month = deps.quality.month(&tenant, &deps.clock.now().utc_month()).await.unwrap();
    assert_eq!(month.get("blocked.restricted"), Some(&1));
}

/// The Lambda deadline of an invocation starting now (the handler derives it from the context).
fn deadline_now(deps: &TestDeps) -> Timestamp {
    deps.clock.now().plus(Duration::from_secs(57))
}

/// The `n`th SQS delivery of `job`, `n` visibility timeouts after the first (SQS counts from
/// each receipt, whatever the invocation did meanwhile); one whose process died in a call (the
/// Lambda timeout ends it) comes back `None`.
async fn delivery(
    deps: &TestDeps,
    job: &SendJob,
    first: tokio::time::Instant,
    n: u32,
) -> Option<Result<(), RecordError>> {
    tokio::time::sleep_until(first + VISIBILITY * n).await;
    tokio::time::timeout(Duration::from_secs(60), send_one(&meta(), job, deadline_now(deps), deps)).await.ok()
}

/// The first SQS delivery of `job`, now.
async fn deliver_after(deps: &TestDeps, job: &SendJob, wait: Duration) -> Option<Result<(), RecordError>> {
    tokio::time::sleep(wait).await;
    delivery(deps, job, tokio::time::Instant::now(), 0).await
}

/// `outbound.fifo`'s visibility timeout in `template.yaml`.
const VISIBILITY: Duration = Duration::from_secs(360);

async fn status(deps: &TestDeps, tenant: &TenantId, job: &SendJob) -> MessageStatus {
    deps.outbox.outbound(tenant, &job.message_id).await.unwrap().unwrap().status
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_holds_the_message_unknown_and_it_is_never_sent_again() {
    // Arrange: Meta takes the message, the answer is lost (a timeout, a reset, a garbage 2xx).
    let (deps, tenant) = deps().await;
    let job = queued(&deps, &tenant, text()).await;
    deps.cloud.lose_next_answer();

    // Act
    let first = deliver_after(&deps, &job, Duration::ZERO).await;
    let redelivered = deliver_after(&deps, &job, VISIBILITY).await;

    // Assert
    assert!(matches!(first, Some(Ok(()))), "{first:?}");
    assert!(matches!(redelivered, Some(Ok(()))), "{redelivered:?}");
    assert_eq!(deps.cloud.sent().len(), 1, "Meta received it once");
    assert_eq!(status(&deps, &tenant, &job).await, MessageStatus::Unknown);
    let month = deps.quality.month(&tenant, &deps.clock.now().utc_month()).await.unwrap();
    assert_eq!(month.get("unknown"), Some(&1));
}

#[tokio::test(start_paused = true)]
async fn definite_failures_are_retried_and_the_message_goes_once() {
    // Arrange: Meta's 5xx (code 131000, retryable), then a connection refused.
    let (deps, tenant) = deps().await;
    let job = queued(&deps, &tenant, text()).await;
    deps.cloud.fail_next(131_000);
    deps.cloud.unreachable_next();

    // Act
    let result = deliver_after(&deps, &job, Duration::ZERO).await;

    // Assert
    assert!(matches!(result, Some(Ok(()))), "{result:?}");
    assert_eq!(deps.cloud.sent().len(), 1);
    assert_eq!(status(&deps, &tenant, &job).await, MessageStatus::Sent);
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_meta_took_the_message_never_leads_to_a_second_send() {
    // Arrange: the process dies inside the Graph call, after Meta took the message.
    let (deps, tenant) = deps().await;
    let job = queued(&deps, &tenant, text()).await;
    deps.cloud.die_after_next_send();

    // Act: SQS redelivers after each visibility timeout.
    let received = tokio::time::Instant::now();
    let crashed = delivery(&deps, &job, received, 0).await;
    let first_redelivery = delivery(&deps, &job, received, 1).await;
    let second_redelivery = delivery(&deps, &job, received, 2).await;

    // Assert
    assert!(crashed.is_none(), "the process died");
    assert!(
        matches!(first_redelivery, Some(Err(RecordError::Retryable(_)))),
        "the claim outlasts the visibility timeout: {first_redelivery:?}"
    );
    assert!(matches!(second_redelivery, Some(Ok(()))), "{second_redelivery:?}");
    assert_eq!(deps.cloud.sent().len(), 1, "Meta received it once");
    assert_eq!(status(&deps, &tenant, &job).await, MessageStatus::Unknown);
}

#[tokio::test(start_paused = true)]
async fn a_crash_before_the_request_left_ends_unknown_rather_than_risk_a_second_send() {
    // Arrange: the process dies between its claim and the request (nothing reached Meta, but
    // nothing can tell the redelivery so).
    let (deps, tenant) = deps().await;
    let job = queued(&deps, &tenant, text()).await;
    deps.cloud.die_before_next_send();

    // Act
    let received = tokio::time::Instant::now();
    let crashed = delivery(&deps, &job, received, 0).await;
    delivery(&deps, &job, received, 1).await;
    let settled = delivery(&deps, &job, received, 2).await;

    // Assert
    assert!(crashed.is_none());
    assert!(matches!(settled, Some(Ok(()))), "{settled:?}");
    assert!(deps.cloud.sent().is_empty(), "at most once");
    assert_eq!(status(&deps, &tenant, &job).await, MessageStatus::Unknown);
}

#[tokio::test(start_paused = true)]
async fn a_status_webhook_settles_an_unknown_message_by_its_callback_data() {
    use shared::domain::inbox::StatusChange;
    // Arrange
    let (deps, tenant) = deps().await;
    let job = queued(&deps, &tenant, text()).await;
    deps.cloud.lose_next_answer();
    deliver_after(&deps, &job, Duration::ZERO).await;
    let sent = deps.cloud.sent();
    let callback = sent[0].1["biz_opaque_callback_data"].as_str().unwrap_or_default().to_owned();
    let wamid = Wamid::parse("wamid.LOSTANSWER").unwrap();
    let recipient = ContactProfile { phone: PhoneNumber::parse(PHONE).ok(), ..ContactProfile::default() };
    let delivered = StatusChange {
        wamid: &wamid,
        status: MessageStatus::Delivered,
        meta_status: "delivered",
        at: deps.clock.now(),
        recipient: &recipient,
        error: None,
        callback: Some(&callback),
        retention: RetentionSettings::default(),
    };

    // Act
    inbox(&deps).apply_status(&tenant, &delivered, deps.clock.now()).await.unwrap();

    // Assert
    assert_eq!(callback, callback_data(&job.message_id));
    assert_eq!(status(&deps, &tenant, &job).await, MessageStatus::Delivered);
    assert_eq!(deps.cloud.sent().len(), 1);
}

#[test]
fn the_send_lease_outlasts_the_outbound_queues_visibility_timeout() {
    // Arrange: template.yaml as deployed.
    let template = include_str!("../../../template.yaml");
    // A resource's lines: from `  Name:` to the next line indented by two spaces or less.
    let block = |name: &str| -> Vec<&str> {
        let header = format!("  {name}:");
        let mut lines = template.lines().skip_while(|l| *l != header).skip(1);
        let indent = |l: &str| l.len() - l.trim_start().len();
        let mut block = Vec::new();
        for line in lines.by_ref() {
            if !line.trim().is_empty() && indent(line) <= 2 {
                break;
            }
            block.push(line);
        }
        assert!(!block.is_empty(), "{name} in template.yaml");
        block
    };
    let number = |block: &[&str], field: &str| -> Option<u64> {
        let field = format!("{field}:");
        block
            .iter()
            .find_map(|l| l.trim().strip_prefix(&field).and_then(|v| v.trim().trim_matches('"').parse().ok()))
    };
    let queue = block("OutboundQueue");
    let function = block("SendFunction");

    // Act
    let visibility = number(&queue, "VisibilityTimeout").expect("the outbound queue's visibility timeout");
    let timeout = number(&function, "Timeout").expect("send's timeout");
    let lease =
        number(&function, "SEND_LEASE_SECONDS").expect("send's lease, set beside the queue's timeout");

    // Assert
    assert!(
        lease >= visibility,
        "the send lease ({lease} s) must last the visibility timeout ({visibility} s)"
    );
    assert!(timeout < visibility, "an invocation ({timeout} s) ends before SQS redelivers ({visibility} s)");
}
