//! Ingestion end to end, through the running local stack: signed webhooks in, read back through
//! the tenant API. Each test has its own tenant, business number and customer.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::kernel::digest::hmac_sha256;
use shared::kernel::hex;

use crate::e2e::{base, demo};

/// The WABA the test tenants' numbers are in (the fixtures' `entry[].id`).
pub const WABA_ID: &str = "102290129340398";

/// A tenant of its own, with a WhatsApp number and a Page connected.
pub struct TestTenant {
    pub api_key: String,
    pub phone_number_id: String,
    pub page_id: String,
    pub wa_id: String,
}

/// `n` random decimal digits.
pub fn digits(n: usize) -> String {
    infra::random_hex(n)
        .expect("random")
        .chars()
        .take(n)
        .map(|c| char::from(b'0' + (c.to_digit(16).unwrap_or(0) % 10) as u8))
        .collect()
}

impl TestTenant {
    pub async fn new(client: &reqwest::Client) -> Self {
        let api_key = crate::e2e::new_tenant(client).await;
        let tenant = Self {
            api_key,
            phone_number_id: format!("1{}", digits(14)),
            page_id: format!("2{}", digits(14)),
            wa_id: format!("5511{}", digits(9)),
        };
        // Graph (the sandbox) holds the number and the Page for this tenant's tokens only.
        let (token, page_token) =
            (format!("EAAINGEST{}", digits(12)), format!("EAAPAGEINGEST{}", digits(12)));
        crate::e2e::register_number(client, &tenant.phone_number_id, "15550100001", WABA_ID, &token).await;
        crate::e2e::register_page(client, &tenant.page_id, &page_token).await;
        let connect = client
            .put(format!("{}/v1/whatsapp", base()))
            .bearer_auth(&tenant.api_key)
            .json(&json!({"phone_number_id": tenant.phone_number_id, "display_phone_number": "15550100001",
                "waba_id": WABA_ID, "access_token": token}))
            .send()
            .await
            .expect("request");
        assert_eq!(connect.status(), StatusCode::OK);
        let page = client
            .put(format!("{}/v1/leadads", base()))
            .bearer_auth(&tenant.api_key)
            .json(&json!({"page_id": tenant.page_id, "page_access_token": page_token}))
            .send()
            .await
            .expect("request");
        assert_eq!(page.status(), StatusCode::OK);
        tenant
    }

    /// A fixture with this tenant's ids in place.
    pub fn fixture(&self, name: &str) -> String {
        let path = format!("{}/fixtures/webhooks/{name}.json", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("fixture {path}"))
            .replace("__PHONE_NUMBER_ID__", &self.phone_number_id)
            .replace("__WA_ID__", &self.wa_id)
            .replace("__WABA_ID__", WABA_ID)
            .replace("__PAGE_ID__", &self.page_id)
    }

    pub async fn get(&self, client: &reqwest::Client, path: &str) -> Value {
        let response =
            client.get(format!("{}{path}", base())).bearer_auth(&self.api_key).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("json")
    }

    /// The messages of this tenant's conversation with `wa_id` (empty until it exists).
    pub async fn messages(&self, client: &reqwest::Client, wa_id: &str) -> Vec<Value> {
        let conversations = self.get(client, &format!("/v1/conversations?phone={wa_id}")).await;
        let Some(id) = conversations["items"][0]["id"].as_str() else { return Vec::new() };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/conversations/{id}/messages?limit=100&cursor={c}"),
                None => format!("/v1/conversations/{id}/messages?limit=100"),
            };
            let page = self.get(client, &path).await;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
    }

    pub async fn contact(&self, client: &reqwest::Client) -> Option<Value> {
        let contacts = self.get(client, &format!("/v1/contacts?phone={}", self.wa_id)).await;
        contacts["items"].as_array().and_then(|items| items.first().cloned())
    }
}

pub fn sign(body: &str) -> String {
    let secret = demo()["app_secret"].as_str().expect("secret").to_owned();
    format!("sha256={}", hex::encode(&hmac_sha256(secret.as_bytes(), body.as_bytes())))
}

