//! Races, fired in parallel against the running local stack, which runs several instances of
//! `api`, `webhook` and `inbound` (`LEADLINE_INSTANCES`) as Lambda scales out: requests sent at
//! once really run at once, so a check-then-write that is not one conditional write shows here.
//!
//! A stack that runs one invocation at a time cannot show a race: there, every parallel request
//! below is served one after the other and the outcome is the serial one. Only
//! `a_slow_api_request_blocks_no_other` fails outright on such a stack.

use std::time::Duration;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api::{access, call, tenant_of, user, PASSWORD};
use crate::e2e::{base, sandbox_records};
use crate::ingest::{eventually, post, TestTenant};

/// Requests fired at once in each race: more than the 4 `api` instances, so that every
/// instance is busy with the same race.
const PARALLEL: usize = 8;

/// The conversation of `tenant`'s customer (created by an inbound message).
async fn conversation(client: &reqwest::Client, tenant: &TestTenant) -> String {
    assert_eq!(post(client, &tenant.fixture("text")).await, StatusCode::OK);
    eventually("the conversation", || async {
        let (_, page) = call(
            Method::GET,
            &format!("/v1/conversations?phone={}", tenant.wa_id),
            Some(&tenant.api_key),
            None,
        )
        .await;
        page["items"][0]["id"].as_str().map(str::to_owned)
    })
    .await
}

#[tokio::test]
async fn two_agents_claiming_one_conversation_at_once_one_wins_the_other_gets_409() {
    // Arrange: a conversation waiting in a queue of two agents.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let tenant_id = tenant_of(&tenant.api_key);
    let (_, first) = user(&tenant.api_key, &tenant_id, "claim-one@example.com", "agent", &["support"]).await;
    let (_, second) = user(&tenant.api_key, &tenant_id, "claim-two@example.com", "agent", &["support"]).await;
    let agents = [access(&first), access(&second)];
    let conversation = conversation(&client, &tenant).await;
    let path = format!("/v1/conversations/{conversation}");

    for round in 0..3 {
        let (status, queued) = call(
            Method::PATCH,
            &path,
            Some(&tenant.api_key),
            Some(json!({"queue": "support", "state": "queued"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "round {round}: {queued}");
        let version = queued["version"].as_u64().expect("version");

        // Act: both agents take it, each from the version they saw, at the same moment.
        let claims = join_all(agents.iter().map(|agent| {
            call(Method::PATCH, &path, Some(agent), Some(json!({"state": "open", "version": version})))
        }))
        .await;

        // Assert: exactly one claim applied; the other is told it lost.
        let statuses: Vec<StatusCode> = claims.iter().map(|(status, _)| *status).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "round {round}: exactly one claim wins: {claims:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(),
            1,
            "round {round}: the other gets 409: {claims:?}"
        );
        let (_, now) = call(Method::GET, &path, Some(&tenant.api_key), None).await;
        assert_eq!(now["state"], "open");
        assert_eq!(now["version"].as_u64(), Some(version + 1), "round {round}: one write, not two");
    }
}

#[tokio::test]
async fn parallel_wrong_passwords_for_one_user_count_at_most_five_failures() {
    // Arrange
    let (admin, tenant) = crate::api::tenant().await;
    user(&admin, &tenant, "parallel-guess@example.com", "agent", &[]).await;
    let guess = |password: &'static str| {
        call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"tenant_id": tenant, "email": "parallel-guess@example.com", "password": password})),
        )
    };

    // Act: more wrong guesses at once than the limit allows in 15 minutes.
    let guesses = join_all((0..3 * PARALLEL).map(|_| guess("wrong password!!"))).await;
    let right = guess(PASSWORD).await;

    // Assert: at most five were checked against the password; the rest were throttled.
    let statuses: Vec<StatusCode> = guesses.iter().map(|(status, _)| *status).collect();
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(checked + throttled, statuses.len(), "only 401 or 429: {statuses:?}");
    assert!(checked <= 5, "{checked} wrong passwords were checked at once: {statuses:?}");
    assert_eq!(right.0, StatusCode::TOO_MANY_REQUESTS, "even the right password waits: {}", right.1);
}

