//! Creates the table, the queues (each with its dead-letter queue and redrive policy) and the
//! KMS key, as `template.yaml` declares them, through the real AWS SDK (against moto locally).

use std::collections::HashMap;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use shared::adapters::dynamo::keys::{EXPIRES_AT, GSI1, GSI1PK, GSI1SK, PK, SK};

/// Deliveries before SQS moves a message to its dead-letter queue (as in `template.yaml`).
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// Dead-letter queues keep messages for the SQS maximum, 14 days.
pub const DLQ_RETENTION_SECONDS: u32 = 14 * 24 * 3600;

/// One queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePair {
    /// The queue URL.
    pub url: String,
    /// The queue ARN (the `eventSourceARN` of its records).
    pub arn: String,
    /// The dead-letter queue URL.
    pub dlq_url: String,
}

/// How to create one queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueSpec<'a> {
    /// The queue name (`.fifo` is appended for FIFO queues).
    pub name: &'a str,
    /// FIFO (ordered per message group, deduplicated) or standard.
    pub fifo: bool,
    /// Seconds a received message stays invisible.
    pub visibility_timeout: u32,
    /// Deliveries before the dead-letter queue.
    pub max_receive_count: u32,
}

/// Everything the functions are configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// The single table.
    pub table_name: String,
    /// The key table (contacts' data keys; no backups).
    pub key_table_name: String,
    /// `inbound.fifo`: webhook → inbound.
    pub inbound: QueuePair,
    /// `outbound.fifo`: api → send.
    pub outbound: QueuePair,
    /// `suggest`: inbound/api → suggest.
    pub suggest: QueuePair,
    /// `import.fifo`: api → import (one message per staged chunk of a CSV import).
    pub import: QueuePair,
    /// `live`: api/inbound/retention → realtime (the console's live notices).
    pub live: QueuePair,
    /// The KMS key alias.
    pub kms_key_id: String,
}

/// The least visibility timeout of `import.fifo` (its function's timeout).
const IMPORT_VISIBILITY_SECONDS: u32 = 300;

/// Creates every resource with names starting with `prefix`.
///
/// # Errors
/// When a call to the AWS endpoint fails.
pub async fn bootstrap(
    aws: &aws_config::SdkConfig,
    prefix: &str,
    visibility_timeout: u32,
) -> anyhow::Result<Resources> {
    let dynamo = aws_sdk_dynamodb::Client::new(aws);
    let sqs = aws_sdk_sqs::Client::new(aws);
    let kms = aws_sdk_kms::Client::new(aws);
    let table_name = format!("{prefix}-table");
    create_table(&dynamo, &table_name).await?;
    let key_table_name = format!("{prefix}-keys");
    create_key_table(&dynamo, &key_table_name).await?;
    let queue = |name: &'static str, fifo| QueueSpec {
        name,
        fifo,
        visibility_timeout,
        max_receive_count: MAX_RECEIVE_COUNT,
    };
    let inbound = create_queue(&sqs, prefix, queue("inbound", true)).await?;
    let outbound = create_queue(&sqs, prefix, queue("outbound", true)).await?;
    let suggest = create_queue(&sqs, prefix, queue("suggest", false)).await?;
    // A chunk takes seconds to write: a visibility timeout shorter than that (tests shorten the
    // others to 2 s for quick retries) would deliver it again while it is being written.
    let import_spec = QueueSpec {
        visibility_timeout: visibility_timeout.max(IMPORT_VISIBILITY_SECONDS),
        ..queue("import", true)
    };
    let import = create_queue(&sqs, prefix, import_spec).await?;
    let live = create_queue(&sqs, prefix, queue("live", false)).await?;
    let kms_key_id = create_key(&kms, &format!("alias/{prefix}-secrets")).await?;
    Ok(Resources { table_name, key_table_name, inbound, outbound, suggest, import, live, kms_key_id })
}

fn string_attribute(name: &str) -> anyhow::Result<AttributeDefinition> {
    Ok(AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()?)
}

