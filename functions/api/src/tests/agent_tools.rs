//! The agent tools: canned responses, private notes on a conversation, the window and templates
//! of a conversation, the agent's listings and read marks.

use serde_json::{json, Value};
use shared::domain::crm::{RecordKind, RecordStore as _};
use shared::domain::inbox::{ContactProfile, ContactStore as _, ConversationFilter, ConversationStore as _};
use shared::domain::outbound::{Template, TemplateStore as _};
use shared::domain::{ContactId, ConversationId, Wamid};

use super::*;

const PASSWORD: &str = "correct horse battery";

/// A user of `role` in `queues`, logged in: their access token and id.
pub(super) async fn user(
    deps: &TestDeps,
    tenant: &str,
    admin: &str,
    who: (&str, &str, &str),
    queues: &[&str],
) -> (String, String) {
    let (email, name, role) = who;
    let body = json!({"email": email, "name": name, "role": role, "queues": queues, "password": PASSWORD});
    let created = handle(request("POST", "/v1/users", Some(admin), &body.to_string()), deps).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", json(&created));
    let id = json(&created)["user"]["id"].as_str().expect("id").to_owned();
    let login = json!({"tenant_id": tenant, "email": email, "password": PASSWORD});
    let tokens = handle(request("POST", "/v1/auth/login", None, &login.to_string()), deps).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", json(&tokens));
    (json(&tokens)["access_token"].as_str().expect("token").to_owned(), id)
}

/// A customer named `name` writes from `phone` at the test clock's instant: their contact and
/// conversation (state `open`, unassigned).
pub(super) async fn customer_writes(
    deps: &TestDeps,
    tenant: &str,
    phone: &str,
    name: Option<&str>,
) -> (ContactId, ConversationId) {
    use shared::domain::inbox::{IngestStore as _, NewInboundMessage};
    let tenant = TenantId::parse(tenant).expect("valid");
    let profile = ContactProfile {
        phone: PhoneNumber::parse(phone).ok(),
        name: name.map(str::to_owned),
        ..ContactProfile::default()
    };
    let wamid = Wamid::parse(format!("wamid.{phone}")).expect("valid");
    let message = NewInboundMessage {
        wamid: &wamid,
        from: &profile,
        sent_at: deps.clock.now(),
        kind: "text",
        raw: r#"{"text":{"body":"Is the blue one still available?"}}"#,
        retention: shared::domain::tenant::RetentionSettings::default(),
    };
    deps.contacts.store_inbound_message(&tenant, &message, deps.clock.now()).await.expect("stored");
    let contact = deps
        .contacts
        .contact_by_phone(&tenant, &PhoneNumber::parse(phone).expect("valid"))
        .await
        .expect("read")
        .expect("contact");
    let page = deps
        .conversations
        .conversations(&tenant, Some(&contact.id), &ConversationFilter::default(), None, 10)
        .await
        .expect("listed");
    (contact.id, page.items[0].id.clone())
}

async fn call(deps: &TestDeps, method: &str, path: &str, key: &str, body: &str) -> (StatusCode, Value) {
    let response = handle(request(method, path, Some(key), body), deps).await;
    let status = response.status();
    let body = if response.body().is_empty() { Value::Null } else { json(&response) };
    (status, body)
}

/// A GET with query parameters (the tests' requests carry them as API Gateway does).
async fn query(deps: &TestDeps, path: &str, params: &[(&str, &str)], key: &str) -> (StatusCode, Value) {
    let response = handle(get(path, params, key), deps).await;
    (response.status(), json(&response))
}

