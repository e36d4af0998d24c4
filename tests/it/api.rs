//! The tenant API end to end, through the running local stack: identity and sessions, the role
//! matrix and the cross-tenant walk over every operation of the OpenAPI document (the tenant's
//! data and settings are in `api_data`). Each test has its own tenant(s).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::e2e::{base, demo};
use crate::ingest::{eventually, post, TestTenant};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// One call: status and JSON body (`Null` when there is none).
pub(crate) async fn call(
    method: Method,
    path: &str,
    credential: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let client = crate::support::http();
    let mut request = client.request(method, format!("{}{path}", base()));
    if let Some(credential) = credential {
        request = request.bearer_auth(credential);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(crate) fn operator() -> String {
    demo()["operator_key"].as_str().expect("operator key").to_owned()
}

/// The tenant id inside an API key (`llk.<tenant>.<key>.<secret>`).
pub(crate) fn tenant_of(api_key: &str) -> String {
    api_key.split('.').nth(1).expect("tenant part").to_owned()
}

/// A new tenant: its admin API key and id.
pub(crate) async fn tenant() -> (String, String) {
    let key = crate::e2e::new_tenant(&crate::support::http()).await;
    let id = tenant_of(&key);
    (key, id)
}

/// Creates a user with a password and logs it in: its id and access token.
pub(crate) async fn user(
    admin: &str,
    tenant: &str,
    email: &str,
    role: &str,
    queues: &[&str],
) -> (String, Value) {
    let (status, created) = call(
        Method::POST,
        "/v1/users",
        Some(admin),
        Some(json!({"email": email, "name": "Test User", "role": role, "queues": queues, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let tokens = login(tenant, email, PASSWORD).await;
    (created["user"]["id"].as_str().expect("id").to_owned(), tokens)
}

pub(crate) async fn login(tenant: &str, email: &str, password: &str) -> Value {
    let (status, tokens) = call(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"tenant_id": tenant, "email": email, "password": password})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

pub(crate) fn access(tokens: &Value) -> String {
    tokens["access_token"].as_str().expect("access token").to_owned()
}

pub(crate) fn refresh_token(tokens: &Value) -> String {
    tokens["refresh_token"].as_str().expect("refresh token").to_owned()
}

#[tokio::test]
async fn login_refresh_rotation_reuse_logout_and_revocation() {
    // Arrange
    let (admin, tenant) = tenant().await;
    let (user_id, tokens) = user(&admin, &tenant, "rotation@example.com", "agent", &[]).await;

    // Act / Assert: the access token works; a refresh rotates.
    assert_eq!(call(Method::GET, "/v1/me", Some(&access(&tokens)), None).await.0, StatusCode::OK);
    let (status, rotated) =
        call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh_token(&tokens)})))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(refresh_token(&rotated), refresh_token(&tokens));

    // Reusing the rotated-out token revokes the session: the newest refresh token dies too.
    let reuse =
        call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh_token(&tokens)})))
            .await;
    assert_eq!(reuse.0, StatusCode::UNAUTHORIZED);
    let after_reuse =
        call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh_token(&rotated)})))
            .await;
    assert_eq!(after_reuse.0, StatusCode::UNAUTHORIZED);

    // Logout ends a session.
    let second = login(&tenant, "rotation@example.com", PASSWORD).await;
    let logout =
        call(Method::POST, "/v1/auth/logout", None, Some(json!({"refresh_token": refresh_token(&second)})))
            .await;
    assert_eq!(logout.0, StatusCode::NO_CONTENT);
    let after_logout =
        call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh_token(&second)})))
            .await;
    assert_eq!(after_logout.0, StatusCode::UNAUTHORIZED);

    // A password change refuses every earlier token at once.
    let third = login(&tenant, "rotation@example.com", PASSWORD).await;
    let change = call(
        Method::PUT,
        "/v1/me/password",
        Some(&access(&third)),
        Some(json!({"current_password": PASSWORD, "new_password": "another long passphrase"})),
    )
    .await;
    assert_eq!(change.0, StatusCode::NO_CONTENT);
    assert_eq!(call(Method::GET, "/v1/me", Some(&access(&third)), None).await.0, StatusCode::UNAUTHORIZED);
    let old_password = call(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"tenant_id": tenant, "email": "rotation@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(old_password.0, StatusCode::UNAUTHORIZED);

    // An admin revocation does too, and deletion ends the user.
    let fourth = login(&tenant, "rotation@example.com", "another long passphrase").await;
    let revoke =
        call(Method::POST, &format!("/v1/users/{user_id}/revoke-sessions"), Some(&admin), None).await;
    assert_eq!(revoke.0, StatusCode::NO_CONTENT);
    assert_eq!(call(Method::GET, "/v1/me", Some(&access(&fourth)), None).await.0, StatusCode::UNAUTHORIZED);
    let fifth = login(&tenant, "rotation@example.com", "another long passphrase").await;
    assert_eq!(
        call(Method::DELETE, &format!("/v1/users/{user_id}"), Some(&admin), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(call(Method::GET, "/v1/me", Some(&access(&fifth)), None).await.0, StatusCode::UNAUTHORIZED);
    let deleted = call(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"tenant_id": tenant, "email": "rotation@example.com", "password": "another long passphrase"})),
    )
    .await;
    assert_eq!(deleted.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logins_are_throttled_after_five_failures_and_unknown_emails_look_the_same() {
    // Arrange
    let (admin, tenant) = tenant().await;
    user(&admin, &tenant, "guess@example.com", "agent", &[]).await;
    let attempt = |email: &'static str, password: &'static str| {
        let tenant = tenant.clone();
        async move {
            call(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"tenant_id": tenant, "email": email, "password": password})),
            )
            .await
        }
    };

    // Act
    let unknown = attempt("nobody@example.com", "whatever whatever").await;
    let mut failures = Vec::new();
    for _ in 0..5 {
        failures.push(attempt("guess@example.com", "wrong password!!").await);
    }
    let throttled = attempt("guess@example.com", PASSWORD).await;

    // Assert
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.1, failures[0].1, "an unknown email and a wrong password answer alike");
    assert!(failures.iter().all(|(s, _)| *s == StatusCode::UNAUTHORIZED), "{failures:?}");
    assert_eq!(throttled.0, StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert_eq!(throttled.1["type"], "https://leadline.dev/problems/login-throttled");
}

