//! The running local stack, through HTTP only (what a user of the README's first command sees).

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::kernel::digest::hmac_sha256;
use shared::kernel::hex;

pub fn base() -> String {
    std::env::var("LEADLINE_E2E_BASE_URL")
        .expect("LEADLINE_E2E_BASE_URL is not set: run the tests with infra/test.sh, which starts the stack")
}

pub fn state_dir() -> PathBuf {
    std::env::var("LEADLINE_E2E_STATE_DIR").map(PathBuf::from).expect("LEADLINE_E2E_STATE_DIR is not set")
}

pub fn demo() -> Value {
    let text = std::fs::read_to_string(state_dir().join("demo.json")).expect("demo.json written");
    serde_json::from_str(&text).expect("demo.json is JSON")
}

fn sign(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(&hmac_sha256(secret.as_bytes(), body)))
}

/// What a sandbox endpoint lists: `/_sandbox/outbox` (Graph requests) or `/_sandbox/ai/requests`.
pub async fn sandbox_records(path: &str) -> Vec<Value> {
    crate::support::http()
        .get(format!("{}{path}", base()))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

/// A new tenant (created with the operator key); its admin API key.
pub async fn new_tenant(client: &reqwest::Client) -> String {
    let response = client
        .post(format!("{}/v1/tenants", base()))
        .bearer_auth(demo()["operator_key"].as_str().expect("operator key"))
        .json(&json!({"name": "E2E"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    body["api_key"].as_str().expect("api key").to_owned()
}

/// Registers a business number with the sandbox Graph API (`POST /_sandbox/numbers`), as Meta
/// would hold it: the API then verifies it for `access_token` before connecting it.
pub async fn register_number(
    client: &reqwest::Client,
    phone_number_id: &str,
    display_phone_number: &str,
    waba_id: &str,
    access_token: &str,
) {
    let response = client
        .post(format!("{}/_sandbox/numbers", base()))
        .json(&json!({"phone_number_id": phone_number_id, "display_phone_number": display_phone_number,
            "waba_id": waba_id, "access_token": access_token}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED, "sandbox number registered");
}

/// Registers a Page and its Page access token with the sandbox Graph API (`POST /_sandbox/pages`).
pub async fn register_page(client: &reqwest::Client, page_id: &str, access_token: &str) {
    let response = client
        .post(format!("{}/_sandbox/pages", base()))
        .json(&json!({"page_id": page_id, "access_token": access_token}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED, "sandbox Page registered");
}

#[tokio::test]
async fn health_is_ok_and_demo_json_has_every_field() {
    let response = crate::support::http().get(format!("{}/health", base())).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let health: Value = response.json().await.expect("json");
    for function in ["webhook", "inbound", "send", "suggest", "retention", "import", "api", "realtime"] {
        assert_eq!(health["functions"][function], true, "{function} ready");
        let instances = &health["instances"][function];
        assert!(instances["of"].as_u64() >= Some(1), "{function} runs instances: {health}");
        assert_eq!(instances["ready"], instances["of"], "every instance of {function} ready");
    }

    let demo = demo();
    for field in [
        "base_url",
        "operator_key",
        "tenant_id",
        "api_key",
        "app_secret",
        "verify_token",
        "phone_number_id",
        "display_phone_number",
        "waba_id",
        "page_id",
    ] {
        assert!(demo[field].as_str().is_some_and(|v| !v.is_empty()), "demo.json {field}");
    }
    assert_eq!(demo["base_url"], base());
}

#[tokio::test]
async fn demo_tenant_is_connected_with_its_number() {
    let demo = demo();
    let client = crate::support::http();
    let response = client
        .get(format!("{}/v1/whatsapp", base()))
        .bearer_auth(demo["api_key"].as_str().expect("key"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let connection: Value = response.json().await.expect("json");
    assert_eq!(connection["phone_number_id"], demo["phone_number_id"]);
    assert_eq!(connection["waba_id"], demo["waba_id"]);
    assert!(connection.get("access_token").is_none(), "the token is never returned");
}

#[tokio::test]
async fn webhook_handshake_answers_the_challenge_for_the_verify_token_only() {
    let demo = demo();
    let token = demo["verify_token"].as_str().expect("token");
    let url = format!("{}/webhooks/meta", base());
    let client = crate::support::http();

    let ok = client
        .get(&url)
        .query(&[("hub.mode", "subscribe"), ("hub.verify_token", token), ("hub.challenge", "1158201444")])
        .send()
        .await
        .expect("request");
    let wrong = client
        .get(&url)
        .query(&[("hub.mode", "subscribe"), ("hub.verify_token", "nope"), ("hub.challenge", "1")])
        .send()
        .await
        .expect("request");

    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["content-type"], "text/plain");
    assert_eq!(ok.text().await.expect("body"), "1158201444");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn webhook_post_checks_the_signature_over_the_raw_bytes() {
    let demo = demo();
    let secret = demo["app_secret"].as_str().expect("secret");
    let url = format!("{}/webhooks/meta", base());
    let client = crate::support::http();
    // Unicode and an escaped slash: the signature covers the bytes as sent.
    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"t":"J'ai mang\u00e9 des p\u00e2tes \/ ok"}}]}]}"#;

    let unsigned = client.post(&url).body(body).send().await.expect("request");
    let forged = client
        .post(&url)
        .header("x-hub-signature-256", sign("wrong", body.as_bytes()))
        .body(body)
        .send()
        .await
        .expect("request");
    let signed = client
        .post(&url)
        .header("x-hub-signature-256", sign(secret, body.as_bytes()))
        .body(body)
        .send()
        .await
        .expect("request");
    let oversized = client.post(&url).body(vec![b' '; 3 * 1024 * 1024 + 1]).send().await.expect("request");

    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unsigned.headers()["content-type"], "application/problem+json");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(signed.status(), StatusCode::OK);
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn tenants_connect_numbers_and_one_number_has_one_tenant() {
    let client = crate::support::http();
    let (first, second) = (new_tenant(&client).await, new_tenant(&client).await);
    let phone_number_id = format!("9{}", std::process::id());
    register_number(&client, &phone_number_id, "+1 555 010 0002", "4242", "EAAE2E-token").await;
    let connect = |key: String| {
        let client = client.clone();
        let phone_number_id = phone_number_id.clone();
        async move {
            client
                .put(format!("{}/v1/whatsapp", base()))
                .bearer_auth(key)
                .json(&json!({"phone_number_id": phone_number_id, "display_phone_number": "+1 555 010 0002",
                    "waba_id": "4242", "access_token": "EAAE2E-token"}))
                .send()
                .await
                .expect("request")
                .status()
        }
    };

    assert_eq!(connect(first.clone()).await, StatusCode::OK);
    assert_eq!(connect(second.clone()).await, StatusCode::CONFLICT);
    let disconnect =
        client.delete(format!("{}/v1/whatsapp", base())).bearer_auth(&first).send().await.expect("request");
    assert_eq!(disconnect.status(), StatusCode::NO_CONTENT);
    assert_eq!(connect(second).await, StatusCode::OK);
}

#[tokio::test]
async fn api_errors_are_problem_json() {
    let client = crate::support::http();
    let key = new_tenant(&client).await;
    let cases = [
        (client.get(format!("{}/v1/whatsapp", base())), StatusCode::UNAUTHORIZED),
        (
            client.get(format!("{}/v1/whatsapp", base())).bearer_auth("llk.tn_x.key_y.z"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            client.put(format!("{}/v1/whatsapp", base())).bearer_auth(&key).body("{not json"),
            StatusCode::BAD_REQUEST,
        ),
        (client.post(format!("{}/v1/tenants", base())).bearer_auth(&key), StatusCode::FORBIDDEN),
        (client.get(format!("{}/v1/nowhere", base())).bearer_auth(&key), StatusCode::NOT_FOUND),
        (client.get(format!("{}/v1/contacts?phone=12", base())).bearer_auth(&key), StatusCode::BAD_REQUEST),
        (client.get(format!("{}/v1/messages/msg_x", base())).bearer_auth(&key), StatusCode::NOT_FOUND),
    ];
    for (request, expected) in cases {
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), expected);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem: Value = response.json().await.expect("json");
        assert_eq!(problem["status"], expected.as_u16());
        assert!(problem["type"].as_str().is_some() && problem["title"].as_str().is_some());
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

#[tokio::test]
async fn retention_runs_on_demand() {
    let response = crate::support::http()
        .post(format!("{}/_local/schedule/retention", base()))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.expect("json");
    assert_eq!(report["complete"], true);
    assert!(report["tasks"].is_array());
}

#[tokio::test]
async fn sandbox_records_sends_injects_faults_and_serves_leads() {
    let client = crate::support::http();
    let marker = format!("1555{}", std::process::id());
    let send = || async {
        client
            .post(format!("{}/_sandbox/graph/v21.0/{marker}/messages", base()))
            .json(&json!({"messaging_product": "whatsapp", "to": marker, "type": "text", "text": {"body": "hi"}}))
            .send()
            .await
            .expect("request")
    };
    let fault = client
        .post(format!("{}/_sandbox/faults", base()))
        .json(&json!({"code": 131026, "http_status": 400, "times": 1}))
        .send()
        .await
        .expect("request");
    let bad_fault = client
        .post(format!("{}/_sandbox/faults", base()))
        .json(&json!({"code": 1}))
        .send()
        .await
        .expect("request");
    assert_eq!(fault.status(), StatusCode::CREATED);
    assert_eq!(bad_fault.status(), StatusCode::BAD_REQUEST);

    let failed = send().await;
    assert_eq!(failed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(failed.json::<Value>().await.expect("json")["error"]["code"], 131026);
    let accepted = send().await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let wamid =
        accepted.json::<Value>().await.expect("json")["messages"][0]["id"].as_str().expect("id").to_owned();
    assert!(wamid.starts_with("wamid."));

    let outbox = sandbox_records("/_sandbox/outbox").await;
    let mine: Vec<_> =
        outbox.iter().filter(|e| e["path"].as_str().is_some_and(|p| p.contains(&marker))).collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0]["response_status"], 400);
    assert_eq!(mine[1]["response_status"], 200);
    assert_eq!(mine[1]["body"]["to"], marker);
    assert!(mine[1]["received_at"].as_u64().is_some());

    let lead_id = format!("lead{}", std::process::id());
    let lead = json!({"id": lead_id, "form_id": "77", "created_time": "2026-11-23T10:00:00+0000",
        "field_data": [{"name": "email", "values": ["lead@example.com"]}]});
    let stored = client.post(format!("{}/_sandbox/leads", base())).json(&lead).send().await.expect("request");
    assert_eq!(stored.status(), StatusCode::CREATED);
    let fetched: Value = client
        .get(format!("{}/_sandbox/graph/v21.0/{lead_id}", base()))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(fetched["field_data"], lead["field_data"]);
}

#[tokio::test]
async fn every_function_writes_its_log_file_without_secrets() {
    // Arrange: a request whose token must never reach a log.
    let client = crate::support::http();
    let key = new_tenant(&client).await;
    let token = format!("EAASECRET{}", std::process::id());
    register_number(&client, &format!("8{}", std::process::id()), "15550100003", "1", &token).await;
    let response = client
        .put(format!("{}/v1/whatsapp", base()))
        .bearer_auth(&key)
        .json(&json!({"phone_number_id": format!("8{}", std::process::id()), "display_phone_number": "15550100003",
            "waba_id": "1", "access_token": token}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);

    // Act
    let logs = state_dir().join("logs");

    // Assert
    let secret_part = key.rsplit('.').next().expect("secret part").to_owned();
    for function in ["webhook", "inbound", "send", "suggest", "retention", "import", "api", "realtime"] {
        let path = logs.join(format!("{function}.log"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} exists", path.display()));
        assert!(!text.contains(&token), "{function}.log holds an access token");
        assert!(!text.contains(&secret_part), "{function}.log holds an API key");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            assert!(serde_json::from_str::<Value>(line).is_ok(), "{function}.log line is JSON: {line}");
        }
    }
    let api_log = std::fs::read_to_string(logs.join("api.log")).expect("api.log");
    assert!(api_log.contains("WhatsApp number connected"), "the api function's output reached its log file");
}
