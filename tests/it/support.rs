//! Shared set-up: the moto endpoint, unique resources, a counter of wire requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_kms::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_kms::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_kms::error::BoxError;
use shared::adapters::dynamo::{DynamoInbox, Table};
use shared::adapters::kms::Keyring;
use shared::domain::ai::{
    suggestion_expiry, AiResult, SuggestionKind, SuggestionOutcome, SuggestionStore as _, SuggestionView,
};
use shared::domain::inbox::ContactView;
use shared::domain::tenant::RetentionSettings;
use shared::domain::{Clock, SystemClock, TenantId};
use shared::wiring::Aws;

/// The moto `infra/test.sh` started, as the tests reach it: through a gate (the local stack's,
/// `infra::recorder`) that makes writes of one item atomic, as DynamoDB's are — moto checks a
/// condition and writes without a lock, so parallel conditional writes could otherwise both
/// pass. One gate for the whole test binary, on a runtime of its own (each test's runtime ends
/// with the test).
pub fn endpoint() -> String {
    static GATED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    GATED
        .get_or_init(|| {
            let moto = std::env::var("LEADLINE_TEST_AWS_ENDPOINT").expect(
                "LEADLINE_TEST_AWS_ENDPOINT is not set: run the tests with infra/test.sh, which starts moto",
            );
            let (started, endpoint) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("the gate's runtime");
                runtime.block_on(async move {
                    let names = infra::recorder::LogicalNames::default();
                    let gate = infra::recorder::WriteGate::default();
                    let url =
                        infra::recorder::start("tests", &moto, names, None, gate).await.expect("the gate");
                    let _ = started.send(url);
                    std::future::pending::<()>().await;
                });
            });
            endpoint.recv().expect("the gate started")
        })
        .clone()
}

/// SDK configuration for moto, made as the functions make theirs (`aws_sdk_config`: their
/// HTTP client, retries and timeouts), from an environment naming moto.
pub async fn aws() -> aws_config::SdkConfig {
    shared::config::local_aws_sdk_config(&endpoint()).expect("the test environment is complete")
}

/// An HTTP client (TLS provider installed, as the functions do).
pub fn http() -> reqwest::Client {
    shared::adapters::http::client_builder().build().expect("HTTP client")
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", infra::random_hex(6).expect("random"))
}

/// A fresh tenant id.
pub fn tenant() -> TenantId {
    TenantId::generate(SystemClock.now()).expect("random")
}

/// The production adapters on moto, made by the functions' own constructor.
pub async fn adapters() -> Aws {
    Aws::new(&aws().await)
}

/// A new table of the production layout, for one test.
pub async fn table() -> Table {
    let name = unique("it-table");
    let table = adapters().await.table(&name);
    infra::bootstrap::create_table(table.client(), &name).await.expect("create table");
    table
}

/// One KMS key for the whole test binary (only its id is shared: clients are per runtime).
static KMS_KEY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// The test binary's KMS key id.
pub async fn kms_key() -> String {
    KMS_KEY
        .get_or_init(|| async {
            let client = aws_sdk_kms::Client::new(&aws().await);
            infra::bootstrap::create_key(&client, &format!("alias/{}", unique("it-data-key")))
                .await
                .expect("key")
        })
        .await
        .clone()
}

/// A keyring beside `table`: a fresh key table, the binary's KMS key.
pub async fn keyring(table: &Table) -> Arc<Keyring> {
    let name = unique("it-keys");
    infra::bootstrap::create_key_table(table.client(), &name).await.expect("create key table");
    instance_keyring(table, &name).await
}

/// The keyring of a freshly started instance (cold caches) over `table` and the existing key
/// table `key_table`.
pub async fn instance_keyring(table: &Table, key_table: &str) -> Arc<Keyring> {
    Keyring::on(table, key_table, aws_sdk_kms::Client::new(&aws().await), &kms_key().await)
}

/// The inbox on `table`, with its own keyring.
pub async fn inbox(table: &Table) -> DynamoInbox {
    DynamoInbox::new(table.clone(), keyring(table).await)
}

/// A suggestion request on `contact`'s open conversation, ready with `replies` (and a check
/// that they open while the contact's key lives).
pub async fn ready_suggestion(
    inbox: &DynamoInbox,
    tenant: &TenantId,
    contact: &ContactView,
    replies: &[&str],
) -> SuggestionView {
    let now = SystemClock.now();
    let suggestion = SuggestionView::pending(
        contact.conversation_id.clone().expect("an open conversation"),
        contact.id.clone(),
        SuggestionKind::Replies,
        now,
    )
    .expect("random");
    let expires = suggestion_expiry(now, RetentionSettings::default());
    inbox.create_suggestion(tenant, &suggestion, expires).await.expect("created");
    let replies: Vec<String> = replies.iter().map(|r| (*r).to_owned()).collect();
    let ready = SuggestionOutcome::Ready(AiResult { replies: replies.clone(), ..AiResult::default() });
    assert!(inbox.finish_suggestion(tenant, &suggestion, &ready, now).await.expect("finished"));
    let stored = inbox.suggestion(tenant, &suggestion.conversation_id, &suggestion.id).await.expect("read");
    assert_eq!(
        stored.map(|s| s.result.replies),
        Some(replies),
        "control: the replies open while the key lives"
    );
    suggestion
}

/// Counts the requests a client puts on the wire.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<AtomicUsize>);

impl RequestCounter {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// An envelope that is well-formed but opens under no key (for records whose secret a test does
/// not use).
pub fn sealed_placeholder() -> shared::domain::secret::Sealed {
    shared::domain::secret::Sealed { wrapped_key: vec![1], nonce: [0; 12], ciphertext: vec![2; 20] }
}
