//! The idempotency primitive against moto.

use std::time::Duration;

use shared::adapters::dynamo::idempotency::peek_status;
use shared::adapters::dynamo::DynamoIdempotency;
use shared::domain::ports::{Claim, IdempotencyError, IdempotencyRequest, IdempotencyStore};
use shared::domain::{Clock, SystemClock};

use crate::support::{table, tenant};

#[tokio::test]
async fn claim_complete_then_replay_returns_the_stored_result() {
    // Arrange
    let table = table().await;
    let store = DynamoIdempotency::new(table.clone(), Duration::from_secs(1));
    let tenant = tenant();
    let request = IdempotencyRequest { tenant_id: &tenant, scope: "send", key: "key-1", payload_hash: "h1" };
    let now = SystemClock.now();
    let deadline = now.plus(Duration::from_secs(30));

    // Act
    let first = store.claim(&request, now, deadline).await.expect("claim");
    let concurrent = store.claim(&request, now, deadline).await.expect("claim");
    store.complete(&request, r#"{"id":"msg_1"}"#, now).await.expect("complete");
    let replay = store.claim(&request, now, deadline).await.expect("claim");
    let other_body = store
        .claim(&IdempotencyRequest { payload_hash: "h2", ..request.clone() }, now, deadline)
        .await
        .expect("claim");

    // Assert
    assert_eq!(first, Claim::Acquired);
    assert_eq!(concurrent, Claim::InProgress);
    assert_eq!(replay, Claim::Completed { response: r#"{"id":"msg_1"}"#.into() });
    assert_eq!(other_body, Claim::Mismatch);
    assert_eq!(peek_status(&table, &request, now).await.expect("peek").as_deref(), Some("COMPLETED"));
}

#[tokio::test]
async fn a_claim_past_its_deadline_can_be_taken_over() {
    let store = DynamoIdempotency::new(table().await, Duration::ZERO);
    let tenant = tenant();
    let request = IdempotencyRequest { tenant_id: &tenant, scope: "send", key: "crashed", payload_hash: "h" };
    let now = SystemClock.now();

    // A holder that "crashed": its claim ran until now + 1 s.
    assert_eq!(
        store.claim(&request, now, now.plus(Duration::from_secs(1))).await.expect("claim"),
        Claim::Acquired
    );
    let later = now.plus(Duration::from_secs(2));
    let takeover = store.claim(&request, later, later.plus(Duration::from_secs(30))).await.expect("claim");

    assert_eq!(takeover, Claim::Acquired);
}

#[tokio::test]
async fn release_lets_the_work_be_retried_and_a_lost_claim_is_reported() {
    let store = DynamoIdempotency::new(table().await, Duration::ZERO);
    let tenant = tenant();
    let request = IdempotencyRequest { tenant_id: &tenant, scope: "send", key: "k", payload_hash: "h" };
    let now = SystemClock.now();
    let deadline = now.plus(Duration::from_secs(30));

    assert_eq!(store.claim(&request, now, deadline).await.expect("claim"), Claim::Acquired);
    store.release(&request).await.expect("release");
    assert_eq!(store.claim(&request, now, deadline).await.expect("claim again"), Claim::Acquired);
    store.complete(&request, "done", now).await.expect("complete");

    assert!(matches!(store.release(&request).await, Err(IdempotencyError::ClaimLost)));
    assert!(matches!(store.complete(&request, "again", now).await, Err(IdempotencyError::ClaimLost)));
}

#[tokio::test]
async fn keys_of_different_tenants_never_collide() {
    let store = DynamoIdempotency::new(table().await, Duration::ZERO);
    let (a, b) = (tenant(), tenant());
    let now = SystemClock.now();
    let deadline = now.plus(Duration::from_secs(30));
    let for_a = IdempotencyRequest { tenant_id: &a, scope: "send", key: "same", payload_hash: "h" };
    let for_b = IdempotencyRequest { tenant_id: &b, ..for_a.clone() };

    assert_eq!(store.claim(&for_a, now, deadline).await.expect("claim"), Claim::Acquired);
    assert_eq!(store.claim(&for_b, now, deadline).await.expect("claim"), Claim::Acquired);
}

#[tokio::test]
async fn records_are_kept_at_least_seven_days() {
    let table = table().await;
    let store = DynamoIdempotency::new(table.clone(), Duration::from_secs(60));
    let tenant = tenant();
    let request =
        IdempotencyRequest { tenant_id: &tenant, scope: "webhook", key: "wamid.X", payload_hash: "h" };
    let now = SystemClock.now();
    store.claim(&request, now, now.plus(Duration::from_secs(5))).await.expect("claim");
    store.complete(&request, "ok", now).await.expect("complete");

    let six_days = now.plus(Duration::from_secs(6 * 24 * 3600));
    let replay = store.claim(&request, six_days, six_days.plus(Duration::from_secs(5))).await.expect("claim");

    assert_eq!(replay, Claim::Completed { response: "ok".into() });
}
