//! The contact center's timers end to end on the running local stack: a snooze wakes at its
//! time (the timers job, `POST /_local/schedule/timers`, as the one-minute schedule runs it);
//! a tenant's auto-resolve resolves a silent conversation as the system and frees the agent's
//! slot (the job run ahead of the clock with `as_of`, which only the local stack honours, and
//! only for the test's tenant); the setting's bounds; a queue with waiting conversations cannot
//! be deleted. Each test has its own tenant.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api::{call, tenant_of};
use crate::center::{
    agent, analytics, conversation_of, customer_message, get_conversation, now_ms, presence, queue, route,
};
use crate::e2e::base;
use crate::ingest::{digits, eventually, post, TestTenant};

/// Runs the timers job now, or ahead of the clock for `tenant`: its report.
async fn run_timers(ahead: Option<(i64, &str)>) -> Value {
    let body = ahead.map_or_else(|| json!({}), |(as_of, tenant)| json!({"as_of": as_of, "tenant": tenant}));
    let response = crate::support::http()
        .post(format!("{}/_local/schedule/timers", base()))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

/// Replaces the tenant's settings with theirs and `auto_resolve_after_minutes`.
async fn set_auto_resolve(admin: &str, minutes: Value) -> (StatusCode, Value) {
    let (status, tenant) = call(Method::GET, "/v1/tenant", Some(admin), None).await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    let mut settings = tenant["settings"].clone();
    settings["auto_resolve_after_minutes"] = minutes;
    call(Method::PATCH, "/v1/tenant", Some(admin), Some(json!({"settings": settings}))).await
}

async fn load_of(admin: &str, user: &str) -> i64 {
    let (status, agents) = call(Method::GET, "/v1/agents", Some(admin), None).await;
    assert_eq!(status, StatusCode::OK, "{agents}");
    let items = agents["items"].as_array().cloned().unwrap_or_default();
    let found = items.iter().find(|a| a["user_id"] == user).unwrap_or_else(|| panic!("{user} in {agents}"));
    found["load"].as_i64().expect("load")
}

#[tokio::test]
async fn a_snoozed_conversation_wakes_when_its_time_comes() {
    // Arrange: a conversation snoozed three seconds ahead, once `inbound` finished with the
    // customer's message (its `received` event is its last step: a message wakes a snooze too).
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let started = now_ms() - 1_000;
    assert_eq!(post(&client, &customer_message(&tenant, &tenant.wa_id, 1)).await, StatusCode::OK);
    let id = conversation_of(&tenant, &tenant.wa_id).await["id"].as_str().expect("id").to_owned();
    eventually("the message handled", || async {
        (analytics(&tenant, started, "").await["messages_received"] == 1).then_some(())
    })
    .await;
    let until = now_ms() + 3_000;
    let (status, snoozed) = call(
        Method::PATCH,
        &format!("/v1/conversations/{id}"),
        Some(&tenant.api_key),
        Some(json!({"snoozed_until": until})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{snoozed}");
    assert_eq!(snoozed["state"], "pending", "{snoozed}");

    // Act: the job runs before and after the time.
    run_timers(None).await;
    let before = get_conversation(&tenant, &id).await;
    tokio::time::sleep(std::time::Duration::from_millis(u64::try_from(until - now_ms() + 500).unwrap_or(0)))
        .await;
    run_timers(None).await;

    // Assert
    assert_eq!(before["state"], "pending", "not before its time: {before}");
    let woken = get_conversation(&tenant, &id).await;
    assert_eq!(woken["state"], "open", "{woken}");
    assert!(woken["snoozed_until"].is_null(), "{woken}");
}

#[tokio::test]
async fn a_silent_conversation_is_resolved_by_the_system_freeing_its_agent_and_a_message_reopens_it() {
    // Arrange: auto-resolve after 5 minutes; an online agent holds the conversation.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let tenant_id = tenant_of(&tenant.api_key);
    let (status, refused) = set_auto_resolve(&tenant.api_key, json!(1)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap_or_default().contains("auto_resolve_after_minutes"),
        "{refused}"
    );
    let (status, set) = set_auto_resolve(&tenant.api_key, json!(5)).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["settings"]["auto_resolve_after_minutes"], 5, "{set}");
    let support = queue(&tenant.api_key, "Support", "least_busy").await;
    let (agent_id, token) = agent(&tenant, "silence@example.com", &support).await;
    presence(&token, "online").await;
    let wa_id = format!("5541{}", digits(9));
    assert_eq!(post(&client, &customer_message(&tenant, &wa_id, 1)).await, StatusCode::OK);
    let id = conversation_of(&tenant, &wa_id).await["id"].as_str().expect("id").to_owned();
    let routed = route(&tenant, &id, &support).await;
    assert_eq!(routed["assignee"], agent_id.as_str(), "{routed}");
    assert_eq!(load_of(&tenant.api_key, &agent_id).await, 1);

    // Act: four minutes of silence change nothing; eleven resolve it.
    let early = run_timers(Some((now_ms() + 4 * 60_000, &tenant_id))).await;
    let still_open = get_conversation(&tenant, &id).await;
    let late = run_timers(Some((now_ms() + 11 * 60_000, &tenant_id))).await;

    // Assert
    assert_eq!(still_open["state"], "open", "{still_open} after {early}");
    let resolved = get_conversation(&tenant, &id).await;
    assert_eq!(resolved["state"], "resolved", "{resolved} after {late}");
    assert_eq!(load_of(&tenant.api_key, &agent_id).await, 0, "the agent's slot is freed");

    // Act: the customer writes again.
    assert_eq!(post(&client, &customer_message(&tenant, &wa_id, 2)).await, StatusCode::OK);

    // Assert: reopened as usual.
    let reopened = eventually("the reopening", || async {
        let now = get_conversation(&tenant, &id).await;
        (now["state"] != "resolved").then_some(now)
    })
    .await;
    assert_eq!(reopened["state"], "open", "{reopened}");
}

#[tokio::test]
async fn a_queue_with_waiting_conversations_cannot_be_deleted() {
    // Arrange: a conversation waits in a queue nobody is online for.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let support = queue(&tenant.api_key, "Support", "round_robin").await;
    assert_eq!(post(&client, &tenant.fixture("text")).await, StatusCode::OK);
    let id = conversation_of(&tenant, &tenant.wa_id).await["id"].as_str().expect("id").to_owned();
    assert_eq!(route(&tenant, &id, &support).await["state"], "queued");

    // Act
    let (refused, problem) =
        call(Method::DELETE, &format!("/v1/queues/{support}"), Some(&tenant.api_key), None).await;
    let resolve = json!({"state": "resolved"});
    let (status, _) =
        call(Method::PATCH, &format!("/v1/conversations/{id}"), Some(&tenant.api_key), Some(resolve)).await;
    assert_eq!(status, StatusCode::OK);
    let (deleted, _) =
        call(Method::DELETE, &format!("/v1/queues/{support}"), Some(&tenant.api_key), None).await;

    // Assert
    assert_eq!(refused, StatusCode::CONFLICT, "{problem}");
    assert!(problem["type"].as_str().unwrap_or_default().ends_with("queue-not-empty"), "{problem}");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("1 conversation"), "{problem}");
    assert_eq!(deleted, StatusCode::NO_CONTENT, "empty, it goes");
}
