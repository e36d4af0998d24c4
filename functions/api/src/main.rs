//! The `api` Lambda: the tenant API behind API Gateway. Wiring only.

use api::{handle, Adapters, Config, Deps};
use lambda_http::{service_fn, Error, Request};
use shared::adapters::documents::{
    DocAuditLog, DocDirectory, DocQuality, DocRateLimiter, DocRecords, DocTemplates,
};
use shared::adapters::dynamo::idempotency::MIN_RETENTION;
use shared::adapters::dynamo::{DynamoIdempotency, DynamoInbox, DynamoPrivacy, DynamoTenantStore, Table};
use shared::adapters::graph::GraphClient;
use shared::adapters::kms::{CachePolicy, Keyring, KmsVault};
use shared::adapters::sqs::SqsQueue;
use shared::config::{aws_sdk_config, Env};
use shared::domain::SystemClock;

/// DynamoDB, KMS and the system clock.
struct Aws;

impl Adapters for Aws {
    type Tenants = DynamoTenantStore;
    type Vault = KmsVault;
    type Clock = SystemClock;
    type Inbox = DynamoInbox;
    type Privacy = DynamoPrivacy;
    type Directory = DocDirectory<Table>;
    type Audit = DocAuditLog<Table>;
    type Records = DocRecords<Table>;
    type Limiter = DocRateLimiter<Table>;
    type Queue = SqsQueue;
    type Idempotency = DynamoIdempotency;
    type Templates = DocTemplates<Table>;
    type Cloud = GraphClient;
    type Quality = DocQuality<Table>;
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env(&Env::process())?;
    let aws = aws_sdk_config().await;
    let clock = std::sync::Arc::new(SystemClock);
    let table = Table::new(aws_sdk_dynamodb::Client::new(&aws), config.table_name.clone(), clock);
    let vault =
        KmsVault::new(aws_sdk_kms::Client::new(&aws), config.kms_key_id.clone(), CachePolicy::default());
    let keyring =
        Keyring::on(&table, &config.key_table_name, aws_sdk_kms::Client::new(&aws), &config.kms_key_id);
    let deps: Deps<Aws> = Deps {
        tenants: DynamoTenantStore::new(table.clone()),
        vault,
        clock: SystemClock,
        inbox: DynamoInbox::new(table.clone(), keyring.clone()),
        privacy: DynamoPrivacy::new(table.clone(), keyring.key_table().clone()),
        directory: DocDirectory::new(table.clone()),
        audit: DocAuditLog::new(table.clone()),
        records: DocRecords::new(table.clone()),
        limiter: DocRateLimiter::new(table.clone()),
        outbound: SqsQueue::new(aws_sdk_sqs::Client::new(&aws), config.outbound_queue_url.clone()),
        suggest: SqsQueue::new(aws_sdk_sqs::Client::new(&aws), config.suggest_queue_url.clone()),
        idempotency: DynamoIdempotency::new(table.clone(), MIN_RETENTION),
        templates: DocTemplates::new(table.clone()),
        quality: DocQuality::new(table),
        cloud: GraphClient::new(&config.graph_api_base_url, &config.graph_api_version)?,
        config,
    };
    lambda_http::run(service_fn(|request: Request| async { Ok::<_, Error>(handle(request, &deps).await) }))
        .await
}
