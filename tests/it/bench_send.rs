//! The sending benchmark (`infra/bench-send.sh`; ignored in the normal run): N queued messages
//! to a sandbox Graph API through the real `send` handler on DynamoDB and KMS (moto), reporting
//! KMS calls, DynamoDB writes per send and the messages per second achieved against the
//! configured throughput limit.
//!
//! It runs as AWS would: `BENCH_INSTANCES` instances at once (the event source's maximum
//! concurrency), each handling SQS-shaped batches of 10 records in turn, FIFO groups by
//! recipient, no group in two instances at once (SQS FIFO holds a group while it is in flight).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_kms::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_kms::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api_shim::BoxError;
use lambda_runtime::LambdaEvent;
use shared::adapters::dynamo::DynamoInbox;
use shared::adapters::kms::{CachePolicy, Keyring, KmsVault};
use shared::domain::inbox::{
    ContactProfile, ContactStore, IngestStore, MessageStatus, NewInboundMessage, NewOutboundMessage,
    OutboundStore,
};
use shared::domain::outbound::{OutboundBody, SendJob};
use shared::domain::ports::{ConnectionStore, EncryptionContext, Purpose, TenantStore, Vault};
use shared::domain::tenant::{ApiKey, RetentionSettings, Role, Tenant, WhatsAppConnection};
use shared::domain::{Clock, MessageId, PhoneNumber, SystemClock, Wamid};

use shared::wiring::{Aws, StoreConfig};

use crate::support::{aws, tenant, unique};

mod aws_smithy_runtime_api_shim {
    pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
}

/// Counts requests by operation (the `X-Amz-Target` header).
#[derive(Debug, Clone, Default)]
struct Operations(Arc<Mutex<HashMap<String, usize>>>);

impl Operations {
    fn snapshot(&self) -> HashMap<String, usize> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Intercept for Operations {
    fn name(&self) -> &'static str {
        "Operations"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("?")
            .to_owned();
        if let Ok(mut counts) = self.0.lock() {
            *counts.entry(target).or_default() += 1;
        }
        Ok(())
    }
}

