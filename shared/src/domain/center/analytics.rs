//! Manager analytics (P42): what `GET /v1/analytics/conversations` answers, computed from the
//! hourly aggregates the event log keeps ([`HourFigures`], merged by [`figures`]) and, for
//! checking, straight from the events ([`figures_from_events`]): both must give the same numbers.
//!
//! Definitions (the API description repeats them):
//! - A conversation *cycle* starts with [`EventKind::Opened`] (a new conversation) or
//!   [`EventKind::Reopened`]. `conversations` = cycles started in the range. With an `agent`
//!   filter it is the conversations **assigned** to that agent in the range
//!   ([`EventKind::Assigned`] events naming them); with only a `queue` filter it is the
//!   conversations **routed** into that queue ([`EventKind::Routed`] events naming it): a cycle
//!   starts before any queue or agent is known, so those are what "a queue's / an agent's
//!   conversations" can mean.
//! - `resolved` = [`EventKind::Resolved`] events; `resolution_seconds` = their `duration_ms`
//!   (cycle start to resolution); `first_response_seconds` = the `duration_ms` of
//!   [`EventKind::FirstReply`] events (cycle start to the first agent reply);
//!   `waiting_seconds` = the `duration_ms` of [`EventKind::Assigned`] events that have one (time
//!   waited in the queue).
//! - `sla_breaches` = `FirstReply` events whose `duration_ms` exceeds their `target_ms` (the
//!   queue's first-response target in force when the reply was sent).
//! - `messages_received` = [`EventKind::Received`], `agent_replies` = [`EventKind::AgentReply`].
//! - Filters: `queue` keeps the events whose `queue` is it, `agent` those whose `agent` is them
//!   (both: both).
//! - p50/p90 by **nearest rank** over the exact samples: the smallest sample with at least p% of
//!   the samples at or below it (`sorted[ceil(p/100 · n) - 1]`); `null` without samples.
//!   Seconds are JSON numbers (ms / 1000, may be fractional).
//! - The range: an event counts when `from <= at < to` **after the range is widened to whole
//!   UTC hours** (`from` floored, `to` raised to the next hour boundary), since the aggregates
//!   are hourly; the answer's `from` and `to` are the widened bounds. `by_hour` lists every
//!   hour of the range (zeros included), `by_day` every UTC day it touches (a partial first or
//!   last day holds only the range's hours).
//! - `waiting_line`: queue depth and waiting time over time, defined in [`super::line`]
//!   (`null` under an `agent` filter).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::line::{self, HourLine, WaitingLine};
use super::{CenterEvent, EventKind};
use crate::domain::ids::{QueueId, UserId};

/// One hour, ms.
pub const HOUR_MS: i64 = 3_600_000;
/// One day, ms.
pub const DAY_MS: i64 = 86_400_000;
/// The longest range one analytics read covers, days.
pub const MAX_RANGE_DAYS: i64 = 92;
/// How long events stay in the log, days (P52: nothing that could identify anyone stays past
/// 12 months; they are anonymised earlier, when their conversation's retention ends).
pub const EVENT_RETENTION_DAYS: u64 = 365;
/// How long the hourly aggregates stay, days (P52: aggregated analytics kept up to 24 months).
/// They hold counts and durations only, never an id.
pub const AGGREGATE_RETENTION_DAYS: u64 = 730;

/// The UTC hour `at` falls in (its start, epoch ms).
#[must_use]
pub const fn hour_of(at: i64) -> i64 {
    at.div_euclid(HOUR_MS) * HOUR_MS
}

/// The UTC day `at` falls in (its midnight, epoch ms).
#[must_use]
pub const fn day_of(at: i64) -> i64 {
    at.div_euclid(DAY_MS) * DAY_MS
}

/// What an analytics read is about: the tenant, or only a queue's and/or an agent's events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only events whose `queue` is this.
    pub queue: Option<QueueId>,
    /// Only events whose `agent` is this.
    pub agent: Option<UserId>,
}

impl Filter {
    /// The aggregate that answers this filter.
    #[must_use]
    pub fn scope(&self) -> Scope {
        match (&self.queue, &self.agent) {
            (None, None) => Scope::Tenant,
            (Some(q), None) => Scope::Queue(q.clone()),
            (None, Some(a)) => Scope::Agent(a.clone()),
            (Some(q), Some(a)) => Scope::QueueAgent(q.clone(), a.clone()),
        }
    }

