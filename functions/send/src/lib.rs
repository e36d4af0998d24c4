//! The `send` function: one outbound WhatsApp message per `outbound.fifo` record.
//!
//! For each message, in order:
//! 1. read it; anything but `queued` was handled before (a redelivery) and is done;
//! 2. claim it (`send:<message id>`) until the Lambda deadline, so that two deliveries never
//!    both call Meta;
//! 3. check the policy again (an opt-out may have arrived since it was queued) → `blocked`;
//! 4. open the tenant's token (the vault caches the data key: no KMS call per message);
//! 5. wait for a slot of the number's throughput and the recipient's pair limit;
//! 6. `POST /<version>/<phone_number_id>/messages`; Meta's code decides: throttling and outages
//!    back off (jittered, exponential) and try again within this invocation, then leave the record
//!    to SQS; permanent errors end `failed` with the code and reason, never retried;
//! 7. record the wamid (`sent`); status webhooks move it on to `delivered` and `read`.
//!
//! At most once: the claim is taken before the Graph call, and the message's status is recorded
//! right after it (a later delivery sees it is no longer `queued`). The window
//! that remains is the process dying after Meta accepted the message and before the wamid is
//! recorded: the claim then expires at the deadline and a redelivery sends again. Meta offers
//! no idempotency key to close it.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::adapters::documents::{DocPacer, DocQuality};
use shared::adapters::dynamo::idempotency::MIN_RETENTION;
use shared::adapters::dynamo::{DynamoIdempotency, DynamoInbox, DynamoTenantStore, Table};
use shared::adapters::graph::GraphClient;
use shared::adapters::kms::{CachePolicy, KmsVault};
use shared::config::{ConfigError, Env};
use shared::domain::inbox::{InboxStore, MessageStatus, Unsent};
use shared::domain::outbound::{
    check_policy, classify, ErrorClass, OutboundBody, Pace, PaceLimits, Pacer, QualityMeter, SendJob,
    PAIR_INTERVAL_MS,
};
use shared::domain::ports::{
    Claim, CloudApi, CloudApiError, EncryptionContext, IdempotencyRequest, IdempotencyStore, Purpose,
    TenantStore, Vault,
};
use shared::domain::whatsapp::MetaError;
use shared::domain::{Clock, PhoneNumber, Secret, SystemClock, Timestamp, Wamid};
use shared::lambda::batch::{run_batch, BatchError, RecordError, RecordMeta};

/// The function's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The single table (`TABLE_NAME`).
    pub table_name: String,
    /// The KMS key of envelopes (`KMS_KEY_ID`).
    pub kms_key_id: String,
    /// The Graph API base URL (`GRAPH_API_BASE_URL`, HTTPS).
    pub graph_api_base_url: String,
    /// The Graph API version (`GRAPH_API_VERSION`, default `v23.0`).
    pub graph_api_version: String,
    /// How many records (or FIFO groups) run at once (`BATCH_CONCURRENCY`, default 4).
    pub concurrency: usize,
    /// Messages per second per business number (`THROUGHPUT_PER_SECOND`, default 80: Meta's
    /// default; raise it for numbers Meta upgraded to 1,000).
    pub throughput_per_second: u64,
    /// Milliseconds between two messages to one person (`PAIR_INTERVAL_MS`, default 6000:
    /// Meta's pair limit; the local test stack shortens it to keep bursts fast).
    pub pair_interval_ms: i64,
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
            graph_api_version: env.optional("GRAPH_API_VERSION").unwrap_or_else(|| "v23.0".to_owned()),
            concurrency: env.parsed_or("BATCH_CONCURRENCY", 4)?,
            throughput_per_second: env.parsed_or("THROUGHPUT_PER_SECOND", 80)?,
            pair_interval_ms: env.parsed_or("PAIR_INTERVAL_MS", PAIR_INTERVAL_MS)?,
        })
    }
}

/// What the handler needs, built once per process.
#[derive(Debug)]
pub struct Deps<I, T, V, G, P, L, Q, C> {
    /// Configuration.
    pub config: Config,
    /// Messages and contacts.
    pub inbox: I,
    /// Tenants and their connections.
    pub tenants: T,
    /// Envelope encryption (tenant tokens, through the data-key cache).
    pub vault: V,
    /// The Cloud API.
    pub cloud: G,
    /// The send claims.
    pub claims: P,
    /// Throughput and pair pacing.
    pub pacer: L,
    /// Sending quality counters (P24).
    pub quality: Q,
    /// The time source.
    pub clock: C,
}

