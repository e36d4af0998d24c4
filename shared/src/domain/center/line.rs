//! Queue depth and waiting time over time (P42): the `waiting_line` part of
//! `GET /v1/analytics/conversations`.
//!
//! Definitions (the API description repeats them):
//! - A conversation **enters** a queue's waiting line with a [`EventKind::Queued`] event naming
//!   the queue, and **leaves** it with a [`EventKind::Dequeued`] event naming it (assigned,
//!   transferred elsewhere, resolved or deleted while waiting). Both are emitted from one
//!   comparison of every change's before and after ([`super::waits_in`]), so each entry has
//!   its exit.
//! - The **depth** at a time is entries minus exits of the events before it: of one queue
//!   (`queue` filter) or of all queues (no filter). There is no line under an `agent` filter
//!   (`waiting_line` is `null`): nobody's line is an agent's.
//! - `by_hour[].depth` is the depth at the end of the hour (`by_day[].depth` at the end of the
//!   day, within the range); `max_depth` is the largest end-of-hour depth of the hour, day or
//!   range; `entered`/`left` count entries and exits; `wait_seconds` are the waits
//!   (`duration_ms` of `Dequeued`) of the conversations that **left** the line then: p50/p90 by
//!   nearest rank, average and maximum, `null` without samples.
//!
//! How a read stays O(hours in range): the hourly aggregates count entries and exits (and keep
//! the waits); the depth at the range's start is the running total of the scope minus the net
//! change since then, read from nets kept besides the hours per UTC day and per 30-day
//! [`block_of`] (at most 24 hours, 30 days and the blocks since: a bounded number of small
//! items, whatever the number of events).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::analytics::{day_of, nearest_rank, Range, Scope, DAY_MS};
use super::{CenterEvent, EventKind};

/// The span of a net block, ms: 30 UTC days from the epoch (blocks start at midnights).
pub const BLOCK_MS: i64 = 30 * DAY_MS;

/// The 30-day block `at` falls in (its start, epoch ms).
#[must_use]
pub const fn block_of(at: i64) -> i64 {
    at.div_euclid(BLOCK_MS) * BLOCK_MS
}

/// How an event moves its queue's depth: `1` entering, `-1` leaving, `0` otherwise.
#[must_use]
pub fn delta(event: &CenterEvent) -> i64 {
    match (event.kind, &event.queue) {
        (EventKind::Queued, Some(_)) => 1,
        (EventKind::Dequeued, Some(_)) => -1,
        _ => 0,
    }
}

/// True for the scopes that have a waiting line: the tenant (every queue) and one queue.
#[must_use]
pub const fn has_line(scope: &Scope) -> bool {
    matches!(scope, Scope::Tenant | Scope::Queue(_))
}

/// Where, besides the hourly aggregates, a net change of depth is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// Per UTC day.
    Day,
    /// Per 30-day block ([`block_of`]).
    Block,
    /// Since the beginning: the running total (the depth now, as recorded).
    Total,
}

impl Level {
    /// Every level.
    pub const ALL: [Self; 3] = [Self::Day, Self::Block, Self::Total];

    /// The start of the period of this level `at` falls in (0 for the total).
    #[must_use]
    pub const fn start(self, at: i64) -> i64 {
        match self {
            Self::Day => day_of(at),
            Self::Block => block_of(at),
            Self::Total => 0,
        }
    }

    /// When the period of this level starting at `start` ends (none for the total).
    #[must_use]
    pub const fn end(self, start: i64) -> Option<i64> {
        match self {
            Self::Day => Some(start + DAY_MS),
            Self::Block => Some(start + BLOCK_MS),
            Self::Total => None,
        }
    }
}

/// One kept net change of depth: of the period starting at `start` of its level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Net {
    /// The period's start, epoch ms (0 for the total).
    pub start: i64,
    /// Entries minus exits in it.
    pub net: i64,
}

