//! [`EventLog`] on the document table: the contact center's append-only event log and its
//! hourly aggregates (P42), anonymised under P52.
//!
//! Recording one event is ONE atomic write of:
//! - the id mark `CEVENTID#<hash>` (precondition absent: a duplicate id, whatever its time,
//!   cancels the write and is not an error);
//! - the event itself, time-ordered (`CEVENT#<at>#<hash>`), kept [`EVENT_RETENTION_DAYS`];
//! - when it names a conversation, the link `CEVENTCONV#<conversation>#<hash>` that
//!   [`EventLog::anonymize`] finds the conversation's events by (one small item per event
//!   rather than one list per conversation: concurrent events of one conversation never
//!   contend for it);
//! - the aggregate of the event's hour in each of its scopes ([`Scope::of_event`]), each at the
//!   version read (or absent);
//! - for an event that enters or leaves a queue's waiting line ([`line::delta`]), the net of
//!   depth of its day, of its 30-day block and the running total, in the tenant's and the
//!   queue's scopes ([`line::Level`]), likewise at the version read: what
//!   [`EventLog::depth_before`] reads instead of every event since.
//!
//! Every event of a tenant moves its tenant-hour aggregate, so one shared document per hour
//! would be raced for by every concurrent writer, and each lost race is a cancelled (and
//! billed) transaction, re-read and retried: in a burst of 40 messages that was 3.5
//! transactions per event (`docs/cost.md`). So each log adds to its own *part* of an aggregate
//! ([`keys::center_part`], a shard drawn when the log is made: one per process) and runs one
//! tenant's records one at a time; readers sum the parts. Two processes meet on a part only
//! when they drew the same shard (1 in 256); a lost race then re-reads and retries, with a
//! small jittered backoff, a bounded number of times.
//!
//! The aggregates hold counts and the exact durations (ms) of their hour, never an id, and are
//! kept [`AGGREGATE_RETENTION_DAYS`] (the nets of days and blocks too; the running totals, one
//! number per scope and part, stay); a dashboard reads one query per scope over the hour keys.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::domain::center::analytics::{
    self, HourFigures, Scope, AGGREGATE_RETENTION_DAYS, EVENT_RETENTION_DAYS, HOUR_MS,
};
use crate::domain::center::line::{self, Level, Net, SinceSpans};
use crate::domain::center::{CenterError, CenterEvent, EventLog};
use crate::domain::ConversationId;
use crate::kernel::digest::hex_sha256;

/// Attempts of one `record` before it gives up (each lost race on an aggregate costs one).
const MAX_ATTEMPTS: u32 = 60;
/// Store failures (not lost races) one `record` tolerates before it gives up: DynamoDB cancels
/// a transaction that meets another on the same item (`TransactionConflict`), which the table
/// reports as a failure, not as a failed precondition.
const MAX_FAILURES: u32 = 6;
/// The longest pause between two attempts.
const MAX_BACKOFF_MS: u64 = 100;

/// How many lanes one-tenant-at-a-time runs in: tenants in different lanes record at once.
const LANES: usize = 16;

/// [`EventLog`] on a [`DocTable`]. Clones share the part they write and the lanes.
#[derive(Debug, Clone)]
pub struct DocEventLog<D> {
    table: D,
    /// The part of every aggregate this log adds to.
    shard: u8,
    /// One tenant's records run one at a time (in the lane of its tenant), so that they never
    /// race each other for this log's parts.
    lanes: Arc<[tokio::sync::Mutex<()>]>,
}

impl<D> DocEventLog<D> {
    /// The log on `table`, adding to a part of the aggregates drawn at random.
    #[must_use]
    pub fn new(table: D) -> Self {
        // A failed draw only makes meeting another writer's part likelier.
        let shard = crate::kernel::random::bytes::<1>().map_or(0, |[byte]| byte);
        Self::with_shard(table, shard)
    }

    /// The log on `table`, adding to the aggregates' part `shard` (tests that need two writers
    /// on one part, or on two).
    #[must_use]
    pub fn with_shard(table: D, shard: u8) -> Self {
        Self { table, shard, lanes: (0..LANES).map(|_| tokio::sync::Mutex::new(())).collect() }
    }

    fn lane(&self, tenant: &TenantId) -> &tokio::sync::Mutex<()> {
        let hash =
            tenant.as_str().bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
        &self.lanes[hash % self.lanes.len()]
    }
}