pub async fn post(client: &reqwest::Client, body: &str) -> StatusCode {
    client
        .post(format!("{}/webhooks/meta", base()))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(body))
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
        .status()
}

/// Polls `check` until it returns `Some`, for up to 60 s (the suite runs on a loaded machine).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

const MESSAGE_FIXTURES: &[(&str, &str)] = &[
    ("text", "text"),
    ("image_reply_from_ad", "image"),
    ("video", "video"),
    ("audio_voice", "audio"),
    ("document", "document"),
    ("sticker", "sticker"),
    ("location", "location"),
    ("contacts", "contacts"),
    ("interactive_button_reply", "interactive"),
    ("interactive_list_reply", "interactive"),
    ("interactive_nfm_reply", "interactive"),
    ("button_quick_reply", "button"),
    ("reaction", "reaction"),
    ("reaction_removed", "reaction"),
    ("order", "order"),
    ("system_changed_number", "system"),
    ("unsupported", "unsupported"),
    ("text_unknown_fields", "text"),
];

#[tokio::test]
async fn every_message_type_is_stored_once_and_readable() {
    // Arrange
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;

    // Act
    for (fixture, _) in MESSAGE_FIXTURES {
        assert_eq!(post(&client, &tenant.fixture(fixture)).await, StatusCode::OK, "{fixture}");
    }
    let messages = eventually("every message", || async {
        let messages = tenant.messages(&client, &tenant.wa_id).await;
        (messages.len() >= MESSAGE_FIXTURES.len()).then_some(messages)
    })
    .await;

    // Assert
    assert_eq!(messages.len(), MESSAGE_FIXTURES.len(), "each stored once");
    let mut types: Vec<&str> = messages.iter().filter_map(|m| m["type"].as_str()).collect();
    let mut expected: Vec<&str> = MESSAGE_FIXTURES.iter().map(|(_, t)| *t).collect();
    types.sort_unstable();
    expected.sort_unstable();
    assert_eq!(types, expected);
    let timestamps: Vec<i64> = messages.iter().filter_map(|m| m["timestamp"].as_i64()).collect();
    assert!(timestamps.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    assert!(messages.iter().all(|m| m["direction"] == "inbound" && m["status"] == "received"));

    let image = messages.iter().find(|m| m["type"] == "image").expect("image");
    assert_eq!(image["payload"]["image"]["id"], "1234567890123456");
    assert_eq!(image["payload"]["image"]["caption"], "segue o comprovante");
    assert_eq!(image["payload"]["image"]["mime_type"], "image/jpeg");
    assert_eq!(image["payload"]["referral"]["ctwa_clid"], "ARAkLk5-example-click-id");
    assert_eq!(image["payload"]["context"]["id"], "wamid.HBgNBUSINESS0001AA==");
    let document = messages.iter().find(|m| m["type"] == "document").expect("document");
    assert_eq!(document["payload"]["document"]["filename"], "contrato.pdf");
    let unknown =
        messages.iter().find(|m| m["payload"]["brand_new_field"].is_object()).expect("unknown fields kept");
    assert_eq!(unknown["payload"]["text"]["future_flag"], true);
    let unsupported = messages.iter().find(|m| m["type"] == "unsupported").expect("unsupported");
    assert_eq!(unsupported["payload"]["errors"][0]["code"], 131051);

    let contact = tenant.contact(&client).await.expect("contact");
    assert_eq!(contact["name"], "Ana Souza");
    let last = contact["last_inbound_at"].as_i64().expect("last inbound");
    assert_eq!(last, *timestamps.iter().max().expect("some"), "the window follows the latest message");
    assert_eq!(contact["service_window_until"].as_i64(), Some(last + 24 * 3600 * 1000));
    assert_eq!(contact["first_seen_at"].as_i64(), timestamps.iter().min().copied());
}

#[tokio::test]
async fn the_same_payload_five_times_and_resigned_is_stored_once() {
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let body = tenant.fixture("text");
    for _ in 0..5 {
        assert_eq!(post(&client, &body).await, StatusCode::OK);
    }
    // The same event in a differently formatted (so differently signed) payload.
    let reformatted =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&body).expect("json")).expect("json");
    assert_eq!(post(&client, &reformatted).await, StatusCode::OK);
    // A later message proves the earlier ones were processed before we count.
    assert_eq!(post(&client, &tenant.fixture("video")).await, StatusCode::OK);

    let messages = eventually("both messages", || async {
        let messages = tenant.messages(&client, &tenant.wa_id).await;
        messages.iter().any(|m| m["type"] == "video").then_some(messages)
    })
    .await;

    assert_eq!(messages.iter().filter(|m| m["type"] == "text").count(), 1);
}

