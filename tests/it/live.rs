//! The console's live updates end to end (issue #18, docs/console-api.md "Live updates"): a
//! WebSocket to the local stack's `/live` with an agent's access token, the `realtime`
//! function's `$connect`, a customer's message through the webhook, the notice through the
//! `live` queue and the Management API to the socket. Each test has its own tenant.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::{access, tenant_of, user};
use crate::center::{agent, conversation_of, customer_message, queue, route};
use crate::e2e::base;
use crate::ingest::{digits, post, TestTenant};
use infra::ws::{Client, ConnectError};

/// How long a notice may take: "within a second or two", with room for a busy CI machine.
const NOTICE_WITHIN: Duration = Duration::from_secs(8);

fn host_port() -> String {
    base().trim_start_matches("http://").trim_end_matches('/').to_owned()
}

async fn connect(token: &str) -> Result<Client, ConnectError> {
    Client::connect(&host_port(), &format!("/live?token={token}")).await
}

/// The next notice on `socket` about `conversation` of `kind`, skipping others, within `wait`.
async fn notice_of(socket: &mut Client, conversation: &str, kind: &str, wait: Duration) -> Option<Value> {
    let deadline = Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let text = socket.next_text(left).await.expect("the socket reads")?;
        let notice: Value = serde_json::from_str(&text).expect("a notice is JSON");
        if notice["conversation_id"] == conversation && notice["kind"] == kind {
            return Some(notice);
        }
    }
    None
}

#[tokio::test]
async fn a_customer_message_reaches_the_agents_in_scope_within_seconds_and_no_one_else() {
    // Arrange: Sales with one agent, Support with another; both connected.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let sales = queue(&tenant.api_key, "Sales", "round_robin").await;
    let support = queue(&tenant.api_key, "Support", "round_robin").await;
    let (_, sales_token) = agent(&tenant, &format!("sales{}@example.com", digits(6)), &sales).await;
    let (_, support_token) = agent(&tenant, &format!("support{}@example.com", digits(6)), &support).await;
    let (_, manager) = user(
        &tenant.api_key,
        &tenant_of(&tenant.api_key),
        &format!("m{}@example.com", digits(6)),
        "manager",
        &[],
    )
    .await;
    let mut in_scope = connect(&sales_token).await.expect("the Sales agent connects");
    let mut outside = connect(&support_token).await.expect("the Support agent connects");
    let mut all = connect(&access(&manager)).await.expect("the manager connects");
    let wa_id = format!("5511{}", digits(9));
    assert!(post(&client, &customer_message(&tenant, &wa_id, 1)).await.is_success());
    let conversation = conversation_of(&tenant, &wa_id).await["id"].as_str().expect("id").to_owned();
    route(&tenant, &conversation, &sales).await;
    let routed = notice_of(&mut in_scope, &conversation, "assignment", NOTICE_WITHIN).await;
    assert!(routed.is_some(), "the Sales agent hears the conversation came to Sales");

    // Act: the customer writes again.
    let sent = Instant::now();
    assert!(post(&client, &customer_message(&tenant, &wa_id, 2)).await.is_success());
    let heard = notice_of(&mut in_scope, &conversation, "message", NOTICE_WITHIN).await;
    let took = sent.elapsed();

    // Assert
    let heard = heard.expect("the Sales agent hears of the message");
    assert_eq!(heard["type"], "conversation");
    assert_eq!(heard["queue"], sales.as_str());
    assert!(took < NOTICE_WITHIN, "within seconds: {took:?}");
    let keys: Vec<&String> = heard.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["assignee", "at", "conversation_id", "kind", "queue", "type"], "ids only: {heard}");
    assert!(
        notice_of(&mut all, &conversation, "message", NOTICE_WITHIN).await.is_some(),
        "a manager hears of every conversation"
    );
    let stray = outside.next_text(Duration::from_secs(2)).await.expect("the socket reads");
    assert_eq!(stray, None, "the Support agent hears nothing of a Sales conversation");
    for socket in [in_scope, outside, all] {
        socket.close().await.expect("closes");
    }
}

#[tokio::test]
async fn a_bad_token_an_api_key_or_none_is_refused_with_401() {
    // Arrange
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let (_, tokens) = user(
        &tenant.api_key,
        &tenant_of(&tenant.api_key),
        &format!("a{}@example.com", digits(6)),
        "agent",
        &[],
    )
    .await;
    let tampered = format!("{}x", access(&tokens));

    for (case, path) in [
        ("tampered", format!("/live?token={tampered}")),
        ("api key", format!("/live?token={}", tenant.api_key)),
        ("none", "/live".to_owned()),
    ] {
        // Act
        let refused = Client::connect(&host_port(), &path).await;

        // Assert
        assert!(matches!(refused, Err(ConnectError::Refused(401))), "{case}: {refused:?}");
    }
}

#[tokio::test]
async fn after_one_socket_closes_notices_still_reach_the_others() {
    // Arrange: two managers; one closes its socket.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let tenant_id = tenant_of(&tenant.api_key);
    let mut sockets = Vec::new();
    for n in 0..2 {
        let (_, tokens) =
            user(&tenant.api_key, &tenant_id, &format!("m{n}{}@example.com", digits(6)), "manager", &[])
                .await;
        sockets.push(connect(&access(&tokens)).await.expect("connects"));
    }
    let mut open = sockets.pop().expect("two");
    sockets.pop().expect("two").close().await.expect("closes");

    // Act
    let wa_id = format!("5511{}", digits(9));
    assert!(post(&client, &customer_message(&tenant, &wa_id, 1)).await.is_success());
    let conversation = conversation_of(&tenant, &wa_id).await["id"].as_str().expect("id").to_owned();

    // Assert
    assert!(notice_of(&mut open, &conversation, "message", NOTICE_WITHIN).await.is_some());
    open.close().await.expect("closes");
}