/// What to subtract from the running total to get the depth just before `at` (an hour
/// boundary): the nets of the hours `[at, next midnight)`, of the days up to the end of `at`'s
/// block, and of the blocks from there on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinceSpans {
    /// Hours `[from, to)`.
    pub hours: (i64, i64),
    /// Days `[from, to)`.
    pub days: (i64, i64),
    /// Blocks from this one on.
    pub blocks_from: i64,
}

impl SinceSpans {
    /// The spans after `at`.
    #[must_use]
    pub const fn after(at: i64) -> Self {
        let next_midnight = day_of(at - 1) + DAY_MS;
        let block_end = block_of(at - 1) + BLOCK_MS;
        Self { hours: (at, next_midnight), days: (next_midnight, block_end), blocks_from: block_end }
    }
}

/// Waits of the conversations that left the line, seconds; `null` without samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WaitStats {
    /// The median, by nearest rank.
    pub p50: Option<f64>,
    /// The 90th percentile, by nearest rank.
    pub p90: Option<f64>,
    /// The average.
    pub avg: Option<f64>,
    /// The longest.
    pub max: Option<f64>,
}

#[allow(clippy::cast_precision_loss)] // durations and counts are far below 2^52
impl WaitStats {
    /// Of `samples_ms` (any order).
    #[must_use]
    pub fn of(samples_ms: &[i64]) -> Self {
        let mut sorted = samples_ms.to_vec();
        sorted.sort_unstable();
        let seconds = |ms: i64| ms as f64 / 1000.0;
        let avg = (!sorted.is_empty()).then(|| {
            sorted.iter().map(|&ms| i128::from(ms)).sum::<i128>() as f64 / sorted.len() as f64 / 1000.0
        });
        Self {
            p50: nearest_rank(&sorted, 50).map(seconds),
            p90: nearest_rank(&sorted, 90).map(seconds),
            avg,
            max: sorted.last().copied().map(seconds),
        }
    }
}

/// One hour or day of the waiting line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LinePoint {
    /// The hour's (or day's midnight) start, epoch ms.
    pub at: i64,
    /// Conversations waiting at its end.
    pub depth: i64,
    /// The largest end-of-hour depth within it.
    pub max_depth: i64,
    /// Conversations that began waiting.
    pub entered: u64,
    /// Conversations that stopped waiting.
    pub left: u64,
    /// How long those that stopped had waited.
    pub wait_seconds: WaitStats,
}

/// Queue depth and waiting time over the range (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WaitingLine {
    /// Conversations waiting at the range's start.
    pub depth_at_from: i64,
    /// Conversations waiting at the range's end.
    pub depth_at_to: i64,
    /// The largest end-of-hour depth in the range.
    pub max_depth: i64,
    /// Conversations that began waiting in the range.
    pub entered: u64,
    /// Conversations that stopped waiting in the range.
    pub left: u64,
    /// How long those that stopped had waited.
    pub wait_seconds: WaitStats,
    /// Every hour of the range.
    pub by_hour: Vec<LinePoint>,
    /// Every UTC day the range touches.
    pub by_day: Vec<LinePoint>,
}

/// Entries, exits and waits of one hour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HourLine {
    /// Entries.
    pub entered: u64,
    /// Exits.
    pub left: u64,
    /// Waits of the exits, ms.
    pub waits_ms: Vec<i64>,
}

impl HourLine {
    /// Adds `event` (of this hour).
    pub fn add(&mut self, event: &CenterEvent) {
        match delta(event) {
            1 => self.entered += 1,
            -1 => {
                self.left += 1;
                self.waits_ms.extend(event.duration_ms);
            }
            _ => {}
        }
    }
}