pub fn status_body(tenant: &TestTenant, wamid: &str, status: &str, at: i64) -> String {
    let mut value =
        json!({"id": wamid, "status": status, "timestamp": at.to_string(), "recipient_id": tenant.wa_id});
    if status == "failed" {
        value["errors"] = json!([{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
            "error_data": {"details": "Unable to deliver"}}]);
    }
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100001",
        "phone_number_id": tenant.phone_number_id}, "statuses": [value]}}]}]})
    .to_string()
}

#[tokio::test]
async fn statuses_in_every_order_end_in_the_right_state() {
    // Arrange: a customer who wrote (a status never creates a contact: one for a person Leadline
    // does not know is kept against its wamid alone), one outbound wamid per order of
    // sent/delivered/read, and one that fails after sent.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    assert_eq!(post(&client, &tenant.fixture("text")).await, StatusCode::OK);
    eventually("the customer", || async { tenant.contact(&client).await }).await;
    let orders: [[&str; 3]; 6] = [
        ["sent", "delivered", "read"],
        ["sent", "read", "delivered"],
        ["delivered", "sent", "read"],
        ["delivered", "read", "sent"],
        ["read", "sent", "delivered"],
        ["read", "delivered", "sent"],
    ];
    let time = |status: &str| match status {
        "sent" => 1_767_225_780,
        "delivered" => 1_767_225_782,
        _ => 1_767_225_801,
    };

    // Act
    for (i, order) in orders.iter().enumerate() {
        let wamid = format!("wamid.ORDER{i}{}", tenant.wa_id);
        for status in order {
            assert_eq!(
                post(&client, &status_body(&tenant, &wamid, status, time(status))).await,
                StatusCode::OK
            );
        }
    }
    let failed = format!("wamid.FAILED{}", tenant.wa_id);
    for (status, at) in [("sent", 1_767_225_700), ("failed", 1_767_225_760), ("delivered", 1_767_225_790)] {
        assert_eq!(post(&client, &status_body(&tenant, &failed, status, at)).await, StatusCode::OK);
    }
    let messages = eventually("all statuses", || async {
        let mut messages = tenant.messages(&client, &tenant.wa_id).await;
        messages.retain(|m| m["direction"] == "outbound");
        let done = messages.len() == 7
            && messages.iter().all(|m| m["statuses"].as_object().is_some_and(|s| s.len() == 3));
        done.then_some(messages)
    })
    .await;

    // Assert
    for message in &messages {
        assert_eq!(message["direction"], "outbound");
        let wamid = message["wamid"].as_str().expect("wamid");
        if wamid == failed {
            assert_eq!(message["status"], "failed", "failed is final");
            assert_eq!(message["error"]["code"], 131026);
            assert_eq!(message["error"]["title"], "Message undeliverable");
        } else {
            assert_eq!(message["status"], "read", "{wamid}: read never goes back");
            assert_eq!(
                message["statuses"]["delivered"], 1_767_225_782_000_i64,
                "each status keeps its own time"
            );
        }
    }
    let pricing_free: Vec<_> = messages.iter().filter(|m| m["payload"].is_null()).collect();
    assert_eq!(pricing_free.len(), 7, "outbound stubs carry no inbound payload");
}