    /// True when `event` passes.
    #[must_use]
    pub fn accepts(&self, event: &CenterEvent) -> bool {
        self.queue.as_ref().is_none_or(|q| event.queue.as_ref() == Some(q))
            && self.agent.as_ref().is_none_or(|a| event.agent.as_ref() == Some(a))
    }

    /// True when `event` counts as one of `conversations` under this filter (see the module
    /// docs).
    #[must_use]
    pub fn starts_conversation(&self, kind: EventKind) -> bool {
        match (&self.queue, &self.agent) {
            (_, Some(_)) => kind == EventKind::Assigned,
            (Some(_), None) => kind == EventKind::Routed,
            (None, None) => matches!(kind, EventKind::Opened | EventKind::Reopened),
        }
    }
}

/// An aggregate's scope: every event of the tenant, or those of one queue, one agent, or one
/// agent in one queue. Each event is added to every scope it belongs to ([`Scope::of_event`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every event.
    Tenant,
    /// Events naming this queue.
    Queue(QueueId),
    /// Events naming this agent.
    Agent(UserId),
    /// Events naming both.
    QueueAgent(QueueId, UserId),
}

impl Scope {
    /// The scopes `event` is counted in (1 to 4).
    #[must_use]
    pub fn of_event(event: &CenterEvent) -> Vec<Self> {
        let mut scopes = vec![Self::Tenant];
        if let Some(q) = &event.queue {
            scopes.push(Self::Queue(q.clone()));
        }
        if let Some(a) = &event.agent {
            scopes.push(Self::Agent(a.clone()));
        }
        if let (Some(q), Some(a)) = (&event.queue, &event.agent) {
            scopes.push(Self::QueueAgent(q.clone(), a.clone()));
        }
        scopes
    }
}

/// What one hour of one scope adds up to: counts by kind and the exact samples (ms), so that
/// percentiles over any range are exact. No ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourFigures {
    /// The hour's start, epoch ms.
    pub hour: i64,
    /// `Opened` events.
    #[serde(default)]
    pub opened: u64,
    /// `Reopened` events.
    #[serde(default)]
    pub reopened: u64,
    /// `Routed` events.
    #[serde(default)]
    pub routed: u64,
    /// `Assigned` events.
    #[serde(default)]
    pub assigned: u64,
    /// `Resolved` events.
    #[serde(default)]
    pub resolved: u64,
    /// `Received` events.
    #[serde(default)]
    pub received: u64,
    /// `AgentReply` events.
    #[serde(default)]
    pub agent_replies: u64,
    /// `FirstReply` events later than their target.
    #[serde(default)]
    pub sla_breaches: u64,
    /// `FirstReply` durations, ms.
    #[serde(default)]
    pub first_response_ms: Vec<i64>,
    /// `Resolved` durations, ms.
    #[serde(default)]
    pub resolution_ms: Vec<i64>,
    /// `Assigned` durations (waiting in the queue), ms.
    #[serde(default)]
    pub waiting_ms: Vec<i64>,
    /// Entries into a queue's waiting line (`Queued` events with a queue).
    #[serde(default)]
    pub entered: u64,
    /// Exits from a queue's waiting line (`Dequeued` events with a queue).
    #[serde(default)]
    pub left: u64,
    /// `Dequeued` durations (how long those that left had waited), ms.
    #[serde(default)]
    pub left_waits_ms: Vec<i64>,
}

impl HourFigures {
    /// An hour with nothing in it.
    #[must_use]
    pub fn empty(hour: i64) -> Self {
        Self { hour, ..Self::default() }
    }

    /// Adds `event` (of this hour) to the figures.
    pub fn add(&mut self, event: &CenterEvent) {
        match event.kind {
            EventKind::Opened => self.opened += 1,
            EventKind::Reopened => self.reopened += 1,
            EventKind::Routed => self.routed += 1,
            EventKind::Assigned => {
                self.assigned += 1;
                self.waiting_ms.extend(event.duration_ms);
            }
            EventKind::Resolved => {
                self.resolved += 1;
                self.resolution_ms.extend(event.duration_ms);
            }
            EventKind::Received => self.received += 1,
            EventKind::AgentReply => self.agent_replies += 1,
            EventKind::FirstReply => {
                self.first_response_ms.extend(event.duration_ms);
                if breaches(event) {
                    self.sla_breaches += 1;
                }
            }
            EventKind::Queued | EventKind::Dequeued => match line::delta(event) {
                1 => self.entered += 1,
                -1 => {
                    self.left += 1;
                    self.left_waits_ms.extend(event.duration_ms);
                }
                _ => {}
            },
            EventKind::Transferred | EventKind::Woken | EventKind::BotMessage | EventKind::BotDecision => {}
        }
    }