#[tokio::test]
async fn an_invited_user_sets_a_password_and_logs_in() {
    // Arrange
    let (admin, tenant) = tenant().await;
    let (status, created) = call(
        Method::POST,
        "/v1/users",
        Some(&admin),
        Some(json!({"email": "invitee@example.com", "name": "Invitee", "role": "manager"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["user"]["status"], "invited");
    let token = created["invitation_token"].as_str().expect("token shown once").to_owned();

    // Act
    let weak = call(
        Method::POST,
        "/v1/auth/invitations/accept",
        None,
        Some(json!({"invitation_token": token, "password": "short"})),
    )
    .await;
    let accepted = call(
        Method::POST,
        "/v1/auth/invitations/accept",
        None,
        Some(json!({"invitation_token": token, "password": PASSWORD})),
    )
    .await;
    let again = call(
        Method::POST,
        "/v1/auth/invitations/accept",
        None,
        Some(json!({"invitation_token": token, "password": PASSWORD})),
    )
    .await;

    // Assert
    assert_eq!(weak.0, StatusCode::BAD_REQUEST);
    assert_eq!(accepted.0, StatusCode::OK);
    assert_eq!(accepted.1["user"]["status"], "active");
    assert_eq!(again.0, StatusCode::UNAUTHORIZED, "an invitation works once");
    login(&tenant, "invitee@example.com", PASSWORD).await;
}

#[tokio::test]
async fn the_role_matrix_gives_each_role_least_privilege() {
    // Arrange: one user per role; a conversation in the agent's queue and one outside it.
    let client = crate::support::http();
    let owner = TestTenant::new(&client).await;
    let tenant = tenant_of(&owner.api_key);
    let admin = owner.api_key.clone();
    let (_, manager) = user(&admin, &tenant, "manager@example.com", "manager", &[]).await;
    let (agent_id, agent) = user(&admin, &tenant, "agent@example.com", "agent", &["support"]).await;
    let (manager, agent) = (access(&manager), access(&agent));
    assert_eq!(post(&client, &owner.fixture("text")).await, StatusCode::OK);
    let conversation = eventually("the conversation", || async {
        let (_, page) =
            call(Method::GET, &format!("/v1/conversations?phone={}", owner.wa_id), Some(&admin), None).await;
        page["items"][0]["id"].as_str().map(str::to_owned)
    })
    .await;
    let contact = owner.contact(&client).await.expect("contact")["id"].as_str().expect("id").to_owned();

    // Act / Assert: what each role may do.
    let expect = |who: &'static str, status: StatusCode, response: (StatusCode, Value)| {
        assert_eq!(response.0, status, "{who}: {}", response.1);
    };
    for (path, admin_ok, manager_ok, agent_ok) in [
        ("/v1/users", true, false, false),
        ("/v1/api-keys", true, false, false),
        ("/v1/audit", true, false, false),
        ("/v1/whatsapp", true, false, false),
        ("/v1/settings/retention", true, false, false),
        ("/v1/contacts", true, true, false),
        ("/v1/leads", true, true, false),
        ("/v1/usage", true, true, false),
        ("/v1/tenant", true, true, true),
        ("/v1/conversations", true, true, true),
    ] {
        for (who, credential, ok) in
            [("admin", &admin, admin_ok), ("manager", &manager, manager_ok), ("agent", &agent, agent_ok)]
        {
            let status = if ok { StatusCode::OK } else { StatusCode::FORBIDDEN };
            expect(who, status, call(Method::GET, path, Some(credential), None).await);
        }
    }
    // The agent sees no conversation until it is in their queue; then they may resolve it but
    // not reassign it.
    let (_, listed) = call(Method::GET, "/v1/conversations", Some(&agent), None).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(0));
    expect(
        "agent",
        StatusCode::NOT_FOUND,
        call(Method::GET, &format!("/v1/conversations/{conversation}"), Some(&agent), None).await,
    );
    expect(
        "agent",
        StatusCode::NOT_FOUND,
        call(Method::GET, &format!("/v1/contacts/{contact}"), Some(&agent), None).await,
    );
    expect(
        "manager",
        StatusCode::OK,
        call(
            Method::PATCH,
            &format!("/v1/conversations/{conversation}"),
            Some(&manager),
            Some(json!({"queue": "support"})),
        )
        .await,
    );
    let (_, listed) = call(Method::GET, "/v1/conversations", Some(&agent), None).await;
    assert_eq!(listed["items"][0]["id"], conversation.as_str());
    expect(
        "agent",
        StatusCode::OK,
        call(Method::GET, &format!("/v1/contacts/{contact}"), Some(&agent), None).await,
    );
    expect(
        "agent",
        StatusCode::FORBIDDEN,
        call(
            Method::PATCH,
            &format!("/v1/conversations/{conversation}"),
            Some(&agent),
            Some(json!({"assignee": agent_id})),
        )
        .await,
    );
    let resolved = call(
        Method::PATCH,
        &format!("/v1/conversations/{conversation}"),
        Some(&agent),
        Some(json!({"state": "resolved"})),
    )
    .await;
    assert_eq!(resolved.1["state"], "resolved");
    expect(
        "agent",
        StatusCode::CREATED,
        call(
            Method::POST,
            &format!("/v1/contacts/{contact}/notes"),
            Some(&agent),
            Some(json!({"text": "Called back"})),
        )
        .await,
    );
    // API keys are not users; the operator is not a tenant.
    expect("api key", StatusCode::FORBIDDEN, call(Method::GET, "/v1/me", Some(&admin), None).await);
    expect(
        "operator",
        StatusCode::FORBIDDEN,
        call(Method::GET, "/v1/contacts", Some(&operator()), None).await,
    );
    expect(
        "tenant admin",
        StatusCode::FORBIDDEN,
        call(Method::POST, "/v1/tenants", Some(&admin), Some(json!({}))).await,
    );
    expect("nobody", StatusCode::UNAUTHORIZED, call(Method::GET, "/v1/contacts", None, None).await);
    expect(
        "forged",
        StatusCode::UNAUTHORIZED,
        call(Method::GET, "/v1/tenant", Some(&format!("{agent}x")), None).await,
    );
}

/// A body each operation accepts in shape, so that a refusal means the id, not the body.
fn plausible_body(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        (_, p) if p.ends_with("/notes") || p.ends_with("/tasks") => Some(json!({"text": "x"})),
        (_, p) if p.ends_with("/appointments") => Some(json!({"text": "x", "starts_at": 1, "ends_at": 2})),
        ("PATCH", _) => Some(json!({})),
        ("PUT", p) if p.ends_with("/plan") => {
            Some(json!({"requests_per_minute": 10, "contacts": 10, "users": 10, "messages_per_month": 10}))
        }
        ("POST" | "PUT", _) => Some(json!({})),
        _ => None,
    }
}