/// The production wiring.
pub type AwsDeps = Deps<
    DynamoInbox,
    DynamoTenantStore,
    KmsVault,
    GraphClient,
    DynamoIdempotency,
    DocPacer<Table>,
    DocQuality<Table>,
    SystemClock,
>;

impl AwsDeps {
    /// Builds the clients from the shared AWS configuration.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(config: Config, aws: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        let table = Table::new(aws_sdk_dynamodb::Client::new(aws), config.table_name.clone());
        Ok(Self {
            inbox: DynamoInbox::new(table.clone()),
            tenants: DynamoTenantStore::new(table.clone()),
            vault: KmsVault::new(
                aws_sdk_kms::Client::new(aws),
                config.kms_key_id.clone(),
                CachePolicy::default(),
            ),
            cloud: GraphClient::new(&config.graph_api_base_url, &config.graph_api_version)?,
            claims: DynamoIdempotency::new(table.clone(), MIN_RETENTION),
            pacer: DocPacer::new(table.clone()),
            quality: DocQuality::new(table),
            clock: SystemClock,
            config,
        })
    }
}

/// Time kept free before the Lambda deadline.
const DEADLINE_MARGIN: Duration = Duration::from_secs(3);
/// Graph attempts per invocation for retryable errors.
const ATTEMPTS: u32 = 4;

/// Handles one batch.
///
/// # Errors
/// [`BatchError`] when a failed record cannot be reported.
pub async fn handle<I, T, V, G, P, L, Q, C>(
    event: LambdaEvent<SqsEvent>,
    deps: &Deps<I, T, V, G, P, L, Q, C>,
) -> Result<SqsBatchResponse, BatchError>
where
    I: InboxStore,
    T: TenantStore,
    V: Vault,
    G: CloudApi,
    P: IdempotencyStore,
    L: Pacer,
    Q: QualityMeter,
    C: Clock,
{
    let deadline = Timestamp::from_millis(i64::try_from(event.context.deadline).unwrap_or(i64::MAX));
    let deadline =
        Timestamp::from_millis(deadline.as_millis().saturating_sub(DEADLINE_MARGIN.as_millis() as i64));
    run_batch(event.payload, deps.config.concurrency, |meta: RecordMeta, job: SendJob| async move {
        let span = tracing::info_span!("send", tenant_id = %job.tenant_id, message_id = %job.message_id);
        tracing::Instrument::instrument(send_one(&meta, &job, deadline, deps), span).await
    })
    .await
}

/// A failure SQS should redeliver, with what failed.
fn retry(what: &str, error: &dyn std::fmt::Debug) -> RecordError {
    RecordError::Retryable(format!("{what}: {error:?}"))
}

fn meta_error(code: i64, title: &str, message: impl Into<String>) -> MetaError {
    MetaError {
        code,
        title: Some(title.to_owned()),
        message: Some(message.into()),
        error_data: None,
        href: None,
    }
}

