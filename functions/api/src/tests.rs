//! Handler tests without the runtime: every route through `handle`, on in-memory adapters.
use lambda_http::http::Request as HttpRequest;
use lambda_http::RequestExt as _;
use shared::adapters::documents::{
    DocAuditLog, DocDirectory, DocQuality, DocRateLimiter, DocRecords, DocTemplates,
};
use shared::domain::identity::Directory;
use shared::domain::ports::{ConnectionStore, EncryptionContext, Purpose, TenantRouting, Vault};
use shared::domain::privacy::{ErasureStore, PurgeStore};
use shared::domain::{PhoneNumber, TenantId, Timestamp};
use shared::kernel::digest::sha256;
use shared::testing::{
    Fakes, LocalVault, ManualClock, MemoryCloud, MemoryDocs, MemoryIdempotency, MemoryInbox, MemoryPrivacy,
    MemoryQueue, MemoryTenantStore,
};

use super::*;

const OPERATOR_KEY: &str = "operator-test-key";

type TestDeps = Deps<Fakes>;

fn deps() -> TestDeps {
    let hash = sha256(OPERATOR_KEY.as_bytes());
    let docs = MemoryDocs::default();
    let inbox = MemoryInbox::default();
    Deps {
        config: Config {
            store: StoreConfig { table_name: "t".into(), key_table_name: "k".into(), kms_key_id: "k".into() },
            operator_key_sha256: hash,
            outbound_queue_url: "q".into(),
            graph_api_base_url: "https://graph.example".into(),
            graph_api_version: "v23.0".into(),
            suggest_queue_url: "s".into(),
            ai_providers: AiProviders::new([("sandbox".to_owned(), "https://ai.example/v1".to_owned())]),
        },
        tenants: MemoryTenantStore::default(),
        vault: LocalVault,
        clock: ManualClock::at(Timestamp::from_secs(1_800_000_000)),
        contacts: inbox.clone(),
        conversations: inbox.clone(),
        leads: inbox.clone(),
        lifecycle: inbox.clone(),
        outbox: inbox.clone(),
        suggestions: inbox,
        privacy: MemoryPrivacy::default(),
        directory: DocDirectory::new(docs.clone()),
        audit: DocAuditLog::new(docs.clone()),
        records: DocRecords::new(docs.clone()),
        limiter: DocRateLimiter::new(docs.clone()),
        outbound: MemoryQueue::default(),
        suggest: MemoryQueue::default(),
        idempotency: MemoryIdempotency::default(),
        templates: DocTemplates::new(docs.clone()),
        quality: DocQuality::new(docs),
        cloud: MemoryCloud::default(),
    }
}

fn request(method: &str, path: &str, key: Option<&str>, body: &str) -> Request {
    let mut builder = HttpRequest::builder().method(method).uri(path);
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder.body(Body::from(body.to_owned())).expect("valid request")
}

fn json(response: &Response<Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).expect("JSON body")
}