    /// Adds `part`, another part of the same hour's figures (stores keep an hour in parts).
    pub fn merge(&mut self, part: Self) {
        // Destructured: a new field must be summed here too.
        let Self {
            hour: _,
            opened,
            reopened,
            routed,
            assigned,
            resolved,
            received,
            agent_replies,
            sla_breaches,
            first_response_ms,
            resolution_ms,
            waiting_ms,
            entered,
            left,
            left_waits_ms,
        } = part;
        self.opened += opened;
        self.reopened += reopened;
        self.routed += routed;
        self.assigned += assigned;
        self.resolved += resolved;
        self.received += received;
        self.agent_replies += agent_replies;
        self.sla_breaches += sla_breaches;
        self.first_response_ms.extend(first_response_ms);
        self.resolution_ms.extend(resolution_ms);
        self.waiting_ms.extend(waiting_ms);
        self.entered += entered;
        self.left += left;
        self.left_waits_ms.extend(left_waits_ms);
    }

    /// How the hour moved its waiting line's depth: entries minus exits.
    #[must_use]
    pub fn depth_change(&self) -> i64 {
        i64::try_from(self.entered).unwrap_or(i64::MAX) - i64::try_from(self.left).unwrap_or(i64::MAX)
    }

    /// The hour's `conversations` under `filter` (see the module docs).
    #[must_use]
    pub fn conversations(&self, filter: &Filter) -> u64 {
        match (&filter.queue, &filter.agent) {
            (_, Some(_)) => self.assigned,
            (Some(_), None) => self.routed,
            (None, None) => self.opened + self.reopened,
        }
    }
}

/// True when a `FirstReply` came later than the target in force.
fn breaches(event: &CenterEvent) -> bool {
    event.kind == EventKind::FirstReply
        && matches!((event.duration_ms, event.target_ms), (Some(d), Some(t)) if d > t)
}

/// A range of an analytics read, widened to whole UTC hours (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The first hour's start, epoch ms (inclusive).
    pub from: i64,
    /// The end, epoch ms (exclusive), an hour boundary.
    pub to: i64,
}

/// Why a range is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `from` is not before `to`.
    #[error("from must be before to")]
    Empty,
    /// Longer than [`MAX_RANGE_DAYS`].
    #[error("the range may cover 92 days at most")]
    TooLong,
    /// Before the epoch.
    #[error("from and to must be epoch milliseconds (0 or more)")]
    Negative,
}

impl Range {
    /// `[from, to)` widened to whole hours.
    ///
    /// # Errors
    /// [`RangeError`] when `from >= to`, either is negative, or `to - from` is over
    /// [`MAX_RANGE_DAYS`].
    pub fn widened(from: i64, to: i64) -> Result<Self, RangeError> {
        if from < 0 || to < 0 {
            return Err(RangeError::Negative);
        }
        if from >= to {
            return Err(RangeError::Empty);
        }
        if to - from > MAX_RANGE_DAYS * DAY_MS {
            return Err(RangeError::TooLong);
        }
        let end = hour_of(to);
        Ok(Self { from: hour_of(from), to: if end == to { to } else { end + HOUR_MS } })
    }

    /// True when `at` is in the range.
    #[must_use]
    pub const fn contains(&self, at: i64) -> bool {
        self.from <= at && at < self.to
    }

    /// The start of every hour of the range.
    pub fn hours(&self) -> impl Iterator<Item = i64> {
        let from = self.from;
        (0..(self.to - self.from) / HOUR_MS).map(move |i| from + i * HOUR_MS)
    }
}

/// p50 and p90 of some durations, seconds; `None` without samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Percentiles {
    /// The median, by nearest rank.
    pub p50: Option<f64>,
    /// The 90th percentile, by nearest rank.
    pub p90: Option<f64>,
}

