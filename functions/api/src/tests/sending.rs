//! Working conversations through the API: AI suggestions, sending messages and their quality counters, the conversation state machine.

use super::*;

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
    let stored = deps.connections.ai_connection(&tenant_id).await.expect("read").expect("connected");
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
    assert!(deps.connections.ai_connection(&tenant_id).await.expect("read").is_none());
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

    let spaced = handle(request("PATCH", &path, Some(&key), r#"{"queue":"Customer Success"}"#), &deps).await;
    let too_long = format!(r#"{{"queue":"{}"}}"#, "q".repeat(65));
    let refused = handle(request("PATCH", &path, Some(&key), &too_long), &deps).await;
    let blank = handle(request("PATCH", &path, Some(&key), r#"{"queue":"  "}"#), &deps).await;
    let moved = handle(request("PATCH", &path, Some(&key), r#"{"queue":"billing"}"#), &deps).await;
    let filtered = json(&handle(get("/v1/conversations", &[("queue", "billing")], &key), &deps).await);

    assert_eq!(spaced.status(), StatusCode::OK, "a name the tenant chose stays a valid queue");
    assert_eq!(json(&spaced)["queue"], "Customer Success");
    assert_eq!((refused.status(), blank.status()), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));
    assert_eq!(moved.status(), StatusCode::OK);
    assert_eq!(json(&moved)["queue"], "billing");
    assert_eq!(filtered["items"].as_array().map(Vec::len), Some(1));
}
