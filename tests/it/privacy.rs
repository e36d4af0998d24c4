//! Privacy end to end, on the running local stack: only the person lifts their opt-out, an
//! erasure stays erased (an opted-out person stays unmarketable, a returning person starts
//! afresh, a late status recreates nothing), and a closed tenant collects nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::e2e::base;
use crate::ingest::{eventually, post, status_body, TestTenant};
use crate::send::send;

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("time").as_secs()
}

fn key() -> String {
    infra::random_hex(16).expect("random")
}

/// The `text` fixture as the customer's message number `n`, written just now.
fn text(tenant: &TestTenant, n: u32) -> String {
    tenant
        .fixture("text")
        .replace("0001AA==", &format!("{n:04}AA=="))
        .replace("\"1767225601\"", &format!("\"{}\"", now_secs()))
}

/// The customer writes STOP (now), and the opt-out is recorded.
async fn stop(client: &reqwest::Client, tenant: &TestTenant) {
    let body = tenant.fixture("text_stop").replace("\"1767225620\"", &format!("\"{}\"", now_secs()));
    assert_eq!(post(client, &body).await, StatusCode::OK);
    eventually("the opt-out", || async {
        tenant.contact(client).await.filter(|c| c["consent"]["state"] == "opt_out")
    })
    .await;
}

/// `POST /v1/contacts` for the tenant's customer with an opt-in: status and body.
async fn opt_in_by_api(client: &reqwest::Client, tenant: &TestTenant) -> (StatusCode, Value) {
    let response = client
        .post(format!("{}/v1/contacts", base()))
        .bearer_auth(&tenant.api_key)
        .json(&json!({"phone": tenant.wa_id, "consent": "opt_in"}))
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A marketing template of the tenant's WABA, approved and synced; the message body that sends it.
async fn marketing_template(client: &reqwest::Client, tenant: &TestTenant) -> Value {
    let name = format!("promo_{}", key());
    let registered = client
        .post(format!("{}/_sandbox/templates/102290129340398", base()))
        .json(&json!({"name": name, "language": "pt_BR", "status": "APPROVED", "category": "MARKETING",
            "components": [{"type": "BODY", "text": "Olá {{1}}, temos uma oferta."}]}))
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
    json!({"to": tenant.wa_id, "type": "template", "template": {"name": name, "language": {"code": "pt_BR"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]}})
}

/// Erases the tenant's customer: the request, the retention run, the receipt.
async fn erase(client: &reqwest::Client, tenant: &TestTenant) {
    let accepted = client
        .post(format!("{}/v1/privacy/erasure", base()))
        .bearer_auth(&tenant.api_key)
        .json(&json!({"phone": tenant.wa_id}))
        .send()
        .await
        .expect("request");
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let id = accepted.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();
    let run = client.post(format!("{}/_local/schedule/retention", base())).send().await.expect("request");
    assert_eq!(run.status(), StatusCode::OK);
    let done = eventually("the erasure done", || async {
        let request = tenant.get(client, &format!("/v1/privacy/erasure/{id}")).await;
        (request["status"] == "done").then_some(request)
    })
    .await;
    assert_eq!(done["receipt"]["deleted"]["contacts"], 1, "{done}");
    assert!(tenant.contact(client).await.is_none(), "erased");
}

/// The contact's detail (with its consent ledger).
async fn detail(client: &reqwest::Client, tenant: &TestTenant, contact: &Value) -> Value {
    tenant.get(client, &format!("/v1/contacts/{}", contact["id"].as_str().expect("id"))).await
}

#[tokio::test]
async fn only_the_person_lifts_their_opt_out_and_the_ledger_keeps_the_attempt() {
    // Arrange: the customer wrote, then STOP.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    assert_eq!(post(&client, &text(&tenant, 1)).await, StatusCode::OK);
    stop(&client, &tenant).await;
    let template = marketing_template(&client, &tenant).await;

    // Act: the business opts them back in through the API.
    let (status, problem) = opt_in_by_api(&client, &tenant).await;
    let (sent, refusal) = send(&tenant, &key(), &template).await;

    // Assert
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "https://leadline.dev/problems/opted-out-by-person");
    assert_eq!(sent, StatusCode::UNPROCESSABLE_ENTITY, "{refusal}");
    assert_eq!(refusal["type"], "https://leadline.dev/problems/opted-out");
    let contact = tenant.contact(&client).await.expect("contact");
    assert_eq!(contact["consent"]["state"], "opt_out");
    let ledger = detail(&client, &tenant, &contact).await["consent_ledger"].clone();
    let events = ledger.as_array().expect("ledger");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "opt_in" && e["source"] == "api" && e["refused"] == "opted_out_by_person"),
        "the attempt is in the ledger: {ledger}"
    );

    // Act / Assert: the person's own opt-in keyword lifts it.
    let start = tenant.fixture("text_start").replace("0021AA==", "0031AA==");
    let start = start.replace("\"1767225621\"", &format!("\"{}\"", now_secs() + 1));
    assert_eq!(post(&client, &start).await, StatusCode::OK);
    eventually("the person's opt-in", || async {
        tenant.contact(&client).await.filter(|c| c["consent"]["state"] == "opt_in")
    })
    .await;
}