#[tokio::test]
async fn one_idempotency_key_fired_in_parallel_sends_one_message() {
    // Arrange
    let tenant = crate::send::with_open_window().await;
    let key = infra::random_hex(16).expect("random");
    let body = json!({"to": tenant.wa_id, "type": "text", "text": {"body": "seu pedido saiu"}});

    // Act: the same request, with one key, from several clients at once.
    let answers = join_all((0..PARALLEL).map(|_| crate::send::send(&tenant, &key, &body))).await;

    // Assert: every answer is the one message (202) or "in progress" (409), never a second one.
    let accepted: Vec<&Value> =
        answers.iter().filter(|(status, _)| *status == StatusCode::ACCEPTED).map(|(_, body)| body).collect();
    assert!(
        answers.iter().all(|(status, _)| [StatusCode::ACCEPTED, StatusCode::CONFLICT].contains(status)),
        "{answers:?}"
    );
    let id = accepted.first().expect("one request was accepted")["id"].as_str().expect("id").to_owned();
    assert!(accepted.iter().all(|a| a["id"] == id.as_str()), "one message id: {accepted:?}");
    let client = crate::support::http();
    eventually("the send", || async {
        let message = tenant.get(&client, &format!("/v1/messages/{id}")).await;
        (message["status"] != "queued").then_some(())
    })
    .await;
    // A later send to the same person leaves after the first (one FIFO group), so once it is
    // out, any duplicate of the first would be out too.
    let (status, later) = crate::send::send(
        &tenant,
        &infra::random_hex(16).expect("random"),
        &json!({"to": tenant.wa_id, "type": "text", "text": {"body": "still there?"}}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{later}");
    let later = later["id"].as_str().expect("id").to_owned();
    eventually("the later send", || async {
        let message = tenant.get(&client, &format!("/v1/messages/{later}")).await;
        (message["status"] != "queued").then_some(())
    })
    .await;
    let path = format!("/{}/messages", tenant.phone_number_id);
    let sent: Vec<Value> = sandbox_records("/_sandbox/outbox")
        .await
        .into_iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.ends_with(&path)))
        .filter(|e| e["body"]["biz_opaque_callback_data"] == format!("leadline:{id}").as_str())
        .collect();
    assert_eq!(sent.len(), 1, "Meta received the message once: {sent:?}");
}

#[tokio::test]
async fn one_webhook_delivered_in_parallel_is_stored_once() {
    // Arrange: one message, as Meta's raw bytes and re-serialized (signed either way).
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let raw = tenant.fixture("text");
    let reserialized =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&raw).expect("json")).expect("json");

    // Act: delivered several times at once.
    let statuses = join_all((0..PARALLEL).map(|i| {
        let client = client.clone();
        let body = if i % 2 == 0 { raw.clone() } else { reserialized.clone() };
        async move { post(&client, &body).await }
    }))
    .await;
    // Then another message from the same person: one FIFO group, so it is stored after them.
    assert_eq!(post(&client, &tenant.fixture("location")).await, StatusCode::OK);

    // Assert
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    let messages = eventually("the later message", || async {
        let messages = tenant.messages(&client, &tenant.wa_id).await;
        messages.iter().any(|m| m["type"] == "location").then_some(messages)
    })
    .await;
    let wamid = format!("wamid.HBgN{}0001AA==", tenant.wa_id);
    let stored = messages.iter().filter(|m| m["wamid"] == wamid.as_str()).count();
    assert_eq!(stored, 1, "stored once: {messages:?}");
    assert_eq!(messages.len(), 2, "{messages:?}");
}

#[tokio::test]
async fn a_slow_api_request_blocks_no_other() {
    // Arrange: Graph holds the template sync of the next tenant that asks for one.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let hold: Value = client
        .post(format!("{}/_sandbox/holds", base()))
        .json(&json!({"path_contains": "/message_templates", "millis": 20_000}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let hold = format!("{}/_sandbox/holds/{}", base(), hold["id"].as_str().expect("hold id"));
    let slow = tokio::spawn({
        let (client, key) = (client.clone(), tenant.api_key.clone());
        async move {
            let response = client.post(format!("{}/v1/templates/sync", base())).bearer_auth(key).send().await;
            response.expect("request").status()
        }
    });
    eventually("the sync waiting on Graph", || async {
        let view: Value = client.get(&hold).send().await.ok()?.json().await.ok()?;
        (view["waiting"].as_u64() >= Some(1)).then_some(())
    })
    .await;

    // Act: other requests while one api invocation waits (a serial stack would answer them only
    // after the held one: 20 s, past the client's patience).
    let answers = join_all((0..3).map(|_| {
        client
            .get(format!("{}/v1/contacts", base()))
            .bearer_auth(&tenant.api_key)
            .timeout(Duration::from_secs(10))
            .send()
    }))
    .await;
    let still_held: Value = client.get(&hold).send().await.expect("request").json().await.expect("json");
    client.delete(&hold).send().await.expect("release");

    // Assert
    for answer in answers {
        assert_eq!(answer.expect("answered while the slow request ran").status(), StatusCode::OK);
    }
    assert!(still_held["waiting"].as_u64() >= Some(1), "the slow request was still running: {still_held}");
    assert_eq!(slow.await.expect("task"), StatusCode::OK, "the slow request finished once released");
}
