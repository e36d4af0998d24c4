//! AI reply suggestions end to end (P30, P31, P63), through the running local stack: the
//! sandbox AI provider records exactly what it receives, so these tests see what would have left
//! for an external provider.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::e2e::base;
use crate::ingest::{eventually, post, TestTenant};

/// A word of random letters: survives redaction, so it finds this test's request at the sandbox.
fn marker() -> String {
    infra::random_hex(12)
        .expect("random")
        .chars()
        .map(|c| char::from(b'k' + (c.to_digit(16).unwrap_or(0) as u8)))
        .collect()
}

async fn call(
    tenant: &TestTenant,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request =
        crate::support::http().request(method, format!("{}{path}", base())).bearer_auth(&tenant.api_key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn set_ai_enabled(tenant: &TestTenant, enabled: bool) {
    let (_, current) = call(tenant, reqwest::Method::GET, "/v1/tenant", None).await;
    let mut settings = current["settings"].clone();
    settings["ai_enabled"] = json!(enabled);
    let (status, body) =
        call(tenant, reqwest::Method::PATCH, "/v1/tenant", Some(json!({"settings": settings}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// What the sandbox provider received that carries `marker`.
async fn received_with(marker: &str) -> Vec<Value> {
    let all = crate::e2e::sandbox_records("/_sandbox/ai/requests").await;
    all.into_iter().filter(|r| r["body"].to_string().contains(marker)).collect()
}

#[tokio::test]
async fn only_redacted_text_reaches_the_ai_provider_and_only_when_the_tenant_allows_it() {
    // Arrange: the customer (profile name "Ana Souza") writes identifiers and a marker word.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let marker = marker();
    let text = format!(
        "Oi, sou Ana Souza ({marker}). Meu celular é +55 11 98765-4321, email ana.souza@example.com, \
         pedido PD998877, link https://loja.example/p/1 — quero 3 cadeiras azuis"
    );
    let body = tenant.fixture("text").replace("Olá, quero saber o preço do plano anual", &text);
    assert_eq!(post(&client, &body).await, StatusCode::OK);
    let conversation = eventually("the conversation", || async {
        let list = tenant.get(&client, &format!("/v1/conversations?phone={}", tenant.wa_id)).await;
        list["items"][0]["id"].as_str().map(str::to_owned)
    })
    .await;
    let suggestions = format!("/v1/conversations/{conversation}/suggestions");
    let provider_key = format!("sk-e2e-{}", infra::random_hex(16).expect("random"));

    // Act / Assert: AI is off by default, then on without a provider: refused, nothing sent.
    let (status, off) = call(&tenant, reqwest::Method::POST, &suggestions, None).await;
    assert_eq!(
        (status, off["type"].as_str()),
        (StatusCode::CONFLICT, Some("https://leadline.dev/problems/ai-disabled"))
    );
    set_ai_enabled(&tenant, true).await;
    let (_, unconnected) = call(&tenant, reqwest::Method::POST, &suggestions, None).await;
    assert_eq!(unconnected["type"], "https://leadline.dev/problems/ai-not-connected");
    // Connected to the sandbox provider with the tenant's key: accepted, then ready.
    let connect = json!({"provider": "sandbox", "model": "sandbox-small", "api_key": provider_key});
    let (status, connection) = call(&tenant, reqwest::Method::PUT, "/v1/ai", Some(connect)).await;
    assert_eq!(status, StatusCode::OK, "{connection}");
    assert!(!connection.to_string().contains(&provider_key), "the key is never returned");
    let (status, accepted) = call(&tenant, reqwest::Method::POST, &suggestions, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_owned();
    let ready = eventually("the suggestion", || async {
        let (_, suggestion) = call(&tenant, reqwest::Method::GET, &format!("{suggestions}/{id}"), None).await;
        (suggestion["status"] != "pending").then_some(suggestion)
    })
    .await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["replies"], json!(infra::sandbox::SANDBOX_REPLIES));

    // What reached the provider: the tenant's key, the meaning, and no identifier.
    let received = received_with(&marker).await;
    assert_eq!(received.len(), 1, "one request for one suggestion");
    assert_eq!(received[0]["authorization"], format!("Bearer {provider_key}"));
    assert_eq!(received[0]["body"]["model"], "sandbox-small");
    let sent = received[0]["body"].to_string();
    assert!(sent.contains("quero 3 cadeiras azuis"), "{sent}");
    for placeholder in ["[name]", "[phone]", "[email]", "[id]", "[url]"] {
        assert!(sent.contains(placeholder), "{placeholder} in {sent}");
    }
    for identifier in
        [&tenant.wa_id, "98765", "4321", "ana.souza", "example.com", "Ana", "Souza", "PD998877", "https://"]
    {
        assert!(!sent.contains(identifier), "{identifier} reached the provider: {sent}");
    }

    // A restricted contact: refused at once, and nothing more reaches the provider.
    let contact = tenant.contact(&client).await.expect("contact");
    let restrict = json!({"restricted": true});
    let path = format!("/v1/contacts/{}", contact["id"].as_str().expect("id"));
    assert_eq!(call(&tenant, reqwest::Method::PATCH, &path, Some(restrict)).await.0, StatusCode::OK);
    let (_, restricted) = call(&tenant, reqwest::Method::POST, &suggestions, None).await;
    assert_eq!(restricted["type"], "https://leadline.dev/problems/contact-restricted");
    assert_eq!(received_with(&marker).await.len(), 1);
}

#[tokio::test]
async fn a_summary_and_the_sentiment_too_all_in_the_persons_export_and_gone_with_their_erasure() {
    // Arrange: AI on, the sandbox provider connected, a conversation.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    assert_eq!(post(&client, &tenant.fixture("text")).await, StatusCode::OK);
    let conversation = eventually("the conversation", || async {
        let list = tenant.get(&client, &format!("/v1/conversations?phone={}", tenant.wa_id)).await;
        list["items"][0]["id"].as_str().map(str::to_owned)
    })
    .await;
    set_ai_enabled(&tenant, true).await;
    let connect = json!({"provider": "sandbox", "model": "m", "api_key": "sk-e2e-export"});
    assert_eq!(call(&tenant, reqwest::Method::PUT, "/v1/ai", Some(connect)).await.0, StatusCode::OK);
    let suggestions = format!("/v1/conversations/{conversation}/suggestions");

    // Act: one request of each kind, and one of a kind that does not exist.
    let mut done = Vec::new();
    for kind in ["replies", "summary", "sentiment"] {
        let (status, accepted) =
            call(&tenant, reqwest::Method::POST, &suggestions, Some(json!({"kind": kind}))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        let id = accepted["id"].as_str().expect("id").to_owned();
        done.push(
            eventually("the suggestion", || async {
                let (_, suggestion) =
                    call(&tenant, reqwest::Method::GET, &format!("{suggestions}/{id}"), None).await;
                (suggestion["status"] == "ready").then_some(suggestion)
            })
            .await,
        );
    }
    let (unknown, problem) =
        call(&tenant, reqwest::Method::POST, &suggestions, Some(json!({"kind": "poem"}))).await;
    let export_path = format!("/v1/privacy/export?phone={}", tenant.wa_id);
    let export = tenant.get(&client, &export_path).await;
    let csv = tenant.get(&client, &format!("{export_path}&format=csv")).await;
    let (status, erasure) =
        call(&tenant, reqwest::Method::POST, "/v1/privacy/erasure", Some(json!({"phone": tenant.wa_id})))
            .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let run = client.post(format!("{}/_local/schedule/retention", base())).send().await.expect("request");
    assert_eq!(run.status(), StatusCode::OK);

    // Assert
    assert_eq!(done[0]["replies"], json!(infra::sandbox::SANDBOX_REPLIES));
    assert_eq!(done[1]["summary"], infra::sandbox::SANDBOX_SUMMARY);
    assert_eq!(done[2]["sentiment"], "positive");
    assert_eq!(unknown, StatusCode::BAD_REQUEST, "{problem}");
    let exported =
        export["contacts"][0]["conversations"][0]["ai_suggestions"].as_array().cloned().unwrap_or_default();
    let kinds: Vec<&str> = exported.iter().filter_map(|s| s["kind"].as_str()).collect();
    assert_eq!(kinds, ["replies", "summary", "sentiment"]);
    let table = csv["files"]["ai_suggestions.csv"].as_str().unwrap_or_default();
    assert!(table.contains(infra::sandbox::SANDBOX_SUMMARY) && table.lines().count() == 4, "{table}");
    let erasure_id = erasure["id"].as_str().expect("id");
    let erased = eventually("the erasure done", || async {
        let request = tenant.get(&client, &format!("/v1/privacy/erasure/{erasure_id}")).await;
        (request["status"] == "done").then_some(request)
    })
    .await;
    assert_eq!(erased["receipt"]["deleted"]["ai_suggestions"], 3);
    let id = done[1]["id"].as_str().expect("id");
    let (gone, _) = call(&tenant, reqwest::Method::GET, &format!("{suggestions}/{id}"), None).await;
    assert_eq!(gone, StatusCode::NOT_FOUND);
}
