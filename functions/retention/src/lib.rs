//! The `retention` function: everything TTL cannot do on its own.
//!
//! A run goes through its tasks and stops before the Lambda deadline (keeping a margin), saying
//! whether it finished; the next run resumes. Every task is idempotent: running twice changes
//! nothing more, and its work is proportional to what is due (it reads a due-work queue, never
//! scans the table).
//!
//! Tasks in this build:
//! - `erasure_requests` (P62): carries out pending erasure requests — everything stored about
//!   the person (contact, aliases, consent ledger, conversations, messages and their records,
//!   leads) — and writes the deletion receipt.
//! - `restamp` (P50): after a tenant changed its retention settings, re-computes the expiry of
//!   each of its conversations and queues them for their (new) expiry day.
//! - `sanitize_content` (P51): for every day before today not yet done, removes the content of
//!   the queued conversations' messages received more than the tenant's content age ago,
//!   keeping their metadata.
//! - `expired_conversations` (P50): for every expiry day before today not yet done, deletes the
//!   conversations queued for it that really expired (with their messages); a conversation whose
//!   expiry moved since is only taken off that day's queue (it is queued on its new day).
//! - `settle_unknown`: for every day before today not yet done, ends `failed` (`outcome-unknown`)
//!   the queued conversations' outbound messages still `unknown` a full settle deadline after
//!   their send's answer was lost ([`settle`]): reconciliation, never a second send.
//!
//! Every task that deletes conversations (expiry, erasure, Meta purge) first removes their ids
//! from the contact center's event log (P52, `EventLog::anonymize`).
//!
//! Still to come: closed tenants (P53), Meta disconnects (P54), deleted agents (P55).

pub mod deadlines;
mod disconnect;
mod entries;
mod purges;
pub mod timers;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use entries::{system, target};
use lambda_runtime::LambdaEvent;
use purges::{purge_closed_tenants, purge_disconnected};
use serde::{Deserialize, Serialize};
use shared::adapters::documents::{DocAuditLog, DocEventLog};
use shared::app::trail::{self, Job};
use shared::config::{ConfigError, Env};
use shared::domain::center::EventLog as _;
use shared::domain::inbox::{
    epoch_day, ConversationFilter, ConversationStore, Expiry, LeadFilter, LeadStore, LifecycleStore,
};
use shared::domain::ports::{ConnectionStore, TenantStore};
use shared::domain::privacy::{
    DayQueue, DueErasure, ErasureCounts, ErasureReceipt, ErasureStatus, ErasureStore, Integration, MetaPurge,
    PurgeStore, RetentionQueue,
};
use shared::domain::tenant::{RetentionSettings, TenantStatus, CLOSURE_GRACE_DAYS};
use shared::domain::{Clock, ConversationId, TenantId, Timestamp};
use shared::wiring::{Adapters, Aws, StoreConfig};

/// Items one erase call may delete (a few BatchWriteItem requests): small enough to check the
/// deadline often.
const ERASE_BUDGET: u32 = 200;

/// The function's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The table, the key table (no backups, P64) and the KMS key of data keys. Erasing and
    /// purging destroy keys; purging a disconnected Page's leads lists them opened (to match the
    /// Page), so the run reads keys and decrypts (`kms:Decrypt` in the template), never makes one.
    pub store: StoreConfig,
    /// Time kept free before the deadline (`DEADLINE_MARGIN_MS`, default 10 s).
    pub deadline_margin: Duration,
    /// Whether the `timers` job honours an `as_of` ahead of the clock (`TIMERS_ALLOW_AS_OF=1`:
    /// only the local stack sets it, for end-to-end tests of auto-resolve).
    pub allow_as_of: bool,
    /// The `live` queue (`LIVE_QUEUE_URL`): notices to the console's WebSocket connections.
    pub live_queue_url: String,
    /// `inbound.fifo` (`INBOUND_QUEUE_URL`): the `timers` job queues chatbot flow timeouts
    /// there, in the customer's message group.
    pub inbound_queue_url: String,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or invalid variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            store: StoreConfig::from_env(env)?,
            deadline_margin: Duration::from_millis(env.parsed_or("DEADLINE_MARGIN_MS", 10_000)?),
            allow_as_of: env.parsed_or("TIMERS_ALLOW_AS_OF", 0_u8)? == 1,
            live_queue_url: env.required("LIVE_QUEUE_URL")?,
            inbound_queue_url: env.required("INBOUND_QUEUE_URL")?,
        })
    }
}