#[tokio::test]
async fn another_tenants_admin_gets_404_or_403_on_every_operation_with_our_ids() {
    // Arrange: tenant A with one of everything; tenant B's admin key.
    let client = crate::support::http();
    let a = crate::send::with_open_window().await;
    let a_tenant = tenant_of(&a.api_key);
    let (sent, message) =
        crate::send::send(&a, "walk", &json!({"to": a.wa_id, "type": "text", "text": {"body": "walk"}}))
            .await;
    assert_eq!(sent, StatusCode::ACCEPTED);
    let conversation = eventually("the conversation", || async {
        let (_, page) = call(Method::GET, "/v1/conversations", Some(&a.api_key), None).await;
        page["items"][0]["id"].as_str().map(str::to_owned)
    })
    .await;
    let contact = a.contact(&client).await.expect("contact")["id"].as_str().expect("id").to_owned();
    let record = |kind: &'static str, body: Value| {
        let (key, contact) = (a.api_key.clone(), contact.clone());
        async move {
            let (status, created) =
                call(Method::POST, &format!("/v1/contacts/{contact}/{kind}"), Some(&key), Some(body)).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            created["id"].as_str().expect("id").to_owned()
        }
    };
    let note = record("notes", json!({"text": "private"})).await;
    let task = record("tasks", json!({"text": "call"})).await;
    let appointment = record(
        "appointments",
        json!({"text": "meet", "starts_at": 1_800_000_000_000_i64, "ends_at": 1_800_000_360_000_i64}),
    )
    .await;
    let (_, lead) =
        call(Method::POST, "/v1/leads", Some(&a.api_key), Some(json!({"email": "lead@example.com"}))).await;
    let (_, a_user) = call(
        Method::POST,
        "/v1/users",
        Some(&a.api_key),
        Some(json!({"email": "a@example.com", "name": "A", "role": "agent", "password": PASSWORD})),
    )
    .await;
    let (_, a_key) =
        call(Method::POST, "/v1/api-keys", Some(&a.api_key), Some(json!({"name": "ci", "role": "manager"})))
            .await;
    let (_, erasure) = call(
        Method::POST,
        "/v1/privacy/erasure",
        Some(&a.api_key),
        Some(json!({"email": "gone@example.com"})),
    )
    .await;
    let (_, canned) = call(
        Method::POST,
        "/v1/canned-responses",
        Some(&a.api_key),
        Some(json!({"shortcut": "walk", "text": "Hi {{contact.first_name}}"})),
    )
    .await;
    let bye = json!({"name": "F", "triggers": [{"type": "keyword", "keywords": ["x"]}], "start": "bye",
        "steps": {"bye": {"type": "end"}}});
    let (_, flow) = call(Method::POST, "/v1/flows", Some(&a.api_key), Some(bye)).await;
    let (b_admin, _) = tenant().await;
    let (_, document) = call(Method::GET, "/v1/openapi.json", None, None).await;

    // Act: every operation with a path parameter, with A's ids, as B.
    let mut checked = 0;
    for (path, methods) in document["paths"].as_object().expect("paths") {
        if !path.contains('{') {
            continue;
        }
        for method in methods.as_object().expect("methods").keys() {
            let kind_record = if path.contains("/notes/") {
                &note
            } else if path.contains("/tasks/") {
                &task
            } else {
                &appointment
            };
            let concrete = path
                .replace("{contact_id}", &contact)
                .replace("{conversation_id}", &conversation)
                .replace("{record_id}", kind_record)
                .replace("{lead_id}", lead["id"].as_str().expect("lead"))
                .replace("{user_id}", a_user["user"]["id"].as_str().expect("user"))
                .replace("{key_id}", a_key["id"].as_str().expect("key"))
                .replace("{erasure_id}", erasure["id"].as_str().expect("erasure"))
                .replace("{message_id}", message["id"].as_str().expect("message"))
                .replace("{canned_id}", canned["id"].as_str().expect("canned response"))
                .replace("{flow_id}", flow["id"].as_str().expect("flow"))
                .replace("{tenant_id}", &a_tenant);
            let method_upper = method.to_uppercase();
            let verb = Method::from_bytes(method_upper.as_bytes()).expect("method");
            let (status, body) =
                call(verb, &concrete, Some(&b_admin), plausible_body(&method_upper, path)).await;

            // Assert
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                "{method_upper} {concrete} as another tenant answered {status}: {body}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 25, "walked {checked} operations");
    // A's data is intact.
    let (status, detail) =
        call(Method::GET, &format!("/v1/contacts/{contact}"), Some(&a.api_key), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["id"], contact.as_str());
    let (_, notes) =
        call(Method::GET, &format!("/v1/contacts/{contact}/notes"), Some(&a.api_key), None).await;
    assert_eq!(notes["items"][0]["text"], "private");
    // And B's listings hold none of A's ids.
    for path in [
        "/v1/contacts",
        "/v1/conversations",
        "/v1/leads",
        "/v1/users",
        "/v1/api-keys",
        "/v1/audit",
        "/v1/templates",
    ] {
        let (_, page) = call(Method::GET, path, Some(&b_admin), None).await;
        let text = page.to_string();
        for id in [&contact, &conversation, &a_tenant] {
            assert!(!text.contains(id.as_str()), "{path} leaks {id}");
        }
    }
}