/// What the link of a conversation's event points at.
#[derive(Debug, Serialize, Deserialize)]
struct EventLink {
    /// The event's sort key.
    event_sk: String,
}

/// The short hash an event is keyed by (its id may name the conversation; the key must not).
fn event_hash(id: &str) -> String {
    hex_sha256(id)[..32].to_owned()
}

fn unknown(error: impl Into<anyhow::Error>) -> CenterError {
    CenterError::Unknown(error.into())
}

/// A pause of up to `min(2^attempt, MAX_BACKOFF_MS)` ms, uniformly drawn ("full jitter"), so
/// that the writers of one hot document spread out.
async fn backoff(attempt: u32) {
    let ceiling = (1u64 << attempt.min(10)).min(MAX_BACKOFF_MS);
    let draw = crate::kernel::random::bytes::<2>().map(u16::from_le_bytes).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(u64::from(draw) % (ceiling + 1))).await;
}

fn days(at: Timestamp, days: u64) -> ExpiresAt {
    ExpiresAt::after(at, Duration::from_secs(days * 86_400))
}

impl<D: DocTable> DocEventLog<D> {
    /// The writes recording `event`, from the aggregates as stored now; none when its id is in
    /// the log already (a retry then costs a read, not a cancelled transaction).
    async fn writes(
        &self,
        tenant: &TenantId,
        event: &CenterEvent,
    ) -> Result<Option<Vec<DocWrite>>, CenterError> {
        let hash = event_hash(&event.id);
        let at = Timestamp::from_millis(event.at);
        let event_key = keys::center_event(tenant, event.at, &hash);
        let mark = keys::center_event_id(tenant, &hash);
        let kept = Some(days(at, EVENT_RETENTION_DAYS));
        let mut writes = vec![
            // The id mark: absent, or the event is in the log already.
            DocWrite::Put {
                key: mark.clone(),
                entity: "center_event_id",
                body: "{}".to_owned(),
                expires_at: kept,
                precondition: Precondition::Absent,
            },
            DocWrite::Put {
                key: event_key.clone(),
                entity: "center_event",
                body: to_json(event)?,
                expires_at: kept,
                precondition: Precondition::Absent,
            },
        ];
        if let Some(conversation) = &event.conversation_id {
            writes.push(DocWrite::Put {
                key: keys::center_event_link(tenant, conversation, &hash),
                entity: "center_event_link",
                body: to_json(&EventLink { event_sk: event_key.sk })?,
                expires_at: kept,
                precondition: Precondition::Absent,
            });
        }
        let hour = analytics::hour_of(event.at);
        let now = self.table.now();
        let scopes = Scope::of_event(event);
        // Every aggregate this event moves is read at once, not one after another: the time
        // between the reads and the write is the window in which another event of the tenant
        // makes this attempt lose its race (tenant documents are hot under load).
        let hours: Vec<Key> = scopes
            .iter()
            .map(|scope| keys::center_part(keys::center_hour(tenant, scope, hour), self.shard))
            .collect();
        let delta = line::delta(event);
        let mut depths: Vec<(Key, Level, i64)> = Vec::new();
        if delta != 0 {
            for scope in scopes.iter().filter(|s| line::has_line(s)) {
                for level in Level::ALL {
                    let start = level.start(event.at);
                    let key = keys::center_part(keys::center_depth(tenant, scope, level, start), self.shard);
                    depths.push((key, level, start));
                }
            }
        }
        let reads = std::iter::once(&mark)
            .chain(&hours)
            .chain(depths.iter().map(|(key, _, _)| key))
            .map(|key| self.table.get_doc(key, now));
        let mut stored = futures::future::try_join_all(reads).await.map_err(unknown)?.into_iter();
        if stored.next().flatten().is_some() {
            return Ok(None);
        }
        for key in hours {
            let (mut figures, precondition) = match stored.next().flatten() {
                Some(doc) => (from_json::<HourFigures>(&doc)?.value, Precondition::Version(doc.version)),
                // An expired one TTL has not removed yet is replaced.
                None => (HourFigures::empty(hour), Precondition::AbsentOrExpired),
            };
            figures.add(event);
            writes.push(DocWrite::Put {
                key,
                entity: "center_hour",
                body: to_json(&figures)?,
                expires_at: Some(days(Timestamp::from_millis(hour + HOUR_MS), AGGREGATE_RETENTION_DAYS)),
                precondition,
            });
        }
        for (key, level, start) in depths {
            let (mut net, precondition) = match stored.next().flatten() {
                Some(doc) => (from_json::<Net>(&doc)?.value, Precondition::Version(doc.version)),
                None => (Net { start, net: 0 }, Precondition::AbsentOrExpired),
            };
            net.net += delta;
            writes.push(DocWrite::Put {
                key,
                entity: "center_depth",
                body: to_json(&net)?,
                expires_at: level
                    .end(start)
                    .map(|end| days(Timestamp::from_millis(end), AGGREGATE_RETENTION_DAYS)),
                precondition,
            });
        }
        Ok(Some(writes))
    }