/// The waiting line over `range`, from the depth at its start and the hours' entries and
/// exits (hours outside the range ignored, missing ones empty).
#[must_use]
pub fn build(range: Range, depth_at_from: i64, hours: &BTreeMap<i64, HourLine>) -> WaitingLine {
    let mut depth = depth_at_from;
    let (mut by_hour, mut by_day) = (Vec::new(), Vec::<(LinePoint, Vec<i64>)>::new());
    let (mut all_waits, mut max_depth, mut entered, mut left) = (Vec::new(), depth_at_from, 0, 0);
    let empty = HourLine::default();
    for hour in range.hours() {
        let line = hours.get(&hour).unwrap_or(&empty);
        depth +=
            i64::try_from(line.entered).unwrap_or(i64::MAX) - i64::try_from(line.left).unwrap_or(i64::MAX);
        max_depth = max_depth.max(depth);
        (entered, left) = (entered + line.entered, left + line.left);
        all_waits.extend_from_slice(&line.waits_ms);
        let point = LinePoint {
            at: hour,
            depth,
            max_depth: depth,
            entered: line.entered,
            left: line.left,
            wait_seconds: WaitStats::of(&line.waits_ms),
        };
        match by_day.last_mut() {
            Some((day, waits)) if day.at == day_of(hour) => {
                day.depth = depth;
                day.max_depth = day.max_depth.max(depth);
                day.entered += line.entered;
                day.left += line.left;
                waits.extend_from_slice(&line.waits_ms);
            }
            _ => by_day.push((LinePoint { at: day_of(hour), ..point.clone() }, line.waits_ms.clone())),
        }
        by_hour.push(point);
    }
    WaitingLine {
        depth_at_from,
        depth_at_to: depth,
        max_depth,
        entered,
        left,
        wait_seconds: WaitStats::of(&all_waits),
        by_hour,
        by_day: by_day
            .into_iter()
            .map(|(day, waits)| LinePoint { wait_seconds: WaitStats::of(&waits), ..day })
            .collect(),
    }
}

