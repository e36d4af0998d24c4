//! [`EventLog`]'s contract: an event is kept once whatever the retries; concurrent events all
//! count; the hourly aggregates give exactly the figures recomputed from the events; listing
//! pages through a time range; anonymization removes conversation ids and keeps the figures.

use futures::future::join_all;

use super::{now, tenant};
use crate::domain::center::analytics::{figures, figures_from_events, Filter, Range, Scope, DAY_MS, HOUR_MS};
use crate::domain::center::{CenterEvent, EventKind, EventLog};
use crate::domain::{ConversationId, QueueId, TenantId, UserId};

/// A UTC midnight some days back (stores drop events older than their retention).
fn base() -> i64 {
    (now().as_millis() - 20 * DAY_MS).div_euclid(DAY_MS) * DAY_MS
}

fn conversation(n: u32) -> ConversationId {
    ConversationId::parse(format!("cnv_{n:04}")).unwrap()
}

/// An event of `kind` in conversation `n`, its id unique per (conversation, kind, at).
#[must_use]
pub fn event(kind: EventKind, n: u32, at: i64) -> CenterEvent {
    CenterEvent {
        id: format!("cnv_{n:04}:{kind:?}:{at}"),
        kind,
        conversation_id: Some(conversation(n)),
        at,
        queue: None,
        agent: None,
        duration_ms: None,
        target_ms: None,
        by_system: false,
    }
}

/// Every event of `tenant` in `[from, to)`, paging `limit` at a time.
async fn all_events<L: EventLog>(
    log: &L,
    tenant: &TenantId,
    range: (i64, i64),
    limit: u16,
) -> Vec<CenterEvent> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = log.events(tenant, range, after.as_deref(), limit).await.unwrap();
        assert!(page.items.len() <= usize::from(limit));
        out.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return out,
        }
    }
}

/// What the aggregates answer for `filter` over `range`.
async fn aggregated<L: EventLog>(
    log: &L,
    tenant: &TenantId,
    range: Range,
    filter: &Filter,
) -> crate::domain::center::analytics::Figures {
    let hours = log.hours(tenant, &filter.scope(), (range.from, range.to)).await.unwrap();
    let depth_at_from = log.depth_before(tenant, &filter.scope(), range.from).await.unwrap();
    figures(range, filter, &hours, depth_at_from)
}

/// An event recorded twice (a retry, even with another time) is kept and counted once.
pub async fn a_duplicate_is_kept_once<L: EventLog>(log: &L) {
    // Arrange
    let tenant = tenant();
    let at = base() + 10 * HOUR_MS + 5;
    let mut first = event(EventKind::FirstReply, 1, at);
    first.duration_ms = Some(4_000);
    let mut retried = first.clone();
    retried.at = at + 2 * HOUR_MS;

    // Act
    log.record(&tenant, &first).await.unwrap();
    log.record(&tenant, &first).await.unwrap();
    log.record(&tenant, &retried).await.unwrap();

    // Assert
    let range = Range::widened(base(), base() + DAY_MS).unwrap();
    let events = all_events(log, &tenant, (range.from, range.to), 50).await;
    assert_eq!(events, vec![first.clone()]);
    let figures = aggregated(log, &tenant, range, &Filter::default()).await;
    assert_eq!(figures.first_response_seconds.p50, Some(4.0));
    let hours = log.hours(&tenant, &Scope::Tenant, (range.from, range.to)).await.unwrap();
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0].first_response_ms, vec![4_000]);
}

/// 40 events recorded at once into one tenant-hour are all counted (lost races retry).
pub async fn concurrent_events_are_all_counted<L: EventLog>(log: &L) {
    // Arrange
    let tenant = tenant();
    let hour = base() + 3 * HOUR_MS;
    let events: Vec<CenterEvent> =
        (0..40).map(|n| event(EventKind::Received, n, hour + i64::from(n))).collect();

    // Act
    let results = join_all(events.iter().map(|e| log.record(&tenant, e))).await;

    // Assert
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let hours = log.hours(&tenant, &Scope::Tenant, (hour, hour + HOUR_MS)).await.unwrap();
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0].received, 40);
    assert_eq!(all_events(log, &tenant, (hour, hour + HOUR_MS), 100).await.len(), 40);
}

