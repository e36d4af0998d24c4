//! Exactly once under faults, end to end: each fault the sandbox Graph API injects (Meta's 5xx,
//! an answer that comes after the Graph client gave up, a 2xx that does not parse) and the count
//! of what it took for each message — one. A message whose answer was lost is `unknown`, never
//! sent again, until its status webhook (found by the callback data) settles it.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::e2e::base;
use crate::ingest::{eventually, post, TestTenant};
use crate::send::{send, with_open_window};

/// Aims a sandbox fault at the tenant's number.
async fn fault(tenant: &TestTenant, fault: Value) {
    let mut fault = fault;
    fault["phone_number_id"] = json!(tenant.phone_number_id);
    let response = crate::support::http()
        .post(format!("{}/_sandbox/faults", base()))
        .json(&fault)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED, "{fault}");
}

/// The sends of message `id` the sandbox took (answered 2xx), whatever it then answered.
async fn taken(id: &str) -> usize {
    let callback = format!("leadline:{id}");
    crate::e2e::sandbox_records("/_sandbox/outbox")
        .await
        .iter()
        .filter(|e| e["body"]["biz_opaque_callback_data"] == callback.as_str())
        .filter(|e| e["response_status"].as_u64().is_some_and(|s| (200..300).contains(&s)))
        .count()
}

/// Sends a text; the message once it is no longer `queued`.
async fn sent_through(tenant: &TestTenant) -> (String, Value) {
    let body = json!({"to": tenant.wa_id, "type": "text", "text": {"body": "Olá"}});
    let (status, accepted) = send(tenant, &infra::random_hex(16).expect("random"), &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_owned();
    let client = crate::support::http();
    let message = eventually("the send to end", || async {
        let message = tenant.get(&client, &format!("/v1/messages/{id}")).await;
        (message["status"] != "queued").then_some(message)
    })
    .await;
    (id, message)
}

/// A `delivered` status webhook naming the message only by its callback data (its wamid was lost
/// with the answer).
fn delivered(tenant: &TestTenant, id: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    let status = json!({"id": format!("wamid.LOST{}", infra::random_hex(8).expect("random")), "status": "delivered",
        "timestamp": now.to_string(), "recipient_id": tenant.wa_id, "biz_opaque_callback_data": format!("leadline:{id}")});
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100001",
        "phone_number_id": tenant.phone_number_id}, "statuses": [status]}}]}]})
    .to_string()
}

/// Waits past a few of the stack's visibility timeouts: a redelivery would have sent again.
async fn past_redeliveries() {
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
}

#[tokio::test]
async fn a_meta_5xx_is_retried_and_meta_takes_the_message_once() {
    // Arrange
    let tenant = with_open_window().await;
    fault(&tenant, json!({"code": 131_000, "http_status": 500, "times": 1})).await;

    // Act
    let (id, message) = sent_through(&tenant).await;
    past_redeliveries().await;

    // Assert
    assert_eq!(message["status"], "sent", "{message}");
    assert_eq!(taken(&id).await, 1);
}

#[tokio::test]
async fn a_garbage_2xx_leaves_the_message_unknown_until_its_status_settles_it() {
    // Arrange
    let tenant = with_open_window().await;
    fault(&tenant, json!({"code": 0, "http_status": 200, "times": 1, "kind": "garbage"})).await;
    let client = crate::support::http();

    // Act
    let (id, message) = sent_through(&tenant).await;
    past_redeliveries().await;
    let taken_before_status = taken(&id).await;
    assert_eq!(post(&client, &delivered(&tenant, &id)).await, StatusCode::OK);
    let settled = eventually("the status to settle it", || async {
        let message = tenant.get(&client, &format!("/v1/messages/{id}")).await;
        (message["status"] == "delivered").then_some(message)
    })
    .await;

    // Assert
    assert_eq!(message["status"], "unknown", "{message}");
    assert_eq!(taken_before_status, 1, "never sent again");
    assert_eq!(settled["status"], "delivered");
    assert_eq!(taken(&id).await, 1);
}

#[tokio::test]
async fn an_answer_after_the_client_timed_out_leaves_the_message_unknown_and_sent_once() {
    // Arrange: Meta takes it and answers after 15 s; the Graph client gives up at 10 s.
    let tenant = with_open_window().await;
    fault(&tenant, json!({"code": 0, "http_status": 200, "times": 1, "kind": "slow", "delay_ms": 15_000}))
        .await;

    // Act
    let (id, message) = sent_through(&tenant).await;
    past_redeliveries().await;

    // Assert
    assert_eq!(message["status"], "unknown", "{message}");
    assert_eq!(taken(&id).await, 1, "Meta received it once");
}

#[tokio::test]
async fn the_fault_contract_takes_its_fixed_fields_and_refuses_a_2xx_error() {
    // The fixed point `{"code", "http_status", "times"}` alone is still an error fault; a 2xx
    // only goes with `garbage` or `slow`.
    let client = crate::support::http();
    let add = |body: Value| {
        let client = client.clone();
        async move {
            client
                .post(format!("{}/_sandbox/faults", base()))
                .json(&body)
                .send()
                .await
                .expect("request")
                .status()
        }
    };
    // A number nobody sends from, so that these faults touch no other test.
    let nobody = "999000111";
    assert_eq!(
        add(json!({"code": 131_000, "http_status": 500, "times": 1, "phone_number_id": nobody})).await,
        StatusCode::CREATED
    );
    assert_eq!(
        add(json!({"code": 0, "http_status": 200, "times": 1, "phone_number_id": nobody})).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        add(json!({"code": 0, "http_status": 500, "times": 1, "kind": "garbage", "phone_number_id": nobody}))
            .await,
        StatusCode::BAD_REQUEST
    );
}