fn key_element(name: &str, kind: KeyType) -> anyhow::Result<KeySchemaElement> {
    Ok(KeySchemaElement::builder().attribute_name(name).key_type(kind).build()?)
}

/// A `CreateTable` of an on-demand table keyed by `PK`/`SK` strings.
fn keyed_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> anyhow::Result<aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder> {
    Ok(client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(PK)?)
        .attribute_definitions(string_attribute(SK)?)
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?))
}

/// The single table: `PK`/`SK` strings, `GSI1` over `GSI1PK`/`GSI1SK`, on-demand, TTL on
/// `expires_at`.
///
/// # Errors
/// When DynamoDB refuses.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> anyhow::Result<()> {
    keyed_table(client, name)?
        .attribute_definitions(string_attribute(GSI1PK)?)
        .attribute_definitions(string_attribute(GSI1SK)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(GSI1)
                .key_schema(key_element(GSI1PK, KeyType::Hash)?)
                .key_schema(key_element(GSI1SK, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()?,
        )
        .send()
        .await
        .with_context(|| format!("creating table {name}"))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name(EXPIRES_AT).enabled(true).build()?,
        )
        .send()
        .await
        .context("enabling TTL")?;
    Ok(())
}

/// The key table: `PK`/`SK` strings, on-demand, nothing else (no TTL: a key goes only when its
/// contact or tenant is erased; no PITR in `template.yaml`: that is the point of it).
///
/// # Errors
/// When DynamoDB refuses.
pub async fn create_key_table(client: &aws_sdk_dynamodb::Client, name: &str) -> anyhow::Result<()> {
    keyed_table(client, name)?.send().await.with_context(|| format!("creating table {name}"))?;
    Ok(())
}

/// A queue with its dead-letter queue and redrive policy.
///
/// # Errors
/// When SQS refuses.
pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    prefix: &str,
    spec: QueueSpec<'_>,
) -> anyhow::Result<QueuePair> {
    let suffix = if spec.fifo { ".fifo" } else { "" };
    let mut dlq_attributes =
        HashMap::from([(QueueAttributeName::MessageRetentionPeriod, DLQ_RETENTION_SECONDS.to_string())]);
    if spec.fifo {
        dlq_attributes.insert(QueueAttributeName::FifoQueue, "true".to_owned());
    }
    let dlq_url = client
        .create_queue()
        .queue_name(format!("{prefix}-{}-dlq{suffix}", spec.name))
        .set_attributes(Some(dlq_attributes))
        .send()
        .await
        .context("creating a dead-letter queue")?
        .queue_url
        .context("no DLQ URL")?;
    let dlq_arn = queue_arn(client, &dlq_url).await?;
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count});
    let mut attributes = HashMap::from([
        (QueueAttributeName::VisibilityTimeout, spec.visibility_timeout.to_string()),
        (QueueAttributeName::RedrivePolicy, redrive.to_string()),
    ]);
    if spec.fifo {
        attributes.insert(QueueAttributeName::FifoQueue, "true".to_owned());
    }
    let url = client
        .create_queue()
        .queue_name(format!("{prefix}-{}{suffix}", spec.name))
        .set_attributes(Some(attributes))
        .send()
        .await
        .context("creating a queue")?
        .queue_url
        .context("no queue URL")?;
    let arn = queue_arn(client, &url).await?;
    Ok(QueuePair { url, arn, dlq_url })
}

async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<String> {
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .context("reading a queue ARN")?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .context("no queue ARN")
}

/// A symmetric KMS key with an alias; returns the alias.
///
/// # Errors
/// When KMS refuses.
pub async fn create_key(client: &aws_sdk_kms::Client, alias: &str) -> anyhow::Result<String> {
    let key_id = client
        .create_key()
        .description("Leadline envelope encryption (local)")
        .send()
        .await
        .context("creating a KMS key")?
        .key_metadata
        .map(|m| m.key_id)
        .context("no key metadata")?;
    client
        .create_alias()
        .alias_name(alias)
        .target_key_id(key_id)
        .send()
        .await
        .context("creating a KMS alias")?;
    Ok(alias.to_owned())
}