/// Events recorded at once through several logs — writers in different processes, some adding
/// to one part of the aggregates, some to others — are all counted, and every log reads the
/// sums: the hour's figures and the waiting line's depth, for the tenant and the queue.
pub async fn writers_in_several_processes_are_all_counted<L: EventLog>(logs: &[L]) {
    // Arrange
    let tenant = tenant();
    let queue = QueueId::parse("Support").unwrap();
    let hour = base() + 5 * HOUR_MS;
    let events: Vec<CenterEvent> = (0..30u32)
        .map(|n| {
            let kind = if n % 3 == 0 { EventKind::Received } else { EventKind::Queued };
            CenterEvent { queue: Some(queue.clone()), ..event(kind, 200 + n, hour + i64::from(n)) }
        })
        .collect();

    // Act
    let results =
        join_all(events.iter().enumerate().map(|(n, e)| logs[n % logs.len()].record(&tenant, e))).await;

    // Assert
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for log in logs {
        for scope in [Scope::Tenant, Scope::Queue(queue.clone())] {
            let hours = log.hours(&tenant, &scope, (hour, hour + HOUR_MS)).await.unwrap();
            assert_eq!(hours.len(), 1, "one hour, however many parts: {hours:?}");
            assert_eq!((hours[0].received, hours[0].entered), (10, 20), "{scope:?}");
            assert_eq!(log.depth_before(&tenant, &scope, hour + HOUR_MS).await.unwrap(), 20, "{scope:?}");
        }
    }
}

/// A small deterministic generator (the same varied log on every store).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// A varied log: conversations over three queues and three agents, across hours and days, with
/// reopenings, waits, first replies (some late against their target), replies and resolutions.
fn varied_log() -> Vec<CenterEvent> {
    let queues = ["Sales", "Support", "q_billing"].map(|q| QueueId::parse(q).unwrap());
    let agents = ["usr_ann", "usr_bob", "usr_cy"].map(|a| UserId::parse(a).unwrap());
    let mut rng = Lcg(42);
    let mut events = Vec::new();
    for n in 0..16u32 {
        let start = base()
            + i64::try_from(rng.next(3 * 24)).unwrap() * HOUR_MS
            + i64::try_from(rng.next(3_599_000)).unwrap();
        let queue = queues[usize::try_from(rng.next(3)).unwrap()].clone();
        let agent = agents[usize::try_from(rng.next(3)).unwrap()].clone();
        let in_queue = |mut e: CenterEvent| {
            e.queue = Some(queue.clone());
            e
        };
        let by_agent = |mut e: CenterEvent| {
            e.queue = Some(queue.clone());
            e.agent = Some(agent.clone());
            e
        };
        let opened = if n % 5 == 4 { EventKind::Reopened } else { EventKind::Opened };
        events.push(event(opened, n, start));
        events.push(event(EventKind::Received, n, start));
        events.push(in_queue(event(EventKind::Routed, n, start + 1_000)));
        events.push(in_queue(event(EventKind::Queued, n, start + 1_000)));
        let waited = i64::try_from(rng.next(1_800_000)).unwrap();
        let mut assigned = by_agent(event(EventKind::Assigned, n, start + 1_000 + waited));
        // Some assignments (taken by hand) carry no waiting time.
        assigned.duration_ms = (n % 7 != 0).then_some(waited);
        events.push(assigned);
        // Out of the waiting line as it is assigned; a few are never taken out (still waiting).
        if n % 9 != 2 {
            let mut dequeued = in_queue(event(EventKind::Dequeued, n, start + 1_000 + waited));
            dequeued.duration_ms = (n % 7 != 0).then_some(waited);
            events.push(dequeued);
        }
        let answered = waited + 1_000 + i64::try_from(rng.next(3_600_000)).unwrap();
        let mut first = by_agent(event(EventKind::FirstReply, n, start + answered));
        first.duration_ms = Some(answered);
        first.target_ms = (n % 3 != 0).then_some(1_800_000);
        events.push(first);
        events.push(by_agent(event(EventKind::AgentReply, n, start + answered)));
        for k in 0..rng.next(4) {
            let at = start + answered + i64::try_from(k + 1).unwrap() * 600_000;
            events.push(event(EventKind::Received, n, at));
            events.push(by_agent(event(EventKind::AgentReply, n, at + 60_000)));
        }
        if n % 4 != 3 {
            let took = answered + i64::try_from(rng.next(172_800_000)).unwrap();
            let mut resolved = by_agent(event(EventKind::Resolved, n, start + took));
            resolved.duration_ms = Some(took);
            events.push(resolved);
        }
        if n % 6 == 1 {
            events.push(by_agent(event(EventKind::Transferred, n, start + answered + 1)));
        }
    }
    // Waiting lines from an earlier 30-day block: one leaves within the range, one never; and a
    // `queued` without a queue, which is in no line.
    let waiting =
        |kind, n, at, queue: &QueueId| CenterEvent { queue: Some(queue.clone()), ..event(kind, n, at) };
    events.push(waiting(EventKind::Queued, 100, base() - 35 * DAY_MS + 3 * HOUR_MS, &queues[0]));
    let mut left = waiting(EventKind::Dequeued, 100, base() + DAY_MS + 5 * HOUR_MS, &queues[0]);
    left.duration_ms = Some(left.at - (base() - 35 * DAY_MS + 3 * HOUR_MS));
    events.push(left);
    events.push(waiting(EventKind::Queued, 101, base() - 31 * DAY_MS, &queues[1]));
    events.push(event(EventKind::Queued, 102, base() + 2 * HOUR_MS));
    events
}