#[tokio::test]
async fn unicode_and_escaped_slashes_verify_against_the_raw_bytes() {
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let body = tenant.fixture("text_unicode_escapes");
    assert!(body.contains("\\/") && body.contains("\\u00e9"), "the fixture keeps its escapes as bytes");

    assert_eq!(post(&client, &body).await, StatusCode::OK);
    let messages = eventually("the message", || async {
        let messages = tenant.messages(&client, &tenant.wa_id).await;
        (!messages.is_empty()).then_some(messages)
    })
    .await;

    assert_eq!(messages[0]["payload"]["text"]["body"], "J'ai mangé des pâtes / 50% @ café 😀 <ok>");
    assert_eq!(tenant.contact(&client).await.expect("contact")["name"], "Jérôme");
}

#[tokio::test]
async fn refused_payloads_store_nothing() {
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let body = tenant.fixture("text");
    let url = format!("{}/webhooks/meta", base());

    let unsigned = client.post(&url).body(body.clone()).send().await.expect("request").status();
    let forged = client
        .post(&url)
        .header("x-hub-signature-256", sign("{}"))
        .body(body.clone())
        .send()
        .await
        .expect("request")
        .status();
    let tampered = client
        .post(&url)
        .header("x-hub-signature-256", sign(&body))
        .body(body.replace("plano anual", "plano mensal"))
        .send()
        .await
        .expect("request")
        .status();
    let truncated = &body[..body.len() / 2];
    let malformed = post(&client, truncated).await;
    let oversized = format!("{body}{}", " ".repeat(3 * 1024 * 1024));
    let too_large = client
        .post(&url)
        .header("x-hub-signature-256", sign(&oversized))
        .body(oversized)
        .send()
        .await
        .expect("request")
        .status();
    // A valid event afterwards: once it is stored, anything wrongly accepted before would be too.
    assert_eq!(post(&client, &tenant.fixture("video")).await, StatusCode::OK);
    let messages = eventually("the valid message", || async {
        let messages = tenant.messages(&client, &tenant.wa_id).await;
        (!messages.is_empty()).then_some(messages)
    })
    .await;

    assert_eq!(unsigned, StatusCode::UNAUTHORIZED);
    assert_eq!(forged, StatusCode::UNAUTHORIZED);
    assert_eq!(tampered, StatusCode::UNAUTHORIZED);
    assert_eq!(malformed, StatusCode::BAD_REQUEST);
    assert_eq!(too_large, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["type"], "video");
}

#[tokio::test]
async fn opt_out_keywords_and_preferences_reach_the_consent_ledger() {
    // Arrange
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;

    // Act: STOP (keyword), then Meta's resume, then Meta's stop... in the order they happened.
    assert_eq!(post(&client, &tenant.fixture("text_stop")).await, StatusCode::OK);
    assert_eq!(post(&client, &tenant.fixture("user_preferences_stop")).await, StatusCode::OK);
    assert_eq!(post(&client, &tenant.fixture("user_preferences_resume")).await, StatusCode::OK);
    assert_eq!(post(&client, &tenant.fixture("text")).await, StatusCode::OK);
    // The ledger entry is written before the state it moves (a retry re-applies the state), so
    // wait for the last event's state too, not only for the entry.
    let contact = eventually("three consent events and the last one applied", || async {
        let contact = tenant.contact(&client).await?;
        (contact["consent_ledger"].as_array().map(Vec::len) == Some(3)
            && contact["consent"]["at"] == 1_767_226_900_000_i64)
            .then_some(contact)
    })
    .await;

    // Assert
    let ledger = contact["consent_ledger"].as_array().expect("ledger");
    assert_eq!(ledger[0]["kind"], "opt_out");
    assert_eq!(ledger[0]["source"], "keyword");
    assert_eq!(ledger[1]["kind"], "opt_out");
    assert_eq!(ledger[1]["source"], "meta_user_preferences");
    assert_eq!(ledger[2]["kind"], "opt_in");
    assert_eq!(contact["consent"]["state"], "opt_in", "the latest event decides");
    assert_eq!(contact["consent"]["at"], 1_767_226_900_000_i64);
    assert!(ledger.iter().all(|e| e["at"].as_i64().is_some()));
}

