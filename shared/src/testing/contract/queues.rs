//! [`QueueStore`]'s contract: a queue is created once at version 1 and read back as stored;
//! names are unique within a tenant case-insensitively (creating or renaming onto a taken name
//! writes nothing), a rename frees the old name and a deletion frees the name; updates are
//! optimistic; another tenant sees nothing.

use super::{now, tenant};
use crate::domain::center::{CenterError, Queue, QueueStore, Strategy};
use crate::domain::{QueueId, UserId};

/// A new queue named `name`, at version 1.
fn queue(name: &str) -> Queue {
    Queue {
        id: QueueId::generate(now()).unwrap(),
        name: name.into(),
        strategy: Strategy::RoundRobin,
        first_response_target_seconds: None,
        last_assigned: None,
        created_at: now().as_millis(),
        version: 1,
    }
}

/// A created queue reads back as stored (at version 1), is listed, and another tenant sees none.
pub async fn a_created_queue_reads_back<S: QueueStore>(store: &S) {
    // Arrange
    let (tenant, other) = (tenant(), tenant());
    let sales = Queue { first_response_target_seconds: Some(300), ..queue("Sales") };

    // Act
    store.create_queue(&tenant, &sales).await.unwrap();

    // Assert
    assert_eq!(store.queue(&tenant, &sales.id).await.unwrap(), Some(sales.clone()));
    assert_eq!(store.queues(&tenant).await.unwrap(), vec![sales.clone()]);
    assert_eq!(store.queue(&other, &sales.id).await.unwrap(), None);
    assert!(store.queues(&other).await.unwrap().is_empty());
}

/// Queues are listed by name (case-insensitively).
pub async fn queues_are_listed_by_name<S: QueueStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let (support, billing, sales) = (queue("support"), queue("Billing"), queue("Sales"));

    // Act
    for q in [&support, &billing, &sales] {
        store.create_queue(&tenant, q).await.unwrap();
    }

    // Assert
    let names: Vec<String> = store.queues(&tenant).await.unwrap().into_iter().map(|q| q.name).collect();
    assert_eq!(names, ["Billing", "Sales", "support"]);
}

/// A second queue with the same name, whatever its case and surrounding spaces, is refused and
/// nothing of it is stored; another tenant may use the name.
pub async fn a_name_is_taken_case_insensitively<S: QueueStore>(store: &S) {
    // Arrange
    let (tenant, other) = (tenant(), tenant());
    store.create_queue(&tenant, &queue("Support")).await.unwrap();
    let clash = queue(" SUPPORT ");

    // Act
    let result = store.create_queue(&tenant, &clash).await;
    let elsewhere = store.create_queue(&other, &queue("Support")).await;

    // Assert
    assert!(matches!(result, Err(CenterError::QueueNameTaken)), "{result:?}");
    assert_eq!(store.queue(&tenant, &clash.id).await.unwrap(), None, "nothing written");
    assert_eq!(store.queues(&tenant).await.unwrap().len(), 1);
    assert!(elsewhere.is_ok(), "{elsewhere:?}");
}

/// An update at the stored version replaces the queue and bumps the version; a rename frees the
/// old name for another queue, and a change of case only keeps the claim.
pub async fn an_update_renames_and_frees_the_old_name<S: QueueStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let original = queue("Sales");
    store.create_queue(&tenant, &original).await.unwrap();
    let agent = UserId::parse("usr_contract_agent").unwrap();
    let renamed = Queue {
        name: "Inside sales".into(),
        strategy: Strategy::LeastBusy,
        first_response_target_seconds: Some(60),
        last_assigned: Some(agent),
        ..original.clone()
    };

    // Act
    let updated = store.update_queue(&tenant, &renamed).await.unwrap();
    let recased =
        store.update_queue(&tenant, &Queue { name: "INSIDE SALES".into(), ..updated.clone() }).await;
    let reuse = store.create_queue(&tenant, &queue("sales")).await;

    // Assert
    assert_eq!(updated, Queue { version: 2, ..renamed });
    assert_eq!(recased.unwrap().version, 3, "its own name in another case is not taken");
    assert!(reuse.is_ok(), "the old name is free again: {reuse:?}");
    let stored = store.queue(&tenant, &original.id).await.unwrap().unwrap();
    assert_eq!((stored.name.as_str(), stored.version), ("INSIDE SALES", 3));
}

/// An update at a stale version is a conflict, onto another queue's name is taken, of an
/// unknown queue is not found; none of them writes anything.
pub async fn refused_updates_write_nothing<S: QueueStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let (sales, support) = (queue("Sales"), queue("Support"));
    store.create_queue(&tenant, &sales).await.unwrap();
    store.create_queue(&tenant, &support).await.unwrap();
    let current =
        store.update_queue(&tenant, &Queue { strategy: Strategy::LeastBusy, ..sales.clone() }).await.unwrap();

    // Act
    let stale = store.update_queue(&tenant, &Queue { name: "Stale".into(), ..sales.clone() }).await;
    let taken = store.update_queue(&tenant, &Queue { name: "support".into(), ..current.clone() }).await;
    let unknown = store.update_queue(&tenant, &queue("Ghost")).await;

    // Assert
    assert!(matches!(stale, Err(CenterError::Conflict)), "{stale:?}");
    assert!(matches!(taken, Err(CenterError::QueueNameTaken)), "{taken:?}");
    assert!(matches!(unknown, Err(CenterError::QueueNotFound)), "{unknown:?}");
    assert_eq!(store.queue(&tenant, &sales.id).await.unwrap(), Some(current));
    assert!(store.create_queue(&tenant, &queue("Stale")).await.is_ok(), "a refused rename claims nothing");
}

/// A deletion removes the queue and frees its name; deleting again (or an unknown queue) is fine.
pub async fn a_deletion_frees_the_name<S: QueueStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let sales = queue("Sales");
    store.create_queue(&tenant, &sales).await.unwrap();
    let renamed =
        store.update_queue(&tenant, &Queue { name: "Revenue".into(), ..sales.clone() }).await.unwrap();

    // Act
    store.delete_queue(&tenant, &sales.id).await.unwrap();
    store.delete_queue(&tenant, &sales.id).await.unwrap();

    // Assert
    assert_eq!(store.queue(&tenant, &sales.id).await.unwrap(), None);
    assert!(store.queues(&tenant).await.unwrap().is_empty());
    assert!(store.create_queue(&tenant, &queue(&renamed.name)).await.is_ok(), "the name is free");
    assert!(store.create_queue(&tenant, &queue("Sales")).await.is_ok(), "the first name too");
}

/// Of two queues created at once under one name, exactly one is stored.
pub async fn concurrent_creations_store_one<S: QueueStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let (first, second) = (queue("Support"), queue("support"));

    // Act
    let (a, b) = futures::join!(store.create_queue(&tenant, &first), store.create_queue(&tenant, &second));

    // Assert
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "{a:?} {b:?}");
    assert_eq!(store.queues(&tenant).await.unwrap().len(), 1);
}

/// Every check of the suite.
pub async fn all<S: QueueStore>(store: &S) {
    a_created_queue_reads_back(store).await;
    queues_are_listed_by_name(store).await;
    a_name_is_taken_case_insensitively(store).await;
    an_update_renames_and_frees_the_old_name(store).await;
    refused_updates_write_nothing(store).await;
    a_deletion_frees_the_name(store).await;
    concurrent_creations_store_one(store).await;
}
