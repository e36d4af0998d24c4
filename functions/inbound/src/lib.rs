//! The `inbound` function: the ingest pipeline, fed by `inbound.fifo` (one event per record, in
//! order per business number and person).
//!
//! For each event: find the tenant from the business number (or the Page, for leads); an event
//! for no connected tenant is dropped with a log line (retrying cannot help). Then:
//! - message: stored once (by wamid), contact upserted with its 24 h window, conversation opened
//!   or continued; an exact opt-out or opt-in keyword is recorded in the consent ledger;
//! - status: applied once per (message, status), only forward; failures keep their error;
//! - user preference (marketing stop/resume): recorded in the consent ledger;
//! - lead: fetched from the Graph API with the tenant's Page token (decrypted via KMS), stored
//!   once, linked to its contact; a form's consent is recorded. A Graph failure is retried
//!   through SQS;
//! - messaging errors and account updates: logged (templates and quality are later issues').
//!
//! Malformed events fail alone and reach the dead-letter queue after the redrive count.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;
use shared::adapters::documents::{
    DocAuditLog, DocDirectory, DocEventLog, DocFlows, DocQueues, DocRateLimiter, DocTemplates,
};
use shared::adapters::graph::GraphClient;
use shared::app::center::{self, CenterPorts};
use shared::app::outbound::OutboundPorts;
use shared::app::secrets::{open_tenant_secret, OpenSecretError};
use shared::app::trail::{self, Job, SystemAction};
use shared::config::{ConfigError, Env};
use shared::domain::audit::Target;
use shared::domain::events::{Envelope, Event};
use shared::domain::inbox::{
    ConsentChange, ConsentKind, ConsentSource, ContactProfile, ContactStore, ConversationStore as _,
    InboxError, IngestStore, MessageStatus, NewInboundMessage, NewLead, StatusChange, StatusOutcome, Stored,
};
use shared::domain::ports::{
    ConnectionStore, FetchLeadError, LeadSource, Purpose, TenantRouting, TenantStore,
};
use shared::domain::tenant::{RetentionSettings, TenantSettings, TenantStatus};
use shared::domain::whatsapp::{
    ContactEntry, GraphLead, InboundMessage, LeadgenChange, MetaError, StatusUpdate, UserPreference,
};
use shared::domain::{Clock, PhoneNumber, TenantId, Timestamp, Wamid};
use shared::lambda::batch::{run_batch, BatchError, RecordError, RecordMeta};
use shared::wiring::{Adapters, Aws, StoreConfig};
use tracing::Instrument as _;

mod flows;

/// Keywords that opt a person out when a message is exactly one of them (case-insensitive),
/// whatever the tenant's settings say: a tenant can add opt-out keywords, never remove these.
pub const OPT_OUT_KEYWORDS: &[&str] = &["STOP", "UNSUBSCRIBE"];

/// The function's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The table, the key table and the KMS key.
    pub store: StoreConfig,
    /// The Graph API base URL (`GRAPH_API_BASE_URL`, HTTPS).
    pub graph_api_base_url: String,
    /// The Graph API version (`GRAPH_API_VERSION`, default `v23.0`).
    pub graph_api_version: String,
    /// Replies go here (`OUTBOUND_QUEUE_URL`; used by chatbot flows).
    pub outbound_queue_url: String,
    /// AI work goes here (`SUGGEST_QUEUE_URL`; used by AI suggestions).
    pub suggest_queue_url: String,
    /// The `live` queue (`LIVE_QUEUE_URL`): notices to the console's WebSocket connections.
    pub live_queue_url: String,
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
            store: StoreConfig::from_env(env)?,
            graph_api_base_url: env.https_url("GRAPH_API_BASE_URL")?,
            graph_api_version: env.optional("GRAPH_API_VERSION").unwrap_or_else(|| "v23.0".to_owned()),
            outbound_queue_url: env.required("OUTBOUND_QUEUE_URL")?,
            suggest_queue_url: env.required("SUGGEST_QUEUE_URL")?,
            live_queue_url: env.required("LIVE_QUEUE_URL")?,
            concurrency: env.parsed_or("BATCH_CONCURRENCY", 4)?,
        })
    }
}