/// What the handler needs, built once per process (`main.rs` wires [`Aws`]).
#[derive(Debug)]
pub struct Deps<A: Adapters> {
    /// Configuration.
    pub config: Config,
    /// Conversations (what a Meta disconnect purges).
    pub conversations: A::Conversations,
    /// Leads (what a Meta disconnect purges).
    pub leads: A::Leads,
    /// Erasing, expiring and sanitizing what is stored about people.
    pub lifecycle: A::Lifecycle,
    /// Erasure requests and their receipts.
    pub erasures: A::Erasures,
    /// The retention run's day queues and re-stamping.
    pub schedule: A::Schedule,
    /// Purges of closed tenants and disconnected integrations.
    pub purges: A::Purges,
    /// Tenants (their retention settings).
    pub tenants: A::Tenants,
    /// The WhatsApp number, Lead Ads Page and AI provider connections.
    pub connections: A::Connections,
    /// Outbound messages (reconciling those whose send's outcome stayed unknown).
    pub outbox: A::Outbound,
    /// The time source (what is expired, receipt times).
    pub clock: A::Clock,
    /// The audit trail: what the run deleted, under the `system` actor `retention` (P18).
    pub audit: A::Audit,
    /// The contact center's event log: a conversation's events lose its id when it goes (P52).
    pub events: A::Events,
    /// The contact center's timers ([`timers`]).
    pub timers: A::Timers,
    /// Agents: the loads a resolution frees.
    pub agents: A::Agents,
    /// Contact-center queues.
    pub queues: A::Queues,
    /// Users (a queue's members).
    pub directory: A::Directory,
    /// Live notices to the console (the `live` queue): what the timers resolve or wake.
    pub live: A::Live,
    /// Chatbot flow sessions (a wait's timeout fires only while its session still waits).
    pub flows: A::Flows,
    /// `inbound.fifo`: chatbot flow timeouts are handed to `inbound` there.
    pub inbound: A::Queue,
}

impl Deps<Aws> {
    /// The production adapters, made from the process's clients.
    #[must_use]
    pub fn on(aws: &Aws, config: Config) -> Self {
        let stores = aws.stores(&config.store);
        let inbox = stores.inbox();
        let inbox_for_center = inbox.clone();
        Self {
            conversations: inbox.clone(),
            leads: inbox.clone(),
            outbox: inbox.clone(),
            lifecycle: inbox,
            erasures: stores.privacy(),
            schedule: stores.privacy(),
            purges: stores.privacy(),
            tenants: stores.tenants(),
            connections: stores.tenants(),
            clock: aws.clock(),
            audit: DocAuditLog::new(stores.table()),
            events: DocEventLog::new(stores.table()),
            timers: inbox_for_center.clone(),
            agents: inbox_for_center,
            queues: shared::adapters::documents::DocQueues::new(stores.table()),
            directory: shared::adapters::documents::DocDirectory::new(stores.table()),
            live: aws.live(&config.live_queue_url, stores.table()),
            flows: shared::adapters::documents::DocFlows::new(stores.table()),
            inbound: aws.queue(&config.inbound_queue_url),
            config,
        }
    }
}

