//! The `retention` function: everything TTL cannot do on its own (retention changes, content
//! sanitizing, erasure requests, closed tenants, Meta disconnects, deleted agents, analytics
//! anonymization).
//!
//! A run goes through its tasks in order and stops before the Lambda deadline, reporting which
//! tasks finished; the next run resumes. This build has no tasks yet (they are the privacy
//! issue's): a run reports an empty task list, and says so, rather than claiming work it did not do.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use shared::adapters::dynamo::Table;
use shared::config::{ConfigError, Env};

/// The function's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The single table (`TABLE_NAME`).
    pub table_name: String,
    /// Time kept free before the deadline (`DEADLINE_MARGIN_MS`, default 10 s).
    pub deadline_margin: Duration,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or invalid variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            deadline_margin: Duration::from_millis(env.parsed_or("DEADLINE_MARGIN_MS", 10_000)?),
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
}

impl Deps {
    /// Builds the clients from the shared AWS configuration.
    #[must_use]
    pub fn new(config: Config, aws: &aws_config::SdkConfig) -> Self {
        let table = Table::new(aws_sdk_dynamodb::Client::new(aws), config.table_name.clone());
        Self { config, table }
    }
}

/// The schedule's input (EventBridge Scheduler sends the template's `Input` as is).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScheduleInput {
    /// Which job; only `retention` is known.
    #[serde(default)]
    pub job: Option<String>,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The tasks that ran, with what each did.
    pub tasks: Vec<TaskReport>,
    /// False when the run stopped before its deadline with work left for the next run.
    pub complete: bool,
    /// A human-readable note on the run.
    pub note: String,
}

/// What one task did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskReport {
    /// The task.
    pub name: String,
    /// Items it changed or deleted.
    pub items: u64,
}

/// Errors of a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input names a job this function does not run.
    #[error("unknown job {0:?}")]
    UnknownJob(String),
}

impl From<RunError> for lambda_runtime::Diagnostic {
    fn from(error: RunError) -> Self {
        Self { error_type: "RunError".to_owned(), error_message: error.to_string() }
    }
}

/// Runs the retention tasks due now.
///
/// # Errors
/// [`RunError::UnknownJob`] for an input naming another job.
pub async fn handle(event: LambdaEvent<ScheduleInput>, deps: &Deps) -> Result<RunReport, RunError> {
    if let Some(job) = event.payload.job.filter(|job| job != "retention") {
        return Err(RunError::UnknownJob(job));
    }
    let deadline = event.context.deadline();
    let remaining = deadline.duration_since(SystemTime::now()).unwrap_or_default();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    tracing::info!(
        remaining_ms = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX),
        margin_ms = u64::try_from(deps.config.deadline_margin.as_millis()).unwrap_or(u64::MAX),
        now_ms = u64::try_from(now_ms).unwrap_or(u64::MAX),
        "Retention run started"
    );
    Ok(RunReport {
        tasks: Vec::new(),
        complete: true,
        note: "no retention tasks exist in this build yet; TTL on expires_at is the only deletion".to_owned(),
    })
}
