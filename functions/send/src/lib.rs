//! The `send` function: policy-checked sending through the Graph API, fed by `outbound.fifo`.
//!
//! This build wires its configuration and clients but does not do its work yet (that is the
//! sending issue's): every record is reported as failed with that reason, so SQS keeps it and,
//! after the redrive count, moves it to the dead-letter queue where nothing is lost.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::adapters::dynamo::Table;
use shared::adapters::kms::{CachePolicy, KmsVault};
use shared::config::{ConfigError, Env};
use shared::lambda::batch::{run_batch, BatchError, RecordError};

/// The function's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The single table (`TABLE_NAME`).
    pub table_name: String,
    /// The KMS key of envelopes (`KMS_KEY_ID`).
    pub kms_key_id: String,
    /// The Graph API base URL (`GRAPH_API_BASE_URL`, HTTPS).
    pub graph_api_base_url: String,
    /// How many records (or FIFO groups) run at once (`BATCH_CONCURRENCY`, default 4).
    pub concurrency: usize,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or invalid variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            kms_key_id: env.required("KMS_KEY_ID")?,
            graph_api_base_url: env.https_url("GRAPH_API_BASE_URL")?,
            concurrency: env.parsed_or("BATCH_CONCURRENCY", 4)?,
        })
    }
}

/// What the handler needs, built once per process.
#[derive(Debug)]
pub struct Deps {
    /// Configuration.
    pub config: Config,
    /// The single table.
    pub table: Table,
    /// Envelope encryption (tenant tokens, opened through the data-key cache).
    pub vault: KmsVault,
}

impl Deps {
    /// Builds the clients from the shared AWS configuration.
    #[must_use]
    pub fn new(config: Config, aws: &aws_config::SdkConfig) -> Self {
        Self {
            table: Table::new(aws_sdk_dynamodb::Client::new(aws), config.table_name.clone()),
            vault: KmsVault::new(
                aws_sdk_kms::Client::new(aws),
                config.kms_key_id.clone(),
                CachePolicy::default(),
            ),
            config,
        }
    }
}

/// Handles one batch.
///
/// # Errors
/// [`BatchError`] when a failed record cannot be reported.
pub async fn handle(event: LambdaEvent<SqsEvent>, deps: &Deps) -> Result<SqsBatchResponse, BatchError> {
    run_batch(event.payload, deps.config.concurrency, |_meta, _record: serde_json::Value| async {
        Err(RecordError::Retryable("send processing is not enabled in this build".to_owned()))
    })
    .await
}