/// Every figure the aggregates give, for the tenant, each queue, each agent and each queue's
/// agent, over whole and partial ranges, equals the figure recomputed from the event log.
pub async fn aggregates_equal_the_recomputation<L: EventLog>(log: &L) {
    // Arrange: recorded out of order. One at a time: moto undoes a failed transaction by
    // restoring a copy of the whole table, which would also undo a concurrent one (contention
    // is the check above, on one document, which moto's gate serializes).
    let tenant = tenant();
    let mut events = varied_log();
    events.reverse();
    for event in &events {
        log.record(&tenant, event).await.unwrap();
    }
    let mut filters = vec![Filter::default()];
    for q in ["Sales", "Support", "q_billing"] {
        filters.push(Filter { queue: Some(QueueId::parse(q).unwrap()), agent: None });
        for a in ["usr_ann", "usr_bob", "usr_cy"] {
            filters.push(Filter {
                queue: Some(QueueId::parse(q).unwrap()),
                agent: Some(UserId::parse(a).unwrap()),
            });
        }
    }
    for a in ["usr_ann", "usr_bob", "usr_cy", "usr_nobody"] {
        filters.push(Filter { queue: None, agent: Some(UserId::parse(a).unwrap()) });
    }
    let ranges = [
        Range::widened(base(), base() + 6 * DAY_MS).unwrap(),
        Range::widened(base() - 40 * DAY_MS, base() - 33 * DAY_MS).unwrap(),
        Range::widened(base() + DAY_MS + 1_234, base() + 2 * DAY_MS + 7 * HOUR_MS + 1).unwrap(),
        Range::widened(base() + 5 * HOUR_MS, base() + 6 * HOUR_MS).unwrap(),
    ];

    // Act
    let logged = all_events(log, &tenant, (ranges[1].from, ranges[0].to), 37).await;

    // Assert
    let mut expected = events.clone();
    expected.sort_by_key(|e| (e.at, crate::kernel::digest::hex_sha256(&e.id)));
    let mut got = logged.clone();
    got.sort_by_key(|e| (e.at, crate::kernel::digest::hex_sha256(&e.id)));
    let ids = |events: &[CenterEvent]| {
        events.iter().map(|e| e.id.clone()).collect::<std::collections::BTreeSet<_>>()
    };
    let (missing, extra) = (&ids(&expected) - &ids(&got), &ids(&got) - &ids(&expected));
    assert!(missing.is_empty() && extra.is_empty(), "missing {missing:?}, extra {extra:?}");
    assert_eq!(got, expected, "the log keeps every event as recorded");
    for range in ranges {
        for filter in &filters {
            let from_aggregates = aggregated(log, &tenant, range, filter).await;
            let recomputed = figures_from_events(range, filter, &logged);
            assert_eq!(from_aggregates, recomputed, "{filter:?} over {range:?}");
        }
    }
    let whole = aggregated(log, &tenant, ranges[0], &Filter::default()).await;
    assert_eq!(whole.conversations, 16);
    assert_eq!(whole.resolved, 12);
    assert!(whole.sla_breaches > 0);
    assert!(whole.first_response_seconds.p50.is_some() && whole.waiting_seconds.p90.is_some());
    assert_eq!(whole.by_day.iter().map(|d| d.traffic.conversations).sum::<u64>(), 16);
    assert_eq!(whole.by_hour.len(), 6 * 24);
    // Queue depth over time: two waited from before the range (one leaves in it, one never), and
    // the two conversations that are never taken out still wait at its end.
    let line = whole.waiting_line.expect("a line without an agent filter");
    assert_eq!((line.depth_at_from, line.depth_at_to), (2, 3));
    assert!(line.max_depth >= 3 && line.wait_seconds.max.is_some_and(|s| s > 86_400.0 * 35.0), "{line:?}");
    assert_eq!(log.depth_before(&tenant, &Scope::Tenant, base()).await.unwrap(), 2);
    let agent = Scope::Agent(UserId::parse("usr_ann").unwrap());
    assert_eq!(log.depth_before(&tenant, &agent, base() + DAY_MS).await.unwrap(), 0);
    let theirs = Filter { queue: None, agent: Some(UserId::parse("usr_ann").unwrap()) };
    assert!(aggregated(log, &tenant, ranges[0], &theirs).await.waiting_line.is_none());
}

