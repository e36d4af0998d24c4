//! `POST /v1/messages` under faults: a request whose process dies after each of its side effects
//! (the reserved id noted, the message stored, the message enqueued), retried with its
//! `Idempotency-Key`, ends with one message stored, under one id, and queued under that id only;
//! a retry while the first is still in flight gets 409 with `Retry-After`, never a second message.

use std::time::Duration;

use shared::domain::inbox::{ConversationFilter, ConversationStore};
use shared::domain::outbound::SendJob;
use shared::domain::ports::{Claim, IdempotencyRequest, IdempotencyStore};
use shared::domain::Clock;
use shared::kernel::digest::hex_sha256;

use super::*;

const PHONE: &str = "5511988887777";
const TEXT: &str = r#"{"to":"5511988887777","type":"text","text":{"body":"hi"}}"#;

/// A tenant with its number connected and a contact who wrote; its id and admin key.
async fn connected(deps: &TestDeps) -> (TenantId, String) {
    let (tenant, key) = new_tenant(deps).await;
    seed_message(deps, &tenant, PHONE, "wamid.IN1").await;
    let connect = handle(request("PUT", "/v1/whatsapp", Some(&key), CONNECT), deps).await;
    assert_eq!(connect.status(), StatusCode::OK);
    (TenantId::parse(tenant).expect("valid"), key)
}

/// What a `POST /v1/messages` answered: status, body, `Retry-After`; `None` when the process
/// died before answering.
type Answer = Option<(StatusCode, serde_json::Value, Option<String>)>;

async fn post(deps: &TestDeps, key: &str, idempotency_key: &str) -> Answer {
    let request = HttpRequest::builder()
        .method("POST")
        .uri("/v1/messages")
        .header("authorization", format!("Bearer {key}"))
        .header("idempotency-key", idempotency_key)
        .body(Body::from(TEXT))
        .expect("valid request");
    // A handler stuck in a fake that died never answers: the process is gone.
    let response = tokio::time::timeout(Duration::from_secs(30), handle(request, deps)).await.ok()?;
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    Some((response.status(), json(&response), retry_after))
}

/// The ids of the outbound messages stored for the tenant.
async fn stored_messages(deps: &TestDeps, tenant: &TenantId) -> Vec<String> {
    let filter = ConversationFilter::default();
    let conversations =
        deps.conversations.conversations(tenant, None, &filter, None, 10).await.expect("listed");
    let mut ids = Vec::new();
    for conversation in conversations.items {
        let messages =
            deps.conversations.messages(tenant, &conversation.id, None, 100).await.expect("listed");
        ids.extend(
            messages.items.into_iter().filter(|m| m.direction == "outbound").map(|m| m.id.to_string()),
        );
    }
    ids
}

/// The message ids of the queued send jobs, and whether each one's deduplication id is its id.
fn queued_jobs(deps: &TestDeps) -> Vec<(String, bool)> {
    deps.outbound
        .sent()
        .iter()
        .map(|m| {
            let job: SendJob = serde_json::from_str(&m.body).expect("a send job");
            let id = job.message_id.to_string();
            let deduplicated = m.dedup_id.as_deref() == Some(id.as_str());
            (id, deduplicated)
        })
        .collect()
}

/// The claim of the first request lapses (it outlives the API's 30 s timeout).
fn after_the_claim_lapses(deps: &TestDeps) {
    deps.clock.advance(Duration::from_secs(36));
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_storing_and_enqueueing_is_finished_by_the_retry_with_one_message() {
    // Arrange
    let deps = deps();
    let (tenant, key) = connected(&deps).await;
    deps.outbound.die_before_next_send();

    // Act
    let crashed = post(&deps, &key, "crash-1").await;
    let stored_by_the_crashed = stored_messages(&deps, &tenant).await;
    let while_in_flight = post(&deps, &key, "crash-1").await;
    after_the_claim_lapses(&deps);
    let retried = post(&deps, &key, "crash-1").await;
    let replayed = post(&deps, &key, "crash-1").await;

    // Assert
    assert!(crashed.is_none(), "the first request died");
    assert_eq!(stored_by_the_crashed.len(), 1, "it died after storing");
    let (status, problem, retry_after) = while_in_flight.expect("answered");
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["type"].as_str().unwrap_or_default().ends_with("/idempotency-key-in-progress"),
        "{problem}"
    );
    assert_eq!(retry_after.as_deref(), Some("2"));
    let (status, accepted, _) = retried.expect("answered");
    assert_eq!((status, accepted["status"].as_str()), (StatusCode::ACCEPTED, Some("queued")));
    assert_eq!(
        accepted["id"].as_str(),
        Some(stored_by_the_crashed[0].as_str()),
        "the stored message, not a new one"
    );
    assert_eq!(stored_messages(&deps, &tenant).await, stored_by_the_crashed, "one message stored");
    assert_eq!(queued_jobs(&deps), [(stored_by_the_crashed[0].clone(), true)], "queued once");
    let (status, again, _) = replayed.expect("answered");
    assert_eq!((status, &again["id"]), (StatusCode::ACCEPTED, &accepted["id"]));
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_enqueueing_is_answered_by_the_retry_under_the_same_id() {
    // Arrange
    let deps = deps();
    let (tenant, key) = connected(&deps).await;
    deps.outbound.die_after_next_send();

    // Act
    let crashed = post(&deps, &key, "crash-2").await;
    after_the_claim_lapses(&deps);
    let retried = post(&deps, &key, "crash-2").await;

    // Assert
    assert!(crashed.is_none(), "the first request died");
    let (status, accepted, _) = retried.expect("answered");
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = accepted["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(stored_messages(&deps, &tenant).await, std::slice::from_ref(&id), "one message stored");
    // Enqueued again under the same id: SQS drops the duplicate (deduplication id = message id)
    // and `send` sends only what it claims.
    assert_eq!(queued_jobs(&deps), [(id.clone(), true), (id, true)]);
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_reserving_the_id_is_submitted_by_the_retry_under_that_id() {
    // Arrange: a request claimed the key, noted its id and died before storing anything.
    let deps = deps();
    let (tenant, key) = connected(&deps).await;
    let body: serde_json::Value = serde_json::from_str(TEXT).expect("JSON");
    let hash = hex_sha256(&serde_json::to_string(&body).expect("JSON"));
    let request =
        IdempotencyRequest { tenant_id: &tenant, scope: "api:messages", key: "crash-3", payload_hash: &hash };
    let now = deps.clock.now();
    let claimed =
        deps.idempotency.claim(&request, now, now.plus(Duration::from_secs(35))).await.expect("claimed");
    deps.idempotency.note(&request, "msg_01JRESERVEDBYTHECRASHED0").await.expect("noted");
    after_the_claim_lapses(&deps);

    // Act
    let retried = post(&deps, &key, "crash-3").await;

    // Assert
    assert_eq!(claimed, Claim::Acquired);
    let (status, accepted, _) = retried.expect("answered");
    assert_eq!(
        (status, accepted["id"].as_str()),
        (StatusCode::ACCEPTED, Some("msg_01JRESERVEDBYTHECRASHED0"))
    );
    assert_eq!(stored_messages(&deps, &tenant).await, ["msg_01JRESERVEDBYTHECRASHED0"]);
    assert_eq!(queued_jobs(&deps), [("msg_01JRESERVEDBYTHECRASHED0".to_owned(), true)]);
}