    /// The sum of the nets of `level` whose period starts in `[from, to)` (`to`: none for no end),
    /// every part of each.
    async fn nets(
        &self,
        tenant: &TenantId,
        scope: &Scope,
        level: Level,
        (from, to): (i64, Option<i64>),
    ) -> Result<i64, CenterError> {
        if to.is_some_and(|to| to <= from) {
            return Ok(0);
        }
        let pk = keys::tenant_partition(tenant);
        let prefix = keys::center_depth_prefix(scope, level);
        let now = self.table.now();
        // The exclusive start just before `from`'s key (period keys are their starts).
        let mut cursor = (from > 0).then(|| keys::center_depth(tenant, scope, level, from - 1).sk);
        let mut sum = 0;
        loop {
            let (docs, next) = self
                .table
                .query_docs(&pk, &prefix, cursor.as_deref(), (100, true), now)
                .await
                .map_err(unknown)?;
            for doc in &docs {
                let net: Net = from_json(doc)?.value;
                if to.is_some_and(|to| net.start >= to) {
                    return Ok(sum);
                }
                if net.start >= from {
                    sum += net.net;
                }
            }
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(sum),
            }
        }
    }

    /// Removes the conversation's id from one event and drops its link.
    async fn anonymize_one(
        &self,
        tenant: &TenantId,
        link: &StoredDoc,
        now: Timestamp,
    ) -> Result<bool, CenterError> {
        let target: EventLink = from_json(link)?.value;
        let pk = keys::tenant_partition(tenant);
        let drop_link = DocWrite::Delete {
            key: Key { pk: pk.clone(), sk: link.sk.clone() },
            precondition: Precondition::None,
        };
        for _ in 0..3 {
            let event_key = Key { pk: pk.clone(), sk: target.event_sk.clone() };
            let Some(doc) = self.table.get_doc(&event_key, now).await.map_err(unknown)? else {
                // Gone already (expired): only the link is left.
                write_one(&self.table, drop_link, now).await.map_err(unknown)?;
                return Ok(false);
            };
            let versioned = from_json::<CenterEvent>(&doc)?;
            let mut event = versioned.value;
            // The id may have been built from the conversation id: it becomes its hash.
            event.id = event_hash(&event.id);
            event.conversation_id = None;
            let writes = vec![
                DocWrite::Put {
                    key: event_key,
                    entity: "center_event",
                    body: to_json(&event)?,
                    expires_at: Some(days(Timestamp::from_millis(event.at), EVENT_RETENTION_DAYS)),
                    precondition: Precondition::Version(versioned.version),
                },
                drop_link.clone(),
            ];
            match self.table.write_docs(writes, now).await {
                Ok(()) => return Ok(true),
                Err(DocWriteError::Conflict { .. }) => {}
                Err(DocWriteError::Unknown(e)) => return Err(CenterError::Unknown(e)),
            }
        }
        Err(unknown(anyhow::anyhow!("an event kept changing while it was anonymized")))
    }
}

impl<D: DocTable> EventLog for DocEventLog<D> {
    async fn record(&self, tenant: &TenantId, event: &CenterEvent) -> Result<(), CenterError> {
        let _one_at_a_time = self.lane(tenant).lock().await;
        let mut failures = 0;
        for attempt in 0..MAX_ATTEMPTS {
            let Some(writes) = self.writes(tenant, event).await? else { return Ok(()) };
            match self.table.write_docs(writes, self.table.now()).await {
                Ok(()) => return Ok(()),
                // Another writer recorded this event or moved an aggregate since the reads: read
                // again (the next reads find the id mark of the former, and nothing is written).
                Err(DocWriteError::Conflict { .. }) => {}
                Err(DocWriteError::Unknown(e)) => {
                    failures += 1;
                    if failures >= MAX_FAILURES {
                        return Err(CenterError::Unknown(e.context("recording a contact center event")));
                    }
                }
            }
            backoff(attempt).await;
        }
        Err(unknown(anyhow::anyhow!("recording a contact center event lost {MAX_ATTEMPTS} races in a row")))
    }