#[tokio::test]
#[ignore = "a benchmark: infra/bench-send.sh runs it against moto"]
#[allow(clippy::print_stdout)] // The report is the point.
async fn bench_send() {
    let sends: usize = std::env::var("BENCH_SENDS").ok().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let recipients: usize =
        std::env::var("BENCH_RECIPIENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(100);
    let limit: u64 = std::env::var("BENCH_THROUGHPUT").ok().and_then(|n| n.parse().ok()).unwrap_or(80);
    let instances: usize =
        std::env::var("BENCH_INSTANCES").ok().and_then(|n| n.parse().ok()).unwrap_or(4).clamp(1, recipients);

    // The sandbox Graph API, in process.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let port = listener.local_addr().expect("addr").port();
    let app = axum::Router::new().nest("/_sandbox", infra::sandbox::Sandbox::default().router());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let aws = aws().await;
    let dynamo_ops = Operations::default();
    let kms_ops = Operations::default();
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&aws).interceptor(dynamo_ops.clone()).build(),
    );
    let name = unique("bench-table");
    infra::bootstrap::create_table(&dynamo, &name).await.expect("table");
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&aws).interceptor(kms_ops.clone()).build(),
    );
    let adapters = Aws::from_clients(dynamo, kms.clone(), aws_sdk_sqs::Client::new(&aws));
    let table = adapters.table(&name);
    let alias =
        infra::bootstrap::create_key(&kms, &format!("alias/{}", unique("bench-key"))).await.expect("key");
    // Sealing (setup) uses its own vault, so the sending vault starts with a cold data-key cache,
    // as a fresh Lambda instance does.
    let setup_vault = KmsVault::new(kms.clone(), alias.clone(), CachePolicy::default());
    let key_table = unique("bench-keys");
    infra::bootstrap::create_key_table(table.client(), &key_table).await.expect("key table");
    let config = send::Config {
        store: StoreConfig {
            table_name: table.name().to_owned(),
            key_table_name: key_table.clone(),
            kms_key_id: alias.clone(),
        },
        graph_api_base_url: format!("http://127.0.0.1:{port}/_sandbox/graph"),
        graph_api_version: "v23.0".into(),
        concurrency: 4,
        throughput_per_second: limit,
        instances: instances as u64,
        pair_interval_ms: 0,
        lease: std::time::Duration::from_secs(send::DEFAULT_LEASE_SECONDS),
    };
    // One process per instance: its own pacer share and data-key cache (cold, as a fresh
    // Lambda instance's); the clients and their counters are shared.
    let fleet: Vec<send::Deps<Aws>> =
        (0..instances).map(|_| send::Deps::on(&adapters, config.clone()).expect("deps")).collect();
    let deps = &fleet[0];
    // Queueing (the API's part) through its own keyring too: the senders start cold.
    let setup = DynamoInbox::new(table.clone(), Keyring::on(&table, &key_table, kms.clone(), &alias));

    // A tenant with a number, recipients who wrote (open windows), queued messages.
    let tenant = tenant();
    let now = SystemClock.now();
    let signing = EncryptionContext { tenant_id: tenant.clone(), purpose: Purpose::TokenSigningKey };
    let token = EncryptionContext { tenant_id: tenant.clone(), purpose: Purpose::WhatsAppAccessToken };
    let record = Tenant::new(
        tenant.clone(),
        "Bench".into(),
        now,
        setup_vault.seal(&signing, b"key").await.expect("seal"),
    );
    deps.tenants
        .create_tenant(
            &record,
            &ApiKey::generate(tenant.clone(), now).expect("random").record("a", Role::Admin, now),
        )
        .await
        .expect("tenant");
    let connection = WhatsAppConnection {
        phone_number_id: "106540352242922".into(),
        display_phone_number: "15550100001".into(),
        waba_id: "102290129340398".into(),
        access_token: setup_vault.seal(&token, b"EAABENCH").await.expect("seal"),
        connected_at: now,
    };
    deps.connections.connect_whatsapp(&tenant, &connection).await.expect("connect");
    let mut contacts = Vec::new();
    for i in 0..recipients {
        let phone = PhoneNumber::parse(&format!("55119{:08}", i)).expect("phone");
        let profile = ContactProfile { phone: Some(phone.clone()), ..ContactProfile::default() };
        let wamid = Wamid::parse(format!("wamid.BENCHIN{i}")).expect("wamid");
        let message = NewInboundMessage {
            wamid: &wamid,
            from: &profile,
            sent_at: now,
            kind: "text",
            raw: "{}",
            retention: RetentionSettings::default(),
        };
        setup.store_inbound_message(&tenant, &message, now).await.expect("inbound");
        let contact = setup.contact_by_phone(&tenant, &phone).await.expect("read").expect("contact");
        contacts.push((phone, contact.id));
    }
    let delta = |after: &HashMap<String, usize>, before: &HashMap<String, usize>| {
        let mut ops: Vec<(String, usize)> = after
            .iter()
            .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
            .filter(|(_, v)| *v > 0)
            .collect();
        ops.sort();
        ops
    };
    let mut jobs = Vec::with_capacity(sends);
    let accept_before = dynamo_ops.snapshot();
    for i in 0..sends {
        let (phone, contact) = &contacts[i % recipients];
        let body = OutboundBody::parse(&serde_json::json!({"to": phone.as_digits(), "type": "text", "text": {"body": format!("bench {i}")}}))
            .expect("valid")
            .graph_body
            .to_string();
        let id = MessageId::generate(SystemClock.now()).expect("random");
        let message = NewOutboundMessage {
            id: &id,
            contact,
            kind: "text",
            body: &body,
            at: SystemClock.now(),
            retention: RetentionSettings::default(),
        };
        setup.store_outbound(&tenant, &message, SystemClock.now()).await.expect("queued");
        jobs.push((i % recipients, SendJob { v: 1, tenant_id: tenant.clone(), message_id: id }));
    }
    let accept_ops = delta(&dynamo_ops.snapshot(), &accept_before);

    // SQS FIFO as the event source delivers it: recipient `r`'s group only ever in instance
    // `r % instances`, batches of 10 in queue order.
    let lanes: Vec<Vec<(usize, SendJob)>> = (0..instances)
        .map(|lane| jobs.iter().filter(|(r, _)| r % instances == lane).cloned().collect())
        .collect();
    let contacts = &contacts;

    // Measure the sending alone.
    let (dynamo_before, kms_before) = (dynamo_ops.snapshot(), kms_ops.snapshot());
    let started = Instant::now();
    let deadline_ms = SystemClock.now().as_millis() + 3_600_000;
    let results: Vec<usize> = futures::future::join_all(fleet.iter().zip(&lanes).map(|(deps, lane)| async move {
        let mut failures = 0;
        for (b, batch) in lane.chunks(10).enumerate() {
            let records: Vec<serde_json::Value> = batch
                .iter()
                .enumerate()
                .map(|(k, (recipient, job))| {
                    let group = job.queue_message(&contacts[*recipient].0).group_id.unwrap_or_default();
                    serde_json::json!({"messageId": format!("{b}-{k}"), "body": serde_json::to_string(job).expect("job"),
                        "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": "1"}})
                })
                .collect();
            let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": records})).expect("event");
            let mut context = lambda_runtime::Context::default();
            context.deadline = u64::try_from(deadline_ms).unwrap_or(u64::MAX);
            let response = send::handle(LambdaEvent::new(event, context), deps).await.expect("batch");
            failures += response.batch_item_failures.len();
        }
        failures
    }))
    .await;
    let elapsed = started.elapsed();
    let (dynamo_after, kms_after) = (dynamo_ops.snapshot(), kms_ops.snapshot());

    let dynamo_delta = delta(&dynamo_after, &dynamo_before);
    let writes: usize = dynamo_delta
        .iter()
        .filter(|(op, _)| matches!(op.as_str(), "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem"))
        .map(|(_, n)| n)
        .sum::<usize>()
        + 2 * dynamo_delta.iter().filter(|(op, _)| op == "TransactWriteItems").map(|(_, n)| n).sum::<usize>();
    let failures: usize = results.iter().sum();
    let mut sent = 0;
    for (_, job) in jobs.iter().step_by((sends / 50).max(1)) {
        let message = deps.outbox.outbound(&tenant, &job.message_id).await.expect("read").expect("message");
        sent += usize::from(message.status == MessageStatus::Sent);
    }
    println!("BENCH sends={sends} recipients={recipients} instances={instances} limit={limit}/s failures={failures} sampled_sent={sent}/{}", jobs.iter().step_by((sends / 50).max(1)).count());
    println!(
        "BENCH elapsed={:.2}s achieved={:.1} msg/s",
        elapsed.as_secs_f64(),
        sends as f64 / elapsed.as_secs_f64()
    );
    println!("BENCH kms_calls={:?}", delta(&kms_after, &kms_before));
    println!("BENCH dynamodb_ops={dynamo_delta:?}");
    println!(
        "BENCH dynamodb_writes_per_send={:.2} (items under 1 KB: write units per send)",
        writes as f64 / sends as f64
    );
    println!(
        "BENCH accepting (API side, not the send path): dynamodb_ops_per_message={:?}",
        accept_ops
            .iter()
            .map(|(op, n)| (op.clone(), format!("{:.2}", *n as f64 / sends as f64)))
            .collect::<Vec<_>>()
    );
    assert_eq!(failures, 0);
}
