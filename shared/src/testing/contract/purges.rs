//! [`PurgeStore`]'s queues: a closed tenant's purge is due from its date, queueing again moves
//! the date, a cancelled one is gone; a queued Meta purge reads back until finished.

use super::{now, tenant};
use crate::domain::privacy::{Integration, MetaPurge, PurgeStore};
use crate::domain::Timestamp;

/// Enough to see every entry a shared store holds.
const ALL: u16 = 1_000;

/// A purge is due from its date on, not before.
pub async fn a_purge_is_due_from_its_date<S: PurgeStore>(store: &S) {
    let (past, future) = (tenant(), tenant());
    let now = now();
    store.queue_purge(&past, Timestamp::from_millis(now.as_millis() - 1_000)).await.unwrap();
    store.queue_purge(&future, now.plus(std::time::Duration::from_secs(3_600))).await.unwrap();

    let due = store.due_purges(now, ALL).await.unwrap();

    assert!(due.contains(&past), "{due:?}");
    assert!(!due.contains(&future), "{due:?}");
}

/// Queueing again moves the date: later is no longer due, earlier is.
pub async fn queueing_again_moves_the_date<S: PurgeStore>(store: &S) {
    let (later, earlier) = (tenant(), tenant());
    let now = now();
    let past = Timestamp::from_millis(now.as_millis() - 1_000);
    let future = now.plus(std::time::Duration::from_secs(3_600));
    store.queue_purge(&later, past).await.unwrap();
    store.queue_purge(&earlier, future).await.unwrap();

    store.queue_purge(&later, future).await.unwrap();
    store.queue_purge(&earlier, past).await.unwrap();

    let due = store.due_purges(now, ALL).await.unwrap();
    assert!(!due.contains(&later), "{due:?}");
    assert_eq!(due.iter().filter(|t| **t == earlier).count(), 1, "once: {due:?}");
}

/// A cancelled purge is no longer due; cancelling one never queued is fine.
pub async fn a_cancelled_purge_is_not_due<S: PurgeStore>(store: &S) {
    let tenant = tenant();
    let now = now();
    store.queue_purge(&tenant, Timestamp::from_millis(now.as_millis() - 1_000)).await.unwrap();

    store.cancel_purge(&tenant).await.unwrap();
    store.cancel_purge(&super::tenant()).await.unwrap();

    assert!(!store.due_purges(now, ALL).await.unwrap().contains(&tenant));
}

/// A queued Meta purge reads back as queued until finished; others stay queued.
pub async fn a_meta_purge_reads_back_until_finished<S: PurgeStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let at = Timestamp::from_millis(now().as_millis() / 1_000 * 1_000);
    let whatsapp = MetaPurge {
        tenant: tenant.clone(),
        integration: Integration::WhatsApp,
        source_id: "1234567890".into(),
        disconnected_at: at,
    };
    let lead_ads =
        MetaPurge { integration: Integration::LeadAds, source_id: "page_1".into(), ..whatsapp.clone() };
    store.queue_meta_purge(&whatsapp).await.unwrap();
    store.queue_meta_purge(&lead_ads).await.unwrap();
    let queued = store.due_meta_purges(ALL).await.unwrap();

    // Act
    store.finish_meta_purge(&whatsapp).await.unwrap();

    // Assert
    assert!(queued.contains(&whatsapp) && queued.contains(&lead_ads), "{queued:?}");
    let left = store.due_meta_purges(ALL).await.unwrap();
    assert!(!left.contains(&whatsapp), "{left:?}");
    assert!(left.contains(&lead_ads), "{left:?}");
}

/// Every check of the suite.
pub async fn all<S: PurgeStore>(store: &S) {
    a_purge_is_due_from_its_date(store).await;
    queueing_again_moves_the_date(store).await;
    a_cancelled_purge_is_not_due(store).await;
    a_meta_purge_reads_back_until_finished(store).await;
}