#[tokio::test]
async fn an_erased_person_who_had_opted_out_stays_unmarketable() {
    // Arrange: the customer opted out, then was erased.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    assert_eq!(post(&client, &text(&tenant, 1)).await, StatusCode::OK);
    stop(&client, &tenant).await;
    erase(&client, &tenant).await;
    let template = marketing_template(&client, &tenant).await;

    // Act: the business re-creates them with an opt-in, then markets to them.
    let (status, problem) = opt_in_by_api(&client, &tenant).await;
    let (sent, refusal) = send(&tenant, &key(), &template).await;

    // Assert
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "https://leadline.dev/problems/opted-out-by-person");
    assert_eq!(sent, StatusCode::UNPROCESSABLE_ENTITY, "{refusal}");
    assert_eq!(refusal["type"], "https://leadline.dev/problems/opted-out");
    let contact = tenant.contact(&client).await.expect("the new record");
    assert_eq!(contact["consent"]["state"], "opt_out");
    assert_eq!(contact["consent"]["source"], "keyword", "their own opt-out, kept through the erasure");
}

#[tokio::test]
async fn a_person_returning_after_their_erasure_starts_afresh_and_readable() {
    // Arrange: the customer wrote, the business read them (every instance has their key cached),
    // exported them (an audit entry naming their contact) and erased them.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    assert_eq!(post(&client, &text(&tenant, 1)).await, StatusCode::OK);
    let before = eventually("the first message", || async {
        tenant.contact(&client).await.filter(|c| c["name"] == "Ana Souza")
    })
    .await;
    assert_eq!(tenant.messages(&client, &tenant.wa_id).await.len(), 1);
    tenant.get(&client, &format!("/v1/privacy/export?phone={}", tenant.wa_id)).await;
    erase(&client, &tenant).await;

    // Act: they write again.
    assert_eq!(post(&client, &text(&tenant, 2)).await, StatusCode::OK);
    let after = eventually("the returning person", || async { tenant.contact(&client).await }).await;
    let messages = eventually("their message", || async {
        Some(tenant.messages(&client, &tenant.wa_id).await).filter(|m| !m.is_empty())
    })
    .await;
    let (accepted, reply) = send(
        &tenant,
        &key(),
        &json!({"to": tenant.wa_id, "type": "text", "text": {"body": "Bem-vinda de volta"}}),
    )
    .await;

    // Assert
    assert_ne!(after["id"], before["id"], "a new contact id");
    assert_eq!(after["name"], "Ana Souza", "readable: {after}");
    assert_eq!(after["phone"], tenant.wa_id.as_str());
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0]["payload"]["text"]["body"], "Olá, quero saber o preço do plano anual",
        "{messages:?}"
    );
    assert_eq!(accepted, StatusCode::ACCEPTED, "{reply}");
    let id = reply["id"].as_str().expect("id").to_owned();
    let settled = eventually("the reply sent", || async {
        let message = tenant.get(&client, &format!("/v1/messages/{id}")).await;
        (message["status"] != "queued").then_some(message)
    })
    .await;
    assert_eq!(settled["status"], "sent", "{settled}");
    let export = tenant.get(&client, &format!("/v1/privacy/export?phone={}", tenant.wa_id)).await;
    let old_id = before["id"].as_str().expect("id");
    assert!(!export.to_string().contains(old_id), "nothing of the erased record re-attaches: {export}");
}