impl Percentiles {
    /// Of `samples_ms` (any order).
    #[must_use]
    pub fn of(samples_ms: &[i64]) -> Self {
        let mut sorted = samples_ms.to_vec();
        sorted.sort_unstable();
        Self { p50: nearest_rank(&sorted, 50).map(seconds), p90: nearest_rank(&sorted, 90).map(seconds) }
    }
}

/// The `p`th percentile of `sorted` by nearest rank: `sorted[ceil(p/100 · n) - 1]`.
#[must_use]
pub fn nearest_rank(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

#[allow(clippy::cast_precision_loss)] // durations are far below 2^52 ms
fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// The traffic of one hour or day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Traffic {
    /// `conversations` (as the filter defines them).
    pub conversations: u64,
    /// Resolutions.
    pub resolved: u64,
    /// Customer messages received.
    pub messages_received: u64,
    /// Agent replies.
    pub agent_replies: u64,
}

impl Traffic {
    fn add(&mut self, other: Self) {
        self.conversations += other.conversations;
        self.resolved += other.resolved;
        self.messages_received += other.messages_received;
        self.agent_replies += other.agent_replies;
    }
}

/// One hour of `by_hour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HourPoint {
    /// The hour's start, epoch ms.
    pub hour: i64,
    /// Its traffic.
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// One UTC day of `by_day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DayPoint {
    /// The day's midnight (UTC), epoch ms.
    pub day: i64,
    /// Its traffic (within the range).
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// The answer of `GET /v1/analytics/conversations` (see the module docs for every figure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Figures {
    /// The range's start as widened, epoch ms (inclusive).
    pub from: i64,
    /// The range's end as widened, epoch ms (exclusive).
    pub to: i64,
    /// Conversation cycles started (or, filtered, routed to the queue / assigned to the agent).
    pub conversations: u64,
    /// Resolutions.
    pub resolved: u64,
    /// Cycle start to first agent reply, seconds.
    pub first_response_seconds: Percentiles,
    /// Cycle start to resolution, seconds.
    pub resolution_seconds: Percentiles,
    /// Time waited in the queue before assignment, seconds.
    pub waiting_seconds: Percentiles,
    /// First replies later than the queue's first-response target.
    pub sla_breaches: u64,
    /// Customer messages received.
    pub messages_received: u64,
    /// Agent replies.
    pub agent_replies: u64,
    /// Every hour of the range.
    pub by_hour: Vec<HourPoint>,
    /// Every UTC day the range touches.
    pub by_day: Vec<DayPoint>,
    /// Queue depth and waiting time over the range ([`super::line`]); `null` under an `agent`
    /// filter.
    pub waiting_line: Option<WaitingLine>,
}