/// Sends one message.
///
/// # Errors
/// [`RecordError::Retryable`] to leave the record to SQS; [`RecordError::Poison`] for a record
/// that can never be handled.
pub async fn send_one<I, T, V, G, P, L, Q, C>(
    meta: &RecordMeta,
    job: &SendJob,
    deadline: Timestamp,
    deps: &Deps<I, T, V, G, P, L, Q, C>,
) -> Result<(), RecordError>
where
    I: InboxStore,
    T: TenantStore,
    V: Vault,
    G: CloudApi,
    P: IdempotencyStore,
    L: Pacer,
    Q: QualityMeter,
    C: Clock,
{
    let tenant = &job.tenant_id;
    let Some(message) =
        deps.inbox.outbound(tenant, &job.message_id).await.map_err(|e| retry("reading", &e))?
    else {
        return Err(RecordError::Poison("no such outbound message (erased, or never stored)".to_owned()));
    };
    if message.status != MessageStatus::Queued {
        tracing::info!(status = message.status.as_str(), "Already handled");
        return Ok(());
    }
    let claim_key = job.message_id.to_string();
    let claim = IdempotencyRequest { tenant_id: tenant, scope: "send", key: &claim_key, payload_hash: "-" };
    match deps.claims.claim(&claim, deps.clock.now(), deadline).await.map_err(|e| retry("claiming", &e))? {
        Claim::Acquired => {}
        Claim::Completed { response } => {
            // Meta accepted it before, but recording that failed: record it now, send nothing.
            if let Some(wamid) = response.strip_prefix("sent:") {
                let wamid = Wamid::parse(wamid).ok();
                deps.inbox
                    .mark_sent(tenant, &job.message_id, wamid.as_ref(), deps.clock.now())
                    .await
                    .map_err(|e| retry("recording the wamid", &e))?;
            }
            return Ok(());
        }
        Claim::Mismatch => return Ok(()),
        Claim::InProgress => {
            return Err(RecordError::Retryable("another invocation is sending it".to_owned()))
        }
    }
    let outcome = deliver(job, &message, &claim, deadline, deps).await;
    match outcome {
        Ok(result) => {
            // The message's status is the durable result (a redelivery stops at step 1); the
            // claim only guarded the Graph call and lapses at the deadline: one write saved.
            tracing::info!(result = %result, receive_count = meta.receive_count, "Outbound message handled");
            if let Err(error) = deps.quality.count(tenant, &result, deps.clock.now()).await {
                tracing::warn!(error = format!("{error:#}"), "Quality counter not updated");
            }
            Ok(())
        }
        Err(error) => {
            // A completed claim (Meta accepted, recording failed) is kept; anything else is freed.
            if let Err(release) = deps.claims.release(&claim).await.or_else(|e| match e {
                shared::domain::ports::IdempotencyError::ClaimLost => Ok(()),
                other => Err(other),
            }) {
                tracing::warn!(
                    error = format!("{release:#}"),
                    "Send claim not released; it expires at the deadline"
                );
            }
            Err(error)
        }
    }
}