pub(super) async fn patch_conversation(
    deps: &TestDeps,
    key: &str,
    conversation: &ConversationId,
    body: Value,
) {
    let (status, answer) =
        call(deps, "PATCH", &format!("/v1/conversations/{conversation}"), key, &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

fn shortcuts(listing: &Value) -> Vec<String> {
    listing["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["shortcut"].as_str().expect("s").to_owned())
        .collect()
}

#[tokio::test]
async fn canned_responses_are_tenant_wide_or_personal_and_listed_by_shortcut() {
    // Arrange
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let (ana, _) = user(&deps, &tenant, &admin, ("ana@example.com", "Ana", "agent"), &["support"]).await;
    let (bea, _) = user(&deps, &tenant, &admin, ("bea@example.com", "Bea", "agent"), &["support"]).await;
    let (boss, _) = user(&deps, &tenant, &admin, ("boss@example.com", "Boss", "manager"), &[]).await;
    let create = |key: String, body: Value| {
        let deps = &deps;
        async move { call(deps, "POST", "/v1/canned-responses", &key, &body.to_string()).await }
    };

    // Act
    let personal =
        create(ana.clone(), json!({"shortcut": "thanks", "text": "Thanks {{contact.first_name}}!"})).await;
    let agent_tenant_wide =
        create(ana.clone(), json!({"shortcut": "hours", "text": "9-5", "scope": "tenant"})).await;
    let tenant_wide = create(
        boss.clone(),
        json!({"shortcut": "hours", "title": "Hours", "text": "9-5", "scope": "tenant"}),
    )
    .await;
    let same_in_other_scope = create(ana.clone(), json!({"shortcut": "hours", "text": "My hours"})).await;
    let taken = create(boss.clone(), json!({"shortcut": "hours", "text": "again", "scope": "tenant"})).await;
    let others = create(bea.clone(), json!({"shortcut": "thanks", "text": "Bea's thanks"})).await;
    let by_key = create(admin.clone(), json!({"shortcut": "address", "text": "Main St 1"})).await;
    let ana_sees = call(&deps, "GET", "/v1/canned-responses", &ana, "").await;
    let bea_sees = query(&deps, "/v1/canned-responses", &[("shortcut", "th")], &bea).await;
    let key_sees = call(&deps, "GET", "/v1/canned-responses", &admin, "").await;

    // Assert
    assert_eq!(personal.0, StatusCode::CREATED, "{}", personal.1);
    assert_eq!(personal.1["scope"], "personal");
    assert_eq!(personal.1["version"], 1);
    assert!(personal.1["owner"].is_string());
    assert_eq!(agent_tenant_wide.0, StatusCode::FORBIDDEN);
    assert_eq!(tenant_wide.0, StatusCode::CREATED, "{}", tenant_wide.1);
    assert!(tenant_wide.1.get("owner").is_none());
    assert_eq!(
        same_in_other_scope.0,
        StatusCode::CREATED,
        "a user's shortcuts and the tenant's are separate"
    );
    assert_eq!(taken.0, StatusCode::CONFLICT);
    assert_eq!(others.0, StatusCode::CREATED, "each user's personal shortcuts are their own");
    assert_eq!(by_key.0, StatusCode::CREATED, "an API key's default scope is the tenant");
    assert_eq!(by_key.1["scope"], "tenant");
    assert_eq!(shortcuts(&ana_sees.1), ["address", "hours", "hours", "thanks"]);
    assert_eq!(ana_sees.1["items"][3]["text"], "Thanks {{contact.first_name}}!");
    assert_eq!(shortcuts(&bea_sees.1), ["thanks"]);
    assert_eq!(bea_sees.1["items"][0]["text"], "Bea's thanks");
    assert_eq!(shortcuts(&key_sees.1), ["address", "hours"]);
}

#[tokio::test]
async fn a_canned_response_is_refused_with_the_reason() {
    // Arrange
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let (ana, _) = user(&deps, &tenant, &admin, ("ana@example.com", "Ana", "agent"), &[]).await;
    let cases = [
        (json!({"shortcut": "Hi There", "text": "x"}), "shortcut"),
        (json!({"shortcut": "x".repeat(33), "text": "x"}), "shortcut"),
        (json!({"shortcut": "hi", "text": ""}), "text"),
        (json!({"shortcut": "hi", "text": "x".repeat(4097)}), "text"),
        (json!({"shortcut": "hi", "text": "Hi {{contact.phone}}"}), "{{contact.phone}}"),
        (json!({"shortcut": "hi", "text": "x", "title": ""}), "title"),
        (json!({"shortcut": "hi", "text": "x", "colour": "red"}), "colour"),
        (json!({"shortcut": "hi", "text": "x", "scope": "galaxy"}), "galaxy"),
    ];

    for (body, reason) in cases {
        // Act
        let (status, problem) = call(&deps, "POST", "/v1/canned-responses", &ana, &body.to_string()).await;

        // Assert
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains(reason)), "{body}: {problem}");
    }
    let bad_prefix = query(&deps, "/v1/canned-responses", &[("shortcut", "A#")], &ana).await;
    assert_eq!(bad_prefix.0, StatusCode::BAD_REQUEST);
    let listed = call(&deps, "GET", "/v1/canned-responses", &ana, "").await;
    assert_eq!(listed.1["items"], json!([]), "nothing written");
}

#[tokio::test]
async fn owners_change_personal_responses_and_managers_tenant_wide_ones() {
    // Arrange
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let (ana, _) = user(&deps, &tenant, &admin, ("ana@example.com", "Ana", "agent"), &[]).await;
    let (bea, _) = user(&deps, &tenant, &admin, ("bea@example.com", "Bea", "agent"), &[]).await;
    let (boss, _) = user(&deps, &tenant, &admin, ("boss@example.com", "Boss", "manager"), &[]).await;
    let (_, mine) =
        call(&deps, "POST", "/v1/canned-responses", &ana, r#"{"shortcut":"bye","text":"Bye"}"#).await;
    let (_, shared_one) = call(
        &deps,
        "POST",
        "/v1/canned-responses",
        &boss,
        r#"{"shortcut":"hi","text":"Hi","scope":"tenant"}"#,
    )
    .await;
    let (_, other) =
        call(&deps, "POST", "/v1/canned-responses", &ana, r#"{"shortcut":"later","text":"Later"}"#).await;
    let mine_path = format!("/v1/canned-responses/{}", mine["id"].as_str().expect("id"));
    let shared_path = format!("/v1/canned-responses/{}", shared_one["id"].as_str().expect("id"));

    // Act
    let by_stranger = call(&deps, "PATCH", &mine_path, &bea, r#"{"text":"Mine now"}"#).await;
    let stranger_deletes = call(&deps, "DELETE", &mine_path, &bea, "").await;
    let by_owner =
        call(&deps, "PATCH", &mine_path, &ana, r#"{"shortcut":"goodbye","title":"Farewell","version":1}"#)
            .await;
    let stale = call(&deps, "PATCH", &mine_path, &ana, r#"{"text":"Old","version":1}"#).await;
    let onto_taken = call(&deps, "PATCH", &mine_path, &ana, r#"{"shortcut":"later"}"#).await;
    let agent_on_shared = call(&deps, "PATCH", &shared_path, &ana, r#"{"text":"Yo"}"#).await;
    let manager_on_shared =
        call(&deps, "PATCH", &shared_path, &boss, r#"{"text":"Hello {{agent.name}}"}"#).await;
    let agent_deletes_shared = call(&deps, "DELETE", &shared_path, &ana, "").await;
    let owner_deletes = call(&deps, "DELETE", &mine_path, &ana, "").await;
    let reclaimed =
        call(&deps, "POST", "/v1/canned-responses", &ana, r#"{"shortcut":"goodbye","text":"Bye!"}"#).await;

    // Assert
    assert_eq!(
        by_stranger.0,
        StatusCode::NOT_FOUND,
        "someone else's personal response does not exist for them"
    );
    assert_eq!(stranger_deletes.0, StatusCode::NOT_FOUND);
    assert_eq!(by_owner.0, StatusCode::OK, "{}", by_owner.1);
    assert_eq!((by_owner.1["shortcut"].clone(), by_owner.1["version"].clone()), (json!("goodbye"), json!(2)));
    assert_eq!(by_owner.1["title"], "Farewell");
    assert_eq!(stale.0, StatusCode::CONFLICT);
    assert_eq!(onto_taken.0, StatusCode::CONFLICT, "{}", onto_taken.1);
    assert_eq!(agent_on_shared.0, StatusCode::FORBIDDEN);
    assert_eq!(manager_on_shared.0, StatusCode::OK);
    assert_eq!(agent_deletes_shared.0, StatusCode::FORBIDDEN);
    assert_eq!(owner_deletes.0, StatusCode::NO_CONTENT);
    assert_eq!(reclaimed.0, StatusCode::CREATED, "deleting frees the shortcut");
    let listed = call(&deps, "GET", "/v1/canned-responses", &ana, "").await;
    assert_eq!(shortcuts(&listed.1), ["goodbye", "hi", "later"]);
    assert_eq!(other["shortcut"], "later");
}

#[tokio::test]
async fn rendering_fills_the_placeholders_for_a_conversation_the_caller_sees() {
    // Arrange: Ana's queue holds the conversation of Maria Souza; Bea works another queue.
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let (ana, _) = user(&deps, &tenant, &admin, ("ana@example.com", "Ana Lima", "agent"), &["support"]).await;
    let (bea, _) = user(&deps, &tenant, &admin, ("bea@example.com", "Bea", "agent"), &["sales"]).await;
    let (_, conversation) = customer_writes(&deps, &tenant, "5511933330001", Some("Maria Souza")).await;
    let (_, nameless) = customer_writes(&deps, &tenant, "5511933330002", None).await;
    patch_conversation(&deps, &admin, &conversation, json!({"queue": "support"})).await;
    patch_conversation(&deps, &admin, &nameless, json!({"queue": "support"})).await;
    let text = "Hi {{contact.first_name}} ({{contact.name}}), {{agent.name}} of {{ tenant.name }} here.";
    let (_, canned) = call(
        &deps,
        "POST",
        "/v1/canned-responses",
        &admin,
        &json!({"shortcut": "hi", "text": text}).to_string(),
    )
    .await;
    let path = format!("/v1/canned-responses/{}/render", canned["id"].as_str().expect("id"));
    let body = |c: &ConversationId| json!({"conversation_id": c}).to_string();

    // Act
    let rendered = call(&deps, "POST", &path, &ana, &body(&conversation)).await;
    let without_name = call(&deps, "POST", &path, &ana, &body(&nameless)).await;
    let outside_scope = call(&deps, "POST", &path, &bea, &body(&conversation)).await;
    let unknown = call(&deps, "POST", &path, &ana, r#"{"conversation_id":"cv_nope"}"#).await;
    let by_key = call(&deps, "POST", &path, &admin, &body(&conversation)).await;

    // Assert
    assert_eq!(rendered.0, StatusCode::OK, "{}", rendered.1);
    assert_eq!(rendered.1["text"], "Hi Maria (Maria Souza), Ana Lima of Acme here.");
    assert_eq!(without_name.1["text"], "Hi  (), Ana Lima of Acme here.");
    assert_eq!(outside_scope.0, StatusCode::NOT_FOUND);
    assert_eq!(unknown.0, StatusCode::NOT_FOUND);
    assert_eq!(by_key.1["text"], "Hi Maria (Maria Souza),  of Acme here.", "an API key has no name");
}

#[tokio::test]
async fn a_private_note_stays_with_the_team_and_is_one_of_the_contacts_notes() {
    // Arrange
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let (ana, _) = user(&deps, &tenant, &admin, ("ana@example.com", "Ana", "agent"), &["support"]).await;
    let (bea, _) = user(&deps, &tenant, &admin, ("bea@example.com", "Bea", "agent"), &["sales"]).await;
    let (contact, conversation) = customer_writes(&deps, &tenant, "5511933330003", Some("Maria")).await;
    patch_conversation(&deps, &admin, &conversation, json!({"queue": "support"})).await;
    let notes = format!("/v1/conversations/{conversation}/notes");

    // Act
    let written =
        call(&deps, "POST", &notes, &ana, r#"{"text":"  Wants the blue one; call after 5  "}"#).await;
    let empty = call(&deps, "POST", &notes, &ana, r#"{"text":"   "}"#).await;
    let outsider = call(&deps, "POST", &notes, &bea, r#"{"text":"peek"}"#).await;
    let outsider_reads = call(&deps, "GET", &notes, &bea, "").await;
    let on_contact =
        call(&deps, "POST", &format!("/v1/contacts/{contact}/notes"), &admin, r#"{"text":"VIP"}"#).await;
    let listed = call(&deps, "GET", &notes, &ana, "").await;

    // Assert
    assert_eq!(written.0, StatusCode::CREATED, "{}", written.1);
    assert_eq!(written.1["text"], "Wants the blue one; call after 5");
    assert_eq!(written.1["conversation_id"], conversation.as_str());
    assert_eq!(written.1["author"]["kind"], "user");
    assert_eq!(empty.0, StatusCode::BAD_REQUEST);
    assert_eq!(outsider.0, StatusCode::NOT_FOUND);
    assert_eq!(outsider_reads.0, StatusCode::NOT_FOUND);
    assert_eq!(on_contact.0, StatusCode::CREATED);
    let items = listed.1["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "only this conversation's notes: {}", listed.1);
    assert_eq!(items[0]["id"], written.1["id"]);
    assert!(deps.outbound.sent().is_empty(), "a note is never queued for sending");
    let tenant_id = TenantId::parse(tenant.clone()).expect("valid");
    let stored = deps.records.records(&tenant_id, &contact, RecordKind::Note, None, 10).await.expect("read");
    assert_eq!(stored.items.len(), 2, "a note of the contact's: erased and exported with it (tests/it/agent_tools.rs erases it on DynamoDB)");
}

#[tokio::test]
async fn a_conversation_shows_its_window_and_once_closed_the_approved_templates() {
    // Arrange
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let (_, conversation) = customer_writes(&deps, &tenant, "5511933330004", None).await;
    let template = |name: &str, status: &str| Template {
        name: name.to_owned(),
        language: "pt_BR".to_owned(),
        status: status.to_owned(),
        category: "UTILITY".to_owned(),
        body_parameters: 0,
        header_parameters: 0,
        components: json!([]),
    };
    let tenant_id = TenantId::parse(tenant.clone()).expect("valid");
    deps.templates
        .replace_templates(&tenant_id, &[template("follow_up", "APPROVED"), template("promo", "REJECTED")])
        .await
        .expect("stored");
    let path = format!("/v1/conversations/{conversation}");

    // Act
    let open = call(&deps, "GET", &path, &admin, "").await;
    deps.clock.advance(std::time::Duration::from_secs(24 * 3600 - 60));
    let closing = call(&deps, "GET", &path, &admin, "").await;
    deps.clock.advance(std::time::Duration::from_secs(61));
    let closed = call(&deps, "GET", &path, &admin, "").await;

    // Assert
    assert_eq!(open.0, StatusCode::OK, "{}", open.1);
    assert_eq!(open.1["id"], conversation.as_str(), "the conversation's own fields, flattened");
    assert_eq!(open.1["state"], "open");
    assert_eq!(open.1["window"]["open"], true);
    assert_eq!(open.1["window"]["seconds_left"], 24 * 3600);
    assert!(open.1["window"]["closes_at"].is_i64());
    assert!(open.1.get("templates").is_none(), "no templates needed while open");
    assert_eq!(closing.1["window"]["seconds_left"], 60);
    assert_eq!(closed.1["window"], json!({"open": false, "closes_at": null, "seconds_left": null}));
    assert_eq!(closed.1["templates"], json!([{"name": "follow_up", "language": "pt_BR"}]));
}

#[tokio::test]
async fn an_agents_inbox_lists_their_conversations_and_their_queues_waiting_ones() {
    // Arrange: Ana holds one conversation; another waits in her queue; one waits elsewhere.
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let (ana, ana_id) = user(&deps, &tenant, &admin, ("ana@example.com", "Ana", "agent"), &["support"]).await;
    let (_, held) = customer_writes(&deps, &tenant, "5511933330005", Some("Maria Souza")).await;
    let (_, waiting) = customer_writes(&deps, &tenant, "5511933330006", None).await;
    let (_, elsewhere) = customer_writes(&deps, &tenant, "5511933330007", None).await;
    patch_conversation(&deps, &admin, &held, json!({"assignee": ana_id})).await;
    patch_conversation(&deps, &admin, &waiting, json!({"queue": "support", "state": "queued"})).await;
    patch_conversation(&deps, &admin, &elsewhere, json!({"queue": "sales", "state": "queued"})).await;

    // Act
    let mine = query(&deps, "/v1/inbox", &[("view", "mine")], &ana).await;
    let read = call(&deps, "POST", &format!("/v1/conversations/{held}/read"), &ana, "").await;
    let after_read = call(&deps, "GET", "/v1/inbox", &ana, "").await;
    let queue = query(&deps, "/v1/inbox", &[("view", "waiting"), ("limit", "10")], &ana).await;
    let bad_view = query(&deps, "/v1/inbox", &[("view", "everything")], &ana).await;
    let by_key = call(&deps, "GET", "/v1/inbox", &admin, "").await;
    let read_elsewhere = call(&deps, "POST", &format!("/v1/conversations/{elsewhere}/read"), &ana, "").await;

    // Assert
    assert_eq!(mine.0, StatusCode::OK, "{}", mine.1);
    let items = mine.1["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", mine.1);
    assert_eq!(items[0]["id"], held.as_str());
    assert_eq!(items[0]["contact_name"], "Maria Souza");
    assert_eq!(items[0]["last_message"]["preview"], "Is the blue one still available?");
    assert_eq!(items[0]["last_message"]["direction"], "inbound");
    assert_eq!(items[0]["unread_count"], 1);
    assert_eq!(items[0]["window"]["open"], true);
    assert_eq!(read.0, StatusCode::NO_CONTENT);
    assert_eq!(after_read.1["items"][0]["unread_count"], 0);
    let waiting_ids: Vec<&str> =
        queue.1["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(waiting_ids, [waiting.as_str()]);
    assert_eq!(queue.1["items"][0]["contact_name"], Value::Null);
    assert_eq!(bad_view.0, StatusCode::BAD_REQUEST);
    assert_eq!(by_key.0, StatusCode::FORBIDDEN, "the inbox is a person's");
    assert_eq!(read_elsewhere.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_new_customer_message_after_reading_counts_as_unread() {
    // Arrange
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let (ana, ana_id) = user(&deps, &tenant, &admin, ("ana@example.com", "Ana", "agent"), &[]).await;
    let phone = "5511933330008";
    let (_, conversation) = customer_writes(&deps, &tenant, phone, None).await;
    patch_conversation(&deps, &admin, &conversation, json!({"assignee": ana_id})).await;
    let read = call(&deps, "POST", &format!("/v1/conversations/{conversation}/read"), &ana, "").await;
    assert_eq!(read.0, StatusCode::NO_CONTENT);
    deps.clock.advance(std::time::Duration::from_secs(30));

    // Act
    seed_message(&deps, &tenant, phone, "wamid.AGAIN1").await;
    let listed = query(&deps, "/v1/inbox", &[("view", "mine")], &ana).await;

    // Assert: seed_message sends at the test clock's start, before the read: only a later one counts.
    assert_eq!(listed.1["items"][0]["unread_count"], 0, "{}", listed.1);
    customer_writes_again(&deps, &tenant, phone).await;
    let listed = query(&deps, "/v1/inbox", &[("view", "mine")], &ana).await;
    assert_eq!(listed.1["items"][0]["unread_count"], 1, "{}", listed.1);
}

/// Another message of the customer of `phone`, sent now by the test clock.
async fn customer_writes_again(deps: &TestDeps, tenant: &str, phone: &str) {
    use shared::domain::inbox::{IngestStore as _, NewInboundMessage};
    let profile = ContactProfile { phone: PhoneNumber::parse(phone).ok(), ..ContactProfile::default() };
    let wamid = Wamid::parse(format!("wamid.later.{phone}")).expect("valid");
    let message = NewInboundMessage {
        wamid: &wamid,
        from: &profile,
        sent_at: deps.clock.now(),
        kind: "image",
        raw: r#"{"image":{"id":"1"}}"#,
        retention: shared::domain::tenant::RetentionSettings::default(),
    };
    let tenant = TenantId::parse(tenant).expect("valid");
    deps.contacts.store_inbound_message(&tenant, &message, deps.clock.now()).await.expect("stored");
}
