//! The `send` function: one outbound WhatsApp message per `outbound.fifo` record.
//!
//! For each message, in order:
//! 1. read it; anything but `queued` was handled before (a redelivery) and is done;
//! 2. check the policy again (an opt-out may have arrived since it was queued) → `blocked`;
//! 3. open the tenant's token (the vault caches the data key: no KMS call per message);
//! 4. wait for the recipient's pair limit (counted from the previous send to them, read from
//!    their conversation) and room in this instance's share of the number's throughput;
//! 5. claim it on the message itself for the send lease (one conditional write; the lease
//!    outlasts the queue's visibility timeout, so a redelivery never finds a live sender's claim
//!    lapsed), so that two deliveries never both call Meta;
//! 6. `POST /<version>/<phone_number_id>/messages` with `biz_opaque_callback_data` naming the
//!    message; Meta's code decides: throttling and outages back off (jittered, exponential) and
//!    try again within this invocation, then free the claim and leave the record to SQS;
//!    permanent errors end `failed` with the code and reason, never retried;
//! 7. record the wamid, `sent` and the time of sending in one write; status webhooks find the
//!    message by the callback data (or the wamid) and move it to `delivered` and `read`.
//!
//! Writes per message sent: two (the claim and the record). Pacing is in memory
//! ([`SendPacer`]: each instance keeps its share of the limit), and quality counters are written
//! only for what did not go out (a send is counted when the API accepts it).
//!
//! Never twice: a claim ends only with an outcome recorded, or freed by its holder when Meta
//! surely did not take the message (it answered an error, or could not be reached). When Meta
//! may have taken it — the call timed out or was cut after the request left, the 2xx answer
//! does not parse, or the sender died between its claim and its record, which a redelivery
//! sees as a lapsed claim — the message becomes `unknown` and is not sent again: its status
//! webhook (the callback data names it) settles it, and the retention run ends the ones no
//! status settled within [`shared::domain::outbound::UNKNOWN_SETTLE_DEADLINE`] as `failed`
//! (`outcome-unknown`). Meta offers no idempotency key: that is the price of never sending twice
//! (a sender that died after its claim but before the request left also ends `unknown`).

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::adapters::documents::DocQuality;
use shared::adapters::graph::GraphClient;
use shared::app::secrets::open_tenant_secret;
use shared::config::{ConfigError, Env};
use shared::domain::inbox::{ContactStore, MessageStatus, MessageView, OutboundClaim, OutboundStore, Unsent};
use shared::domain::outbound::{
    callback_data, check_policy, classify, pair_wait, ErrorClass, OutboundBody, Pace, QualityMeter, SendJob,
    SendPacer, ThroughputShare, PAIR_INTERVAL_MS,
};
use shared::domain::ports::{CloudApi, CloudApiError, ConnectionStore, Purpose};
use shared::domain::whatsapp::MetaError;
use shared::domain::{Clock, MessageId, Secret, TenantId, Timestamp, Wamid};
use shared::lambda::batch::{run_batch, BatchError, RecordError, RecordMeta};
use shared::lambda::deadline_of;
use shared::wiring::{Adapters, Aws, StoreConfig};

/// The function's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The table, the key table and the KMS key.
    pub store: StoreConfig,
    /// The Graph API base URL (`GRAPH_API_BASE_URL`, HTTPS).
    pub graph_api_base_url: String,
    /// The Graph API version (`GRAPH_API_VERSION`, default `v23.0`).
    pub graph_api_version: String,
    /// How many records (or FIFO groups) run at once (`BATCH_CONCURRENCY`, default 4).
    pub concurrency: usize,
    /// Messages per second per business number (`THROUGHPUT_PER_SECOND`, default 80: Meta's
    /// default; raise it for numbers Meta upgraded to 1,000).
    pub throughput_per_second: u64,
    /// How many instances of this function run at most at once (`SEND_INSTANCES`, required):
    /// the event source mapping's `MaximumConcurrency`; each keeps its share of the throughput.
    pub instances: u64,
    /// Milliseconds between two messages to one person (`PAIR_INTERVAL_MS`, default 6000:
    /// Meta's pair limit; the local test stack shortens it to keep bursts fast).
    pub pair_interval_ms: i64,
    /// How long a send claim holds (`SEND_LEASE_SECONDS`, default [`DEFAULT_LEASE_SECONDS`]):
    /// at least `outbound.fifo`'s visibility timeout, so that a redelivery never finds the claim
    /// of a sender that may still be calling Meta lapsed (a test checks `template.yaml`).
    pub lease: Duration,
}