/// What the handler needs, built once per process (`main.rs` wires [`Aws`]).
#[derive(Debug)]
pub struct Deps<A: Adapters> {
    /// Configuration.
    pub config: Config,
    /// Messages, statuses and leads as they arrive.
    pub ingest: A::Ingest,
    /// Contacts and their consent ledger.
    pub contacts: A::Contacts,
    /// Tenants and their connections (routing).
    pub tenants: A::Tenants,
    /// The WhatsApp number, Lead Ads Page and AI provider connections.
    pub connections: A::Connections,
    /// Which tenant a number or Page belongs to.
    pub routing: A::Routing,
    /// Envelope encryption (Page tokens).
    pub vault: A::Vault,
    /// The Graph API (Lead Ads).
    pub graph: A::LeadAds,
    /// The time source.
    pub clock: A::Clock,
    /// An agent's conversations (a reply's scope check).
    pub conversations: A::Conversations,
    /// Replies as stored, from queued to Meta's answer.
    pub outbox: A::Outbound,
    /// `outbound.fifo`: replies submitted through [`shared::app::outbound::submit`].
    pub outbound: A::Queue,
    /// Message templates as synced (the pre-flight of template replies).
    pub templates: A::Templates,
    /// Monthly message counts (the plan's limit applies to replies too).
    pub limiter: A::Limiter,
    /// The audit trail: consent changes the person made, under the `system` actor `inbound` (P18).
    pub audit: A::Audit,
    /// Agents' presence and loads (a reopened conversation goes back to its agent).
    pub agents: A::Agents,
    /// Queues (a reopened conversation waits in its queue).
    pub queues: A::Queues,
    /// Users (a queue's members).
    pub directory: A::Directory,
    /// The contact center's event log.
    pub events: A::Events,
    /// Chatbot flows and conversations' flow sessions (P40).
    pub flows: A::Flows,
    /// Live notices to the console (the `live` queue).
    pub live: A::Live,
    /// The contact center's timers: a flow's wait arms its timeout (P40).
    pub timers: A::Timers,
    /// Leads: a flow stores answers in the contact's lead, as the API's `/v1/leads` (P40).
    pub leads: A::Leads,
}

impl Deps<Aws> {
    /// The production adapters, made from the process's clients.
    ///
    /// # Errors
    /// When the Graph HTTP client cannot be built.
    pub fn on(aws: &Aws, config: Config) -> anyhow::Result<Self> {
        let stores = aws.stores(&config.store);
        let inbox = stores.inbox();
        let inbox_for_agents = inbox.clone();
        let table = stores.table();
        Ok(Self {
            ingest: inbox.clone(),
            contacts: inbox.clone(),
            conversations: inbox.clone(),
            outbox: inbox.clone(),
            outbound: aws.queue(&config.outbound_queue_url),
            templates: DocTemplates::new(table.clone()),
            limiter: DocRateLimiter::new(table.clone()),
            audit: DocAuditLog::new(table.clone()),
            timers: inbox_for_agents.clone(),
            leads: inbox_for_agents.clone(),
            agents: inbox_for_agents,
            queues: DocQueues::new(table.clone()),
            directory: DocDirectory::new(table.clone()),
            flows: DocFlows::new(table.clone()),
            live: aws.live(&config.live_queue_url, stores.table()),
            events: DocEventLog::new(table),
            tenants: stores.tenants(),
            connections: stores.tenants(),
            routing: stores.tenants(),
            vault: aws.vault(&config.store),
            graph: GraphClient::new(&config.graph_api_base_url, &config.graph_api_version)?,
            clock: aws.clock(),
            config,
        })
    }
}

impl<A: Adapters> Deps<A> {
    /// The ports of the contact center's engine (reopening, events).
    #[must_use]
    pub fn center_ports(&self) -> CenterPorts<'_, A> {
        CenterPorts {
            conversations: &self.conversations,
            agents: &self.agents,
            queues: &self.queues,
            directory: &self.directory,
            events: &self.events,
            live: &self.live,
            clock: &self.clock,
        }
    }

    /// The ports [`shared::app::outbound::submit`] uses: a reply is checked, stored and queued
    /// exactly as a message sent through the API.
    #[must_use]
    pub fn outbound_ports(&self) -> OutboundPorts<'_, A> {
        OutboundPorts {
            contacts: &self.contacts,
            conversations: &self.conversations,
            outbox: &self.outbox,
            tenants: &self.tenants,
            connections: &self.connections,
            templates: &self.templates,
            limiter: &self.limiter,
            queue: &self.outbound,
            clock: &self.clock,
        }
    }
}