    async fn events(
        &self,
        tenant: &TenantId,
        (from, to): (i64, i64),
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<CenterEvent>, CenterError> {
        let start = match cursor_within(after, keys::CENTER_EVENT_PREFIX) {
            Some(Err(())) => {
                return Err(unknown(anyhow::anyhow!("the cursor does not belong to this listing")))
            }
            Some(Ok(a)) => a.to_owned(),
            None => keys::center_events_from(from),
        };
        let pk = keys::tenant_partition(tenant);
        let limit = limit.max(1);
        let (docs, next) = self
            .table
            .query_docs(&pk, keys::CENTER_EVENT_PREFIX, Some(&start), (limit, true), self.table.now())
            .await
            .map_err(unknown)?;
        let mut items = Vec::with_capacity(docs.len());
        for doc in &docs {
            if keys::center_event_at(&doc.sk).is_some_and(|at| at >= to) {
                return Ok(Page { items, next: None });
            }
            items.push(from_json::<CenterEvent>(doc)?.value);
        }
        Ok(Page { items, next })
    }

    async fn hours(
        &self,
        tenant: &TenantId,
        scope: &Scope,
        (from_hour, to_hour): (i64, i64),
    ) -> Result<Vec<HourFigures>, CenterError> {
        let pk = keys::tenant_partition(tenant);
        let prefix = keys::center_hours_prefix(scope);
        let now = self.table.now();
        // The exclusive start just before `from_hour`'s key (hour keys are hour boundaries).
        let mut cursor = (from_hour > 0).then(|| keys::center_hour(tenant, scope, from_hour - 1).sk);
        let mut out = Vec::new();
        loop {
            let (docs, next) = self
                .table
                .query_docs(&pk, &prefix, cursor.as_deref(), (100, true), now)
                .await
                .map_err(unknown)?;
            for doc in &docs {
                let hour: HourFigures = from_json(doc)?.value;
                if hour.hour >= to_hour {
                    return Ok(out);
                }
                if hour.hour >= from_hour {
                    // The parts of one hour sort together: summed into one.
                    match out.last_mut() {
                        Some(last) if last.hour == hour.hour => last.merge(hour),
                        _ => out.push(hour),
                    }
                }
            }
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    async fn depth_before(&self, tenant: &TenantId, scope: &Scope, at: i64) -> Result<i64, CenterError> {
        if !line::has_line(scope) {
            return Ok(0);
        }
        let total = self.nets(tenant, scope, Level::Total, (0, None)).await?;
        // The running total less what moved since `at` (a bounded number of items). Separate
        // reads, not a snapshot: an event recorded meanwhile (at "now", after `at`) may be seen
        // by one and not the other, off by one for this read only; nothing stored drifts.
        let spans = SinceSpans::after(at);
        let hours = if spans.hours.0 < spans.hours.1 {
            self.hours(tenant, scope, spans.hours).await?.iter().map(HourFigures::depth_change).sum()
        } else {
            0
        };
        let days = self.nets(tenant, scope, Level::Day, (spans.days.0, Some(spans.days.1))).await?;
        let blocks = self.nets(tenant, scope, Level::Block, (spans.blocks_from, None)).await?;
        Ok(total - hours - days - blocks)
    }

    async fn anonymize(&self, tenant: &TenantId, conversation: &ConversationId) -> Result<u64, CenterError> {
        let pk = keys::tenant_partition(tenant);
        let prefix = keys::center_event_links_prefix(conversation);
        let now = self.table.now();
        let mut changed = 0;
        loop {
            // Each pass removes the links it read, so the next starts from the beginning.
            let (links, next) =
                self.table.query_docs(&pk, &prefix, None, (100, true), now).await.map_err(unknown)?;
            for link in &links {
                changed += u64::from(self.anonymize_one(tenant, link, now).await?);
            }
            if next.is_none() || links.is_empty() {
                return Ok(changed);
            }
        }
    }
}

#[cfg(test)]
mod tests;