/// The send lease by default: `outbound.fifo`'s visibility timeout in `template.yaml`.
pub const DEFAULT_LEASE_SECONDS: u64 = 360;

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or invalid variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            store: StoreConfig::from_env(env)?,
            graph_api_base_url: env.https_url("GRAPH_API_BASE_URL")?,
            graph_api_version: env.optional("GRAPH_API_VERSION").unwrap_or_else(|| "v23.0".to_owned()),
            concurrency: env.parsed_or("BATCH_CONCURRENCY", 4)?,
            throughput_per_second: env.parsed_or("THROUGHPUT_PER_SECOND", 80)?,
            instances: env.required("SEND_INSTANCES")?.parse().ok().filter(|n| *n > 0).ok_or(
                ConfigError::Invalid {
                    name: "SEND_INSTANCES",
                    reason: "a whole number of at least 1".into(),
                },
            )?,
            pair_interval_ms: env.parsed_or("PAIR_INTERVAL_MS", PAIR_INTERVAL_MS)?,
            lease: Duration::from_secs(
                Some(env.parsed_or("SEND_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)?).filter(|s| *s > 0).ok_or(
                    ConfigError::Invalid {
                        name: "SEND_LEASE_SECONDS",
                        reason: "a whole number of at least 1".into(),
                    },
                )?,
            ),
        })
    }
}

/// What the handler needs, built once per process (`main.rs` wires [`Aws`], tests the fakes).
#[derive(Debug)]
pub struct Deps<A: Adapters> {
    /// Configuration.
    pub config: Config,
    /// Outbound messages: read, claimed, recorded.
    pub outbox: A::Outbound,
    /// Contacts (the policy reads consent and the 24 h window).
    pub contacts: A::Contacts,
    /// Tenants and their connections.
    pub tenants: A::Tenants,
    /// The WhatsApp number, Lead Ads Page and AI provider connections.
    pub connections: A::Connections,
    /// Envelope encryption (tenant tokens, through the data-key cache).
    pub vault: A::Vault,
    /// The Cloud API.
    pub cloud: A::Cloud,
    /// Sending quality counters (P24).
    pub quality: A::Quality,
    /// This instance's share of every number's throughput.
    pub pacer: SendPacer,
    /// The time source.
    pub clock: A::Clock,
}

impl Deps<Aws> {
    /// The production adapters, made from the process's clients.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn on(aws: &Aws, config: Config) -> anyhow::Result<Self> {
        let stores = aws.stores(&config.store);
        let inbox = stores.inbox();
        Ok(Self {
            outbox: inbox.clone(),
            contacts: inbox,
            tenants: stores.tenants(),
            connections: stores.tenants(),
            vault: aws.vault(&config.store),
            cloud: GraphClient::new(&config.graph_api_base_url, &config.graph_api_version)?,
            quality: DocQuality::new(stores.table()),
            pacer: SendPacer::new(config.share()),
            clock: aws.clock(),
            config,
        })
    }
}

