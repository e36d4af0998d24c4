//! The sending benchmark (`infra/bench-send.sh`; ignored in the normal run): N queued messages
//! to a sandbox Graph API through the real `send` path on DynamoDB and KMS (moto), reporting
//! KMS calls, DynamoDB writes per send and the messages per second achieved against the
//! configured throughput limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_kms::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_kms::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api_shim::BoxError;
use futures::StreamExt as _;
use shared::adapters::documents::{DocPacer, DocQuality};
use shared::adapters::dynamo::idempotency::MIN_RETENTION;
use shared::adapters::dynamo::{DynamoIdempotency, DynamoInbox, DynamoTenantStore, Table};
use shared::adapters::graph::GraphClient;
use shared::adapters::kms::{CachePolicy, KmsVault};
use shared::domain::inbox::{
    ContactProfile, InboxStore, MessageStatus, NewInboundMessage, NewOutboundMessage,
};
use shared::domain::outbound::{OutboundBody, SendJob};
use shared::domain::ports::{EncryptionContext, Purpose, TenantStore, Vault};
use shared::domain::tenant::{ApiKey, RetentionSettings, Role, Tenant, WhatsAppConnection};
use shared::domain::{Clock, MessageId, PhoneNumber, SystemClock, Timestamp, Wamid};
use shared::lambda::batch::RecordMeta;

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
    let table = Table::new(dynamo, name);
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&aws).interceptor(kms_ops.clone()).build(),
    );
    let alias =
        infra::bootstrap::create_key(&kms, &format!("alias/{}", unique("bench-key"))).await.expect("key");
    // Sealing (setup) uses its own vault, so the sending vault starts with a cold data-key cache,
    // as a fresh Lambda instance does.
    let setup_vault = KmsVault::new(kms.clone(), alias.clone(), CachePolicy::default());
    let vault = KmsVault::new(kms, alias, CachePolicy::default());
    let deps = send::Deps {
        config: send::Config {
            table_name: table.name().to_owned(),
            kms_key_id: String::new(),
            graph_api_base_url: format!("http://127.0.0.1:{port}/_sandbox/graph"),
            graph_api_version: "v23.0".into(),
            concurrency: 16,
            throughput_per_second: limit,
            pair_interval_ms: 0,
        },
        inbox: DynamoInbox::new(table.clone()),
        tenants: DynamoTenantStore::new(table.clone()),
        vault,
        cloud: GraphClient::new(&format!("http://127.0.0.1:{port}/_sandbox/graph"), "v23.0").expect("client"),
        claims: DynamoIdempotency::new(table.clone(), MIN_RETENTION),
        pacer: DocPacer::new(table.clone()),
        quality: DocQuality::new(table.clone()),
        clock: SystemClock,
    };

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
        .create_tenant(&record, &ApiKey::generate(tenant.clone(), now).record("a", Role::Admin, now))
        .await
        .expect("tenant");
    let connection = WhatsAppConnection {
        phone_number_id: "106540352242922".into(),
        display_phone_number: "15550100001".into(),
        waba_id: "102290129340398".into(),
        access_token: setup_vault.seal(&token, b"EAABENCH").await.expect("seal"),
        connected_at: now,
    };
    deps.tenants.connect_whatsapp(&tenant, &connection).await.expect("connect");
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
        deps.inbox.store_inbound_message(&tenant, &message, now).await.expect("inbound");
        let contact = deps.inbox.contact_by_phone(&tenant, &phone).await.expect("read").expect("contact");
        contacts.push((phone, contact.id));
    }
    let mut jobs = Vec::with_capacity(sends);
    for i in 0..sends {
        let (phone, contact) = &contacts[i % recipients];
        let body = OutboundBody::parse(&serde_json::json!({"to": phone.as_digits(), "type": "text", "text": {"body": format!("bench {i}")}}))
            .expect("valid")
            .graph_body
            .to_string();
        let id = MessageId::generate(SystemClock.now());
        let message = NewOutboundMessage {
            id: &id,
            contact,
            kind: "text",
            body: &body,
            at: SystemClock.now(),
            retention: RetentionSettings::default(),
        };
        deps.inbox.store_outbound(&tenant, &message, SystemClock.now()).await.expect("queued");
        jobs.push(SendJob { v: 1, tenant_id: tenant.clone(), message_id: id });
    }

    // Measure the sending alone.
    let (dynamo_before, kms_before) = (dynamo_ops.snapshot(), kms_ops.snapshot());
    let started = Instant::now();
    let deadline = Timestamp::from_millis(SystemClock.now().as_millis() + 3_600_000);
    let deps = &deps;
    let results: Vec<_> = futures::stream::iter(jobs.iter())
        .map(|job| async move {
            let meta =
                RecordMeta { message_id: job.message_id.to_string(), receive_count: 1, group_id: None };
            send::send_one(&meta, job, deadline, deps).await
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let (dynamo_after, kms_after) = (dynamo_ops.snapshot(), kms_ops.snapshot());

    let delta = |after: &HashMap<String, usize>, before: &HashMap<String, usize>| {
        let mut ops: Vec<(String, usize)> = after
            .iter()
            .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
            .filter(|(_, v)| *v > 0)
            .collect();
        ops.sort();
        ops
    };
    let dynamo_delta = delta(&dynamo_after, &dynamo_before);
    let writes: usize = dynamo_delta
        .iter()
        .filter(|(op, _)| matches!(op.as_str(), "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem"))
        .map(|(_, n)| n)
        .sum::<usize>()
        + 2 * dynamo_delta.iter().filter(|(op, _)| op == "TransactWriteItems").map(|(_, n)| n).sum::<usize>();
    let failures = results.iter().filter(|r| r.is_err()).count();
    let mut sent = 0;
    for job in jobs.iter().step_by((sends / 50).max(1)) {
        let message = deps.inbox.outbound(&tenant, &job.message_id).await.expect("read").expect("message");
        sent += usize::from(message.status == MessageStatus::Sent);
    }
    println!("BENCH sends={sends} recipients={recipients} limit={limit}/s failures={failures} sampled_sent={sent}/{}", jobs.iter().step_by((sends / 50).max(1)).count());
    println!(
        "BENCH elapsed={:.2}s achieved={:.1} msg/s",
        elapsed.as_secs_f64(),
        sends as f64 / elapsed.as_secs_f64()
    );
    println!("BENCH kms_calls={:?}", delta(&kms_after, &kms_before));
    println!("BENCH dynamodb_ops={dynamo_delta:?}");
    println!(
        "BENCH dynamodb_writes_per_send={:.2} (1 KB items: write units per send)",
        writes as f64 / sends as f64
    );
    assert_eq!(failures, 0);
}