/// The schedule's input (EventBridge Scheduler sends the template's `Input` as is).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScheduleInput {
    /// Which job: `retention` (the default) or `timers` ([`timers`]).
    #[serde(default)]
    pub job: Option<String>,
    /// `timers` only: fire what is due at this time (epoch ms), and only `tenant`'s timers,
    /// when the configuration allows it (tests).
    #[serde(default)]
    pub as_of: Option<i64>,
    /// See `as_of`.
    #[serde(default)]
    pub tenant: Option<TenantId>,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The tasks that ran, with what each did.
    pub tasks: Vec<TaskReport>,
    /// False when the run stopped before its deadline with work left for the next run.
    pub complete: bool,
    /// The tasks that failed (their names; the causes are in the log). The others ran.
    pub failed: Vec<String>,
    /// Erasure requests still pending past their deadline after this run (also emitted as the
    /// metric the template alarms on, [`deadlines`]).
    pub erasures_past_deadline: u64,
}

/// What one task did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskReport {
    /// The task.
    pub name: String,
    /// Requests (or other units of work) finished.
    pub finished: u64,
    /// Items it changed or deleted.
    pub items: u64,
}

/// Errors of a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input names a job this function does not run.
    #[error("unknown job {0:?}")]
    UnknownJob(String),
    /// Tasks failed (a store failed); the others ran, and the next run resumes every one of
    /// them (every task is idempotent). The invocation fails so that the function's `Errors`
    /// metric, and its alarm, see it.
    #[error("retention tasks failed: {}", .0.failed.join(", "))]
    TasksFailed(RunReport),
    /// A store failed; the next run resumes (every task is idempotent).
    #[error("retention run failed: {0}")]
    Unknown(String),
}

impl From<RunError> for lambda_runtime::Diagnostic {
    fn from(error: RunError) -> Self {
        Self { error_type: "RunError".to_owned(), error_message: error.to_string() }
    }
}

/// When the run must stop: the Lambda deadline less the margin.
#[derive(Debug, Clone, Copy)]
struct Deadline(SystemTime);

impl Deadline {
    fn passed(self) -> bool {
        SystemTime::now() >= self.0
    }
}

/// The tasks of a run, in order.
#[derive(Debug, Clone, Copy)]
enum Task {
    Erasures,
    ClosedTenants,
    Disconnected,
    Restamp,
    Walk(DayQueue),
}

impl Task {
    const ALL: [Self; 7] = [
        Self::Erasures,
        Self::ClosedTenants,
        Self::Disconnected,
        Self::Restamp,
        Self::Walk(DayQueue::Sanitize),
        Self::Walk(DayQueue::Expiry),
        Self::Walk(DayQueue::Settle),
    ];

    const fn name(self) -> &'static str {
        match self {
            Self::Erasures => "erasure_requests",
            Self::ClosedTenants => "purge_closed_tenants",
            Self::Disconnected => "purge_disconnected",
            Self::Restamp => "restamp",
            Self::Walk(DayQueue::Sanitize) => "sanitize_content",
            Self::Walk(DayQueue::Expiry) => "expired_conversations",
            Self::Walk(DayQueue::Settle) => "settle_unknown",
        }
    }

    async fn run<A: Adapters>(
        self,
        deps: &Deps<A>,
        deadline: Deadline,
    ) -> Result<(TaskReport, bool), RunError> {
        // Boxed: one state machine per task, not all of them nested in the run's (the nesting
        // overflows the compiler's layout depth).
        match self {
            Self::Erasures => Box::pin(erasure_requests(deps, deadline)).await,
            Self::ClosedTenants => Box::pin(purge_closed_tenants(deps, deadline)).await,
            Self::Disconnected => Box::pin(purge_disconnected(deps, deadline)).await,
            Self::Restamp => Box::pin(restamp(deps, deadline)).await,
            Self::Walk(queue) => Box::pin(walk_day_queue(deps, queue, deadline)).await,
        }
    }
}

