//! The `suggest` function: AI reply suggestions, summaries and sentiment, fed by the `suggest`
//! queue (P30, P31).
//!
//! Each record names a pending suggestion request. Right before any provider call the gate is
//! checked again — the tenant may have turned AI off, disconnected the provider, or the contact
//! objected since the request was made — and only the conversation's text, redacted
//! ([`shared::domain::ai::redact`]), reaches the provider. A request ends `ready`, `refused`
//! (the gate said no) or `failed` (the provider refused); an unavailable provider leaves the
//! record to SQS to retry. Redelivered records change nothing once a request has ended.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::adapters::ai::OpenAiCompatible;
use shared::adapters::documents::DocDirectory;
use shared::app::secrets::open_tenant_secret;
use shared::config::{ConfigError, Env};
use shared::domain::ai::{
    ai_gate, parse_answer, turns, AiProvider, AiProviderError, AiProviders, AiRefusal, ProviderCall,
    SuggestionJob, SuggestionOutcome, SuggestionStatus, SuggestionStore, SuggestionView, CONTEXT_MESSAGES,
};
use shared::domain::identity::{Directory, UserStatus};
use shared::domain::inbox::{ContactStore, ConversationStore};
use shared::domain::ports::{ConnectionStore, Purpose, TenantStore};
use shared::domain::tenant::TenantStatus;
use shared::domain::{Clock, TenantId};
use shared::lambda::batch::{run_batch, BatchError, RecordError, RecordMeta};
use shared::wiring::{Adapters, Aws, StoreConfig};

/// The function's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The table, the key table (conversations are sealed, P64) and the KMS key (tenants'
    /// provider keys, contacts' data keys).
    pub store: StoreConfig,
    /// The providers tenants may choose (`AI_PROVIDERS`, `name=https://…/v1,…`).
    pub providers: AiProviders,
    /// How many records run at once (`BATCH_CONCURRENCY`, default 5: the whole batch of
    /// `template.yaml`, so a batch waits about one provider call, never its sum).
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
            providers: env.ai_providers("AI_PROVIDERS")?,
            concurrency: env.parsed_or("BATCH_CONCURRENCY", 5)?,
        })
    }
}

/// What the handler needs, built once per process (`main.rs` wires [`Aws`], tests the fakes).
#[derive(Debug)]
pub struct Deps<A: Adapters> {
    /// Configuration.
    pub config: Config,
    /// Suggestion requests and their results.
    pub suggestions: A::Suggestions,
    /// Conversations and their messages (the context sent, redacted).
    pub conversations: A::Conversations,
    /// Contacts (consent to AI, names to redact).
    pub contacts: A::Contacts,
    /// Tenants, their settings and AI connection.
    pub tenants: A::Tenants,
    /// The WhatsApp number, Lead Ads Page and AI provider connections.
    pub connections: A::Connections,
    /// The tenant's team (their names are redacted too).
    pub directory: A::Directory,
    /// Envelope encryption (the tenant's provider key).
    pub vault: A::Vault,
    /// The AI provider.
    pub provider: A::Ai,
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
            suggestions: inbox.clone(),
            conversations: inbox.clone(),
            contacts: inbox,
            tenants: stores.tenants(),
            connections: stores.tenants(),
            directory: DocDirectory::new(stores.table()),
            vault: aws.vault(&config.store),
            provider: OpenAiCompatible::new()?,
            clock: aws.clock(),
            config,
        })
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
    run_batch(event.payload, deps.config.concurrency, |meta: RecordMeta, job: SuggestionJob| async move {
        let span =
            tracing::info_span!("suggest", tenant_id = %job.tenant_id, suggestion_id = %job.suggestion_id);
        tracing::Instrument::instrument(suggest_one(&job, meta.receive_count, deps), span).await
    })
    .await
}

/// The delivery at which an unavailable provider ends the request `failed` instead of leaving it
/// to SQS again: below the queues' `maxReceiveCount` (5), so the agent gets an answer rather than
/// a request pending until it expires.
pub const PROVIDER_ATTEMPTS: u32 = 4;

/// Works on one suggestion request, on its `attempt`-th delivery.
///
/// # Errors
/// [`RecordError::Retryable`] when a store or KMS is unavailable, or the provider is on an
/// attempt before [`PROVIDER_ATTEMPTS`].
pub async fn suggest_one<A: Adapters>(
    job: &SuggestionJob,
    attempt: u32,
    deps: &Deps<A>,
) -> Result<(), RecordError> {
    let tenant = &job.tenant_id;
    let Some(suggestion) = deps
        .suggestions
        .suggestion(tenant, &job.conversation_id, &job.suggestion_id)
        .await
        .map_err(|e| RecordError::retryable("reading the request", &e))?
    else {
        // Deleted with its conversation or contact, or expired: nothing is left to do.
        tracing::info!("The suggestion request no longer exists");
        return Ok(());
    };
    if suggestion.status != SuggestionStatus::Pending {
        return Ok(());
    }
    let outcome = outcome(tenant, &suggestion, attempt, deps).await?;
    let status = match &outcome {
        SuggestionOutcome::Ready(_) => "ready",
        SuggestionOutcome::Refused(_) => "refused",
        SuggestionOutcome::Failed(_) => "failed",
    };
    deps.suggestions
        .finish_suggestion(tenant, &suggestion, &outcome, deps.clock.now())
        .await
        .map_err(|e| RecordError::retryable("recording the outcome", &e))?;
    tracing::info!(status, "Suggestion request finished");
    Ok(())
}

