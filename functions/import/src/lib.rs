//! The `import` function: writes CSV imports (P02), one staged chunk per `import.fifo` message.
//!
//! The API validated every row before it staged anything, so a chunk holds only valid rows;
//! what can still refuse a row here is the state of the tenant's data (a person who opted out
//! themselves, the plan's contact limit), and such rows are counted and reported by line. Each
//! row goes through the API's own upsert path ([`shared::app::import::write_row`]), which maps
//! the same person to the same contact: writing a chunk twice changes no contact, and the job
//! counts each chunk once ([`ImportStore::finish_chunk`]). Messages of one job share a FIFO
//! group, so its chunks are written in order, one at a time.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::adapters::documents::DocImports;
use shared::app::import::{open_rows, write_row, OpenRowsError, RowFailure, RowOutcome};
use shared::config::{ConfigError, Env};
use shared::domain::import::{ChunkCounts, ChunkFinish, ChunkMessage, ImportStore, RowError, MAX_JOB_ERRORS};
use shared::domain::ports::TenantStore;
use shared::domain::tenant::TenantStatus;
use shared::domain::Clock;
use shared::lambda::batch::{run_batch, BatchError, RecordError, RecordMeta};
use shared::wiring::{Adapters, Aws, StoreConfig};

/// The function's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The table, the key table (contacts are sealed under their own keys, P64) and the KMS key
    /// (staged rows are sealed under the tenant's import context).
    pub store: StoreConfig,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or invalid variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self { store: StoreConfig::from_env(env)? })
    }
}

/// What the handler needs, built once per process (`main.rs` wires [`Aws`], tests the fakes).
#[derive(Debug)]
pub struct Deps<A: Adapters> {
    /// Configuration.
    pub config: Config,
    /// Import jobs and their staged chunks.
    pub imports: A::Imports,
    /// Contacts, written as the API writes them.
    pub contacts: A::Contacts,
    /// Tenants (status and the plan's contact limit).
    pub tenants: A::Tenants,
    /// Opens staged chunks.
    pub vault: A::Vault,
    /// The time source.
    pub clock: A::Clock,
}

impl Deps<Aws> {
    /// The production adapters, made from the process's clients.
    #[must_use]
    pub fn on(aws: &Aws, config: Config) -> Self {
        let stores = aws.stores(&config.store);
        Self {
            imports: DocImports::new(stores.table()),
            contacts: stores.inbox(),
            tenants: stores.tenants(),
            vault: aws.vault(&config.store),
            clock: aws.clock(),
            config,
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
    run_batch(event.payload, 4, |_meta: RecordMeta, message: ChunkMessage| async move {
        let span = tracing::info_span!(
            "import",
            tenant_id = %message.tenant_id,
            import_id = %message.import_id,
            chunk = message.chunk
        );
        tracing::Instrument::instrument(write_chunk(&message, deps), span).await
    })
    .await
}

/// Writes one staged chunk and counts it into its job.
///
/// # Errors
/// [`RecordError::Retryable`] when a store or KMS is unavailable (SQS redelivers the chunk;
/// rows already written change nothing the second time).
pub async fn write_chunk<A: Adapters>(message: &ChunkMessage, deps: &Deps<A>) -> Result<(), RecordError> {
    let tenant = &message.tenant_id;
    let id = &message.import_id;
    let Some(job) =
        deps.imports.job(tenant, id).await.map_err(|e| RecordError::retryable("reading the job", &e))?
    else {
        tracing::info!("The import job no longer exists");
        return Ok(());
    };
    if job.ended() {
        return Ok(());
    }
    let Some(encoded) = deps
        .imports
        .chunk(tenant, id, message.chunk)
        .await
        .map_err(|e| RecordError::retryable("reading the chunk", &e))?
    else {
        // Counted before (a redelivery: counting deletes the staged rows) or expired.
        tracing::info!("The chunk is no longer staged");
        return Ok(());
    };
    let owner =
        deps.tenants.tenant(tenant).await.map_err(|e| RecordError::retryable("reading the tenant", &e))?;
    let Some(owner) = owner.filter(|t| t.status == TenantStatus::Active) else {
        return fail(deps, message, "the tenant is closed").await;
    };
    let rows = match open_rows(&deps.vault, tenant, &encoded).await {
        Ok(rows) => rows,
        Err(OpenRowsError::Refused(reason)) => {
            tracing::error!(reason, "A staged chunk does not open");
            return fail(deps, message, "the staged rows could not be read").await;
        }
        Err(OpenRowsError::Unknown(e)) => return Err(RecordError::retryable("opening the chunk", &e)),
    };
    let mut counts = ChunkCounts::default();
    for row in &rows {
        let cause = format!("import:{}:{id}:{}", job.source, row.line);
        let now = deps.clock.now();
        match write_row(&deps.contacts, tenant, owner.plan.contacts, row, &cause, now).await {
            Ok(RowOutcome::Created) => counts.created += 1,
            Ok(RowOutcome::Updated) => counts.updated += 1,
            Ok(RowOutcome::Unchanged) => counts.unchanged += 1,
            Err(RowFailure::Refused(column, reason)) => {
                counts.failed += 1;
                if counts.errors.len() < MAX_JOB_ERRORS {
                    counts.errors.push(RowError { line: row.line, column, reason });
                }
            }
            Err(RowFailure::Unknown(e)) => return Err(RecordError::retryable("writing a row", &e)),
        }
    }
    match deps
        .imports
        .finish_chunk(tenant, id, message.chunk, &counts, deps.clock.now())
        .await
        .map_err(|e| RecordError::retryable("counting the chunk", &e))?
    {
        ChunkFinish::Counted(job) => tracing::info!(
            status = ?job.status,
            chunks_done = job.chunks_done,
            chunks = job.chunks,
            processed = job.processed,
            "Import chunk written"
        ),
        ChunkFinish::AlreadyCounted => tracing::info!("Import chunk was counted before"),
    }
    Ok(())
}

async fn fail<A: Adapters>(deps: &Deps<A>, message: &ChunkMessage, reason: &str) -> Result<(), RecordError> {
    tracing::warn!(reason, "Import job failed");
    deps.imports
        .fail(&message.tenant_id, &message.import_id, reason, deps.clock.now())
        .await
        .map_err(|e| RecordError::retryable("failing the job", &e))
}

#[cfg(test)]
mod tests;
