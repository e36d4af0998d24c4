//! The driver plays SQS and Lambda's event source: records in batches of 10 to a few processes
//! at once (a FIFO group always to the same one), a record reported failed — or in a batch
//! whose invocation failed or crashed — delivered again after the visibility timeout, never
//! dropped while it keeps failing: given up only after [`GIVE_UP`] receives, and then counted.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::LocalBoxFuture;
use shared::lambda::batch::BatchError;

use super::faults::Chaos;

/// The queues' `maxReceiveCount` in `template.yaml`: a record received more often would have
/// reached the dead-letter queue in AWS (counted apart: the driver keeps trying).
pub const REDRIVE: u32 = 5;
/// Receives after which the driver gives a record up (counted as lost unless poisoned).
pub const GIVE_UP: u32 = 25;

/// One queue message.
#[derive(Debug, Clone)]
pub struct Record {
    /// The message id (unique per copy: a duplicate delivery is another message).
    pub id: String,
    /// The body as the producer enqueued it.
    pub body: String,
    /// The FIFO message group.
    pub group: String,
    /// Receives so far.
    pub receives: u32,
    /// A record that can never succeed (its failures are expected).
    pub poison: bool,
}

/// What the deliveries came to.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Records delivered to a handler, counting every redelivery.
    pub deliveries: usize,
    /// Handler invocations.
    pub invocations: usize,
    /// Invocations a crash ended (the batch redelivered, the process replaced).
    pub crashed: usize,
    /// Records that were received more than [`REDRIVE`] times before they succeeded.
    pub past_redrive: usize,
    /// Records given up after [`GIVE_UP`] receives (lost, unless poisoned).
    pub given_up: Vec<Record>,
    /// Batches where something else than the poisoned records failed, or a poisoned record
    /// did not (checked in rounds without other faults).
    pub isolation_violations: usize,
}

/// A process of the function under test and the interceptor of its clients.
pub struct Process<D> {
    /// The function's `Deps`.
    pub deps: D,
    /// Its clients' faults (its crash count tells the driver it died).
    pub chaos: Chaos,
}

/// How the driver calls the function.
pub type Invoke<D> =
    dyn for<'a> Fn(&'a D, SqsEvent) -> LocalBoxFuture<'a, Result<SqsBatchResponse, BatchError>>;

fn lane_of(group: &str, lanes: usize) -> usize {
    let mut hasher = DefaultHasher::new();
    group.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

fn event_of(batch: &[Record]) -> SqsEvent {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis();
    let records: Vec<serde_json::Value> = batch
        .iter()
        .map(|r| {
            serde_json::json!({"messageId": r.id, "body": r.body, "eventSource": "aws:sqs",
                "attributes": {"MessageGroupId": r.group, "ApproximateReceiveCount": r.receives.to_string(),
                    "SentTimestamp": now.to_string()}})
        })
        .collect();
    serde_json::from_value(serde_json::json!({"Records": records})).expect("event")
}

/// What one lane did in one pass.
#[derive(Default)]
struct LaneOutcome {
    again: Vec<Record>,
    tally: Tally,
    crashed: bool,
}

async fn run_lane<D>(
    process: &Process<D>,
    lane: Vec<Record>,
    invoke: &Invoke<D>,
    check_isolation: bool,
) -> LaneOutcome {
    let mut out = LaneOutcome::default();
    let mut rest = lane.into_iter().peekable();
    while rest.peek().is_some() {
        let mut batch: Vec<Record> = rest.by_ref().take(10).collect();
        for record in &mut batch {
            record.receives += 1;
        }
        out.tally.deliveries += batch.len();
        out.tally.invocations += 1;
        let before = process.chaos.crashes();
        let response = invoke(&process.deps, event_of(&batch)).await;
        let crashed = process.chaos.crashes() != before;
        let failed: HashSet<String> = match (&response, crashed) {
            (Ok(response), false) => {
                response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
            }
            // A crashed or failed invocation returns nothing: the whole batch comes back.
            _ => batch.iter().map(|r| r.id.clone()).collect(),
        };
        if check_isolation && !crashed {
            let poisoned: HashSet<String> = batch.iter().filter(|r| r.poison).map(|r| r.id.clone()).collect();
            if failed != poisoned {
                out.tally.isolation_violations += 1;
            }
        }
        for record in batch {
            if failed.contains(&record.id) {
                if record.receives >= GIVE_UP {
                    out.tally.given_up.push(record);
                } else {
                    out.again.push(record);
                }
            } else if record.receives > REDRIVE && !record.poison {
                out.tally.past_redrive += 1;
            }
        }
        if crashed {
            // The process is gone: what it had not received yet waits for a fresh one.
            out.tally.crashed += 1;
            out.crashed = true;
            out.again.extend(rest);
            break;
        }
    }
    out
}

/// Delivers `queue` until every record succeeded or was given up: each pass hands every
/// waiting record to its group's process; processes that crashed are replaced (`restart`:
/// cold caches) and `between` runs before the next pass (the visibility timeout elapsing).
pub async fn drain<D>(
    mut queue: Vec<Record>,
    processes: &mut [Process<D>],
    restart: &dyn Fn(usize) -> D,
    invoke: &Invoke<D>,
    between: &dyn Fn(),
    check_isolation: bool,
    tally: &mut Tally,
) {
    while !queue.is_empty() {
        let mut lanes: Vec<Vec<Record>> = vec![Vec::new(); processes.len()];
        for record in queue.drain(..) {
            let lane = lane_of(&record.group, lanes.len());
            lanes[lane].push(record);
        }
        let outcomes = futures::future::join_all(
            processes
                .iter()
                .zip(lanes)
                .map(|(process, lane)| run_lane(process, lane, invoke, check_isolation)),
        )
        .await;
        for (index, outcome) in outcomes.into_iter().enumerate() {
            queue.extend(outcome.again);
            tally.deliveries += outcome.tally.deliveries;
            tally.invocations += outcome.tally.invocations;
            tally.crashed += outcome.tally.crashed;
            tally.past_redrive += outcome.tally.past_redrive;
            tally.isolation_violations += outcome.tally.isolation_violations;
            tally.given_up.extend(outcome.tally.given_up);
            if outcome.crashed {
                processes[index].deps = restart(index);
            }
        }
        between();
    }
}