#[tokio::test]
async fn a_business_scoped_user_without_phone_is_a_contact_of_its_own() {
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    assert_eq!(post(&client, &tenant.fixture("text_bsuid_only")).await, StatusCode::OK);

    let contact = eventually("the BSUID contact", || async {
        let page = tenant.get(&client, "/v1/contacts").await;
        page["items"].as_array()?.iter().find(|c| c["user_id"].is_string()).cloned()
    })
    .await;

    assert!(contact.get("phone").is_none());
    assert_eq!(contact["name"], "Username User");
    let conversations = tenant.get(&client, "/v1/conversations").await;
    assert_eq!(conversations["items"][0]["contact_id"], contact["id"]);
}

#[tokio::test]
async fn a_lead_is_fetched_from_graph_linked_to_its_contact_and_stored_once() {
    // Arrange: the lead exists in (sandbox) Graph; the tenant's customer already wrote on WhatsApp.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let leadgen_id = format!("9{}", digits(14));
    let lead = json!({"id": leadgen_id, "form_id": "12312312312", "created_time": "2026-11-23T10:00:00+0000",
        "field_data": [{"name": "full_name", "values": ["Ana Souza"]}, {"name": "email", "values": ["Ana@Example.com"]},
                       {"name": "phone_number", "values": [format!("+{}", tenant.wa_id)]},
                       {"name": "whatsapp_opt_in", "values": ["yes"]}]});
    let registered =
        client.post(format!("{}/_sandbox/leads", base())).json(&lead).send().await.expect("request");
    assert_eq!(registered.status(), StatusCode::CREATED);
    assert_eq!(post(&client, &tenant.fixture("text")).await, StatusCode::OK);
    let webhook = tenant.fixture("leadgen").replace("__LEADGEN_ID__", &leadgen_id);

    // Act: Meta delivers the leadgen webhook twice.
    assert_eq!(post(&client, &webhook).await, StatusCode::OK);
    assert_eq!(post(&client, &webhook).await, StatusCode::OK);
    let contact = eventually("the lead on its contact", || async {
        let contact = tenant.contact(&client).await?;
        (contact["leads"].as_array().map(Vec::len) == Some(1) && contact["consent"].is_object())
            .then_some(contact)
    })
    .await;

    // Assert
    let stored = &contact["leads"][0];
    assert_eq!(stored["id"], leadgen_id.as_str());
    assert_eq!(stored["page_id"], tenant.page_id.as_str());
    assert_eq!(stored["lead"]["field_data"], lead["field_data"], "every answer kept");
    assert_eq!(stored["source"]["ad_id"], "12312312314");
    assert_eq!(contact["email"], "ana@example.com");
    assert_eq!(contact["consent"]["state"], "opt_in");
    assert_eq!(contact["consent"]["source"], "lead_form");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let leads = tenant.get(&client, "/v1/leads").await;
    assert_eq!(leads["items"].as_array().map(Vec::len), Some(1), "stored once");
}