async fn new_tenant(deps: &TestDeps) -> (String, String) {
    let response =
        handle(request("POST", "/v1/tenants", Some(OPERATOR_KEY), r#"{"name":"Acme"}"#), deps).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json(&response);
    (body["tenant_id"].as_str().expect("id").to_owned(), body["api_key"].as_str().expect("key").to_owned())
}

const CONNECT: &str = r#"{"phone_number_id":"106540352242922","display_phone_number":"+1 555 010 0001",
    "waba_id":"102290129340398","access_token":"EAAG-secret-token"}"#;

#[tokio::test]
async fn operator_creates_tenant_and_its_key_authenticates() {
    // Arrange
    let deps = deps();

    // Act
    let (tenant_id, api_key) = new_tenant(&deps).await;
    let with_key = handle(request("GET", "/v1/whatsapp", Some(&api_key), ""), &deps).await;

    // Assert
    assert!(api_key.starts_with(&format!("llk.{tenant_id}.")));
    assert_eq!(with_key.status(), StatusCode::NOT_FOUND, "authenticated; nothing connected yet");
}

#[tokio::test]
async fn tenant_creation_needs_the_operator_key() {
    let deps = deps();
    let (_, api_key) = new_tenant(&deps).await;
    let none = handle(request("POST", "/v1/tenants", None, "{}"), &deps).await;
    let wrong = handle(request("POST", "/v1/tenants", Some("guess"), "{}"), &deps).await;
    let tenant_key = handle(request("POST", "/v1/tenants", Some(&api_key), "{}"), &deps).await;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers()["content-type"], "application/problem+json");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(tenant_key.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn connect_seals_the_token_under_the_tenant_context_only() {
    // Arrange
    let deps = deps();
    let (tenant_id, api_key) = new_tenant(&deps).await;

    // Act
    let response = handle(request("PUT", "/v1/whatsapp", Some(&api_key), CONNECT), &deps).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!String::from_utf8_lossy(response.body().as_ref()).contains("EAAG"), "token never returned");
    let tenant_id = TenantId::parse(tenant_id).expect("valid");
    let stored = deps.tenants.whatsapp_connection(&tenant_id).await.expect("store").expect("connected");
    assert_eq!(stored.display_phone_number, "15550100001");
    let mine = EncryptionContext { tenant_id, purpose: Purpose::WhatsAppAccessToken };
    let opened = deps.vault.open(&mine, &stored.access_token).await.expect("opens for its tenant");
    assert_eq!(opened.expose(), b"EAAG-secret-token");
    let other = EncryptionContext { tenant_id: TenantId::parse("tn_other").expect("valid"), ..mine };
    assert!(deps.vault.open(&other, &stored.access_token).await.is_err());
}

#[tokio::test]
async fn a_number_belongs_to_one_tenant_and_disconnect_frees_it() {
    let deps = deps();
    let (_, first) = new_tenant(&deps).await;
    let (_, second) = new_tenant(&deps).await;
    assert_eq!(
        handle(request("PUT", "/v1/whatsapp", Some(&first), CONNECT), &deps).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        handle(request("PUT", "/v1/whatsapp", Some(&second), CONNECT), &deps).await.status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        handle(request("DELETE", "/v1/whatsapp", Some(&first), ""), &deps).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        handle(request("DELETE", "/v1/whatsapp", Some(&first), ""), &deps).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        handle(request("PUT", "/v1/whatsapp", Some(&second), CONNECT), &deps).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn disconnecting_queues_the_deletion_of_meta_data_unless_the_legal_hold_is_on() {
    // Arrange: one tenant without a hold, one with.
    let deps = deps();
    let (plain, plain_key) = new_tenant(&deps).await;
    let (held, held_key) = new_tenant(&deps).await;
    let hold = r#"{"conversation_days":90,"content_days":30,"legal_hold":true}"#;
    let set = handle(request("PUT", "/v1/settings/retention", Some(&held_key), hold), &deps).await;
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(json(&set)["legal_hold"], true);
    for (key, page_id) in [(&plain_key, "109876543210987"), (&held_key, "109876543210988")] {
        let page = format!(r#"{{"page_id":"{page_id}","page_access_token":"EAAPAGE-secret"}}"#);
        let connected = handle(request("PUT", "/v1/leadads", Some(key), &page), &deps).await;
        assert_eq!(connected.status(), StatusCode::OK);
    }
    assert_eq!(
        handle(request("PUT", "/v1/whatsapp", Some(&plain_key), CONNECT), &deps).await.status(),
        StatusCode::OK
    );

    // Act
    for (key, path) in [(&plain_key, "/v1/whatsapp"), (&plain_key, "/v1/leadads"), (&held_key, "/v1/leadads")]
    {
        let response = handle(request("DELETE", path, Some(key), ""), &deps).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
    }

    // Assert
    let queued = deps.privacy.due_meta_purges(10).await.expect("queue");
    let mut queued: Vec<(String, &str, &str)> =
        queued.iter().map(|p| (p.tenant.to_string(), p.integration.as_str(), p.source_id.as_str())).collect();
    queued.sort();
    let mut expected =
        vec![(plain.clone(), "leadads", "109876543210987"), (plain.clone(), "whatsapp", "106540352242922")];
    expected.sort();
    assert_eq!(queued, expected, "the held tenant's data is kept: {held}");
    let audit = json(&handle(get("/v1/audit", &[], &held_key), &deps).await);
    assert!(audit.to_string().contains("data=kept_under_legal_hold"));
}

#[tokio::test]
async fn bad_bodies_are_400_with_a_reason() {
    let deps = deps();
    let (_, key) = new_tenant(&deps).await;
    for body in [
        "not json",
        r#"{"phone_number_id":"abc","display_phone_number":"15550100001","waba_id":"1","access_token":"t"}"#,
        r#"{"phone_number_id":"1","display_phone_number":"12","waba_id":"1","access_token":"t"}"#,
        r#"{"phone_number_id":"1","display_phone_number":"15550100001","waba_id":"1","access_token":"a b"}"#,
        r#"{"phone_number_id":"1","display_phone_number":"15550100001","waba_id":"1"}"#,
    ] {
        let response = handle(request("PUT", "/v1/whatsapp", Some(&key), body), &deps).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert!(!json(&response)["detail"].as_str().unwrap_or_default().is_empty());
    }
}

#[tokio::test]
async fn unknown_routes_methods_and_ids_answer_problems() {
    let deps = deps();
    let (_, key) = new_tenant(&deps).await;
    let unauthenticated = handle(request("GET", "/v1/messages/msg_x", None, ""), &deps).await;
    let unknown_message = handle(request("GET", "/v1/messages/abc", Some(&key), ""), &deps).await;
    let unknown = handle(request("GET", "/v1/nope", Some(&key), ""), &deps).await;
    let wrong_method = handle(request("PATCH", "/v1/whatsapp", Some(&key), ""), &deps).await;
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_message.status(), StatusCode::NOT_FOUND);
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let deps = deps();
    let body = "x".repeat(MAX_BODY_BYTES + 1);
    assert_eq!(
        handle(request("PUT", "/v1/whatsapp", None, &body), &deps).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

fn get(path: &str, query: &[(&str, &str)], key: &str) -> Request {
    let query: HashMap<String, String> =
        query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    request("GET", path, Some(key), "").with_query_string_parameters(query)
}

async fn seed_message(deps: &TestDeps, tenant: &str, phone: &str, wamid: &str) {
    use shared::domain::inbox::{ContactProfile, IngestStore, NewInboundMessage};
    let profile = ContactProfile { phone: PhoneNumber::parse(phone).ok(), ..ContactProfile::default() };
    let wamid = shared::domain::Wamid::parse(wamid).expect("valid");
    let message = NewInboundMessage {
        wamid: &wamid,
        from: &profile,
        sent_at: Timestamp::from_secs(1_800_000_000),
        kind: "text",
        raw: r#"{"text":{"body":"hi"}}"#,
        retention: shared::domain::tenant::RetentionSettings::default(),
    };
    // Every inbox port of the fakes is one in-memory inbox: seed it through the contacts'.
    deps.contacts
        .store_inbound_message(&TenantId::parse(tenant).expect("valid"), &message, Timestamp::from_secs(1))
        .await
        .expect("stored");
}

/// A note on the person's contact and a change to it (audited), through the API; the contact id.
async fn note_and_tag(deps: &TestDeps, tenant: &str, key: &str, phone: &str) -> shared::domain::ContactId {
    use shared::domain::inbox::ContactStore;
    let tenant = TenantId::parse(tenant).expect("valid");
    let phone = PhoneNumber::parse(phone).expect("valid");
    let contact = deps.contacts.contact_by_phone(&tenant, &phone).await.expect("read").expect("contact").id;
    let note = request(
        "POST",
        &format!("/v1/contacts/{contact}/notes"),
        Some(key),
        r#"{"text":"asked for the blue model"}"#,
    );
    assert_eq!(handle(note, deps).await.status(), StatusCode::CREATED);
    let tag = request("PATCH", &format!("/v1/contacts/{contact}"), Some(key), r#"{"tags":["vip"]}"#);
    assert_eq!(handle(tag, deps).await.status(), StatusCode::OK);
    contact
}

#[tokio::test]
async fn inbox_reads_are_the_callers_tenants_only() {
    // Arrange: the same person wrote to two tenants.
    let deps = deps();
    let (tenant_a, key_a) = new_tenant(&deps).await;
    let (tenant_b, key_b) = new_tenant(&deps).await;
    seed_message(&deps, &tenant_a, "5511988887777", "wamid.A1").await;

    // Act
    let contacts_a =
        json(&handle(get("/v1/contacts", &[("phone", "+55 11 98888-7777")], &key_a), &deps).await);
    let contacts_b = json(&handle(get("/v1/contacts", &[("phone", "5511988887777")], &key_b), &deps).await);
    let conversations_a =
        json(&handle(get("/v1/conversations", &[("phone", "5511988887777")], &key_a), &deps).await);
    let conversation = conversations_a["items"][0]["id"].as_str().expect("a conversation").to_owned();
    let path = format!("/v1/conversations/{conversation}/messages");
    let messages_a = handle(get(&path, &[], &key_a), &deps).await;
    let messages_b = handle(get(&path, &[], &key_b), &deps).await;

    // Assert
    assert_eq!(contacts_a["items"][0]["phone"], "5511988887777");
    assert!(contacts_a["items"][0]["consent_ledger"].is_array());
    assert_eq!(contacts_b["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(messages_a.status(), StatusCode::OK);
    assert_eq!(json(&messages_a)["items"][0]["wamid"], "wamid.A1");
    assert_eq!(messages_b.status(), StatusCode::NOT_FOUND, "another tenant's conversation is 404");
    assert_ne!(tenant_a, tenant_b);
}

#[tokio::test]
async fn listings_page_with_opaque_cursors_and_refuse_bad_ones() {
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    for (i, phone) in ["5511900000001", "5511900000002", "5511900000003"].iter().enumerate() {
        seed_message(&deps, &tenant, phone, &format!("wamid.P{i}")).await;
    }
    let first = json(&handle(get("/v1/contacts", &[("limit", "2")], &key), &deps).await);
    let cursor = first["next"].as_str().expect("a next page").to_owned();
    let second =
        json(&handle(get("/v1/contacts", &[("limit", "2"), ("cursor", &cursor)], &key), &deps).await);
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    assert!(second.get("next").is_none());

    for query in [[("limit", "0")], [("limit", "101")], [("cursor", "%%%")], [("phone", "12")]] {
        let response = handle(get("/v1/contacts", &query, &key), &deps).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query:?}");
    }
    assert_eq!(
        handle(get("/v1/conversations/nope#/messages", &[], &key), &deps).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn lead_ads_page_token_is_sealed_and_never_returned() {
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    let body = r#"{"page_id":"109876543210987","page_access_token":"EAAPAGE-secret"}"#;

    let connected = handle(request("PUT", "/v1/leadads", Some(&key), body), &deps).await;
    let shown = handle(request("GET", "/v1/leadads", Some(&key), ""), &deps).await;

    assert_eq!(connected.status(), StatusCode::OK);
    assert!(!String::from_utf8_lossy(shown.body().as_ref()).contains("EAAPAGE"));
    let tenant_id = TenantId::parse(tenant).expect("valid");
    assert_eq!(
        deps.tenants.tenant_for_page_id("109876543210987").await.expect("route"),
        Some(tenant_id.clone())
    );
    let stored = deps.tenants.page_connection(&tenant_id).await.expect("read").expect("connected");
    let context = EncryptionContext { tenant_id, purpose: Purpose::PageAccessToken };
    assert_eq!(
        deps.vault.open(&context, &stored.page_access_token).await.expect("opens").expose(),
        b"EAAPAGE-secret"
    );
    assert_eq!(
        handle(request("DELETE", "/v1/leadads", Some(&key), ""), &deps).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        handle(request("GET", "/v1/leadads", Some(&key), ""), &deps).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn export_holds_the_persons_data_and_erasure_is_accepted_for_the_next_run() {
    // Arrange
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    seed_message(&deps, &tenant, "5511988887777", "wamid.E1").await;
    let contact = note_and_tag(&deps, &tenant, &key, "5511988887777").await;

    // Act
    let export = handle(get("/v1/privacy/export", &[("phone", "+55 11 98888-7777")], &key), &deps).await;
    let accepted =
        handle(request("POST", "/v1/privacy/erasure", Some(&key), r#"{"phone":"5511988887777"}"#), &deps)
            .await;
    let id = json(&accepted)["id"].as_str().expect("id").to_owned();
    let status = handle(get(&format!("/v1/privacy/erasure/{id}"), &[], &key), &deps).await;

    // Assert
    assert_eq!(export.status(), StatusCode::OK);
    let export = json(&export);
    assert_eq!(export["subject"]["phone"], "5511988887777");
    assert_eq!(export["contacts"][0]["conversations"][0]["messages"][0]["wamid"], "wamid.E1");
    assert_eq!(export["contacts"][0]["records"][0]["text"], "asked for the blue model");
    assert!(!export["contacts"][0]["timeline"].as_array().expect("timeline").is_empty());
    assert!(
        export["audit"]
            .as_array()
            .expect("audit")
            .iter()
            .any(|e| e["action"] == "contact.update" && e["target"]["id"] == contact.as_str()),
        "the team's changes to the person are in their export: {}",
        export["audit"]
    );
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    assert_eq!(json(&accepted)["status"], "pending");
    assert_eq!(json(&status)["status"], "pending");
    let pending = deps.privacy.due_erasures(10).await.expect("queue");
    assert_eq!(pending.len(), 1);
    // Both are audited; the trail keeps the facts, never the identifier they were about.
    let audit = json(&handle(get("/v1/audit", &[], &key), &deps).await);
    let actions: Vec<&str> =
        audit["items"].as_array().expect("items").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(
        actions.contains(&"privacy.export") && actions.contains(&"privacy.erasure_request"),
        "{actions:?}"
    );
    assert!(!audit.to_string().contains("98888"), "no phone number in the audit trail");
}

#[tokio::test]
async fn privacy_routes_refuse_bad_subjects_and_foreign_requests() {
    let deps = deps();
    let (_, key) = new_tenant(&deps).await;
    let (_, other) = new_tenant(&deps).await;
    for body in [
        "{}",
        r#"{"phone":"1","email":"a@b.c"}"#,
        r#"{"phone":"12"}"#,
        r#"{"email":"nope"}"#,
        r#"{"name":"x"}"#,
    ] {
        let response = handle(request("POST", "/v1/privacy/erasure", Some(&key), body), &deps).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(handle(get("/v1/privacy/export", &[], &key), &deps).await.status(), StatusCode::BAD_REQUEST);
    let accepted =
        handle(request("POST", "/v1/privacy/erasure", Some(&key), r#"{"email":"A@B.com"}"#), &deps).await;
    let id = json(&accepted)["id"].as_str().expect("id").to_owned();
    let foreign = handle(get(&format!("/v1/privacy/erasure/{id}"), &[], &other), &deps).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let empty =
        json(&handle(get("/v1/privacy/export", &[("email", "nobody@example.com")], &key), &deps).await);
    assert_eq!(empty["contacts"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn person_export_as_csv_tables() {
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    seed_message(&deps, &tenant, "5511988887777", "wamid.CSV1").await;
    note_and_tag(&deps, &tenant, &key, "5511988887777").await;

    let response =
        handle(get("/v1/privacy/export", &[("phone", "5511988887777"), ("format", "csv")], &key), &deps)
            .await;
    let bad_format =
        handle(get("/v1/privacy/export", &[("phone", "5511988887777"), ("format", "xml")], &key), &deps)
            .await;

    assert_eq!(response.status(), StatusCode::OK);
    let body = json(&response);
    let contacts = body["files"]["contacts.csv"].as_str().expect("contacts.csv");
    assert!(contacts.starts_with("id,phone,user_id,email,name,"));
    assert!(contacts.contains(",5511988887777,"));
    assert!(body["files"]["messages.csv"].as_str().expect("messages.csv").contains("wamid.CSV1"));
    assert!(body["files"]["records.csv"].as_str().expect("records.csv").contains("asked for the blue model"));
    assert!(body["files"]["audit.csv"].as_str().expect("audit.csv").contains("contact.update"));
    assert!(body["files"]["timeline.csv"].as_str().expect("timeline.csv").contains("note.created"));
    assert_eq!(bad_format.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tenant_export_pages_through_every_contact() {
    // Arrange: 27 contacts, more than one page.
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    for i in 0..27 {
        seed_message(&deps, &tenant, &format!("55119000000{i:02}"), &format!("wamid.T{i}")).await;
    }

    // Act
    let first = json(&handle(get("/v1/privacy/export/tenant", &[], &key), &deps).await);
    let cursor = first["next"].as_str().expect("a second page").to_owned();
    let second = json(&handle(get("/v1/privacy/export/tenant", &[("cursor", &cursor)], &key), &deps).await);

    // Assert
    assert_eq!(first["tenant"]["name"], "Acme");
    assert!(first["tenant"].get("whatsapp").is_none(), "nothing connected, and never a token");
    assert_eq!(first["contacts"].as_array().map(Vec::len), Some(25));
    assert_eq!(second["contacts"].as_array().map(Vec::len), Some(2));
    assert!(second.get("tenant").is_none() && second.get("next").is_none());
    assert_eq!(second["contacts"][0]["conversations"][0]["messages"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn retention_settings_default_to_the_promises_and_keep_their_bounds() {
    let deps = deps();
    let (_, key) = new_tenant(&deps).await;

    let defaults = json(&handle(request("GET", "/v1/settings/retention", Some(&key), ""), &deps).await);
    let changed = handle(
        request("PUT", "/v1/settings/retention", Some(&key), r#"{"conversation_days":60,"content_days":7}"#),
        &deps,
    )
    .await;
    let read_back = json(&handle(request("GET", "/v1/settings/retention", Some(&key), ""), &deps).await);

    assert_eq!(
        defaults,
        serde_json::json!({"conversation_days": 90, "content_days": 30, "legal_hold": false})
    );
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        read_back,
        serde_json::json!({"conversation_days": 60, "content_days": 7, "legal_hold": false})
    );
    for body in [
        r#"{"conversation_days":366,"content_days":30}"#,
        r#"{"conversation_days":10,"content_days":11}"#,
        r#"{"conversation_days":0,"content_days":0}"#,
        "{}",
    ] {
        let response = handle(request("PUT", "/v1/settings/retention", Some(&key), body), &deps).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI document
// ---------------------------------------------------------------------------------------------

fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                out.push(target.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_served_and_covers_every_operation_with_resolvable_schemas() {
    // Arrange
    let deps = deps();

    // Act
    let response = handle(request("GET", "/v1/openapi.json", None, ""), &deps).await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let document = json(&response);
    assert_eq!(document["openapi"], "3.1.0");
    for operation in routes::OPERATIONS {
        let entry = &document["paths"][operation.path][operation.method.to_lowercase()];
        assert!(entry.is_object(), "{} {} documented", operation.method, operation.path);
        assert!(entry["responses"]["400"].is_object() && entry["responses"]["500"].is_object());
        let documented: Vec<&String> = entry["responses"].as_object().unwrap().keys().collect();
        for answer in operation.answers {
            assert!(
                documented.contains(&&answer.status.to_string()),
                "{} {}",
                operation.method,
                operation.path
            );
        }
    }
    let mut targets = Vec::new();
    refs(&document, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let name = target.strip_prefix("#/components/schemas/").expect("a component reference");
        assert!(document["components"]["schemas"][name].is_object(), "{target} resolves");
    }
    let ids: std::collections::HashSet<String> =
        routes::OPERATIONS.iter().map(openapi::operation_id).collect();
    assert_eq!(ids.len(), routes::OPERATIONS.len(), "operation ids are unique");
}

#[test]
fn every_route_the_router_serves_is_in_the_table_once() {
    for operation in routes::OPERATIONS {
        let path = operation.path.replace(['{', '}'], "");
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let (found, _) = routes::find(operation.method, &segments).expect("routable");
        assert_eq!(
            found.path, operation.path,
            "{} {} is reached by its own entry",
            operation.method, operation.path
        );
    }
}

#[tokio::test]
async fn deleting_a_user_removes_its_personal_data_and_keeps_its_id() {
    // Arrange
    let deps = deps();
    let (tenant_id, api_key) = new_tenant(&deps).await;
    let body = r#"{"email":"gone@example.com","name":"Gone Person","role":"agent","password":"correct horse battery"}"#;
    let created = handle(request("POST", "/v1/users", Some(&api_key), body), &deps).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let user_id = json(&created)["user"]["id"].as_str().expect("id").to_owned();

    // Act
    let deleted = handle(request("DELETE", &format!("/v1/users/{user_id}"), Some(&api_key), ""), &deps).await;

    // Assert: the stored record keeps the id and the fact of deletion, nothing personal.
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let tenant = TenantId::parse(tenant_id).expect("tenant");
    let id = shared::domain::UserId::parse(user_id.clone()).expect("user");
    let stored = deps.directory.user(&tenant, &id).await.expect("read").expect("kept").value;
    assert_eq!(stored.status, shared::domain::identity::UserStatus::Deleted);
    assert_eq!((stored.name.as_str(), stored.email.as_str()), (user_id.as_str(), ""));
    assert!(stored.password_hash.is_none() && stored.invitation_sha256.is_none());
    assert!(
        deps.directory.user_by_email(&tenant, "gone@example.com").await.expect("read").is_none(),
        "email freed"
    );
}

#[tokio::test]
async fn suggestions_are_queued_only_with_ai_on_a_provider_connected_and_the_contact_unrestricted() {
    use shared::domain::inbox::{ConversationFilter, ConversationStore};
    // Arrange: a conversation; AI off by default.
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    seed_message(&deps, &tenant, "5511911112222", "wamid.AI1").await;
    let tenant_id = TenantId::parse(tenant.clone()).expect("valid");
    let conversations = deps
        .conversations
        .conversations(&tenant_id, None, &ConversationFilter::default(), None, 1)
        .await
        .expect("listed");
    let conversation = &conversations.items[0];
    let ask = || {
        handle(
            request("POST", &format!("/v1/conversations/{}/suggestions", conversation.id), Some(&key), ""),
            &deps,
        )
    };
    let problem_type =
        |response: &Response<Body>| json(response)["type"].as_str().unwrap_or_default().to_owned();
    let settings = |enabled: bool| {
        format!(
            r#"{{"settings":{{"time_zone":"UTC","business_hours":[],"opt_out_keywords":[],"opt_in_keywords":[],"ai_enabled":{enabled}}}}}"#
        )
    };

    // Act / Assert: AI off.
    let off = ask().await;
    assert_eq!(off.status(), StatusCode::CONFLICT);
    assert!(problem_type(&off).ends_with("/ai-disabled"), "{}", problem_type(&off));
    // On, but no provider; then a provider the deployment does not offer.
    let on = handle(request("PATCH", "/v1/tenant", Some(&key), &settings(true)), &deps).await;
    assert_eq!(on.status(), StatusCode::OK);
    assert!(problem_type(&ask().await).ends_with("/ai-not-connected"));
    let unknown = r#"{"provider":"elsewhere","model":"m","api_key":"sk-secret-1"}"#;
    let refused = handle(request("PUT", "/v1/ai", Some(&key), unknown), &deps).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(json(&refused)["detail"].as_str().unwrap_or_default().contains("sandbox"));
    // Connected: the key is sealed for the tenant and never shown.
    let connect = r#"{"provider":"sandbox","model":"small-1","api_key":"sk-secret-1"}"#;
    let connected = handle(request("PUT", "/v1/ai", Some(&key), connect), &deps).await;
    assert_eq!(connected.status(), StatusCode::OK);
    let shown = handle(request("GET", "/v1/ai", Some(&key), ""), &deps).await;
    assert!(!String::from_utf8_lossy(shown.body().as_ref()).contains("sk-secret"));
    let stored = deps.tenants.ai_connection(&tenant_id).await.expect("read").expect("connected");
    let context = EncryptionContext { tenant_id: tenant_id.clone(), purpose: Purpose::IntegrationSecret };
    assert_eq!(deps.vault.open(&context, &stored.api_key).await.expect("opens").expose(), b"sk-secret-1");
    // Now it is accepted and queued.
    let accepted = ask().await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let suggestion = json(&accepted);
    assert_eq!(suggestion["status"], "pending");
    let queued = deps.suggest.sent();
    assert_eq!(queued.len(), 1);
    let job: serde_json::Value = serde_json::from_str(&queued[0].body).expect("JSON job");
    assert_eq!(job["suggestion_id"], suggestion["id"]);
    let read = handle(
        request(
            "GET",
            &format!(
                "/v1/conversations/{}/suggestions/{}",
                conversation.id,
                suggestion["id"].as_str().unwrap_or_default()
            ),
            Some(&key),
            "",
        ),
        &deps,
    )
    .await;
    assert_eq!(json(&read)["status"], "pending");
    // A restricted contact: refused, nothing more queued.
    let restrict = handle(
        request(
            "PATCH",
            &format!("/v1/contacts/{}", conversation.contact_id),
            Some(&key),
            r#"{"restricted":true}"#,
        ),
        &deps,
    )
    .await;
    assert_eq!(restrict.status(), StatusCode::OK);
    assert!(problem_type(&ask().await).ends_with("/contact-restricted"));
    assert_eq!(deps.suggest.sent().len(), 1);
    // Disconnected: the key is gone.
    let disconnected = handle(request("DELETE", "/v1/ai", Some(&key), ""), &deps).await;
    assert_eq!(disconnected.status(), StatusCode::NO_CONTENT);
    assert!(deps.tenants.ai_connection(&tenant_id).await.expect("read").is_none());
    // All of it is in the audit trail: connection, the request (with its kind), disconnection.
    let trail = json(&handle(get("/v1/audit", &[], &key), &deps).await);
    let actions: Vec<(String, String)> = trail["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|e| (e["action"].as_str().unwrap_or_default().to_owned(), e["fields"].to_string()))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        actions.contains(&("ai.suggestion_request".to_owned(), r#"["kind=replies"]"#.to_owned())),
        "{actions:?}"
    );
    assert!(actions.iter().any(|(a, _)| a == "integration.ai_connect"));
    assert!(actions.iter().any(|(a, _)| a == "integration.ai_disconnect"));
}

/// `POST /v1/messages` with `key` and an `Idempotency-Key`: the status, the problem type's slug
/// (empty for a success) and the body.
async fn post_message(
    deps: &TestDeps,
    key: &str,
    idempotency: &str,
    body: &str,
) -> (StatusCode, String, serde_json::Value) {
    let mut builder = HttpRequest::builder()
        .method("POST")
        .uri("/v1/messages")
        .header("authorization", format!("Bearer {key}"));
    if !idempotency.is_empty() {
        builder = builder.header("idempotency-key", idempotency);
    }
    let response = handle(builder.body(Body::from(body.to_owned())).expect("valid request"), deps).await;
    let json = json(&response);
    let slug = json["type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("https://leadline.dev/problems/")
        .to_owned();
    (response.status(), slug, json)
}

#[tokio::test]
async fn sending_answers_the_contracts_problems_and_counts_quality() {
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    seed_message(&deps, &tenant, "5511988887777", "wamid.IN1").await;
    let text = r#"{"to":"5511988887777","type":"text","text":{"body":"hi"}}"#;

    let not_connected = post_message(&deps, &key, "k1", text).await;
    assert_eq!(
        handle(request("PUT", "/v1/whatsapp", Some(&key), CONNECT), &deps).await.status(),
        StatusCode::OK
    );
    let accepted = post_message(&deps, &key, "k2", text).await;
    let replayed = post_message(&deps, &key, "k2", text).await;
    let reused =
        post_message(&deps, &key, "k2", r#"{"to":"5511988887777","type":"text","text":{"body":"other"}}"#)
            .await;
    let no_key = post_message(&deps, &key, "", text).await;
    let invalid = post_message(&deps, &key, "k3", r#"{"to":"12","type":"text","text":{"body":"hi"}}"#).await;
    let stranger =
        post_message(&deps, &key, "k4", r#"{"to":"5511977776666","type":"text","text":{"body":"hi"}}"#).await;
    let read_to_stranger =
        post_message(&deps, &key, "k5", r#"{"to":"5511977776666","status":"read","message_id":"wamid.X"}"#)
            .await;
    let template = post_message(
        &deps,
        &key,
        "k6",
        r#"{"to":"5511988887777","type":"template","template":{"name":"order_update","language":{"code":"pt_BR"}}}"#,
    )
    .await;
    deps.outbound.set_failing(true);
    let unqueued = post_message(&deps, &key, "k7", text).await;
    let quality = json(&handle(get("/v1/quality", &[], &key), &deps).await);

    assert_eq!(
        (not_connected.0, not_connected.1.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "not-connected")
    );
    assert_eq!(not_connected.2["detail"], "connect a WhatsApp number first (PUT /v1/whatsapp)");
    assert_eq!((accepted.0, accepted.2["status"].as_str()), (StatusCode::ACCEPTED, Some("queued")));
    assert_eq!((replayed.0, &replayed.2["id"]), (StatusCode::ACCEPTED, &accepted.2["id"]));
    assert_eq!((reused.0, reused.1.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused"));
    assert_eq!(no_key.0, StatusCode::BAD_REQUEST);
    assert_eq!((invalid.0, invalid.1.as_str()), (StatusCode::BAD_REQUEST, "bad-request"));
    assert!(invalid.2["detail"].as_str().unwrap_or_default().starts_with("to: "), "{}", invalid.2);
    assert_eq!((stranger.0, stranger.1.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "unknown-recipient"));
    assert_eq!(
        stranger.2["detail"],
        "the recipient is not a contact of this tenant (no consent, no conversation)"
    );
    assert_eq!(read_to_stranger.1, "unknown-recipient");
    assert_eq!(read_to_stranger.2["detail"], "the recipient is not a contact");
    assert_eq!((template.0, template.1.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "unknown-template"));
    assert_eq!(template.2["detail"], "no template order_update in pt_BR (sync templates first)");
    assert_eq!((unqueued.0, unqueued.1.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "try-again"));
    assert_eq!(deps.outbound.sent().len(), 1, "one message queued, once");
    let counters = &quality["counters"];
    assert_eq!(
        counters,
        &serde_json::json!({"accepted": 1, "refused.not_connected": 1, "refused.unknown_recipient": 2,
            "refused.unknown_template": 1}),
        "{quality}"
    );
}

#[test]
fn a_refusal_counts_under_the_name_of_its_problem_type() {
    use shared::app::outbound::SubmitError;
    use shared::domain::outbound::Refusal;
    let refusals = [
        SubmitError::Policy(Refusal::UnknownRecipient),
        SubmitError::Policy(Refusal::OptedOut),
        SubmitError::Policy(Refusal::Restricted),
        SubmitError::Policy(Refusal::NoConsent),
        SubmitError::Policy(Refusal::OutsideWindow),
        SubmitError::NoContact,
        SubmitError::UnknownTemplate { name: "t".into(), language: "en".into() },
        SubmitError::TemplateMismatch("n".into()),
        SubmitError::NotConnected,
    ];
    for refusal in refusals {
        let metric = refusal.quality_metric().map(str::to_owned);
        let problem = ApiError::from(refusal).0;
        let slug = problem.kind.rsplit('/').next().unwrap_or_default().replace('-', "_");
        assert_eq!(problem.status, 422);
        assert_eq!(metric, Some(format!("refused.{slug}")));
    }
    for other in [SubmitError::NotVisibleToAgent, SubmitError::PlanLimit { limit: 1 }, SubmitError::NotQueued]
    {
        assert_eq!(other.quality_metric(), None);
        assert_ne!(ApiError::from(other).0.status, 422);
    }
}

#[tokio::test]
async fn a_conversation_moves_only_as_its_state_machine_allows_and_only_from_the_version_seen() {
    // Arrange: a customer's message opened a conversation (version 0).
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    seed_message(&deps, &tenant, "5511933334444", "wamid.SM1").await;
    let listed = json(&handle(get("/v1/conversations", &[("phone", "5511933334444")], &key), &deps).await);
    let conversation = listed["items"][0]["id"].as_str().expect("a conversation").to_owned();
    assert_eq!((&listed["items"][0]["state"], &listed["items"][0]["version"]), (&"open".into(), &0.into()));
    let path = format!("/v1/conversations/{conversation}");
    let patch = |body: &str| handle(request("PATCH", &path, Some(&key), body), &deps);
    let problem = |response: &Response<Body>| {
        let body = json(response);
        (body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned(), body)
    };

    // Act
    let resolved = patch(r#"{"state":"resolved"}"#).await;
    let again = patch(r#"{"state":"resolved"}"#).await;
    let illegal = patch(r#"{"state":"pending"}"#).await;
    let stale = patch(r#"{"state":"open","version":0}"#).await;
    let mut with_if_match = request("PATCH", &path, Some(&key), r#"{"state":"open"}"#);
    with_if_match.headers_mut().insert("if-match", "\"2\"".parse().expect("a header value"));
    let reopened = handle(with_if_match, &deps).await;
    let unknown_state = patch(r#"{"state":"closed"}"#).await;

    // Assert
    assert_eq!(resolved.status(), StatusCode::OK);
    assert_eq!((&json(&resolved)["state"], &json(&resolved)["version"]), (&"resolved".into(), &1.into()));
    assert_eq!(again.status(), StatusCode::OK, "staying resolved is allowed (a retry)");
    assert_eq!(json(&again)["version"], 2);
    assert_eq!(illegal.status(), StatusCode::CONFLICT);
    assert_eq!(illegal.headers()["content-type"], "application/problem+json");
    let (kind, body) = problem(&illegal);
    assert_eq!(kind, "illegal-transition");
    assert_eq!(body["detail"], "a conversation cannot go from resolved to pending");
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    assert_eq!(problem(&stale).0, "version-conflict");
    assert_eq!(reopened.status(), StatusCode::OK, "If-Match names the current version");
    assert_eq!((&json(&reopened)["state"], &json(&reopened)["version"]), (&"open".into(), &3.into()));
    assert_eq!(unknown_state.status(), StatusCode::BAD_REQUEST);
    let shown = json(&handle(get(&path, &[], &key), &deps).await);
    assert_eq!((&shown["state"], &shown["version"]), (&"open".into(), &3.into()), "refusals changed nothing");
    let queued = handle(get("/v1/conversations", &[("state", "queued")], &key), &deps).await;
    assert_eq!(queued.status(), StatusCode::OK, "every state filters");
    assert_eq!(json(&queued)["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn a_conversations_queue_is_a_queue_id_shown_as_before() {
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    seed_message(&deps, &tenant, "5511955556666", "wamid.Q1").await;
    let listed = json(&handle(get("/v1/conversations", &[], &key), &deps).await);
    let path = format!("/v1/conversations/{}", listed["items"][0]["id"].as_str().expect("a conversation"));

    let moved = handle(request("PATCH", &path, Some(&key), r#"{"queue":"billing"}"#), &deps).await;
    let spaced = handle(request("PATCH", &path, Some(&key), r#"{"queue":"Customer Success"}"#), &deps).await;
    let filtered = json(&handle(get("/v1/conversations", &[("queue", "billing")], &key), &deps).await);

    assert_eq!(moved.status(), StatusCode::OK);
    assert_eq!(json(&moved)["queue"], "billing");
    assert_eq!(spaced.status(), StatusCode::BAD_REQUEST);
    assert_eq!(filtered["items"].as_array().map(Vec::len), Some(1));
}
