//! [`ErasureStore`] and [`RetentionQueue`]'s day cursors: a request reads back pending and is due
//! until completed with its receipt; progress is kept; another tenant finds nothing. (The purge
//! queues are checked in `purges`.)

use super::{now, tenant};
use crate::domain::privacy::{
    DayQueue, DueErasure, ErasureCounts, ErasureReceipt, ErasureRequest, ErasureStatus, ErasureStore,
    RetentionQueue,
};
use crate::domain::{ContactId, ConversationId, ErasureId, TenantId};

/// A pending request to erase one contact, stored.
async fn requested<S: ErasureStore + RetentionQueue>(store: &S, tenant: &TenantId) -> ErasureRequest {
    let at = now();
    let request = ErasureRequest {
        id: ErasureId::generate(at).unwrap(),
        contacts: vec![ContactId::parse("ct_0123456789abcdef").unwrap()],
        status: ErasureStatus::Pending,
        requested_at: at,
        progress: ErasureCounts::default(),
        receipt: None,
    };
    store.request_erasure(tenant, &request).await.unwrap();
    request
}

/// The queue entry of a stored request.
fn entry(tenant: &TenantId, request: &ErasureRequest) -> DueErasure {
    DueErasure { tenant: tenant.clone(), id: request.id.clone(), requested_at: request.requested_at }
}

/// A request reads back as stored and is due; another tenant does not find it.
pub async fn a_request_reads_back_and_is_due<S: ErasureStore + RetentionQueue>(store: &S) {
    let tenant = tenant();

    let request = requested(store, &tenant).await;

    assert_eq!(store.erasure(&tenant, &request.id).await.unwrap(), Some(request.clone()));
    let due = store.due_erasures(100).await.unwrap();
    assert!(due.contains(&entry(&tenant, &request)), "{due:?}");
    assert_eq!(store.erasure(&super::tenant(), &request.id).await.unwrap(), None);
}

/// Progress recorded by a run cut short is kept on the request.
pub async fn progress_is_kept<S: ErasureStore + RetentionQueue>(store: &S) {
    let tenant = tenant();
    let request = requested(store, &tenant).await;
    let progress = ErasureCounts { messages: 7, message_id_records: 7, ..ErasureCounts::default() };

    store.record_progress(&tenant, &request.id, &progress).await.unwrap();

    let stored = store.erasure(&tenant, &request.id).await.unwrap().expect("the request");
    assert_eq!((stored.status, stored.progress), (ErasureStatus::Pending, progress));
}

/// Completing a request stores its receipt, marks it done and takes it off the due list.
pub async fn a_completed_request_has_its_receipt_and_is_no_longer_due<S: ErasureStore + RetentionQueue>(
    store: &S,
) {
    // Arrange
    let tenant = tenant();
    let request = requested(store, &tenant).await;
    let receipt = ErasureReceipt {
        request_id: request.id.clone(),
        requested_at: request.requested_at.as_millis(),
        completed_at: request.requested_at.as_millis() + 1_000,
        deleted: ErasureCounts { contacts: 1, messages: 3, ..ErasureCounts::default() },
    };

    // Act
    store.complete_erasure(&tenant, &receipt).await.unwrap();

    // Assert
    let stored = store.erasure(&tenant, &request.id).await.unwrap().expect("the request");
    assert_eq!((stored.status, stored.receipt), (ErasureStatus::Done, Some(receipt)));
    let due = store.due_erasures(100).await.unwrap();
    assert!(!due.contains(&entry(&tenant, &request)), "{due:?}");
}

/// A dropped entry is no longer due, and its request is left as it was (the run drops the
/// entries of requests finished or gone); dropping it again is fine.
pub async fn a_dropped_entry_is_no_longer_due<S: ErasureStore + RetentionQueue>(store: &S) {
    // Arrange
    let tenant = tenant();
    let request = requested(store, &tenant).await;
    let due = entry(&tenant, &request);

    // Act
    store.drop_due_erasure(&due).await.unwrap();
    store.drop_due_erasure(&due).await.unwrap();

    // Assert
    let queue = store.due_erasures(1_000).await.unwrap();
    assert!(!queue.contains(&due), "{queue:?}");
    assert_eq!(store.erasure(&tenant, &request.id).await.unwrap(), Some(request));
}

/// A day cursor reads back as set, per queue.
pub async fn a_day_cursor_reads_back_per_queue<S: ErasureStore + RetentionQueue>(store: &S) {
    store.set_day_cursor(DayQueue::Expiry, 20_000).await.unwrap();
    store.set_day_cursor(DayQueue::Sanitize, 19_990).await.unwrap();

    assert_eq!(store.day_cursor(DayQueue::Expiry).await.unwrap(), Some(20_000));
    assert_eq!(store.day_cursor(DayQueue::Sanitize).await.unwrap(), Some(19_990));
}

/// Progress recorded for a tenant not on the re-stamp queue does not put it there (nor break
/// the queue); finishing one never queued is fine. Nothing is due on a day nothing was queued
/// for, and dropping what is not queued is fine.
pub async fn the_queues_hold_only_what_was_queued<S: ErasureStore + RetentionQueue>(store: &S) {
    // Arrange: a day far ahead of anything a check queues.
    let (tenant, finished) = (tenant(), tenant());
    let conversation = ConversationId::parse("cv_0123456789abcdef").unwrap();
    let day = 99_999;

    // Act
    store.restamp_progress(&tenant, Some("somewhere")).await.unwrap();
    store.restamp_progress(&finished, None).await.unwrap();
    store.drop_due(DayQueue::Expiry, day, &tenant, &conversation).await.unwrap();

    // Assert
    let restamps = store.due_restamps(1_000).await.unwrap();
    assert!(restamps.iter().all(|(t, _)| t != &tenant && t != &finished), "{restamps:?}");
    assert!(store.due_on(DayQueue::Expiry, day, 100).await.unwrap().is_empty());
    assert!(store.due_on(DayQueue::Sanitize, day, 100).await.unwrap().is_empty());
}

/// Every check of the suite.
pub async fn all<S: ErasureStore + RetentionQueue>(store: &S) {
    a_request_reads_back_and_is_due(store).await;
    progress_is_kept(store).await;
    a_completed_request_has_its_receipt_and_is_no_longer_due(store).await;
    a_dropped_entry_is_no_longer_due(store).await;
    a_day_cursor_reads_back_per_queue(store).await;
    the_queues_hold_only_what_was_queued(store).await;
}
