//! Sending end to end: `POST /v1/messages` on the local stack, the `send` function, the sandbox
//! Graph API as Meta (its outbox is what Meta would have received), status webhooks back.
//! Each test has its own tenant and business number; sandbox faults are aimed at that number.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::e2e::base;
use crate::ingest::{eventually, post, status_body, TestTenant};

/// `POST /v1/messages` with a key: status and body.
pub async fn send(tenant: &TestTenant, key: &str, body: &Value) -> (StatusCode, Value) {
    let response = crate::support::http()
        .post(format!("{}/v1/messages", base()))
        .bearer_auth(&tenant.api_key)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The message once its status is no longer `queued`.
async fn settled(tenant: &TestTenant, id: &str) -> Value {
    let client = crate::support::http();
    eventually("the send to finish", || async {
        let message = tenant.get(&client, &format!("/v1/messages/{id}")).await;
        (message["status"] != "queued").then_some(message)
    })
    .await
}

/// Every request the sandbox got from this tenant's number.
async fn outbox(tenant: &TestTenant) -> Vec<Value> {
    let all = crate::e2e::sandbox_records("/_sandbox/outbox").await;
    let path = format!("/{}/messages", tenant.phone_number_id);
    all.into_iter().filter(|e| e["path"].as_str().is_some_and(|p| p.ends_with(&path))).collect()
}

async fn fault(tenant: &TestTenant, code: i64, http_status: u16, times: u32) {
    let response = crate::support::http()
        .post(format!("{}/_sandbox/faults", base()))
        .json(&json!({"code": code, "http_status": http_status, "times": times, "phone_number_id": tenant.phone_number_id}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// A tenant whose customer just wrote (the 24 h window is open).
pub async fn with_open_window() -> TestTenant {
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    // The fixture's message, written just now: the window runs 24 h from the customer's message.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    let body = tenant.fixture("text").replace("\"1767225601\"", &format!("\"{now}\""));
    assert_eq!(post(&client, &body).await, StatusCode::OK);
    eventually("the open window", || async {
        tenant
            .contact(&client)
            .await
            .filter(|c| c["service_window_until"].as_i64().is_some_and(|w| w > now as i64 * 1000))
    })
    .await;
    tenant
}

fn key() -> String {
    infra::random_hex(16).expect("random")
}

#[tokio::test]
async fn every_message_type_reaches_meta_in_the_cloud_api_shape() {
    // Arrange
    let tenant = with_open_window().await;
    let to = tenant.wa_id.clone();
    let bodies = [
        json!({"to": to, "type": "text", "text": {"body": "Olá!", "preview_url": false}}),
        json!({"to": to, "type": "interactive", "interactive": {"type": "button", "body": {"text": "Pick one"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]}}}),
        json!({"to": to, "type": "interactive", "interactive": {"type": "list", "body": {"text": "Menu"},
            "action": {"button": "Options", "sections": [{"title": "All", "rows": [{"id": "r1", "title": "One"}]}]}}}),
        json!({"to": to, "type": "interactive", "interactive": {"type": "cta_url", "body": {"text": "Site"},
            "action": {"name": "cta_url", "parameters": {"display_text": "Open", "url": "https://example.com"}}}}),
        json!({"to": to, "type": "image", "image": {"link": "https://example.com/a.png", "caption": "A"}}),
        json!({"to": to, "type": "video", "video": {"id": "1234567890"}}),
        json!({"to": to, "type": "audio", "audio": {"id": "1234567891"}}),
        json!({"to": to, "type": "document", "document": {"link": "https://example.com/a.pdf", "filename": "a.pdf"}}),
        json!({"to": to, "type": "sticker", "sticker": {"id": "1234567892"}}),
        json!({"to": to, "type": "location", "location": {"latitude": -23.56, "longitude": -46.65, "name": "Loja"}}),
        json!({"to": to, "type": "contacts", "contacts": [{"name": {"formatted_name": "Ana", "first_name": "Ana"}}]}),
        json!({"to": to, "type": "reaction", "reaction": {"message_id": "wamid.HBgNNTUxMTk4ODg4Nzc3NxUCABIYIDA=", "emoji": "👍"}}),
        json!({"to": to, "status": "read", "message_id": "wamid.HBgNNTUxMTk4ODg4Nzc3NxUCABIYIDA="}),
    ];

    // Act
    let mut ids = Vec::new();
    for body in &bodies {
        let (status, accepted) = send(&tenant, &key(), body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}: {accepted}");
        assert_eq!(accepted["status"], "queued");
        ids.push(accepted["id"].as_str().expect("id").to_owned());
    }
    for id in &ids {
        assert_eq!(settled(&tenant, id).await["status"], "sent", "{id}");
    }

    // Assert: what Meta received is the tenant's body plus the envelope fields.
    // Every message names itself in `biz_opaque_callback_data`, which Meta echoes in statuses.
    let received = outbox(&tenant).await;
    assert_eq!(received.len(), bodies.len());
    for (body, id) in bodies.iter().zip(&ids) {
        let expected = match body.get("type").and_then(Value::as_str) {
            Some(kind) => {
                let mut expected = body.clone();
                expected["messaging_product"] = json!("whatsapp");
                expected["recipient_type"] = json!("individual");
                expected["biz_opaque_callback_data"] = json!(format!("leadline:{id}"));
                (kind, expected)
            }
            None => (
                "read",
                json!({"messaging_product": "whatsapp", "status": "read", "message_id": body["message_id"]}),
            ),
        };
        assert!(
            received.iter().any(|e| e["body"] == expected.1),
            "{} not sent as {}",
            expected.0,
            expected.1
        );
        assert!(received
            .iter()
            .all(|e| e["method"] == "POST" && e["path"].as_str().is_some_and(|p| p.starts_with("/v"))));
    }
}

#[tokio::test]
async fn the_same_key_sends_once_and_another_body_under_it_is_refused() {
    // Arrange
    let tenant = with_open_window().await;
    let body = json!({"to": tenant.wa_id, "type": "text", "text": {"body": "once"}});
    let key = key();

    // Act
    let (first, accepted) = send(&tenant, &key, &body).await;
    let (again, replayed) = send(&tenant, &key, &body).await;
    let (other, refused) =
        send(&tenant, &key, &json!({"to": tenant.wa_id, "type": "text", "text": {"body": "twice"}})).await;
    let missing = crate::support::http()
        .post(format!("{}/v1/messages", base()))
        .bearer_auth(&tenant.api_key)
        .json(&body)
        .send()
        .await
        .expect("request");
    settled(&tenant, accepted["id"].as_str().expect("id")).await;

    // Assert
    assert_eq!(first, StatusCode::ACCEPTED);
    assert_eq!(again, StatusCode::ACCEPTED);
    assert_eq!(replayed, accepted, "the first answer, again");
    assert_eq!(other, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["type"], "https://leadline.dev/problems/idempotency-key-reused");
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(outbox(&tenant).await.len(), 1);
}

#[tokio::test]
async fn throttling_twice_then_success_sends_once_and_ends_sent() {
    // Arrange
    let tenant = with_open_window().await;
    fault(&tenant, 130_429, 400, 2).await;

    // Act
    let (_, accepted) =
        send(&tenant, &key(), &json!({"to": tenant.wa_id, "type": "text", "text": {"body": "retry"}})).await;
    let message = settled(&tenant, accepted["id"].as_str().expect("id")).await;

    // Assert
    assert_eq!(message["status"], "sent");
    assert!(message["wamid"].as_str().is_some_and(|w| w.starts_with("wamid.")));
    let attempts = outbox(&tenant).await;
    assert_eq!(attempts.len(), 3, "two throttled, one accepted");
    assert_eq!(attempts.iter().filter(|a| a["response_status"] == 200).count(), 1);
}

#[tokio::test]
async fn an_undeliverable_message_ends_failed_with_its_reason_and_no_retry() {
    // Arrange
    let tenant = with_open_window().await;
    fault(&tenant, 131_026, 400, 1).await;

    // Act
    let (_, accepted) =
        send(&tenant, &key(), &json!({"to": tenant.wa_id, "type": "text", "text": {"body": "nope"}})).await;
    let message = settled(&tenant, accepted["id"].as_str().expect("id")).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;

    // Assert
    assert_eq!(message["status"], "failed");
    assert_eq!(message["error"]["code"], 131_026);
    assert!(message["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(outbox(&tenant).await.len(), 1, "never retried");
    let quality = tenant.get(&crate::support::http(), "/v1/quality").await;
    assert_eq!(quality["counters"]["failed.131026"], 1, "{quality}");
    assert_eq!(quality["counters"]["accepted"], 1);
}

#[tokio::test]
async fn status_webhooks_move_a_sent_message_to_delivered_and_read() {
    // Arrange
    let client = crate::support::http();
    let tenant = with_open_window().await;
    let (_, accepted) =
        send(&tenant, &key(), &json!({"to": tenant.wa_id, "type": "text", "text": {"body": "track me"}}))
            .await;
    let id = accepted["id"].as_str().expect("id").to_owned();
    let wamid = settled(&tenant, &id).await["wamid"].as_str().expect("wamid").to_owned();
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs() as i64;

    // Act: `delivered` without the callback data (found by its wamid in the conversation),
    // `read` with it (found by the message id it names).
    assert_eq!(post(&client, &status_body(&tenant, &wamid, "delivered", now)).await, StatusCode::OK);
    let delivered = eventually("delivered", || async {
        let m = tenant.get(&client, &format!("/v1/messages/{id}")).await;
        (m["status"] == "delivered").then_some(m)
    })
    .await;
    let mut read_status: Value =
        serde_json::from_str(&status_body(&tenant, &wamid, "read", now + 5)).expect("json");
    read_status["entry"][0]["changes"][0]["value"]["statuses"][0]["biz_opaque_callback_data"] =
        json!(format!("leadline:{id}"));
    // Without a recipient, only the callback data can lead to the message.
    read_status["entry"][0]["changes"][0]["value"]["statuses"][0]
        .as_object_mut()
        .expect("status")
        .remove("recipient_id");
    assert_eq!(post(&client, &read_status.to_string()).await, StatusCode::OK);
    let read = eventually("read", || async {
        let m = tenant.get(&client, &format!("/v1/messages/{id}")).await;
        (m["status"] == "read").then_some(m)
    })
    .await;

    // Assert
    assert!(delivered["statuses"]["delivered"].is_i64());
    assert!(read["statuses"]["read"].is_i64());
    let messages = tenant.messages(&client, &tenant.wa_id).await;
    let outbound: Vec<&Value> = messages.iter().filter(|m| m["direction"] == "outbound").collect();
    assert_eq!(outbound.len(), 1, "the sent message, not a second record for its statuses");
    assert_eq!(outbound[0]["status"], "read");
}

#[tokio::test]
async fn the_policy_refuses_at_the_api_with_a_reason_and_templates_are_checked() {
    // Arrange: a contact who opted in (by the API) but never wrote: no window.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let phone = format!("5511{}", crate::ingest::digits(9));
    let created = client
        .post(format!("{}/v1/contacts", base()))
        .bearer_auth(&tenant.api_key)
        .json(&json!({"phone": phone, "consent": "opt_in"}))
        .send()
        .await
        .expect("request");
    assert_eq!(created.status(), StatusCode::CREATED);
    let template = json!({"to": phone, "type": "template", "template": {"name": "order_update", "language": {"code": "pt_BR"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]}});

    // Act / Assert: free-form outside the window, an unknown template, an unknown recipient.
    let (free_form, reason) =
        send(&tenant, &key(), &json!({"to": phone, "type": "text", "text": {"body": "hi"}})).await;
    assert_eq!(free_form, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reason["type"], "https://leadline.dev/problems/outside-window");
    let (unknown_template, reason) = send(&tenant, &key(), &template).await;
    assert_eq!(unknown_template, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reason["type"], "https://leadline.dev/problems/unknown-template");
    let (stranger, reason) = send(
        &tenant,
        &key(),
        &json!({"to": "15550009999", "type": "template", "template": template["template"]}),
    )
    .await;
    assert_eq!(stranger, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reason["type"], "https://leadline.dev/problems/unknown-recipient");
    let (bad, reason) =
        send(&tenant, &key(), &json!({"to": phone, "type": "text", "text": {"body": ""}})).await;
    assert_eq!(bad, StatusCode::BAD_REQUEST);
    assert!(reason["detail"].as_str().is_some_and(|d| d.contains("text.body")));

    // Templates synced from Meta; the parameter count is checked; then the template goes out.
    let registered = client
        .post(format!("{}/_sandbox/templates/102290129340398", base()))
        .json(
            &json!({"name": "order_update", "language": "pt_BR", "status": "APPROVED", "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Olá {{1}}, seu pedido saiu."}]}),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let synced = client
        .post(format!("{}/v1/templates/sync", base()))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .expect("request");
    assert_eq!(synced.status(), StatusCode::OK);
    let listed = tenant.get(&client, "/v1/templates").await;
    assert!(listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .any(|t| t["name"] == "order_update" && t["body_parameters"] == 1));
    let mut wrong = template.clone();
    wrong["template"]["components"] = json!([]);
    let (mismatch, _) = send(&tenant, &key(), &wrong).await;
    assert_eq!(mismatch, StatusCode::UNPROCESSABLE_ENTITY);
    let (accepted, body) = send(&tenant, &key(), &template).await;
    assert_eq!(accepted, StatusCode::ACCEPTED, "{body}");
    assert_eq!(settled(&tenant, body["id"].as_str().expect("id")).await["status"], "sent");
}

#[tokio::test]
async fn an_opted_out_contact_gets_nothing() {
    // Arrange
    let client = crate::support::http();
    let tenant = with_open_window().await;
    assert_eq!(post(&client, &tenant.fixture("text_stop")).await, StatusCode::OK);
    eventually("the opt-out", || async {
        tenant.contact(&client).await.filter(|c| c["consent"]["state"] == "opt_out")
    })
    .await;

    // Act
    let (status, reason) =
        send(&tenant, &key(), &json!({"to": tenant.wa_id, "type": "text", "text": {"body": "still there?"}}))
            .await;

    // Assert
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reason["type"], "https://leadline.dev/problems/opted-out");
    assert!(outbox(&tenant).await.is_empty());
    let quality = tenant.get(&client, "/v1/quality").await;
    assert_eq!(quality["counters"]["refused.opted_out"], 1, "{quality}");
    assert_eq!(quality["counters"]["opt_out.keyword"], 1);
}

#[tokio::test]
async fn the_monthly_message_limit_refuses_with_a_clear_error() {
    // Arrange
    let tenant = with_open_window().await;
    let tenant_id = tenant.api_key.split('.').nth(1).expect("tenant").to_owned();
    let plan = json!({"requests_per_minute": 600, "contacts": 100, "users": 5, "messages_per_month": 1});
    let response = crate::support::http()
        .put(format!("{}/v1/tenants/{tenant_id}/plan", base()))
        .bearer_auth(crate::e2e::demo()["operator_key"].as_str().expect("operator"))
        .json(&plan)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let body = json!({"to": tenant.wa_id, "type": "text", "text": {"body": "one"}});

    // Act
    let (first, _) = send(&tenant, &key(), &body).await;
    let (second, refused) = send(&tenant, &key(), &body).await;

    // Assert
    assert_eq!(first, StatusCode::ACCEPTED);
    assert_eq!(second, StatusCode::FORBIDDEN);
    assert_eq!(refused["type"], "https://leadline.dev/problems/plan-limit");
    assert!(refused["detail"].as_str().is_some_and(|d| d.contains("1 messages per month")));
}

#[tokio::test]
async fn a_stop_that_arrives_after_queueing_blocks_the_message_at_send_time() {
    // Arrange: the first message is throttled three times (backoff of several seconds), so the
    // second, queued behind it for the same person, waits in the queue meanwhile.
    let client = crate::support::http();
    let tenant = with_open_window().await;
    fault(&tenant, 130_429, 400, 3).await;
    let (_, first) =
        send(&tenant, &key(), &json!({"to": tenant.wa_id, "type": "text", "text": {"body": "first"}})).await;
    let (queued, second) =
        send(&tenant, &key(), &json!({"to": tenant.wa_id, "type": "text", "text": {"body": "second"}})).await;
    assert_eq!(queued, StatusCode::ACCEPTED, "accepted before the STOP");

    // Act: the person writes STOP while the second message is still queued.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    let stop = tenant.fixture("text_stop").replace("\"1767225620\"", &format!("\"{now}\""));
    assert_eq!(post(&client, &stop).await, StatusCode::OK);
    let first = settled(&tenant, first["id"].as_str().expect("id")).await;
    let second = settled(&tenant, second["id"].as_str().expect("id")).await;

    // Assert
    assert_eq!(first["status"], "sent", "{first}");
    assert_eq!(second["status"], "blocked", "{second}");
    assert_eq!(second["error"]["title"], "opted_out");
    let bodies: Vec<Value> =
        outbox(&tenant).await.into_iter().map(|e| e["body"]["text"]["body"].clone()).collect();
    assert!(!bodies.contains(&json!("second")), "{bodies:?}");
}

#[tokio::test]
async fn a_restricted_contact_gets_nothing_until_the_restriction_is_lifted() {
    // Arrange (blocking at send time, when the restriction comes after queueing, is
    // `send::tests::a_restriction_between_queueing_and_sending_blocks_the_message`).
    let client = crate::support::http();
    let tenant = with_open_window().await;
    let text = |body: &str| json!({"to": tenant.wa_id, "type": "text", "text": {"body": body}});
    let contact = tenant.contact(&client).await.expect("contact");
    let path = format!("{}/v1/contacts/{}", base(), contact["id"].as_str().expect("id"));
    let restrict = |restricted: bool| {
        client.patch(&path).bearer_auth(&tenant.api_key).json(&json!({"restricted": restricted})).send()
    };

    // Act: the person objects; later the restriction is lifted.
    let restricted = restrict(true).await.expect("request");
    assert_eq!(restricted.status(), StatusCode::OK);
    let restricted: Value = restricted.json().await.expect("json");
    let (refused, reason) = send(&tenant, &key(), &text("while restricted")).await;
    let lifted = restrict(false).await.expect("request");
    assert_eq!(lifted.status(), StatusCode::OK);
    let lifted: Value = lifted.json().await.expect("json");
    let (after_lift, accepted) = send(&tenant, &key(), &text("after the lift")).await;

    // Assert
    assert!(restricted["restricted_at"].is_i64(), "{restricted}");
    assert_eq!(refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reason["type"], "https://leadline.dev/problems/restricted");
    assert!(lifted["restricted_at"].is_null(), "{lifted}");
    assert_eq!(after_lift, StatusCode::ACCEPTED);
    assert_eq!(settled(&tenant, accepted["id"].as_str().expect("id")).await["status"], "sent");
    let kinds: Vec<&Value> =
        lifted["consent_ledger"].as_array().expect("ledger").iter().map(|e| &e["kind"]).collect();
    assert!(kinds.contains(&&json!("restrict")) && kinds.contains(&&json!("lift_restriction")), "{lifted}");
    let bodies: Vec<Value> =
        outbox(&tenant).await.into_iter().map(|e| e["body"]["text"]["body"].clone()).collect();
    assert_eq!(bodies, [json!("after the lift")]);
}