#[tokio::test]
async fn after_disconnecting_nothing_more_is_collected_and_what_was_is_deleted() {
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    assert_eq!(post(&client, &tenant.fixture("text")).await, StatusCode::OK);
    eventually("the first message", || async {
        (!tenant.messages(&client, &tenant.wa_id).await.is_empty()).then_some(())
    })
    .await;

    let disconnected = client
        .delete(format!("{}/v1/whatsapp", base()))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .expect("request");
    assert_eq!(disconnected.status(), StatusCode::NO_CONTENT);
    assert_eq!(post(&client, &tenant.fixture("video")).await, StatusCode::OK, "Meta is still acknowledged");
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Another test's retention run may already have purged the first message (runs are global),
    // so what is checked is that the later one never arrived.
    let messages = tenant.messages(&client, &tenant.wa_id).await;
    assert!(messages.len() <= 1, "{messages:?}");
    assert!(messages.iter().all(|m| m["type"] != "video"), "the message after the disconnect was dropped");

    // The next retention run deletes what was received through the number (P54).
    let run = client.post(format!("{}/_local/schedule/retention", base())).send().await.expect("request");
    assert_eq!(run.status(), StatusCode::OK);
    eventually("the conversation deleted", || async {
        tenant.messages(&client, &tenant.wa_id).await.is_empty().then_some(())
    })
    .await;
    // The customer came only through the number: they go too (a person the business also
    // brought would stay, without what WhatsApp gave: `it::retention`).
    eventually("the contact deleted", || async { tenant.contact(&client).await.is_none().then_some(()) })
        .await;
}

#[tokio::test]
async fn a_graph_failure_is_retried_through_sqs_until_the_lead_can_be_fetched() {
    // Arrange: the webhook arrives before Graph can serve the lead.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let leadgen_id = format!("8{}", digits(14));
    let webhook = tenant.fixture("leadgen").replace("__LEADGEN_ID__", &leadgen_id);
    assert_eq!(post(&client, &webhook).await, StatusCode::OK);
    let outbox_has_attempt = || async {
        let outbox: Vec<Value> =
            client.get(format!("{}/_sandbox/outbox", base())).send().await.ok()?.json().await.ok()?;
        outbox
            .iter()
            .any(|e| {
                e["path"].as_str().is_some_and(|p| p.contains(&leadgen_id)) && e["response_status"] == 400
            })
            .then_some(())
    };
    eventually("a refused Graph fetch", outbox_has_attempt).await;

    // Act: Graph can serve it now; SQS redelivers after the visibility timeout.
    let lead = json!({"id": leadgen_id, "field_data": [{"name": "email", "values": ["late@example.com"]}]});
    let registered =
        client.post(format!("{}/_sandbox/leads", base())).json(&lead).send().await.expect("request");
    assert_eq!(registered.status(), StatusCode::CREATED);

    // Assert
    let leads = eventually("the lead after a retry", || async {
        let leads = tenant.get(&client, "/v1/leads").await;
        (leads["items"].as_array().map(Vec::len) == Some(1)).then_some(leads)
    })
    .await;
    assert_eq!(leads["items"][0]["lead"]["field_data"], lead["field_data"]);
}

#[tokio::test]
async fn account_updates_and_messaging_errors_pass_through_to_the_pipeline() {
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    // A leading 1: the marker replaces a JSON number, which may not start with 0.
    let marker = format!("1{}", digits(9));
    let template = tenant.fixture("template_status_update").replace("123456789", &marker);
    let errors =
        tenant.fixture("value_errors").replace("Rate limit hit", &format!("Rate limit hit {marker}"));

    assert_eq!(post(&client, &template).await, StatusCode::OK);
    assert_eq!(post(&client, &errors).await, StatusCode::OK);

    // Nothing to store in this version: the inbound function logs them (field name and error code).
    let log = crate::e2e::state_dir().join("logs").join("inbound.log");
    eventually("both events processed", || async {
        let text = std::fs::read_to_string(&log).ok()?;
        let template_seen = text.lines().any(|l| l.contains("message_template_status_update"));
        let error_seen = text.lines().any(|l| l.contains("130429") && l.contains(&marker));
        (template_seen && error_seen).then_some(())
    })
    .await;
}

