//! An agent's scope (P14) beyond conversations: a contact's detail and timeline, and
//! `POST /v1/messages`, answer an agent as conversations do — what is outside their scope is
//! answered as what does not exist.

use shared::domain::inbox::{
    ContactStore as _, ConversationFilter, ConversationStore as _, LifecycleStore as _,
};
use shared::domain::ContactId;

use super::*;

const PASSWORD: &str = "correct horse battery";

/// A user of `role` in `queues`, logged in: their access token.
async fn logged_in(deps: &TestDeps, tenant: &str, admin: &str, email: &str, queues: &[&str]) -> String {
    let body = serde_json::json!({"email": email, "name": "Agent", "role": "agent", "queues": queues,
        "password": PASSWORD});
    let created = handle(request("POST", "/v1/users", Some(admin), &body.to_string()), deps).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", json(&created));
    let login = serde_json::json!({"tenant_id": tenant, "email": email, "password": PASSWORD});
    let tokens = handle(request("POST", "/v1/auth/login", None, &login.to_string()), deps).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", json(&tokens));
    json(&tokens)["access_token"].as_str().expect("access token").to_owned()
}

/// The contact of `phone` and its one live conversation.
async fn contact_and_conversation(
    deps: &TestDeps,
    tenant: &str,
    phone: &str,
) -> (ContactId, shared::domain::ConversationId) {
    let tenant = TenantId::parse(tenant).expect("valid");
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

async fn patch_conversation(deps: &TestDeps, key: &str, conversation: &str, body: &str) {
    let path = format!("/v1/conversations/{conversation}");
    let response = handle(request("PATCH", &path, Some(key), body), deps).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", json(&response));
}

#[tokio::test]
async fn an_agent_reads_a_contact_only_through_a_conversation_of_theirs() {
    // Arrange: a person writes in, with a lead; their conversation waits in `support`.
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let support = logged_in(&deps, &tenant, &admin, "support@example.com", &["support"]).await;
    let sales = logged_in(&deps, &tenant, &admin, "sales@example.com", &["sales"]).await;
    seed_message(&deps, &tenant, "5511911110001", "wamid.SCOPE1").await;
    let lead = r#"{"phone":"5511911110001","name":"Ana","origin":{"form":"Test drive"}}"#;
    let created = handle(request("POST", "/v1/leads", Some(&admin), lead), &deps).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", json(&created));
    let (contact, conversation) = contact_and_conversation(&deps, &tenant, "5511911110001").await;
    patch_conversation(&deps, &admin, conversation.as_str(), r#"{"queue":"support"}"#).await;
    let detail = |key: String| {
        let deps = &deps;
        let path = format!("/v1/contacts/{contact}");
        async move { handle(request("GET", &path, Some(&key), ""), deps).await }
    };

    // Act
    let in_scope = detail(support.clone()).await;
    let out_of_scope = detail(sales.clone()).await;
    let unknown = handle(request("GET", "/v1/contacts/ct_0123456789abcdef", Some(&sales), ""), &deps).await;
    let manager = detail(admin.clone()).await;

    // Assert: outside their scope, the same answer as for a contact that does not exist.
    assert_eq!(in_scope.status(), StatusCode::OK);
    assert_eq!(json(&in_scope)["leads"].as_array().map(Vec::len), Some(1), "with its lead's answers");
    assert_eq!(out_of_scope.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(&out_of_scope), json(&unknown));
    assert_eq!(manager.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_agents_timeline_shows_only_their_conversations() {
    // Arrange: the person's first conversation went through `sales` and was resolved there, then
    // deleted (its retention ended); the one they opened since waits in `support`.
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let support = logged_in(&deps, &tenant, &admin, "support@example.com", &["support"]).await;
    let sales = logged_in(&deps, &tenant, &admin, "sales@example.com", &["billing"]).await;
    let phone = "5511911110002";
    seed_message(&deps, &tenant, phone, "wamid.SCOPE2").await;
    let (contact, earlier) = contact_and_conversation(&deps, &tenant, phone).await;
    patch_conversation(&deps, &admin, earlier.as_str(), r#"{"queue":"sales"}"#).await;
    patch_conversation(&deps, &admin, earlier.as_str(), r#"{"state":"resolved"}"#).await;
    let tenant_id = TenantId::parse(tenant.clone()).expect("valid");
    deps.lifecycle.delete_conversation(&tenant_id, &earlier, 1_000).await.expect("deleted");
    seed_message(&deps, &tenant, phone, "wamid.SCOPE3").await;
    let (_, current) = contact_and_conversation(&deps, &tenant, phone).await;
    assert_ne!(current, earlier);
    patch_conversation(&deps, &admin, current.as_str(), r#"{"queue":"support"}"#).await;
    let timeline = |key: String| {
        let deps = &deps;
        let path = format!("/v1/contacts/{contact}/timeline");
        async move { handle(request("GET", &path, Some(&key), ""), deps).await }
    };
    let about = |response: &Response<Body>, conversation: &str| {
        json(response)["items"].as_array().expect("items").iter().any(|item| item["ref_id"] == conversation)
    };

    // Act
    let agent = timeline(support).await;
    let outsider = timeline(sales).await;
    let manager = timeline(admin).await;

    // Assert
    assert_eq!(agent.status(), StatusCode::OK);
    assert!(!about(&agent, earlier.as_str()), "another conversation's history: {}", json(&agent));
    let kinds: Vec<String> = json(&agent)["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["kind"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(kinds, ["message.inbound"], "their conversation's message");
    assert_eq!(outsider.status(), StatusCode::NOT_FOUND);
    assert!(about(&manager, earlier.as_str()), "managers see everything: {}", json(&manager));
}

#[tokio::test]
async fn an_agent_learns_nothing_about_a_number_outside_their_scope_by_messaging_it() {
    // Arrange: a person opted out; their conversation is in nobody's queue yet.
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let agent = logged_in(&deps, &tenant, &admin, "agent@example.com", &["support"]).await;
    let phone = "5511911110003";
    seed_message(&deps, &tenant, phone, "wamid.SCOPE4").await;
    let opt_out = format!(r#"{{"phone":"{phone}","consent":"opt_out"}}"#);
    let recorded = handle(request("POST", "/v1/contacts", Some(&admin), &opt_out), &deps).await;
    assert_eq!(recorded.status(), StatusCode::OK, "{}", json(&recorded));
    let (_, conversation) = contact_and_conversation(&deps, &tenant, phone).await;
    let send = |key: String, to: &'static str, idempotency: &'static str| {
        let deps = &deps;
        let body = format!(r#"{{"to":"{to}","type":"text","text":{{"body":"hello"}}}}"#);
        async move {
            let mut request = request("POST", "/v1/messages", Some(&key), &body);
            request.headers_mut().insert("idempotency-key", idempotency.parse().expect("header"));
            handle(request, deps).await
        }
    };

    // Act
    let outside = send(agent.clone(), "5511911110003", "k1").await;
    let stranger = send(agent.clone(), "5511911119999", "k2").await;
    patch_conversation(&deps, &admin, conversation.as_str(), r#"{"queue":"support"}"#).await;
    let inside = send(agent.clone(), "5511911110003", "k3").await;

    // Assert: out of scope, the answer of a number nobody knows, not the person's opt-out;
    // within scope, the policy's own answer.
    assert_eq!(outside.status(), StatusCode::FORBIDDEN, "{}", json(&outside));
    assert_eq!(json(&outside), json(&stranger));
    assert_eq!(inside.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json(&inside)["type"].as_str().unwrap_or_default().ends_with("/opted-out"), "{}", json(&inside));
    assert!(deps.outbound.sent().is_empty());
}