/// Listing pages through exactly the events with `from <= at < to`, oldest first.
pub async fn events_are_listed_by_time<L: EventLog>(log: &L) {
    // Arrange
    let tenant = tenant();
    let times: Vec<i64> = (0..7).map(|i| base() + i * 1_000).collect();
    for (n, at) in (0u32..).zip(&times) {
        log.record(&tenant, &event(EventKind::Received, n, *at)).await.unwrap();
    }

    // Act
    let middle = all_events(log, &tenant, (times[1], times[5]), 2).await;

    // Assert
    assert_eq!(middle.iter().map(|e| e.at).collect::<Vec<_>>(), times[1..5].to_vec());
    assert!(log.events(&tenant, (times[0], times[6]), Some("USER#x"), 2).await.is_err(), "foreign cursor");
}

/// Anonymizing a conversation removes its id from its events (the event ids too, which may be
/// built from it), leaves other conversations alone, keeps every figure, and is idempotent.
pub async fn anonymizing_removes_conversation_ids_and_keeps_figures<L: EventLog>(log: &L) {
    // Arrange
    let tenant = tenant();
    let at = base() + 30 * HOUR_MS;
    let mut events = Vec::new();
    for n in [1, 2] {
        events.push(event(EventKind::Opened, n, at));
        let mut first = event(EventKind::FirstReply, n, at + 60_000);
        first.duration_ms = Some(60_000);
        first.agent = Some(UserId::parse("usr_ann").unwrap());
        events.push(first);
    }
    for e in &events {
        log.record(&tenant, e).await.unwrap();
    }
    let range = Range::widened(base(), base() + 3 * DAY_MS).unwrap();
    let before = aggregated(log, &tenant, range, &Filter::default()).await;

    // Act
    let changed = log.anonymize(&tenant, &conversation(1)).await.unwrap();
    let again = log.anonymize(&tenant, &conversation(1)).await.unwrap();

    // Assert
    assert_eq!((changed, again), (2, 0));
    let logged = all_events(log, &tenant, (range.from, range.to), 50).await;
    assert_eq!(logged.len(), 4);
    let anonymous: Vec<_> = logged.iter().filter(|e| e.conversation_id.is_none()).collect();
    assert_eq!(anonymous.len(), 2);
    assert!(anonymous.iter().all(|e| !e.id.contains("cnv_0001")), "{anonymous:?}");
    assert_eq!(logged.iter().filter(|e| e.conversation_id == Some(conversation(2))).count(), 2);
    assert_eq!(aggregated(log, &tenant, range, &Filter::default()).await, before);
    assert_eq!(figures_from_events(range, &Filter::default(), &logged), before);
    // A retry of an anonymized event is still a duplicate.
    log.record(&tenant, &events[0]).await.unwrap();
    assert_eq!(aggregated(log, &tenant, range, &Filter::default()).await.conversations, 2);
}

/// Every check.
pub async fn all<L: EventLog>(log: &L) {
    a_duplicate_is_kept_once(log).await;
    concurrent_events_are_all_counted(log).await;
    aggregates_equal_the_recomputation(log).await;
    events_are_listed_by_time(log).await;
    anonymizing_removes_conversation_ids_and_keeps_figures(log).await;
}
