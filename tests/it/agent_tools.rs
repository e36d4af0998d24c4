//! The agent tools on the running local stack, through HTTP only: a customer writes through the
//! webhook; an agent renders a canned response with the customer's name, writes a private note
//! (nothing reaches the sandbox Graph API for it), finds the conversation in their inbox unread,
//! reads it, and sees the 24-hour window open for about a day.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::e2e::base;
use crate::ingest::{eventually, post, TestTenant};

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, format!("{}{path}", base()));
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") })
}

#[tokio::test]
async fn an_agent_answers_with_a_canned_response_a_note_and_the_inbox() {
    use reqwest::Method;
    // Arrange: a tenant with an agent; a customer writes now.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let admin = tenant.api_key.clone();
    let password = "correct horse battery";
    let email = format!("agent{}@example.com", crate::ingest::digits(8));
    let (status, created) = send(&client, Method::POST, "/v1/users", &admin,
        Some(json!({"email": email, "name": "Bea Lima", "role": "agent", "queues": ["support"], "password": password}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let agent_id = created["user"]["id"].as_str().expect("id").to_owned();
    let me: Value = send(&client, Method::GET, "/v1/tenant", &admin, None).await.1;
    let (status, tokens) = send(
        &client,
        Method::POST,
        "/v1/auth/login",
        "",
        Some(json!({"tenant_id": me["id"], "email": email, "password": password})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let agent = tokens["access_token"].as_str().expect("token").to_owned();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let body = tenant.fixture("text").replace("1767225601", &now.to_string());
    assert_eq!(post(&client, &body).await, StatusCode::OK);
    let conversation = eventually("the conversation", || async {
        let listed = tenant.get(&client, &format!("/v1/conversations?phone={}", tenant.wa_id)).await;
        listed["items"][0]["id"].as_str().map(str::to_owned)
    })
    .await;
    let (status, patched) = send(
        &client,
        Method::PATCH,
        &format!("/v1/conversations/{conversation}"),
        &admin,
        Some(json!({"assignee": agent_id})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let outbox_before = crate::e2e::sandbox_records("/_sandbox/outbox").await.len();

    // Act: a canned response, rendered for this conversation.
    let (status, canned) = send(
        &client,
        Method::POST,
        "/v1/canned-responses",
        &agent,
        Some(json!({"shortcut": "hello", "text": "Hi {{contact.first_name}}, {{agent.name}} here."})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{canned}");
    let id = canned["id"].as_str().expect("id");
    let (status, rendered) = send(
        &client,
        Method::POST,
        &format!("/v1/canned-responses/{id}/render"),
        &agent,
        Some(json!({"conversation_id": conversation})),
    )
    .await;
    let found = send(&client, Method::GET, "/v1/canned-responses?shortcut=he", &agent, None).await.1;

    // Assert
    assert_eq!(status, StatusCode::OK, "{rendered}");
    assert_eq!(rendered["text"], "Hi Ana, Bea Lima here.");
    assert_eq!(found["items"][0]["id"], id);

    // Act: a private note.
    let notes = format!("/v1/conversations/{conversation}/notes");
    let (status, note) =
        send(&client, Method::POST, &notes, &agent, Some(json!({"text": "Annual plan, wants a discount"})))
            .await;
    let listed = send(&client, Method::GET, &notes, &agent, None).await.1;

    // Assert
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(listed["items"][0]["text"], "Annual plan, wants a discount");

    // Act: the inbox, unread, then read.
    let before = send(&client, Method::GET, "/v1/inbox?view=mine", &agent, None).await.1;
    let (read, _) =
        send(&client, Method::POST, &format!("/v1/conversations/{conversation}/read"), &agent, None).await;
    let after = send(&client, Method::GET, "/v1/inbox?view=mine", &agent, None).await.1;
    let detail =
        send(&client, Method::GET, &format!("/v1/conversations/{conversation}"), &agent, None).await.1;

    // Assert
    let item = &before["items"][0];
    assert_eq!(item["id"], conversation.as_str(), "{before}");
    assert_eq!(item["contact_name"], "Ana Souza");
    assert_eq!(item["last_message"]["preview"], "Olá, quero saber o preço do plano anual");
    assert_eq!(item["unread_count"], 1);
    assert_eq!(read, StatusCode::NO_CONTENT);
    assert_eq!(after["items"][0]["unread_count"], 0);
    assert_eq!(detail["window"]["open"], true, "{detail}");
    let left = detail["window"]["seconds_left"].as_i64().expect("seconds left");
    assert!((24 * 3600 - 600..=24 * 3600).contains(&left), "about a day left: {left}");
    assert!(detail.get("templates").is_none());
    let outbox_after = crate::e2e::sandbox_records("/_sandbox/outbox").await;
    let leaked = outbox_after[outbox_before.min(outbox_after.len())..]
        .iter()
        .any(|r| r["body"].to_string().contains("wants a discount"));
    assert!(!leaked, "a private note never reaches the Graph API");

    // Act: the contact is deleted with everything about it.
    let contact = detail["contact_id"].as_str().expect("contact id");
    let (status, counts) =
        send(&client, Method::DELETE, &format!("/v1/contacts/{contact}"), &admin, None).await;
    let mut exported = String::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let path = match &cursor {
            Some(c) => format!("/v1/privacy/export/tenant?cursor={c}"),
            None => "/v1/privacy/export/tenant".to_owned(),
        };
        let page = send(&client, Method::GET, &path, &admin, None).await.1;
        exported.push_str(&page.to_string());
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }

    // Assert: the note went with the contact.
    assert_eq!(status, StatusCode::OK, "{counts}");
    assert!(counts["records"].as_u64().is_some_and(|n| n >= 1), "{counts}");
    assert!(!exported.contains("wants a discount"), "nothing of the note is left");
    let (gone, _) = send(&client, Method::GET, &notes, &admin, None).await;
    assert_eq!(gone, StatusCode::NOT_FOUND);
}