/// Handles one batch.
///
/// # Errors
/// [`BatchError`] when a failed record cannot be reported.
pub async fn handle<A: Adapters>(
    event: LambdaEvent<SqsEvent>,
    deps: &Deps<A>,
) -> Result<SqsBatchResponse, BatchError> {
    let records: Vec<(String, Option<i64>, &'static str)> = event
        .payload
        .records
        .iter()
        .map(|r| {
            let sent = r.attributes.get("SentTimestamp").and_then(|t| t.parse::<i64>().ok());
            let kind = shared::metrics::event_kind(r.body.as_deref().unwrap_or_default());
            (r.message_id.clone().unwrap_or_default(), sent, kind)
        })
        .collect();
    let response =
        run_batch(event.payload, deps.config.concurrency, |meta: RecordMeta, envelope: Envelope| {
            process(meta, envelope, deps)
        })
        .await?;
    emit_metrics(&records, &response, deps.clock.now().as_millis());
    Ok(response)
}

/// `EventsReceived` by kind and `QueueToStoreLatency` (enqueued by the webhook to processed
/// here) of the records this batch processed.
fn emit_metrics(records: &[(String, Option<i64>, &'static str)], response: &SqsBatchResponse, now: i64) {
    let failed: std::collections::HashSet<&str> =
        response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    let done: Vec<&(String, Option<i64>, &'static str)> =
        records.iter().filter(|(id, _, _)| !failed.contains(id.as_str())).collect();
    let mut kinds: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for (_, _, kind) in &done {
        *kinds.entry(kind).or_default() += 1;
    }
    for (kind, count) in kinds {
        shared::metrics::emit(
            &[("Function", "inbound"), ("Kind", kind)],
            &[shared::metrics::Metric::count("EventsReceived", count)],
        );
    }
    let latencies =
        done.iter().filter_map(|(_, sent, _)| sent.map(|sent| u64::try_from(now - sent).unwrap_or(0)));
    shared::metrics::emit(
        &[("Function", "inbound")],
        &[shared::metrics::Metric::millis("QueueToStoreLatency", latencies)],
    );
}

fn inbox_failure(error: InboxError) -> RecordError {
    match error {
        InboxError::NoContact => RecordError::Poison("the event identifies no contact".to_owned()),
        // Keywords and Meta's preferences are the person's own: never refused as a business's.
        InboxError::OptedOutByPerson => {
            RecordError::Poison("the person's own consent change was refused".to_owned())
        }
        InboxError::InvalidCursor | InboxError::EmailTaken | InboxError::OverCap { .. } => {
            RecordError::Poison("an API-only inbox error reached the ingest path".to_owned())
        }
        InboxError::Unknown(e) => RecordError::Retryable(format!("inbox store: {e:#}")),
    }
}

fn parse<T: serde::de::DeserializeOwned>(raw: &RawValue, what: &str) -> Result<T, RecordError> {
    serde_json::from_str(raw.get()).map_err(|e| RecordError::poison(what, shared::telemetry::json_error(&e)))
}

async fn process<A: Adapters>(
    meta: RecordMeta,
    envelope: Envelope,
    deps: &Deps<A>,
) -> Result<(), RecordError> {
    match envelope.event {
        Event::Message { waba_id, phone_number_id, contact, message } => {
            let Some(tenant) = tenant_of_number(deps, &waba_id, &phone_number_id).await? else {
                return Ok(());
            };
            let contact = contact
                .and_then(|raw| serde_json::from_str::<ContactEntry>(raw.get()).ok())
                .unwrap_or_default();
            on_message(deps, &tenant, &contact, (&message, meta.group_id.as_deref()))
                .instrument(tracing::info_span!("message", tenant_id = %tenant))
                .await
        }
        Event::Status { waba_id, phone_number_id, status } => {
            let Some(tenant) = tenant_of_number(deps, &waba_id, &phone_number_id).await? else {
                return Ok(());
            };
            on_status(deps, &tenant, &status)
                .instrument(tracing::info_span!("status", tenant_id = %tenant))
                .await
        }
        Event::UserPreference { waba_id, phone_number_id, preference } => {
            let Some(tenant) = tenant_of_number(deps, &waba_id, &phone_number_id).await? else {
                return Ok(());
            };
            on_preference(deps, &tenant, &preference)
                .instrument(tracing::info_span!("preference", tenant_id = %tenant))
                .await
        }
        Event::MessagingError { error, .. } => {
            let error: Option<MetaError> = serde_json::from_str(error.get()).ok();
            tracing::warn!(
                code = error.as_ref().map(|e| e.code),
                title = error.as_ref().and_then(|e| e.title.as_deref()),
                "Meta reported a messaging error"
            );
            Ok(())
        }
        Event::AccountUpdate { field, .. } => {
            tracing::info!(%field, "Account update received");
            Ok(())
        }
        Event::FlowTimeout(timeout) => {
            let tenant = TenantId::parse(timeout.tenant_id.clone())
                .map_err(|e| RecordError::poison("flow timeout tenant", e))?;
            let Some(tenant) = collecting(deps, tenant).await? else { return Ok(()) };
            flows::on_timeout(deps, &tenant, &timeout)
                .instrument(tracing::info_span!("flow_timeout", tenant_id = %tenant))
                .await
        }
        Event::Lead { page_id, leadgen } => {
            let tenant = deps
                .routing
                .tenant_for_page_id(&page_id)
                .await
                .map_err(|e| RecordError::retryable("page routing", e))?;
            let Some(tenant) = tenant else {
                tracing::warn!("Lead for a Page no tenant has connected; dropped");
                return Ok(());
            };
            let Some(tenant) = collecting(deps, tenant).await? else { return Ok(()) };
            on_lead(deps, &tenant, &leadgen)
                .instrument(tracing::info_span!("lead", tenant_id = %tenant))
                .await
        }
    }
}

/// The tenant an event of business number `phone_number_id` belongs to: only when the event
/// comes from the WhatsApp Business Account (`entry[].id`) the number was connected under, so
/// that no one can have another WABA's events attributed to a number they connected.
async fn tenant_of_number<A: Adapters>(
    deps: &Deps<A>,
    waba_id: &str,
    phone_number_id: &str,
) -> Result<Option<TenantId>, RecordError> {
    let route = deps
        .routing
        .number_route(phone_number_id)
        .await
        .map_err(|e| RecordError::retryable("number routing", e))?;
    match route {
        Some(route) if route.waba_id == waba_id => collecting(deps, route.tenant_id).await,
        Some(route) => {
            // Logged without the ids' owner data: the tenant and that the WABA differed.
            tracing::warn!(tenant_id = %route.tenant_id, "Event from another WABA than the number's; dropped");
            Ok(None)
        }
        None => {
            // Disconnected (P54: collection stops at once) or never connected: nothing to attribute it to.
            tracing::warn!("Event for a business number no tenant has connected; dropped");
            Ok(None)
        }
    }
}

/// The tenant, if it still collects: a closed one (P53) collects nothing from the moment it
/// closed, like a disconnected one (Meta still got its 200 from the webhook); reopening resumes.
async fn collecting<A: Adapters>(deps: &Deps<A>, tenant: TenantId) -> Result<Option<TenantId>, RecordError> {
    let record =
        deps.tenants.tenant(&tenant).await.map_err(|e| RecordError::retryable("reading the tenant", e))?;
    if record.is_some_and(|t| t.status == TenantStatus::Closed) {
        tracing::warn!(tenant_id = %tenant, "Event for a closed tenant; dropped");
        return Ok(None);
    }
    Ok(Some(tenant))
}

/// The tenant's retention settings (defaults when it has none).
async fn retention_of<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
) -> Result<RetentionSettings, RecordError> {
    Ok(settings_of(deps, tenant).await?.0)
}

/// The tenant's retention settings and preferences (defaults when it has none).
async fn settings_of<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
) -> Result<(RetentionSettings, TenantSettings), RecordError> {
    // `collecting` read the record moments ago (and refreshed the cache): settings only.
    let tenant = deps
        .tenants
        .tenant_settings(tenant)
        .await
        .map_err(|e| RecordError::retryable("reading the tenant", e))?;
    Ok(tenant.map(|t| (t.retention, t.settings)).unwrap_or_default())
}

/// A WhatsApp user as Meta names them: a phone number (`wa_id`) and/or a BSUID.
fn whatsapp_user(wa_id: Option<&str>, user_id: Option<&String>) -> ContactProfile {
    ContactProfile { phone: phone(wa_id), user_id: user_id.cloned(), email: None, name: None }
}

fn phone(value: Option<&str>) -> Option<PhoneNumber> {
    value.and_then(|v| PhoneNumber::parse(v).ok())
}

async fn on_message<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    contact: &ContactEntry,
    (raw, group): (&RawValue, Option<&str>),
) -> Result<(), RecordError> {
    let message: InboundMessage = parse(raw, "message does not parse")?;
    let wamid = Wamid::parse(message.id.clone()).map_err(|e| RecordError::poison("message id", e))?;
    let profile = ContactProfile {
        name: contact.profile.as_ref().and_then(|p| p.name.clone()),
        ..whatsapp_user(
            message.from.as_deref().or(contact.wa_id.as_deref()),
            message.from_user_id.as_ref().or(contact.user_id.as_ref()),
        )
    };
    let sent_at = Timestamp::from_secs(message.timestamp);
    let (retention, settings) = settings_of(deps, tenant).await?;
    let new = NewInboundMessage {
        wamid: &wamid,
        from: &profile,
        sent_at,
        kind: &message.kind,
        raw: raw.get(),
        retention,
    };
    let stored =
        deps.ingest.store_inbound_message(tenant, &new, deps.clock.now()).await.map_err(inbox_failure)?;
    // DEBUG: counted by `EventsReceived` and `QueueToStoreLatency` (INFO is paid per byte).
    tracing::debug!(kind = %message.kind, ?stored, "Inbound message");
    let arrival = contact_center(deps, tenant, &profile, &wamid, sent_at, stored).await?;

    let keyword = matches!(message.kind.as_str(), "text" | "button" | "interactive")
        .then(|| message.text_body())
        .flatten()
        .map(|body| body.trim().to_uppercase());
    let kind = match keyword {
        Some(word)
            if OPT_OUT_KEYWORDS.contains(&word.as_str()) || settings.opt_out_keywords.contains(&word) =>
        {
            Some(ConsentKind::OptOut)
        }
        Some(word) if settings.opt_in_keywords.contains(&word) => Some(ConsentKind::OptIn),
        _ => None,
    };
    if let Some(kind) = kind {
        let change = ConsentChange {
            contact: &profile,
            kind,
            source: ConsentSource::Keyword,
            at: sent_at,
            cause: wamid.as_str(),
        };
        let recorded =
            deps.contacts.record_consent(tenant, &change, deps.clock.now()).await.map_err(inbox_failure)?;
        tracing::info!(?kind, ?recorded, "Consent keyword");
        audit_consent(deps, tenant, &profile, kind, "source=keyword", recorded).await?;
    }
    // After the keyword: a person who just opted out gets no bot reply to it.
    if let Some(arrival) = arrival {
        flows::run(deps, tenant, (&settings, &retention), &arrival, (&message, stored, group)).await?;
    }
    Ok(())
}

/// The contact center's side of a customer message: its events for analytics, and a resolved
/// conversation reopening (or a snoozed one waking) on a new message — not on a redelivery of
/// one already stored, which may be older than the resolution. The events are logged once by id.
async fn contact_center<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    profile: &ContactProfile,
    wamid: &Wamid,
    sent_at: Timestamp,
    stored: Stored,
) -> Result<Option<flows::Arrival>, RecordError> {
    let Some(key) = profile.keys().into_iter().next() else { return Ok(None) };
    let Some(contact) = deps.contacts.contact_id_of(tenant, &key).await.map_err(inbox_failure)? else {
        return Ok(None);
    };
    let Some(conversation_id) =
        deps.contacts.contact(tenant, &contact).await.map_err(inbox_failure)?.and_then(|c| c.conversation_id)
    else {
        return Ok(None);
    };
    let Some(conversation) =
        deps.conversations.conversation(tenant, &conversation_id).await.map_err(inbox_failure)?
    else {
        return Ok(None);
    };
    let was_resolved = conversation.state == shared::domain::inbox::ConversationState::Resolved;
    let ports = deps.center_ports();
    let conversation = if stored == Stored::Created {
        match center::customer_wrote(&ports, tenant, &conversation).await {
            Ok(now) => now,
            // Changed at the same moment, or a store failed: the redelivery sees the new state.
            Err(
                error @ (center::CenterOpError::VersionConflict { .. } | center::CenterOpError::Unknown(_)),
            ) => {
                return Err(RecordError::Retryable(format!("contact center: {error}")));
            }
            Err(other) => {
                tracing::info!(error = %other, "Contact center left the conversation as it was");
                conversation
            }
        }
    } else {
        conversation
    };
    // The message that started it (its time is the conversation's start), or any message while
    // nobody changed it yet. Not the version alone: a manager may route the conversation
    // between its creation and this step. "opened" is logged once per conversation by its id,
    // whatever the number of tries.
    let opened = conversation.started_at == sent_at.as_millis() || conversation.version == 0;
    // A failed event write fails the record: its redelivery writes it (the ids keep it once).
    center::customer_message(&ports, tenant, &conversation, wamid.as_str(), opened, sent_at)
        .await
        .map_err(|e| RecordError::retryable("contact center event", e))?;
    let reopened = was_resolved && stored == Stored::Created;
    Ok(Some(flows::Arrival { contact, conversation, new_conversation: opened, reopened }))
}

