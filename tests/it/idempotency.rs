//! The idempotency primitive against moto, beyond the port's contract (`contract.rs` runs that):
//! the stored status.

use std::time::Duration;

use shared::adapters::dynamo::idempotency::peek_status;
use shared::adapters::dynamo::DynamoIdempotency;
use shared::domain::ports::{Claim, IdempotencyRequest, IdempotencyStore};
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