/// Runs the retention tasks due now. Each task runs on its own: one that fails is logged and
/// reported, and the run goes on with the next (a task cut short by the deadline ends the run:
/// the next run resumes it).
///
/// # Errors
/// [`RunError::UnknownJob`] for an input naming another job; [`RunError::TasksFailed`] after
/// the run when any task failed.
pub async fn handle<A: Adapters>(
    event: LambdaEvent<ScheduleInput>,
    deps: &Deps<A>,
) -> Result<RunReport, RunError> {
    let deadline = Deadline(
        event.context.deadline().checked_sub(deps.config.deadline_margin).unwrap_or(SystemTime::UNIX_EPOCH),
    );
    match event.payload.job.as_deref() {
        None | Some("retention") => {}
        Some("timers") => return Box::pin(timers::run(deps, &event.payload, deadline.0)).await,
        Some(job) => return Err(RunError::UnknownJob(job.to_owned())),
    }
    let mut report =
        RunReport { tasks: Vec::new(), complete: true, failed: Vec::new(), erasures_past_deadline: 0 };
    for task in Task::ALL {
        match task.run(deps, deadline).await {
            Ok((done, finished)) => {
                report.tasks.push(done);
                if !finished {
                    report.complete = false;
                    break;
                }
            }
            // The cause names stores and operations, never a person (ids at most).
            Err(error) => {
                tracing::error!(task = task.name(), error = %error, "Retention task failed");
                report.failed.push(task.name().to_owned());
            }
        }
    }
    // What is late is reported (and emitted as the metric the template alarms on) every run.
    match Box::pin(deadlines::report(deps)).await {
        Ok(late) => report.erasures_past_deadline = late,
        Err(error) => {
            tracing::error!(task = "erasure_deadlines", error = %error, "Retention task failed");
            report.failed.push("erasure_deadlines".to_owned());
        }
    }
    emit_metrics(&report);
    if report.failed.is_empty() {
        tracing::info!(complete = report.complete, tasks = ?report.tasks, "Retention run finished");
        Ok(report)
    } else {
        tracing::error!(complete = report.complete, tasks = ?report.tasks, failed = ?report.failed, "Retention run finished with failed tasks");
        Err(RunError::TasksFailed(report))
    }
}

/// `RetentionItemsDeleted` by task (every task, zeros included, so the dashboard shows runs) and
/// `ErasuresDone` (the erasure requests this run completed).
fn emit_metrics(report: &RunReport) {
    use shared::metrics::{emit, Metric};
    for task in &report.tasks {
        emit(
            &[("Function", "retention"), ("Task", &task.name)],
            &[Metric::count("RetentionItemsDeleted", task.items)],
        );
    }
    let erasures = report.tasks.iter().filter(|t| t.name == "erasure_requests").map(|t| t.finished).sum();
    emit(&[("Function", "retention")], &[Metric::count("ErasuresDone", erasures)]);
}

/// The first expiry day the walk looks at: where the last run stopped, or (first run) as far
/// back as the longest retention period.
fn walk_start(cursor: Option<i64>, today: i64) -> i64 {
    cursor.unwrap_or(today - 366).min(today)
}

/// A tenant's retention settings (the defaults for a tenant without any).
async fn retention_of<A: Adapters>(deps: &Deps<A>, tenant: &TenantId) -> Result<RetentionSettings, RunError> {
    let found = deps.tenants.tenant(tenant).await.map_err(|e| failed("reading a tenant", &e))?;
    Ok(found.map(|t| t.retention).unwrap_or_default())
}

fn failed(what: &str, error: &dyn std::fmt::Debug) -> RunError {
    RunError::Unknown(format!("{what}: {error:?}"))
}

