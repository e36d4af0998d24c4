//! Handler tests without the runtime: every route through `handle`, on in-memory adapters.
use lambda_http::http::Request as HttpRequest;
use lambda_http::RequestExt as _;
use shared::adapters::documents::DocQueues;
use shared::adapters::documents::{
    DocAuditLog, DocDirectory, DocImports, DocQuality, DocRateLimiter, DocRecords, DocTemplates,
};
use shared::domain::identity::Directory;
use shared::domain::ports::{ConnectionStore, EncryptionContext, Purpose, TenantRouting, Vault};
use shared::domain::privacy::{ErasureStore, PurgeStore};
use shared::domain::{PhoneNumber, TenantId, Timestamp};
use shared::kernel::digest::sha256;
use shared::testing::{
    Fakes, LocalVault, ManualClock, MemoryCloud, MemoryDocs, MemoryIdempotency, MemoryInbox, MemoryLeadAds,
    MemoryPrivacy, MemoryQueue, MemoryTenantStore,
};

use super::*;

mod abuse;
mod agent_tools;
mod analytics;
mod console;
mod exports;
mod fuzz;
mod idempotency;
mod imports;
mod privacy;
mod queues;
mod scope;
mod sending;

pub(super) const OPERATOR_KEY: &str = "operator-test-key";

pub(super) type TestDeps = Deps<Fakes>;

pub(super) fn deps() -> TestDeps {
    let hash = sha256(OPERATOR_KEY.as_bytes());
    let docs = MemoryDocs::default();
    let tenant_store = MemoryTenantStore::default();
    let privacy = MemoryPrivacy::default();
    let inbox = MemoryInbox::default();
    // Graph knows the number of `CONNECT` and the test Pages, each with its own token.
    let cloud = MemoryCloud::default();
    cloud.register_number("106540352242922", "+1 555-010-0001", "102290129340398", "EAAG-secret-token");
    let lead_ads = MemoryLeadAds::default();
    lead_ads.register_page("109876543210987", "EAAPAGE-secret");
    lead_ads.register_page("109876543210988", "EAAPAGE-secret-2");
    Deps {
        config: Config {
            store: StoreConfig { table_name: "t".into(), key_table_name: "k".into(), kms_key_id: "k".into() },
            operator_key_sha256: hash,
            outbound_queue_url: "q".into(),
            graph_api_base_url: "https://graph.example".into(),
            graph_api_version: "v23.0".into(),
            suggest_queue_url: "s".into(),
            import_queue_url: "i".into(),
            live_queue_url: "l".into(),
            ai_providers: AiProviders::new([("sandbox".to_owned(), "https://ai.example/v1".to_owned())]),
            anonymous_per_minute: ANONYMOUS_REQUESTS_PER_MINUTE,
            console_origin: None,
        },
        tenants: tenant_store.clone(),
        api_keys: tenant_store.clone(),
        connections: tenant_store.clone(),
        routing: tenant_store.clone(),
        vault: LocalVault,
        clock: ManualClock::at(Timestamp::from_secs(1_800_000_000)),
        contacts: inbox.clone(),
        conversations: inbox.clone(),
        leads: inbox.clone(),
        lifecycle: inbox.clone(),
        outbox: inbox.clone(),
        agents: inbox.clone(),
        suggestions: inbox,
        erasures: privacy.clone(),
        schedule: privacy.clone(),
        purges: privacy.clone(),
        directory: DocDirectory::new(docs.clone()),
        audit: DocAuditLog::new(docs.clone()),
        records: DocRecords::new(docs.clone()),
        imports: DocImports::new(docs.clone()),
        limiter: DocRateLimiter::new(docs.clone()),
        outbound: MemoryQueue::default(),
        suggest: MemoryQueue::default(),
        import_queue: MemoryQueue::default(),
        idempotency: MemoryIdempotency::default(),
        templates: DocTemplates::new(docs.clone()),
        queues: DocQueues::new(docs.clone()),
        events: DocEventLog::new(docs.clone()),
        canned: DocCanned::new(docs.clone()),
        read_marks: DocReadMarks::new(docs.clone()),
        flows: shared::adapters::documents::DocFlows::new(docs.clone()),
        live: shared::adapters::live::QueueLiveFeed::new(MemoryQueue::default()),
        quality: DocQuality::new(docs),
        cloud,
        lead_ads,
    }
}

pub(super) fn request(method: &str, path: &str, key: Option<&str>, body: &str) -> Request {
    let mut builder = HttpRequest::builder().method(method).uri(path);
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder.body(Body::from(body.to_owned())).expect("valid request")
}

pub(super) fn json(response: &Response<Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).expect("JSON body")
}

pub(super) async fn new_tenant(deps: &TestDeps) -> (String, String) {
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
    let stored = deps.connections.whatsapp_connection(&tenant_id).await.expect("store").expect("connected");
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
    for (key, page_id, token) in [
        (&plain_key, "109876543210987", "EAAPAGE-secret"),
        (&held_key, "109876543210988", "EAAPAGE-secret-2"),
    ] {
        let page = format!(r#"{{"page_id":"{page_id}","page_access_token":"{token}"}}"#);
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
    let queued = deps.purges.due_meta_purges(10).await.expect("queue");
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

pub(super) fn get(path: &str, query: &[(&str, &str)], key: &str) -> Request {
    let query: HashMap<String, String> =
        query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    request("GET", path, Some(key), "").with_query_string_parameters(query)
}

pub(super) async fn seed_message(deps: &TestDeps, tenant: &str, phone: &str, wamid: &str) {
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
pub(super) async fn note_and_tag(
    deps: &TestDeps,
    tenant: &str,
    key: &str,
    phone: &str,
) -> shared::domain::ContactId {
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
        deps.routing.tenant_for_page_id("109876543210987").await.expect("route"),
        Some(tenant_id.clone())
    );
    let stored = deps.connections.page_connection(&tenant_id).await.expect("read").expect("connected");
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

/// The committed contract (`docs/openapi.json`) is the document the API serves: a change to a
/// route or a schema shows up in review as a change to that file. `LEADLINE_WRITE_OPENAPI=1`
/// rewrites it (then review the diff).
#[test]
fn the_committed_document_is_the_one_the_api_serves() {
    // Arrange
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let served = openapi::document(routes::OPERATIONS);
    let text = format!("{}\n", serde_json::to_string_pretty(&served).expect("a JSON value prints"));

    // Act
    if std::env::var_os("LEADLINE_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &text).expect("docs/openapi.json is writable");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();

    // Assert
    assert!(
        committed == text,
        "docs/openapi.json differs from the served document: run \
         `LEADLINE_WRITE_OPENAPI=1 cargo test -p api --lib the_committed_document` and commit the diff"
    );
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