/// Checks the gate, then asks the provider.
async fn outcome<A: Adapters>(
    tenant_id: &TenantId,
    suggestion: &SuggestionView,
    attempt: u32,
    deps: &Deps<A>,
) -> Result<SuggestionOutcome, RecordError> {
    let tenant =
        deps.tenants.tenant(tenant_id).await.map_err(|e| RecordError::retryable("reading the tenant", &e))?;
    let Some(tenant) = tenant.filter(|t| t.status == TenantStatus::Active) else {
        return Ok(SuggestionOutcome::Refused(AiRefusal::Disabled));
    };
    let connection = deps
        .connections
        .ai_connection(tenant_id)
        .await
        .map_err(|e| RecordError::retryable("reading the AI connection", &e))?;
    let contact = deps
        .contacts
        .contact(tenant_id, &suggestion.contact_id)
        .await
        .map_err(|e| RecordError::retryable("reading the contact", &e))?;
    let Some(contact) = contact else {
        return Ok(SuggestionOutcome::Failed("the contact no longer exists".to_owned()));
    };
    let connection = match ai_gate(&tenant.settings, connection.as_ref(), contact.restricted_at) {
        Ok(connection) => connection,
        Err(refusal) => return Ok(SuggestionOutcome::Refused(refusal)),
    };
    let Some(base_url) = deps.config.providers.base_url(&connection.provider) else {
        return Ok(SuggestionOutcome::Failed(format!(
            "the AI provider {:?} is no longer offered by this deployment",
            connection.provider
        )));
    };
    let messages = deps
        .conversations
        .latest_messages(tenant_id, &suggestion.conversation_id, CONTEXT_MESSAGES)
        .await
        .map_err(|e| RecordError::retryable("reading the conversation", &e))?;
    let team = team_names(tenant_id, deps).await?;
    let names: Vec<&str> = contact.name.iter().chain(&team).map(String::as_str).collect();
    let turns = turns(&messages, &names);
    if turns.is_empty() {
        return Ok(SuggestionOutcome::Failed("the conversation has no text to work from".to_owned()));
    }
    let api_key = open_tenant_secret(&deps.vault, tenant_id, Purpose::IntegrationSecret, &connection.api_key)
        .await
        .map_err(|e| RecordError::retryable("opening the provider key", &e))?;
    let call = ProviderCall { base_url, model: &connection.model, api_key: &api_key };
    let kind = suggestion.kind;
    let answer = deps.provider.complete(&call, &kind.instructions(), &turns).await;
    // `AiRequests` by outcome (`ok`, `unavailable`, `refused`): the provider's name is the
    // deployment's own (a bounded list), the tenant is not a dimension.
    let outcome = match &answer {
        Ok(_) => "ok",
        Err(AiProviderError::Unavailable(_)) => "unavailable",
        Err(_) => "refused",
    };
    shared::metrics::emit(
        &[("Function", "suggest"), ("Provider", &connection.provider), ("Outcome", outcome)],
        &[shared::metrics::Metric::count("AiRequests", 1)],
    );
    match answer {
        Ok(content) => Ok(parse_answer(kind, &content).map_or_else(
            || SuggestionOutcome::Failed(format!("the AI provider's answer held no {}", kind.as_str())),
            SuggestionOutcome::Ready,
        )),
        Err(AiProviderError::Unavailable(e)) if attempt < PROVIDER_ATTEMPTS => {
            Err(RecordError::retryable("the AI provider is unavailable", &e))
        }
        Err(AiProviderError::Unavailable(_)) => Ok(SuggestionOutcome::Failed(format!(
            "the AI provider stayed unavailable through {PROVIDER_ATTEMPTS} attempts; ask again later"
        ))),
        Err(e @ (AiProviderError::Refused { .. } | AiProviderError::Unknown(_))) => {
            tracing::warn!(error = %e, "The AI provider did not suggest anything");
            Ok(SuggestionOutcome::Failed(e.to_string()))
        }
    }
}

/// How many of the tenant's users are read for their names (plans allow 25 by default).
const TEAM_NAMES_LIMIT: usize = 1_000;

/// The names of the tenant's team: agents sign their messages, and their names are identifiers
/// too. Deleted users are left out (their names are removed, P55).
async fn team_names<A: Adapters>(tenant: &TenantId, deps: &Deps<A>) -> Result<Vec<String>, RecordError> {
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..TEAM_NAMES_LIMIT / 100 {
        let page = deps
            .directory
            .users(tenant, after.as_deref(), 100)
            .await
            .map_err(|e| RecordError::retryable("reading the team", &e))?;
        names.extend(page.items.into_iter().filter(|u| u.status != UserStatus::Deleted).map(|u| u.name));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests;