/// Re-stamps the conversations of tenants whose retention settings changed.
async fn restamp<A: Adapters>(deps: &Deps<A>, deadline: Deadline) -> Result<(TaskReport, bool), RunError> {
    let mut report = TaskReport { name: "restamp".to_owned(), finished: 0, items: 0 };
    // Past expiries are queued where this run's expiry walk starts, so they go at once.
    let cursor = deps
        .schedule
        .day_cursor(DayQueue::Expiry)
        .await
        .map_err(|e| failed("reading the expiry cursor", &e))?;
    let earliest = walk_start(cursor, epoch_day(deps.clock.now()));
    for (tenant, mut after) in
        deps.schedule.due_restamps(25).await.map_err(|e| failed("reading the re-stamp queue", &e))?
    {
        let settings = retention_of(deps, &tenant).await?;
        loop {
            if deadline.passed() {
                return Ok((report, false));
            }
            let next = deps
                .lifecycle
                .restamp_conversations(&tenant, settings, after.as_deref(), 100, earliest)
                .await
                .map_err(|e| failed("re-stamping", &e))?;
            report.items += 1;
            deps.schedule
                .restamp_progress(&tenant, next.as_deref())
                .await
                .map_err(|e| failed("recording re-stamp progress", &e))?;
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        report.finished += 1;
    }
    Ok((report, true))
}

/// What one queued conversation still needs.
enum Step {
    /// Finished (or nothing to do): take it off the queue. `true` when it did something.
    Done(u64, bool),
    /// Did `n` items; call again.
    Again(u64),
}

/// Walks the days of `queue` before today (an entry's time may still be later today), doing
/// each queued conversation's work, and records where it stopped.
async fn walk_day_queue<A: Adapters>(
    deps: &Deps<A>,
    queue: DayQueue,
    deadline: Deadline,
) -> Result<(TaskReport, bool), RunError> {
    let name = match queue {
        DayQueue::Expiry => "expired_conversations",
        DayQueue::Sanitize => "sanitize_content",
        DayQueue::Settle => "settle_unknown",
    };
    let mut report = TaskReport { name: name.to_owned(), finished: 0, items: 0 };
    let now = deps.clock.now();
    let today = epoch_day(now);
    let cursor = deps.schedule.day_cursor(queue).await.map_err(|e| failed("reading a day cursor", &e))?;
    let mut settings: HashMap<TenantId, RetentionSettings> = HashMap::new();
    let mut day = walk_start(cursor, today);
    while day < today {
        loop {
            if deadline.passed() {
                return Ok((report, false));
            }
            let due =
                deps.schedule.due_on(queue, day, 100).await.map_err(|e| failed("reading a day queue", &e))?;
            if due.is_empty() {
                break;
            }
            for (tenant, conversation) in due {
                if deadline.passed() {
                    return Ok((report, false));
                }
                let step = match queue {
                    DayQueue::Expiry => expire(deps, &tenant, &conversation, now).await?,
                    DayQueue::Settle => settle::settle(deps, &tenant, &conversation, now).await?,
                    DayQueue::Sanitize => {
                        let retention = match settings.get(&tenant) {
                            Some(known) => *known,
                            None => {
                                let found = retention_of(deps, &tenant).await?;
                                settings.insert(tenant.clone(), found);
                                found
                            }
                        };
                        sanitize(deps, &tenant, &conversation, retention, now).await?
                    }
                };
                match step {
                    Step::Again(items) => report.items += items,
                    Step::Done(items, did) => {
                        report.items += items;
                        report.finished += u64::from(did);
                        deps.schedule
                            .drop_due(queue, day, &tenant, &conversation)
                            .await
                            .map_err(|e| failed("dequeuing", &e))?;
                    }
                }
            }
        }
        day += 1;
        deps.schedule.set_day_cursor(queue, day).await.map_err(|e| failed("moving a day cursor", &e))?;
    }
    Ok((report, true))
}

/// P50: deletes a conversation past its retention period, with its messages.
async fn expire<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    conversation: &ConversationId,
    now: Timestamp,
) -> Result<Step, RunError> {
    let outcome = deps
        .lifecycle
        .expire_conversation(tenant, conversation, now, ERASE_BUDGET)
        .await
        .map_err(|e| failed("expiring a conversation", &e))?;
    Ok(match outcome {
        Expiry::Partial(counts) => Step::Again(counts.total()),
        // Nothing deleted: an erasure got there first.
        Expiry::Deleted(counts) => {
            // P52: its events keep no trace of it (idempotent: a failure here fails the step,
            // the entry stays queued, and the next run comes back to a `Deleted` conversation).
            deps.events
                .anonymize(tenant, conversation)
                .await
                .map_err(|e| failed("anonymizing a conversation's events", &e))?;
            if counts.total() > 0 {
                let what = system(
                    "conversation.expire",
                    target("conversation", conversation.as_str()),
                    counts.total(),
                );
                trail::record(&deps.audit, tenant, Job::Retention, what, now).await;
            }
            Step::Done(counts.total(), counts.total() > 0)
        }
        // A later message moved its expiry; it is queued on its new day.
        Expiry::NotDue => Step::Done(0, false),
    })
}