impl Config {
    /// This instance's share of the throughput limit.
    #[must_use]
    pub fn share(&self) -> ThroughputShare {
        ThroughputShare { per_second: self.throughput_per_second, instances: self.instances }
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
pub async fn handle<A: Adapters>(
    event: LambdaEvent<SqsEvent>,
    deps: &Deps<A>,
) -> Result<SqsBatchResponse, BatchError> {
    let deadline = Timestamp::from_millis(
        deadline_of(&event.context).as_millis().saturating_sub(DEADLINE_MARGIN.as_millis() as i64),
    );
    run_batch(event.payload, deps.config.concurrency, |meta: RecordMeta, job: SendJob| async move {
        let span = tracing::info_span!("send", tenant_id = %job.tenant_id, message_id = %job.message_id);
        tracing::Instrument::instrument(send_one(&meta, &job, deadline, deps), span).await
    })
    .await
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
pub async fn send_one<A: Adapters>(
    meta: &RecordMeta,
    job: &SendJob,
    deadline: Timestamp,
    deps: &Deps<A>,
) -> Result<(), RecordError> {
    let tenant = &job.tenant_id;
    let Some(message) = deps
        .outbox
        .outbound(tenant, &job.message_id)
        .await
        .map_err(|e| RecordError::retryable("reading", &e))?
    else {
        return Err(RecordError::Poison("no such outbound message (erased, or never stored)".to_owned()));
    };
    if message.status != MessageStatus::Queued {
        tracing::info!(status = message.status.as_str(), "Already handled");
        return Ok(());
    }
    let result = match prepare(job, &message, deps).await? {
        Prepared::Ended(metric) => metric,
        Prepared::Ready(ready) => {
            // The pair limit is counted in the message's conversation, which is the recipient's;
            // waiting before the claim keeps the claim's window before the call short.
            if ready.to_someone {
                pace(deps, tenant, &job.message_id, &ready.phone_number_id, deadline).await?;
            }
            let until = deps.clock.now().plus(deps.config.lease);
            match deps.outbox.claim_outbound(tenant, &job.message_id, until, deps.clock.now()).await {
                Ok(OutboundClaim::Acquired) => {}
                Ok(OutboundClaim::Handled) => return Ok(()),
                Ok(OutboundClaim::Held(until)) => {
                    return Err(RecordError::Retryable(format!(
                        "another invocation is sending it (claim until {})",
                        until.as_millis()
                    )))
                }
                Ok(OutboundClaim::Lapsed) => {
                    tracing::warn!("A sender died holding the claim: the outcome is unknown, not resent");
                    return finish(deps, tenant, record_unknown(deps, tenant, &job.message_id).await?).await;
                }
                Ok(OutboundClaim::Missing) => {
                    return Err(RecordError::Poison("the outbound message vanished".to_owned()))
                }
                Err(e) => return Err(RecordError::retryable("claiming", &e)),
            }
            match deliver(job, &message, ready, deadline, deps).await {
                Ok(result) => result,
                Err(Undelivered { error, release }) => {
                    if release {
                        if let Err(e) = deps.outbox.release_outbound(tenant, &job.message_id, until).await {
                            tracing::warn!(
                                error = format!("{e:#}"),
                                "Send claim not released; when it lapses the message becomes unknown"
                            );
                        }
                    }
                    return Err(error);
                }
            }
        }
    };
    // A message sent is counted by `MessagesSent`; INFO keeps the others (blocked, failed,
    // unknown), which someone may have to look into (INFO is paid per byte).
    if result == SENT {
        tracing::debug!(result = %result, receive_count = meta.receive_count, "Outbound message handled");
    } else {
        tracing::info!(result = %result, receive_count = meta.receive_count, "Outbound message handled");
    }
    finish(deps, tenant, result).await
}

/// Counts how a message ended, unless it went out.
async fn finish<A: Adapters>(deps: &Deps<A>, tenant: &TenantId, result: String) -> Result<(), RecordError> {
    if result != SENT {
        // A send is counted when accepted; only what did not go out is counted here (P24).
        if let Err(error) = deps.quality.count(tenant, &result, deps.clock.now()).await {
            tracing::warn!(error = format!("{error:#}"), "Quality counter not updated");
        }
    }
    Ok(())
}

/// The metric of a message that went out.
const SENT: &str = "sent";
/// The metric of a message whose outcome is unknown.
const UNKNOWN: &str = "unknown";

/// Records the message `unknown` (Meta may have it; it is never sent again). Failing that, the
/// record goes back to SQS with the claim kept: the redelivery finds it lapsed and tries again.
async fn record_unknown<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    id: &MessageId,
) -> Result<String, RecordError> {
    deps.outbox
        .mark_unknown(tenant, id, deps.clock.now())
        .await
        .map_err(|e| RecordError::retryable("recording an unknown outcome", &e))?;
    Ok(UNKNOWN.to_owned())
}

/// What [`prepare`] found.
enum Prepared {
    /// Nothing to send: ended with this metric (`blocked.<reason>`, `failed.<why>`).
    Ended(String),
    /// Send it.
    Ready(Ready),
}

/// Everything the Graph call needs.
struct Ready {
    /// Whether it goes to someone (a mark-as-read does not: nothing to pace).
    to_someone: bool,
    phone_number_id: String,
    token: Secret,
    body: serde_json::Value,
}

/// The policy again (consent may have changed since the API queued it), the connection and the
/// token; messages that can never go out end here, before any claim.
async fn prepare<A: Adapters>(
    job: &SendJob,
    message: &MessageView,
    deps: &Deps<A>,
) -> Result<Prepared, RecordError> {
    let tenant = &job.tenant_id;
    let mut body = message.payload.clone().unwrap_or_default();
    let to_someone = if message.kind == "read" {
        false
    } else {
        match OutboundBody::parse(&body) {
            Ok(parsed) => {
                let contact = deps
                    .contacts
                    .contact_by_phone(tenant, &parsed.to)
                    .await
                    .map_err(|e| RecordError::retryable("reading the contact", &e))?;
                if let Err(refusal) = check_policy(contact.as_ref(), &parsed, deps.clock.now()) {
                    let slug = serde_json::to_value(refusal).ok().and_then(|v| v.as_str().map(str::to_owned));
                    let slug = slug.unwrap_or_default();
                    end(deps, job, Unsent::Blocked, meta_error(0, &slug, refusal.reason())).await?;
                    tracing::info!(reason = refusal.reason(), "Blocked at send time");
                    return Ok(Prepared::Ended(format!("blocked.{slug}")));
                }
                // Status webhooks find the message by this; a caller's own value is kept.
                if let Some(fields) = body.as_object_mut() {
                    fields
                        .entry("biz_opaque_callback_data")
                        .or_insert_with(|| serde_json::Value::String(callback_data(&job.message_id)));
                }
                true
            }
            Err(invalid) => {
                end(
                    deps,
                    job,
                    Unsent::Failed,
                    meta_error(100, "invalid stored message", invalid.to_string()),
                )
                .await?;
                return Ok(Prepared::Ended("failed.100".to_owned()));
            }
        }
    };
    let Some(connection) = deps
        .connections
        .whatsapp_connection(tenant)
        .await
        .map_err(|e| RecordError::retryable("reading the connection", &e))?
    else {
        end(
            deps,
            job,
            Unsent::Failed,
            meta_error(0, "not connected", "the tenant disconnected its WhatsApp number"),
        )
        .await?;
        return Ok(Prepared::Ended("failed.not_connected".to_owned()));
    };
    let token =
        open_tenant_secret(&deps.vault, tenant, Purpose::WhatsAppAccessToken, &connection.access_token)
            .await
            .map_err(|e| RecordError::retryable("opening the token", &e))?;
    Ok(Prepared::Ready(Ready { to_someone, phone_number_id: connection.phone_number_id, token, body }))
}

/// Ends a message unsent (blocked or failed) with why.
async fn end<A: Adapters>(
    deps: &Deps<A>,
    job: &SendJob,
    how: Unsent,
    error: MetaError,
) -> Result<(), RecordError> {
    deps.outbox
        .mark_unsent(&job.tenant_id, &job.message_id, how, &error, deps.clock.now())
        .await
        .map_err(|e| RecordError::retryable("recording", &e))
}

/// A claimed message that did not end: the error for SQS, and whether the claim may be freed
/// (not when Meta may have the message).
struct Undelivered {
    error: RecordError,
    release: bool,
}

impl Undelivered {
    fn freeing(error: RecordError) -> Self {
        Self { error, release: true }
    }
}

/// Everything after the claim: `Ok` with how it ended (the quality metric: `sent`,
/// `failed.<code>`), or what to leave to SQS.
async fn deliver<A: Adapters>(
    job: &SendJob,
    message: &MessageView,
    ready: Ready,
    deadline: Timestamp,
    deps: &Deps<A>,
) -> Result<String, Undelivered> {
    let tenant = &job.tenant_id;
    let mut last_error = String::new();
    for attempt in 0..ATTEMPTS {
        let started = std::time::Instant::now();
        let sent = deps.cloud.send_message(&ready.phone_number_id, &ready.token, &ready.body).await;
        emit_send_metrics(&sent, started.elapsed());
        match sent {
            Ok(wamid) => {
                let wamid = wamid.and_then(|w| Wamid::parse(w).ok());
                return record_sent(deps, tenant, &job.message_id, wamid.as_ref(), deadline).await;
            }
            // A read receipt goes to nobody: marking read twice is harmless, so it is retried.
            Err(CloudApiError::OutcomeUnknown(error)) if ready.to_someone => {
                // Meta may have the message: sending again could deliver it twice.
                tracing::warn!(error = format!("{error:#}"), kind = %message.kind, "The send's outcome is unknown");
                return record_unknown(deps, tenant, &job.message_id)
                    .await
                    .map_err(|error| Undelivered { error, release: false });
            }
            Err(CloudApiError::Meta { error, http_status })
                if classify(error.code) == ErrorClass::Permanent =>
            {
                tracing::info!(code = error.code, http_status, kind = %message.kind, "Meta refused the message for good");
                let metric = format!("failed.{}", error.code);
                end(deps, job, Unsent::Failed, error).await.map_err(Undelivered::freeing)?;
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
    Err(Undelivered::freeing(RecordError::Retryable(format!("Graph kept failing: {last_error}"))))
}

/// `SendLatency` of every Graph call; `MessagesSent`, or `MessagesFailed` by Meta's error code
/// (`MetaCode`; `none` when Meta gave no answer), permanent or retried.
fn emit_send_metrics<T>(outcome: &Result<T, CloudApiError>, took: Duration) {
    use shared::metrics::{emit, Metric};
    let millis = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    emit(&[("Function", "send")], &[Metric::millis("SendLatency", [millis])]);
    match outcome {
        Ok(_) => emit(&[("Function", "send")], &[Metric::count("MessagesSent", 1)]),
        Err(error) => {
            let code = match error {
                CloudApiError::Meta { error, .. } => error.code.to_string(),
                _ => "none".to_owned(),
            };
            emit(&[("Function", "send"), ("MetaCode", &code)], &[Metric::count("MessagesFailed", 1)]);
        }
    }
}

/// Records what Meta accepted, trying a few times: failing that, the claim is kept (not freed);
/// a redelivery finds it lapsed and records the message `unknown`, which its status webhook
/// settles.
async fn record_sent<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    id: &MessageId,
    wamid: Option<&Wamid>,
    deadline: Timestamp,
) -> Result<String, Undelivered> {
    let mut wait = Duration::from_millis(100);
    loop {
        match deps.outbox.mark_sent(tenant, id, wamid, deps.clock.now()).await {
            Ok(()) => return Ok(SENT.to_owned()),
            Err(error) => {
                let room = deadline.as_millis() - deps.clock.now().as_millis();
                if i64::try_from(wait.as_millis()).unwrap_or(i64::MAX) >= room
                    || wait > Duration::from_secs(3)
                {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "Meta accepted the message but it could not be recorded"
                    );
                    return Err(Undelivered {
                        error: RecordError::retryable("recording the wamid", &error),
                        release: false,
                    });
                }
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
}

/// Waits for the recipient's pair limit and room in this instance's throughput share, within
/// the deadline.
async fn pace<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    id: &MessageId,
    phone_number_id: &str,
    deadline: Timestamp,
) -> Result<(), RecordError> {
    let too_late = |ms: u64, now: Timestamp| {
        i64::try_from(ms).unwrap_or(i64::MAX) >= deadline.as_millis() - now.as_millis()
    };
    if deps.config.pair_interval_ms > 0 {
        let previous = deps
            .outbox
            .previous_send(tenant, id)
            .await
            .map_err(|e| RecordError::retryable("reading the previous send", &e))?;
        let now = deps.clock.now();
        let wait = pair_wait(previous, deps.config.pair_interval_ms, now);
        if too_late(wait, now) {
            return Err(RecordError::Retryable("the pair limit's wait runs past the deadline".to_owned()));
        }
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }
    // Bounded: a clock that does not move cannot spin.
    for _ in 0..64 {
        let now = deps.clock.now();
        match deps.pacer.acquire(phone_number_id, now) {
            Pace::Go => return Ok(()),
            Pace::Wait(ms) if !too_late(ms, now) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Pace::Wait(_) => break,
        }
    }
    Err(RecordError::Retryable("no send slot before the deadline".to_owned()))
}

/// Exponential backoff with jitter: about 1, 2, 4 s (Meta asks for 4^x on the pair limit; the
/// pacer already spaces sends to one person, so this only covers what slipped through).
fn backoff(attempt: u32) -> Duration {
    // Jitter is no secret: without randomness the wait is the middle of its range, and the
    // retry itself must not fail for it.
    let [byte] = shared::kernel::random::bytes::<1>().unwrap_or([128]);
    let base = 1000u64 << attempt.min(5);
    Duration::from_millis(base / 2 + (base / 2) * u64::from(byte) / 255)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fleet_tests;