/// The answer from the hourly aggregates of the filter's scope (hours outside the range are
/// ignored; missing hours are zeros) and the depth of its waiting line at the range's start
/// (`EventLog::depth_before`; ignored under an `agent` filter).
#[must_use]
pub fn figures(range: Range, filter: &Filter, hours: &[HourFigures], depth_at_from: i64) -> Figures {
    let mut by_hour: BTreeMap<i64, Traffic> = range.hours().map(|h| (h, Traffic::default())).collect();
    let (mut first, mut resolution, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
    let mut sla_breaches = 0;
    for hour in hours.iter().filter(|h| range.contains(h.hour)) {
        let traffic = Traffic {
            conversations: hour.conversations(filter),
            resolved: hour.resolved,
            messages_received: hour.received,
            agent_replies: hour.agent_replies,
        };
        by_hour.entry(hour_of(hour.hour)).or_default().add(traffic);
        first.extend_from_slice(&hour.first_response_ms);
        resolution.extend_from_slice(&hour.resolution_ms);
        waiting.extend_from_slice(&hour.waiting_ms);
        sla_breaches += hour.sla_breaches;
    }
    let mut answer = assemble(range, by_hour, [&first, &resolution, &waiting], sla_breaches);
    if filter.agent.is_none() {
        let lines: BTreeMap<i64, HourLine> = hours
            .iter()
            .map(|h| {
                let line = HourLine { entered: h.entered, left: h.left, waits_ms: h.left_waits_ms.clone() };
                (hour_of(h.hour), line)
            })
            .collect();
        answer.waiting_line = Some(line::build(range, depth_at_from, &lines));
    }
    answer
}

/// The same answer recomputed straight from `events` (any order, any range, any scope): what
/// the aggregates must agree with. Written apart from [`HourFigures`] on purpose.
#[must_use]
pub fn figures_from_events(range: Range, filter: &Filter, events: &[CenterEvent]) -> Figures {
    let mut by_hour: BTreeMap<i64, Traffic> = range.hours().map(|h| (h, Traffic::default())).collect();
    let (mut first, mut resolution, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
    let mut sla_breaches = 0;
    for event in events.iter().filter(|e| range.contains(e.at) && filter.accepts(e)) {
        let traffic = by_hour.entry(hour_of(event.at)).or_default();
        traffic.conversations += u64::from(filter.starts_conversation(event.kind));
        let samples = match event.kind {
            EventKind::Resolved => {
                traffic.resolved += 1;
                Some(&mut resolution)
            }
            EventKind::Received => {
                traffic.messages_received += 1;
                None
            }
            EventKind::AgentReply => {
                traffic.agent_replies += 1;
                None
            }
            EventKind::FirstReply => {
                sla_breaches += u64::from(breaches(event));
                Some(&mut first)
            }
            EventKind::Assigned => Some(&mut waiting),
            _ => None,
        };
        if let (Some(samples), Some(ms)) = (samples, event.duration_ms) {
            samples.push(ms);
        }
    }
    let mut answer = assemble(range, by_hour, [&first, &resolution, &waiting], sla_breaches);
    if filter.agent.is_none() {
        answer.waiting_line = Some(line::from_events(range, events, |e| filter.accepts(e)));
    }
    answer
}

fn assemble(
    range: Range,
    by_hour: BTreeMap<i64, Traffic>,
    samples: [&[i64]; 3],
    sla_breaches: u64,
) -> Figures {
    let mut total = Traffic::default();
    let mut by_day: BTreeMap<i64, Traffic> = BTreeMap::new();
    for (hour, traffic) in &by_hour {
        total.add(*traffic);
        by_day.entry(day_of(*hour)).or_default().add(*traffic);
    }
    let [first, resolution, waiting] = samples;
    Figures {
        from: range.from,
        to: range.to,
        conversations: total.conversations,
        resolved: total.resolved,
        first_response_seconds: Percentiles::of(first),
        resolution_seconds: Percentiles::of(resolution),
        waiting_seconds: Percentiles::of(waiting),
        sla_breaches,
        messages_received: total.messages_received,
        agent_replies: total.agent_replies,
        by_hour: by_hour.into_iter().map(|(hour, traffic)| HourPoint { hour, traffic }).collect(),
        by_day: by_day.into_iter().map(|(day, traffic)| DayPoint { day, traffic }).collect(),
        waiting_line: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000 - 1_800_000_000_000 % DAY_MS;

    fn event(kind: EventKind, at: i64, duration_ms: Option<i64>) -> CenterEvent {
        CenterEvent {
            id: format!("{kind:?}-{at}-{duration_ms:?}"),
            kind,
            conversation_id: None,
            at,
            queue: None,
            agent: None,
            duration_ms,
            target_ms: None,
            by_system: false,
        }
    }

    #[test]
    fn nearest_rank_picks_the_smallest_sample_covering_p_percent() {
        let sorted: Vec<i64> = (1..=10).collect();
        assert_eq!(nearest_rank(&sorted, 50), Some(5));
        assert_eq!(nearest_rank(&sorted, 90), Some(9));
        assert_eq!(nearest_rank(&[7], 50), Some(7));
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        assert_eq!(nearest_rank(&[1, 2, 3], 50), Some(2));
        assert_eq!(nearest_rank(&[1, 2, 3], 90), Some(3));
        assert_eq!(nearest_rank(&[], 50), None);
    }

    #[test]
    fn percentiles_are_seconds_and_null_without_samples() {
        let p = Percentiles::of(&[3000, 1500, 60_000]);
        assert_eq!(p.p50, Some(3.0));
        assert_eq!(p.p90, Some(60.0));
        assert_eq!(Percentiles::of(&[]), Percentiles { p50: None, p90: None });
        let json = serde_json::to_value(Percentiles::of(&[1500])).unwrap();
        assert_eq!(json, serde_json::json!({"p50": 1.5, "p90": 1.5}));
    }

    #[test]
    fn a_range_is_widened_to_whole_hours_and_bounded() {
        let r = Range::widened(T0 + 10, T0 + HOUR_MS + 1).unwrap();
        assert_eq!((r.from, r.to), (T0, T0 + 2 * HOUR_MS));
        let exact = Range::widened(T0, T0 + HOUR_MS).unwrap();
        assert_eq!(exact.hours().collect::<Vec<_>>(), vec![T0]);
        assert_eq!(Range::widened(T0, T0), Err(RangeError::Empty));
        assert_eq!(Range::widened(T0, T0 - 1), Err(RangeError::Empty));
        assert_eq!(Range::widened(-1, T0), Err(RangeError::Negative));
        assert!(Range::widened(T0, T0 + 92 * DAY_MS).is_ok());
        assert_eq!(Range::widened(T0, T0 + 92 * DAY_MS + 1), Err(RangeError::TooLong));
    }

    #[test]
    fn merged_hours_equal_the_recomputation_from_events() {
        // Arrange: two days of traffic, one event outside the range.
        let q = QueueId::parse("q_1").unwrap();
        let agent = UserId::parse("usr_a").unwrap();
        let mut events = vec![
            event(EventKind::Opened, T0 + 5, None),
            event(EventKind::Received, T0 + 6, None),
            event(EventKind::Reopened, T0 + DAY_MS + 3 * HOUR_MS, None),
            event(EventKind::Resolved, T0 + HOUR_MS, Some(90_000)),
            event(EventKind::Resolved, T0 + DAY_MS, Some(30_000)),
            event(EventKind::Opened, T0 + 2 * DAY_MS, None),
        ];
        let mut first = event(EventKind::FirstReply, T0 + 10, Some(120_000));
        first.target_ms = Some(60_000);
        first.queue = Some(q.clone());
        first.agent = Some(agent.clone());
        events.push(first);
        let mut assigned = event(EventKind::Assigned, T0 + 8, Some(4000));
        assigned.queue = Some(q.clone());
        assigned.agent = Some(agent.clone());
        events.push(assigned);
        let range = Range::widened(T0, T0 + 2 * DAY_MS).unwrap();
        let mut hours: BTreeMap<(i64, bool), HourFigures> = BTreeMap::new();
        for e in &events {
            for (agent_scope, keep) in [(false, true), (true, e.agent.as_ref() == Some(&agent))] {
                if keep {
                    hours
                        .entry((hour_of(e.at), agent_scope))
                        .or_insert_with(|| HourFigures::empty(hour_of(e.at)))
                        .add(e);
                }
            }
        }
        let tenant_hours: Vec<_> = hours.iter().filter(|((_, a), _)| !a).map(|(_, h)| h.clone()).collect();
        let agent_hours: Vec<_> = hours.iter().filter(|((_, a), _)| *a).map(|(_, h)| h.clone()).collect();
        let everyone = Filter::default();
        let theirs = Filter { queue: None, agent: Some(agent) };

        // Act
        let merged = figures(range, &everyone, &tenant_hours, 0);
        let filtered = figures(range, &theirs, &agent_hours, 0);

        // Assert
        assert_eq!(merged, figures_from_events(range, &everyone, &events));
        assert_eq!(filtered, figures_from_events(range, &theirs, &events));
        assert_eq!(merged.conversations, 2);
        assert_eq!(merged.resolved, 2);
        assert_eq!(merged.resolution_seconds, Percentiles { p50: Some(30.0), p90: Some(90.0) });
        assert_eq!(merged.sla_breaches, 1);
        assert_eq!(merged.by_hour.len(), 48);
        assert_eq!(merged.by_day.len(), 2);
        assert_eq!(merged.by_day[0].traffic.conversations, 1);
        assert_eq!(merged.by_day[1].traffic.conversations, 1);
        assert_eq!(filtered.conversations, 1, "assigned to the agent");
        assert_eq!(filtered.waiting_seconds.p50, Some(4.0));
        assert_eq!(filtered.messages_received, 0);
    }

    #[test]
    fn each_event_goes_to_its_scopes() {
        let mut e = event(EventKind::AgentReply, T0, None);
        assert_eq!(Scope::of_event(&e), vec![Scope::Tenant]);
        e.queue = Some(QueueId::parse("Sales").unwrap());
        e.agent = Some(UserId::parse("usr_a").unwrap());
        assert_eq!(Scope::of_event(&e).len(), 4);
        let filter = Filter { queue: e.queue.clone(), agent: e.agent.clone() };
        assert!(filter.accepts(&e));
        assert_eq!(Scope::of_event(&e).last(), Some(&filter.scope()));
    }
}