async fn on_status<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    raw: &RawValue,
) -> Result<(), RecordError> {
    let update: StatusUpdate = parse(raw, "status does not parse")?;
    let wamid = Wamid::parse(update.id.clone()).map_err(|e| RecordError::poison("status id", e))?;
    let Some(status) = MessageStatus::from_meta(&update.status) else {
        tracing::info!(status = %update.status, "Status of a kind this version does not track");
        return Ok(());
    };
    let recipient = whatsapp_user(update.recipient_id.as_deref(), update.recipient_user_id.as_ref());
    let change = StatusChange {
        wamid: &wamid,
        status,
        meta_status: &update.status,
        at: Timestamp::from_secs(update.timestamp),
        recipient: &recipient,
        error: update.errors.first(),
        callback: update.biz_opaque_callback_data.as_deref(),
        retention: retention_of(deps, tenant).await?,
    };
    let outcome = deps.ingest.apply_status(tenant, &change, deps.clock.now()).await.map_err(inbox_failure)?;
    // A failure is worth a line at INFO; the three statuses of every delivered message are not
    // (INFO is paid per byte: 3 M statuses a month).
    match update.errors.first() {
        Some(error) => tracing::info!(status = %update.status, ?outcome, error_code = error.code, "Status"),
        None => tracing::debug!(status = %update.status, ?outcome, "Status"),
    }
    // The console's ticks: a status that moved one of Leadline's own sends (named by the
    // callback data it carries) is a live notice; others reach the page by its polling.
    if outcome == StatusOutcome::Applied {
        if let Some(message) = change.callback.and_then(shared::domain::outbound::message_of_callback) {
            let ports = (&deps.outbox, &deps.conversations, &deps.live);
            shared::app::live::notify_status(ports, tenant, &message, change.at).await;
        }
    }
    Ok(())
}