/// P51: removes the content of a conversation's messages older than the tenant's content age.
async fn sanitize<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    conversation: &ConversationId,
    retention: RetentionSettings,
    now: Timestamp,
) -> Result<Step, RunError> {
    let age = Duration::from_secs(u64::from(retention.content_days) * 86_400);
    let (done, more) = deps
        .lifecycle
        .sanitize_conversation(tenant, conversation, age, now, ERASE_BUDGET)
        .await
        .map_err(|e| failed("sanitizing", &e))?;
    if done > 0 {
        let what = system("conversation.sanitize", target("conversation", conversation.as_str()), done);
        trail::record(&deps.audit, tenant, Job::Retention, what, now).await;
    }
    Ok(if more { Step::Again(done) } else { Step::Done(done, done > 0) })
}

/// Carries out pending erasure requests until none is left or the deadline comes. An entry
/// whose request is finished or gone is dropped (left on the queue, it would come back first in
/// every read, for ever).
async fn erasure_requests<A: Adapters>(
    deps: &Deps<A>,
    deadline: Deadline,
) -> Result<(TaskReport, bool), RunError> {
    let mut report = TaskReport { name: "erasure_requests".to_owned(), finished: 0, items: 0 };
    loop {
        if deadline.passed() {
            return Ok((report, false));
        }
        let due =
            deps.erasures.due_erasures(25).await.map_err(|e| failed("reading the erasure queue", &e))?;
        if due.is_empty() {
            return Ok((report, true));
        }
        for entry in due {
            let DueErasure { tenant, id, .. } = &entry;
            let request =
                deps.erasures.erasure(tenant, id).await.map_err(|e| failed("reading a request", &e))?;
            let Some(request) = request.filter(|r| r.status == ErasureStatus::Pending) else {
                tracing::warn!(tenant_id = %tenant, erasure_id = %id, "Erasure queue entry without a pending request dropped");
                deps.erasures
                    .drop_due_erasure(&entry)
                    .await
                    .map_err(|e| failed("dropping an erasure queue entry", &e))?;
                continue;
            };
            let mut deleted = request.progress.clone();
            for contact in &request.contacts {
                // P52: the contact center's events lose the ids of the conversations about to
                // go (before they go, so that a retry still finds them).
                shared::app::analytics::anonymize_contact(
                    &deps.conversations,
                    &deps.events,
                    tenant,
                    contact,
                    deps.clock.now(),
                )
                .await
                .map_err(|e| failed("anonymizing a contact's conversation events", &e))?;
                loop {
                    if deadline.passed() {
                        deps.erasures
                            .record_progress(tenant, id, &deleted)
                            .await
                            .map_err(|e| failed("recording progress", &e))?;
                        return Ok((report, false));
                    }
                    let pass: ErasureCounts = deps
                        .lifecycle
                        .erase_contact(tenant, contact, ERASE_BUDGET)
                        .await
                        .map_err(|e| failed("erasing", &e))?;
                    report.items += pass.total();
                    deleted.add(&pass);
                    if pass.total() == 0 {
                        break;
                    }
                }
            }
            let receipt = ErasureReceipt {
                request_id: id.clone(),
                requested_at: request.requested_at.as_millis(),
                completed_at: deps.clock.now().as_millis(),
                deleted,
            };
            deps.erasures
                .complete_erasure(tenant, &receipt)
                .await
                .map_err(|e| failed("completing a request", &e))?;
            tracing::info!(tenant_id = %tenant, erasure_id = %id, items = receipt.deleted.total(), "Erasure done");
            let what = system("privacy.erasure", target("erasure", id.as_str()), receipt.deleted.total());
            trail::record(&deps.audit, tenant, Job::Retention, what, deps.clock.now()).await;
            report.finished += 1;
        }
    }
}

mod settle;

#[cfg(test)]
mod tests;