#[tokio::test]
async fn export_then_erasure_by_the_next_retention_run_leaves_nothing_and_a_receipt() {
    // Arrange: a customer with messages, a status, consent and a lead.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let leadgen_id = format!("7{}", digits(14));
    let lead = json!({"id": leadgen_id, "field_data": [{"name": "phone_number", "values": [format!("+{}", tenant.wa_id)]}]});
    client.post(format!("{}/_sandbox/leads", base())).json(&lead).send().await.expect("request");
    for fixture in ["text", "image_reply_from_ad", "text_stop", "statuses_sent_delivered_read"] {
        assert_eq!(post(&client, &tenant.fixture(fixture)).await, StatusCode::OK);
    }
    assert_eq!(
        post(&client, &tenant.fixture("leadgen").replace("__LEADGEN_ID__", &leadgen_id)).await,
        StatusCode::OK
    );
    let export_path = format!("/v1/privacy/export?phone={}", tenant.wa_id);
    let export = eventually("everything stored", || async {
        let export = tenant.get(&client, &export_path).await;
        let contact = &export["contacts"][0];
        let messages = contact["conversations"][0]["messages"].as_array().map(Vec::len).unwrap_or(0);
        (messages == 4
            && contact["leads"].as_array().map(Vec::len) == Some(1)
            && contact["consent_ledger"].as_array().map(Vec::len) == Some(1))
        .then_some(export)
    })
    .await;
    assert_eq!(export["subject"]["phone"], tenant.wa_id.as_str());
    let csv = tenant.get(&client, &format!("{export_path}&format=csv")).await;
    assert!(csv["files"]["contacts.csv"].as_str().is_some_and(|t| t.contains(&tenant.wa_id)));
    assert_eq!(
        csv["files"]["messages.csv"].as_str().map(|t| t.lines().count()),
        Some(5),
        "header and 4 messages"
    );

    // Act
    let accepted = client
        .post(format!("{}/v1/privacy/erasure", base()))
        .bearer_auth(&tenant.api_key)
        .json(&json!({"phone": tenant.wa_id}))
        .send()
        .await
        .expect("request");
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let id = accepted.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();
    let pending = tenant.get(&client, &format!("/v1/privacy/erasure/{id}")).await;
    let run = client.post(format!("{}/_local/schedule/retention", base())).send().await.expect("request");
    assert_eq!(run.status(), StatusCode::OK);

    // Assert
    assert_eq!(pending["status"], "pending");
    let done = eventually("the erasure done", || async {
        let request = tenant.get(&client, &format!("/v1/privacy/erasure/{id}")).await;
        (request["status"] == "done").then_some(request)
    })
    .await;
    let deleted = &done["receipt"]["deleted"];
    assert_eq!(deleted["contacts"], 1);
    assert_eq!(deleted["messages"], 4);
    assert_eq!(deleted["message_id_records"], 4);
    assert_eq!(deleted["conversations"], 1);
    assert_eq!(deleted["leads"], 1);
    assert_eq!(deleted["consent_events"], 1);
    assert_eq!(done["receipt"]["request_id"], id.as_str());
    assert!(done["receipt"]["completed_at"].as_i64() >= done["requested_at"].as_i64());
    let after = tenant.get(&client, &export_path).await;
    assert_eq!(after["contacts"].as_array().map(Vec::len), Some(0), "the export afterwards is empty");
    assert_eq!(tenant.get(&client, "/v1/leads").await["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(tenant.get(&client, "/v1/conversations").await["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn the_tenant_export_holds_its_records_and_contacts_but_no_token() {
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    assert_eq!(post(&client, &tenant.fixture("text")).await, StatusCode::OK);
    eventually("the message", || async {
        (!tenant.messages(&client, &tenant.wa_id).await.is_empty()).then_some(())
    })
    .await;

    let response = client
        .get(format!("{}/v1/privacy/export/tenant", base()))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("body");
    let export: Value = serde_json::from_str(&text).expect("json");

    assert_eq!(export["tenant"]["whatsapp"]["phone_number_id"], tenant.phone_number_id.as_str());
    assert_eq!(export["tenant"]["lead_ads"]["page_id"], tenant.page_id.as_str());
    assert_eq!(export["contacts"][0]["contact"]["phone"], tenant.wa_id.as_str());
    assert!(!text.contains("EAAINGEST") && !text.contains("EAAPAGEINGEST"), "tokens are never exported");
}