async fn on_preference<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    raw: &RawValue,
) -> Result<(), RecordError> {
    let preference: UserPreference = parse(raw, "user preference does not parse")?;
    let kind = match preference.value.as_str() {
        "stop" => ConsentKind::OptOut,
        "resume" => ConsentKind::OptIn,
        other => {
            tracing::info!(value = %other, "User preference of a kind this version does not track");
            return Ok(());
        }
    };
    let profile = whatsapp_user(preference.wa_id.as_deref(), preference.user_id.as_ref());
    let cause = format!(
        "preference:{}:{}:{}",
        preference.category.as_deref().unwrap_or_default(),
        preference.value,
        preference.timestamp
    );
    let at = Timestamp::from_secs(preference.timestamp);
    let change = ConsentChange {
        contact: &profile,
        kind,
        source: ConsentSource::MetaUserPreferences,
        at,
        cause: &cause,
    };
    let recorded =
        deps.contacts.record_consent(tenant, &change, deps.clock.now()).await.map_err(inbox_failure)?;
    tracing::info!(?kind, ?recorded, "Marketing preference");
    audit_consent(deps, tenant, &profile, kind, "source=meta_user_preferences", recorded).await
}

/// The audit entry of a consent change the person made (P18): once, when it was recorded.
async fn audit_consent<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    profile: &ContactProfile,
    kind: ConsentKind,
    source: &str,
    recorded: Stored,
) -> Result<(), RecordError> {
    let Some(key) = profile.keys().into_iter().next().filter(|_| recorded == Stored::Created) else {
        return Ok(());
    };
    let contact = deps.contacts.contact_id_of(tenant, &key).await.map_err(inbox_failure)?;
    let Some(contact) = contact else { return Ok(()) };
    let what = SystemAction {
        action: &format!("contact.consent.{}", kind.as_str()),
        target: Target { kind: "contact".to_owned(), id: contact.as_str().to_owned() },
        count: None,
        fields: &[source],
    };
    trail::record(&deps.audit, tenant, Job::Inbound, what, deps.clock.now()).await;
    Ok(())
}