#[tokio::test]
async fn a_status_arriving_after_the_erasure_without_callback_data_recreates_nobody() {
    // Arrange: the customer wrote and was erased.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    assert_eq!(post(&client, &text(&tenant, 1)).await, StatusCode::OK);
    eventually("the message", || async { tenant.contact(&client).await }).await;
    erase(&client, &tenant).await;

    // Act: a late status for an earlier reply, no callback data; then (same FIFO group, so after
    // it) the person writes again.
    let late =
        status_body(&tenant, &format!("wamid.HBgNOUT{}0077AA==", tenant.wa_id), "delivered", 1_767_225_700);
    assert_eq!(post(&client, &late).await, StatusCode::OK);
    assert_eq!(post(&client, &text(&tenant, 2)).await, StatusCode::OK);
    let messages = eventually("their new message", || async {
        Some(tenant.messages(&client, &tenant.wa_id).await).filter(|m| !m.is_empty())
    })
    .await;

    // Assert: their new record holds their message only, nothing the status made.
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["direction"], "inbound");
    let contacts = tenant.get(&client, "/v1/contacts").await;
    assert_eq!(contacts["items"].as_array().map(Vec::len), Some(1), "{contacts}");
}

/// Waits until the inbound function logged dropping an event of this tenant.
async fn dropped_for(tenant_id: &str) {
    let log = crate::e2e::state_dir().join("logs").join("inbound.log");
    eventually("the event dropped", || async {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines().any(|l| l.contains("closed tenant") && l.contains(tenant_id)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_closed_tenant_collects_nothing_until_it_is_reopened() {
    // Arrange
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let tenant_id = tenant.api_key.split('.').nth(1).expect("tenant").to_owned();
    let closed = client
        .post(format!("{}/v1/tenant/close", base()))
        .bearer_auth(&tenant.api_key)
        .json(&json!({"confirm_tenant_id": tenant_id}))
        .send()
        .await
        .expect("request");
    assert_eq!(closed.status(), StatusCode::OK);

    // Act: a new customer writes to the closed tenant's number.
    let accepted = post(&client, &text(&tenant, 1)).await;
    dropped_for(&tenant_id).await;
    let reopened = client
        .post(format!("{}/v1/tenants/{tenant_id}/reopen", base()))
        .bearer_auth(crate::e2e::demo()["operator_key"].as_str().expect("operator"))
        .send()
        .await
        .expect("request");
    assert_eq!(reopened.status(), StatusCode::OK);
    let stored_while_closed = tenant.contact(&client).await;
    assert_eq!(post(&client, &text(&tenant, 2)).await, StatusCode::OK);
    let messages = eventually("the message after reopening", || async {
        Some(tenant.messages(&client, &tenant.wa_id).await).filter(|m| !m.is_empty())
    })
    .await;

    // Assert
    assert_eq!(accepted, StatusCode::OK, "Meta still gets its 200");
    assert!(stored_while_closed.is_none(), "nothing collected while closed: {stored_while_closed:?}");
    assert_eq!(messages.len(), 1, "collection resumed with the reopening: {messages:?}");
}
