//! The event log's parts and lanes: what a burst costs, and what a reader sums.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::join_all;

use super::*;
use crate::domain::center::EventKind;
use crate::testing::contract::events::event;
use crate::testing::contract::{now, tenant};
use crate::testing::MemoryDocs;

/// A table whose every read is answered a turn of the scheduler later, as over a network, so
/// that concurrent records interleave between their reads and their write; it counts the
/// atomic writes (each one a billed transaction on DynamoDB, whether it commits or not).
#[derive(Clone, Default)]
struct RoundTrips {
    docs: MemoryDocs,
    writes: Arc<AtomicUsize>,
}

impl DocTable for RoundTrips {
    fn now(&self) -> Timestamp {
        self.docs.now()
    }

    async fn get_doc(&self, key: &Key, now: Timestamp) -> anyhow::Result<Option<StoredDoc>> {
        // Read now, answered a turn later: another record may write in between.
        let doc = self.docs.get_doc(key, now).await;
        tokio::task::yield_now().await;
        doc
    }

    async fn query_docs(
        &self,
        pk: &str,
        prefix: &str,
        after: Option<&str>,
        order: (u16, bool),
        now: Timestamp,
    ) -> anyhow::Result<(Vec<StoredDoc>, Option<String>)> {
        self.docs.query_docs(pk, prefix, after, order, now).await
    }

    async fn write_docs(&self, writes: Vec<DocWrite>, now: Timestamp) -> Result<(), DocWriteError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.docs.write_docs(writes, now).await
    }

    async fn increment(&self, key: &Key, expires_at: ExpiresAt) -> anyhow::Result<u64> {
        self.docs.increment(key, expires_at).await
    }

    async fn increment_within(
        &self,
        key: &Key,
        limit: u64,
        expires_at: ExpiresAt,
    ) -> anyhow::Result<Option<u64>> {
        self.docs.increment_within(key, limit, expires_at).await
    }

    async fn counters(&self, pk: &str, prefix: &str, now: Timestamp) -> anyhow::Result<Vec<(String, u64)>> {
        self.docs.counters(pk, prefix, now).await
    }

    async fn counter(&self, key: &Key, now: Timestamp) -> anyhow::Result<u64> {
        self.docs.counter(key, now).await
    }
}

/// An hour boundary a day back (within every retention).
fn an_hour() -> i64 {
    (now().as_millis() - HOUR_MS * 24).div_euclid(HOUR_MS) * HOUR_MS
}

#[tokio::test]
async fn a_burst_of_one_tenant_through_one_log_is_one_write_per_event() {
    // Arrange: 40 messages' events at once, every one moving the same tenant-hour aggregate.
    let table = RoundTrips::default();
    let log = DocEventLog::new(table.clone());
    let tenant = tenant();
    let hour = an_hour();
    let events: Vec<CenterEvent> =
        (0..40).map(|n| event(EventKind::Received, n, hour + i64::from(n))).collect();

    // Act
    let results = join_all(events.iter().map(|e| log.record(&tenant, e))).await;

    // Assert: no record lost a race to another of its own process (each lost race is a
    // cancelled transaction, billed, and a read and a write more).
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(table.writes.load(Ordering::SeqCst), 40);
    let hours = log.hours(&tenant, &Scope::Tenant, (hour, hour + HOUR_MS)).await.unwrap();
    assert_eq!(hours.iter().map(|h| h.received).collect::<Vec<_>>(), vec![40]);
}

#[tokio::test]
async fn other_tenants_are_not_held_up_by_a_busy_one() {
    // Arrange: one tenant's record holds its lane.
    let log = DocEventLog::new(RoundTrips::default());
    let busy = tenant();
    let busy_lane = log.lane(&busy).lock().await;
    // A tenant of another lane (with one lane for all, none: the record below then waits).
    let other = (0..1000)
        .map(|_| tenant())
        .find(|t| !std::ptr::eq(log.lane(t), log.lane(&busy)))
        .unwrap_or_else(tenant);

    // Act
    let recorded = tokio::time::timeout(
        Duration::from_secs(5),
        log.record(&other, &event(EventKind::Received, 1, an_hour())),
    )
    .await;

    // Assert
    assert!(matches!(recorded, Ok(Ok(()))), "{recorded:?}");
    drop(busy_lane);
}

#[tokio::test]
async fn aggregates_stored_whole_before_parts_are_still_read() {
    // Arrange: the hour and the running total as a version without parts stored them (at the
    // period's own key), then one event through a log that writes its part.
    let docs = MemoryDocs::default();
    let log = DocEventLog::with_shard(docs.clone(), 7);
    let tenant = tenant();
    let queue = crate::domain::QueueId::parse("Support").unwrap();
    let hour = an_hour();
    let mut whole = HourFigures::empty(hour);
    whole.received = 3;
    whole.entered = 2;
    let stored_whole = [
        (keys::center_hour(&tenant, &Scope::Tenant, hour), "center_hour", to_json(&whole).unwrap()),
        (
            keys::center_depth(&tenant, &Scope::Tenant, Level::Total, 0),
            "center_depth",
            to_json(&Net { start: 0, net: 2 }).unwrap(),
        ),
    ];
    for (key, entity, body) in stored_whole {
        let put = DocWrite::Put { key, entity, body, expires_at: None, precondition: Precondition::Absent };
        docs.write_docs(vec![put], docs.now()).await.unwrap();
    }
    let queued = CenterEvent { queue: Some(queue), ..event(EventKind::Queued, 1, hour + 10) };

    // Act
    log.record(&tenant, &queued).await.unwrap();

    // Assert
    let hours = log.hours(&tenant, &Scope::Tenant, (hour, hour + HOUR_MS)).await.unwrap();
    assert_eq!(hours.iter().map(|h| (h.received, h.entered)).collect::<Vec<_>>(), vec![(3, 3)]);
    assert_eq!(log.depth_before(&tenant, &Scope::Tenant, hour + HOUR_MS).await.unwrap(), 3);
}

#[tokio::test]
async fn a_retried_event_is_found_by_a_read_without_a_second_write() {
    // Arrange
    let table = RoundTrips::default();
    let log = DocEventLog::new(table.clone());
    let tenant = tenant();
    let hour = an_hour();
    let opened = event(EventKind::Opened, 1, hour + 5);
    log.record(&tenant, &opened).await.unwrap();

    // Act: the same event again (a redelivered record), and once more at another time.
    log.record(&tenant, &opened).await.unwrap();
    log.record(&tenant, &CenterEvent { at: opened.at + 1, ..opened.clone() }).await.unwrap();

    // Assert: one transaction in all (a cancelled one is billed as well), one event kept.
    assert_eq!(table.writes.load(Ordering::SeqCst), 1);
    let hours = log.hours(&tenant, &Scope::Tenant, (hour, hour + HOUR_MS)).await.unwrap();
    assert_eq!(hours.iter().map(|h| h.opened).collect::<Vec<_>>(), vec![1]);
}