/// The person a lead's answers name.
fn lead_profile(lead: &GraphLead) -> ContactProfile {
    let name = lead.field("full_name").map(str::to_owned).or_else(|| {
        let parts: Vec<&str> = ["first_name", "last_name"].iter().filter_map(|f| lead.field(f)).collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    ContactProfile {
        phone: phone(lead.field("phone_number").or_else(|| lead.field("phone"))),
        user_id: None,
        email: lead.field("email").map(|e| e.trim().to_lowercase()).filter(|e| e.contains('@')),
        name,
    }
}

async fn on_lead<A: Adapters>(deps: &Deps<A>, tenant: &TenantId, raw: &RawValue) -> Result<(), RecordError> {
    let change: LeadgenChange = parse(raw, "leadgen change does not parse")?;
    if deps.ingest.lead_exists(tenant, &change.leadgen_id).await.map_err(inbox_failure)? {
        tracing::info!("Lead already stored");
        return Ok(());
    }
    let connection = deps
        .connections
        .page_connection(tenant)
        .await
        .map_err(|e| RecordError::retryable("page connection", e))?;
    let Some(connection) = connection else {
        tracing::warn!("Lead for a Page whose connection is gone; dropped");
        return Ok(());
    };
    let token =
        open_tenant_secret(&deps.vault, tenant, Purpose::PageAccessToken, &connection.page_access_token)
            .await
            .map_err(|e| match e {
                OpenSecretError::Refused => {
                    RecordError::Poison("the Page token does not open for this tenant".to_owned())
                }
                OpenSecretError::Unknown(e) => RecordError::retryable("opening the Page token", e),
            })?;
    let fetched = deps.graph.fetch_lead(&change.leadgen_id, &token).await.map_err(|e| match e {
        // Graph's answer may change (a token renewed, a lead propagated): retry through SQS.
        FetchLeadError::Refused { status, code } => {
            RecordError::Retryable(format!("Graph refused the lead: HTTP {status}, code {code}"))
        }
        other => RecordError::retryable("fetching the lead", other),
    })?;
    let profile = lead_profile(&fetched.lead);
    let change_json = raw.get();
    let page_id = change.page_id.as_deref().unwrap_or(&connection.page_id);
    let new = NewLead {
        leadgen_id: &change.leadgen_id,
        page_id,
        contact: &profile,
        lead_json: &fetched.raw,
        change_json,
    };
    let now = deps.clock.now();
    let stored = deps.ingest.store_lead(tenant, &new, now).await.map_err(inbox_failure)?;
    tracing::info!(?stored, fields = fetched.lead.field_data.len(), "Lead");
    if fetched.lead.carries_consent() {
        let change = ConsentChange {
            contact: &profile,
            kind: ConsentKind::OptIn,
            source: ConsentSource::LeadForm,
            at: now,
            cause: &change.leadgen_id,
        };
        match deps.contacts.record_consent(tenant, &change, now).await {
            // A form's consent never lifts the person's own opt-out (the ledger keeps the attempt).
            Ok(_) | Err(InboxError::OptedOutByPerson) => {}
            Err(e) => return Err(inbox_failure(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod flow_timeout_tests;
#[cfg(test)]
mod tests;