/// Everything after the claim: `Ok` with how it ended (the quality metric: `sent`,
/// `failed.<code>`, `blocked.<reason>`), or a retryable error.
async fn deliver<I, T, V, G, P, L, Q, C>(
    job: &SendJob,
    message: &shared::domain::inbox::MessageView,
    claim: &IdempotencyRequest<'_>,
    deadline: Timestamp,
    deps: &Deps<I, T, V, G, P, L, Q, C>,
) -> Result<String, RecordError>
where
    I: InboxStore,
    T: TenantStore,
    V: Vault,
    G: CloudApi,
    P: IdempotencyStore,
    L: Pacer,
    Q: QualityMeter,
    C: Clock,
{
    let tenant = &job.tenant_id;
    let payload = message.payload.clone().unwrap_or_default();
    let unsent = |how: Unsent, error: MetaError| async move {
        deps.inbox
            .mark_unsent(tenant, &job.message_id, how, &error, deps.clock.now())
            .await
            .map_err(|e| retry("recording", &e))
    };
    // The recipient and the policy, again: consent may have changed since the API queued it.
    let recipient = if message.kind == "read" {
        None
    } else {
        match OutboundBody::parse(&payload) {
            Ok(body) => {
                let contact = deps
                    .inbox
                    .contact_by_phone(tenant, &body.to)
                    .await
                    .map_err(|e| retry("reading the contact", &e))?;
                if let Err(refusal) = check_policy(contact.as_ref(), &body, deps.clock.now()) {
                    let slug = serde_json::to_value(refusal).ok().and_then(|v| v.as_str().map(str::to_owned));
                    unsent(
                        Unsent::Blocked,
                        meta_error(0, slug.as_deref().unwrap_or_default(), refusal.reason()),
                    )
                    .await?;
                    tracing::info!(reason = refusal.reason(), "Blocked at send time");
                    return Ok(format!("blocked.{}", slug.unwrap_or_default()));
                }
                Some(body.to)
            }
            Err(invalid) => {
                unsent(Unsent::Failed, meta_error(100, "invalid stored message", invalid.to_string()))
                    .await?;
                return Ok("failed.100".to_owned());
            }
        }
    };
    let Some(connection) =
        deps.tenants.whatsapp_connection(tenant).await.map_err(|e| retry("reading the connection", &e))?
    else {
        unsent(Unsent::Failed, meta_error(0, "not connected", "the tenant disconnected its WhatsApp number"))
            .await?;
        return Ok("failed.not_connected".to_owned());
    };
    let context = EncryptionContext { tenant_id: tenant.clone(), purpose: Purpose::WhatsAppAccessToken };
    let token = deps
        .vault
        .open(&context, &connection.access_token)
        .await
        .map_err(|e| retry("opening the token", &e))?;
    let token = Secret::new(String::from_utf8_lossy(token.expose()).into_owned());
    if let Some(recipient) = &recipient {
        pace(deps, tenant, &connection.phone_number_id, recipient, deadline).await?;
    }
    let mut last_error = String::new();
    for attempt in 0..ATTEMPTS {
        match deps.cloud.send_message(&connection.phone_number_id, &token, &payload).await {
            Ok(wamid) => {
                let wamid = wamid.and_then(|w| Wamid::parse(w).ok());
                if let Err(error) =
                    deps.inbox.mark_sent(tenant, &job.message_id, wamid.as_ref(), deps.clock.now()).await
                {
                    // Meta has it: keep that in the claim, so that the redelivery records it
                    // instead of sending again.
                    let sent = format!("sent:{}", wamid.as_ref().map_or("", Wamid::as_str));
                    deps.claims
                        .complete(claim, &sent, deps.clock.now())
                        .await
                        .map_err(|e| retry("completing", &e))?;
                    return Err(retry("recording the wamid", &error));
                }
                return Ok("sent".to_owned());
            }
            Err(CloudApiError::Meta { error, http_status })
                if classify(error.code) == ErrorClass::Permanent =>
            {
                tracing::info!(code = error.code, http_status, "Meta refused the message for good");
                let metric = format!("failed.{}", error.code);
                unsent(Unsent::Failed, error).await?;
                return Ok(metric);
            }
            Err(error) => {
                last_error = match &error {
                    CloudApiError::Meta { error, .. } => format!("Meta code {}", error.code),
                    other => format!("{other}"),
                };
                let wait = backoff(attempt);
                let room = deadline.as_millis() - deps.clock.now().as_millis();
                if attempt + 1 == ATTEMPTS || i64::try_from(wait.as_millis()).unwrap_or(i64::MAX) >= room {
                    break;
                }
                tracing::info!(attempt, wait_ms = wait.as_millis() as u64, error = %last_error, "Retrying the send");
                tokio::time::sleep(wait).await;
            }
        }
    }
    Err(RecordError::Retryable(format!("Graph kept failing: {last_error}")))
}

/// Waits for a throughput and pair slot, within the deadline.
async fn pace<I, T, V, G, P, L: Pacer, Q, C: Clock>(
    deps: &Deps<I, T, V, G, P, L, Q, C>,
    tenant: &shared::domain::TenantId,
    phone_number_id: &str,
    recipient: &PhoneNumber,
    deadline: Timestamp,
) -> Result<(), RecordError> {
    let limits = PaceLimits {
        per_second: deps.config.throughput_per_second,
        pair_interval_ms: deps.config.pair_interval_ms,
    };
    // Bounded: a clock that does not move (or a store that keeps saying wait) cannot spin.
    for _ in 0..64 {
        let now = deps.clock.now();
        match deps
            .pacer
            .acquire(tenant, phone_number_id, recipient, limits, now)
            .await
            .map_err(|e| RecordError::Retryable(format!("pacing: {e:?}")))?
        {
            Pace::Go => return Ok(()),
            Pace::Wait(ms)
                if i64::try_from(ms).unwrap_or(i64::MAX) < deadline.as_millis() - now.as_millis() =>
            {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Pace::Wait(_) => break,
        }
    }
    Err(RecordError::Retryable("no send slot before the deadline".to_owned()))
}

/// Exponential backoff with jitter: about 1, 2, 4 s (Meta asks for 4^x on the pair limit; the
/// pacer already spaces sends to one person, so this only covers what slipped through).
fn backoff(attempt: u32) -> Duration {
    use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
    let mut byte = [0u8; 1];
    let _ = SystemRandom::new().fill(&mut byte);
    let base = 1000u64 << attempt.min(5);
    Duration::from_millis(base / 2 + (base / 2) * u64::from(byte[0]) / 255)
}

#[cfg(test)]
mod tests;