/// The same straight from `events` (any order, any scope), counting those `accepts` keeps:
/// the depth at the start from every event before the range. Written apart from the
/// aggregates on purpose.
#[must_use]
pub fn from_events(
    range: Range,
    events: &[CenterEvent],
    accepts: impl Fn(&CenterEvent) -> bool,
) -> WaitingLine {
    let mut hours: BTreeMap<i64, HourLine> = BTreeMap::new();
    let mut depth_at_from = 0;
    for event in events.iter().filter(|e| accepts(e)) {
        if event.at < range.from {
            depth_at_from += delta(event);
        } else if range.contains(event.at) {
            hours.entry(super::analytics::hour_of(event.at)).or_default().add(event);
        }
    }
    build(range, depth_at_from, &hours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::center::analytics::HOUR_MS;
    use crate::domain::QueueId;

    const T0: i64 = 1_800_000_000_000 - 1_800_000_000_000 % BLOCK_MS;

    fn event(kind: EventKind, queue: Option<&str>, at: i64, waited: Option<i64>) -> CenterEvent {
        CenterEvent {
            id: format!("{kind:?}-{at}"),
            kind,
            conversation_id: None,
            at,
            queue: queue.map(|q| QueueId::parse(q).unwrap()),
            agent: None,
            duration_ms: waited,
            target_ms: None,
            by_system: false,
        }
    }

    #[test]
    fn entering_and_leaving_a_queue_move_its_depth_and_nothing_else_does() {
        assert_eq!(delta(&event(EventKind::Queued, Some("q_1"), 0, None)), 1);
        assert_eq!(delta(&event(EventKind::Dequeued, Some("q_1"), 0, None)), -1);
        assert_eq!(delta(&event(EventKind::Queued, None, 0, None)), 0, "no queue, no line");
        assert_eq!(delta(&event(EventKind::Assigned, Some("q_1"), 0, Some(5))), 0);
        assert!(has_line(&Scope::Tenant) && has_line(&Scope::Queue(QueueId::parse("q_1").unwrap())));
        assert!(!has_line(&Scope::Agent(crate::domain::UserId::parse("usr_a").unwrap())));
    }

    #[test]
    fn the_spans_after_an_hour_reach_the_next_midnight_then_the_block_end() {
        let at = T0 + 3 * DAY_MS + 5 * HOUR_MS;
        let spans = SinceSpans::after(at);
        assert_eq!(spans.hours, (at, T0 + 4 * DAY_MS));
        assert_eq!(spans.days, (T0 + 4 * DAY_MS, T0 + BLOCK_MS));
        assert_eq!(spans.blocks_from, T0 + BLOCK_MS);
        let midnight = SinceSpans::after(T0 + DAY_MS);
        assert_eq!(midnight.hours, (T0 + DAY_MS, T0 + DAY_MS), "no hour to add at a midnight");
        let block_start = SinceSpans::after(T0);
        assert_eq!((block_start.hours.1, block_start.days), (T0, (T0, T0)));
        assert_eq!(block_start.blocks_from, T0);
        assert_eq!(
            (Level::Day.start(at), Level::Block.start(at), Level::Total.start(at)),
            (T0 + 3 * DAY_MS, T0, 0)
        );
    }

    #[test]
    fn wait_stats_give_percentiles_average_and_longest() {
        let stats = WaitStats::of(&[4_000, 1_000, 10_000]);
        assert_eq!(
            (stats.p50, stats.p90, stats.avg, stats.max),
            (Some(4.0), Some(10.0), Some(5.0), Some(10.0))
        );
        let none = WaitStats::of(&[]);
        assert_eq!((none.p50, none.avg, none.max), (None, None, None));
    }

    #[test]
    fn depth_follows_entries_and_exits_hour_by_hour() {
        // Arrange: one waits from before the range; two enter in its first hour, both leave in
        // the third (after 1 h and 2 h); the one from before leaves on the next day.
        let range = Range::widened(T0 + DAY_MS - 3 * HOUR_MS, T0 + DAY_MS + 2 * HOUR_MS).unwrap();
        let start = range.from;
        let events = vec![
            event(EventKind::Queued, Some("q_1"), start - 10, None),
            event(EventKind::Queued, Some("q_1"), start + 1, None),
            event(EventKind::Queued, Some("q_2"), start + 2, None),
            event(EventKind::Dequeued, Some("q_1"), start + 2 * HOUR_MS, Some(2 * HOUR_MS - 1)),
            event(EventKind::Dequeued, Some("q_2"), start + 2 * HOUR_MS + 5, Some(2 * HOUR_MS + 3)),
            event(EventKind::Dequeued, Some("q_1"), start + 3 * HOUR_MS, Some(3 * HOUR_MS + 10)),
            event(EventKind::Queued, Some("q_1"), range.to, None),
        ];

        // Act
        let all = from_events(range, &events, |_| true);
        let q1 = from_events(range, &events, |e| e.queue.as_ref().is_some_and(|q| q.as_str() == "q_1"));

        // Assert
        assert_eq!(all.depth_at_from, 1);
        assert_eq!(all.by_hour.iter().map(|h| h.depth).collect::<Vec<_>>(), [3, 3, 1, 0, 0]);
        assert_eq!((all.depth_at_to, all.max_depth, all.entered, all.left), (0, 3, 2, 3));
        assert_eq!(all.by_hour[2].wait_seconds.max, Some(7200.003));
        assert_eq!(all.by_day.len(), 2);
        assert_eq!((all.by_day[0].depth, all.by_day[0].max_depth, all.by_day[0].left), (1, 3, 2));
        assert_eq!(
            (all.by_day[1].depth, all.by_day[1].left, all.by_day[1].wait_seconds.p50),
            (0, 1, Some(10800.01))
        );
        assert_eq!(q1.by_hour.iter().map(|h| h.depth).collect::<Vec<_>>(), [2, 2, 1, 0, 0]);
        let mut hours = BTreeMap::new();
        for e in events.iter().filter(|e| range.contains(e.at)) {
            hours.entry(super::super::analytics::hour_of(e.at)).or_insert_with(HourLine::default).add(e);
        }
        assert_eq!(build(range, 1, &hours), all, "the same from hourly entries and exits");
    }
}
