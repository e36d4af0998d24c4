//! Abuse resistance: number and Page squatting, login guessing, logout, callback data, caps.

use super::*;

fn connect_body(phone_number_id: &str, display: &str, waba_id: &str, token: &str) -> String {
    serde_json::json!({
        "phone_number_id": phone_number_id,
        "display_phone_number": display,
        "waba_id": waba_id,
        "access_token": token,
    })
    .to_string()
}

#[tokio::test]
async fn a_number_graph_does_not_confirm_for_the_token_is_refused_naming_the_check() {
    // Arrange: Graph knows 106540352242922 in WABA 102290129340398 for EAAG-secret-token only,
    // and a second number of another WABA for another token.
    let deps = deps();
    deps.cloud.register_number("106540352242999", "+1 555-010-0009", "102290129340999", "EAAG-other");
    let (tenant, key) = new_tenant(&deps).await;
    let cases = [
        (
            "made-up token",
            connect_body("106540352242922", "15550100001", "102290129340398", "EAAG-made-up"),
            "token-rejected",
        ),
        (
            "nobody's number",
            connect_body("100000000000001", "15550100001", "102290129340398", "EAAG-secret-token"),
            "number-not-found",
        ),
        (
            "another's number",
            connect_body("106540352242999", "15550100009", "102290129340999", "EAAG-secret-token"),
            "number-not-found",
        ),
        (
            "another WABA",
            connect_body("106540352242922", "15550100001", "102290129340999", "EAAG-secret-token"),
            "waba-not-found",
        ),
        (
            "another display",
            connect_body("106540352242922", "15550100002", "102290129340398", "EAAG-secret-token"),
            "display-number-mismatch",
        ),
    ];

    for (case, body, check) in cases {
        // Act
        let response = handle(request("PUT", "/v1/whatsapp", Some(&key), &body), &deps).await;

        // Assert
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{case}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{case}");
        let problem = json(&response);
        assert!(
            problem["type"].as_str().unwrap_or_default().ends_with(&format!("/{check}")),
            "{case}: {problem}"
        );
    }
    let tenant = TenantId::parse(tenant).expect("valid");
    assert!(deps.connections.whatsapp_connection(&tenant).await.expect("read").is_none(), "nothing stored");
    assert_eq!(deps.routing.tenant_for_phone_number_id("106540352242922").await.expect("read"), None);
}

#[tokio::test]
async fn graph_unreachable_is_503_try_again_not_a_refusal() {
    let deps = deps();
    deps.cloud.set_unreachable(true);
    let (_, key) = new_tenant(&deps).await;

    let response = handle(request("PUT", "/v1/whatsapp", Some(&key), CONNECT), &deps).await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    assert!(json(&response)["type"].as_str().unwrap_or_default().ends_with("/try-again"));
}

#[tokio::test]
async fn a_page_token_that_is_not_the_pages_is_refused_naming_the_check() {
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    let cases = [
        (r#"{"page_id":"109876543210987","page_access_token":"EAAPAGE-made-up"}"#, "token-rejected"),
        (r#"{"page_id":"109876543210987","page_access_token":"EAAPAGE-secret-2"}"#, "page-token-mismatch"),
        (r#"{"page_id":"100000000000002","page_access_token":"EAAPAGE-secret"}"#, "page-token-mismatch"),
    ];

    for (body, check) in cases {
        let response = handle(request("PUT", "/v1/leadads", Some(&key), body), &deps).await;

        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            json(&response)["type"].as_str().unwrap_or_default().ends_with(&format!("/{check}")),
            "{body}"
        );
    }
    let tenant = TenantId::parse(tenant).expect("valid");
    assert!(deps.connections.page_connection(&tenant).await.expect("read").is_none());
}

/// A tenant with an active user `ana@example.com` / `correct horse battery`.
async fn tenant_with_user(deps: &TestDeps) -> (String, String) {
    let (tenant, key) = new_tenant(deps).await;
    let body =
        r#"{"email":"ana@example.com","name":"Ana","role":"agent","password":"correct horse battery"}"#;
    let created = handle(request("POST", "/v1/users", Some(&key), body), deps).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    (tenant, key)
}

fn login_body(tenant: &str, password: &str) -> String {
    serde_json::json!({"tenant_id": tenant, "email": "ana@example.com", "password": password}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 10)]
async fn parallel_wrong_guesses_cannot_pass_the_login_limit() {
    // Arrange: ten guesses at once, each on its own worker.
    let deps = std::sync::Arc::new(deps());
    let (tenant, _) = tenant_with_user(&deps).await;

    // Act
    let guesses: Vec<_> = (0..10)
        .map(|i| {
            let (deps, body) =
                (std::sync::Arc::clone(&deps), login_body(&tenant, &format!("wrong guess {i:02}")));
            tokio::spawn(async move {
                handle(request("POST", "/v1/auth/login", None, &body), &deps).await.status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.expect("joined"));
    }

    // Assert: the password was checked for five at most; the others were refused unchecked.
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, throttled), (5, 5), "{statuses:?}");
}

#[tokio::test]
async fn the_login_limit_is_a_wait_that_ends_and_a_success_resets_it() {
    // Arrange: four wrong guesses, then the right password, then five wrong ones.
    let deps = deps();
    let (tenant, _) = tenant_with_user(&deps).await;
    let login = |password: &str| {
        handle(request("POST", "/v1/auth/login", None, &login_body(&tenant, password)), &deps)
    };
    for _ in 0..4 {
        assert_eq!(login("wrong guess").await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login("correct horse battery").await.status(), StatusCode::OK, "the fifth attempt is allowed");
    for _ in 0..5 {
        assert_eq!(
            login("wrong guess").await.status(),
            StatusCode::UNAUTHORIZED,
            "the success reset the count"
        );
    }

    // Act
    let throttled = login("correct horse battery").await;
    deps.clock.advance(std::time::Duration::from_secs(15 * 60));
    let later = login("correct horse battery").await;

    // Assert
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = throttled.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=900).contains(&wait), "{wait}");
    assert!(json(&throttled)["type"].as_str().unwrap_or_default().ends_with("/login-throttled"));
    assert_eq!(later.status(), StatusCode::OK, "never a lockout: the window ends");
}

fn from(source: &str, request: Request) -> Request {
    let context: aws_lambda_events::apigw::ApiGatewayV2httpRequestContext =
        serde_json::from_value(serde_json::json!({"http": {"method": "POST", "sourceIp": source}}))
            .expect("context");
    request.with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context))
}

#[tokio::test]
async fn anonymous_requests_are_limited_per_source_address() {
    // Arrange: three per minute and address.
    let mut deps = deps();
    deps.config.anonymous_per_minute = 3;
    let body = r#"{"refresh_token":"llr.tn_x.ses_y.z"}"#;

    // Act: four refreshes and a bad credential from one address, one refresh from another.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses
            .push(handle(from("203.0.113.7", request("POST", "/v1/auth/refresh", None, body)), &deps).await);
    }
    let guessed_key =
        handle(from("203.0.113.7", request("GET", "/v1/me", Some("llk.tn_x.key_y.z"), "")), &deps).await;
    let elsewhere =
        handle(from("198.51.100.9", request("POST", "/v1/auth/refresh", None, body)), &deps).await;

    // Assert
    let codes: Vec<StatusCode> = statuses.iter().map(Response::status).collect();
    assert_eq!(codes[..3], [StatusCode::UNAUTHORIZED; 3]);
    assert_eq!(codes[3], StatusCode::TOO_MANY_REQUESTS);
    assert!(statuses[3].headers().contains_key("retry-after"));
    assert_eq!(statuses[3].headers()["content-type"], "application/problem+json");
    assert_eq!(guessed_key.status(), StatusCode::TOO_MANY_REQUESTS, "guessing credentials counts too");
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED, "another address has its own count");
}

#[tokio::test]
async fn logout_ends_the_sessions_access_tokens_at_once() {
    // Arrange
    let deps = deps();
    let (tenant, _) = tenant_with_user(&deps).await;
    let tokens = json(
        &handle(
            request("POST", "/v1/auth/login", None, &login_body(&tenant, "correct horse battery")),
            &deps,
        )
        .await,
    );
    let access = tokens["access_token"].as_str().expect("access token").to_owned();
    let refresh = tokens["refresh_token"].as_str().expect("refresh token").to_owned();
    assert_eq!(handle(request("GET", "/v1/me", Some(&access), ""), &deps).await.status(), StatusCode::OK);

    // Act
    let body = serde_json::json!({"refresh_token": refresh}).to_string();
    let logout = handle(request("POST", "/v1/auth/logout", None, &body), &deps).await;
    let after = handle(request("GET", "/v1/me", Some(&access), ""), &deps).await;

    // Assert: refused although the token has not expired.
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_access_token_names_its_key_and_one_of_another_key_is_refused() {
    // Arrange
    let deps = deps();
    let (tenant, _) = tenant_with_user(&deps).await;
    let tokens = json(
        &handle(
            request("POST", "/v1/auth/login", None, &login_body(&tenant, "correct horse battery")),
            &deps,
        )
        .await,
    );
    let access = tokens["access_token"].as_str().expect("access token").to_owned();

    // Act: the same claims under another key (as after a rotation).
    let (_, rest) = access.split_once('.').expect("jwt");
    let (payload, _) = rest.split_once('.').expect("jwt");
    let claims: shared::domain::identity::AccessClaims = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).expect("b64"),
    )
    .expect("claims");
    let rotated = claims.sign(b"a key the tenant does not have now");
    let refused = handle(request("GET", "/v1/me", Some(rotated.expose()), ""), &deps).await;

    // Assert
    assert!(
        shared::domain::identity::AccessClaims::claimed_key_id(&access).is_some_and(|kid| kid.len() == 16)
    );
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_callers_callback_data_in_leadlines_form_is_refused() {
    let deps = deps();
    let (_, key) = new_tenant(&deps).await;
    let body = serde_json::json!({"to": "5511988887777", "type": "text", "text": {"body": "hi"},
        "biz_opaque_callback_data": "leadline:msg_01HZY0000000000000000000000"})
    .to_string();
    let request = HttpRequest::builder()
        .method("POST")
        .uri("/v1/messages")
        .header("authorization", format!("Bearer {key}"))
        .header("idempotency-key", "forged-callback")
        .body(Body::from(body))
        .expect("valid request");

    let response = handle(request, &deps).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(json(&response)["detail"].as_str().unwrap_or_default().contains("biz_opaque_callback_data"));
}

#[tokio::test]
async fn tags_and_attributes_stay_capped_across_repeated_creates() {
    // Arrange: the same person created again and again, 30 new tags and attributes each time.
    let deps = deps();
    let (_, key) = new_tenant(&deps).await;
    let create = |round: usize| {
        let tags: Vec<String> = (0..30).map(|i| format!("r{round}-t{i}")).collect();
        let attributes: serde_json::Map<String, serde_json::Value> =
            (0..30).map(|i| (format!("r{round}_a{i}"), serde_json::json!("v"))).collect();
        let body = serde_json::json!({"phone": "5511988887777", "tags": tags}).to_string();
        let with_attributes =
            serde_json::json!({"phone": "5511977776666", "attributes": attributes}).to_string();
        (body, with_attributes)
    };
    let (first_tags, first_attributes) = create(1);
    let (second_tags, second_attributes) = create(2);
    for body in [&first_tags, &first_attributes] {
        assert!(handle(request("POST", "/v1/contacts", Some(&key), body), &deps).await.status().is_success());
    }

    // Act
    let tags = handle(request("POST", "/v1/contacts", Some(&key), &second_tags), &deps).await;
    let attributes = handle(request("POST", "/v1/contacts", Some(&key), &second_attributes), &deps).await;

    // Assert
    assert_eq!(tags.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json(&tags)["type"].as_str().unwrap_or_default().ends_with("/too-many-tags"));
    assert_eq!(attributes.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json(&attributes)["type"].as_str().unwrap_or_default().ends_with("/too-many-attributes"));
    let listed = json(&handle(get("/v1/contacts", &[("phone", "5511988887777")], &key), &deps).await);
    assert_eq!(
        listed["items"][0]["tags"].as_array().map(Vec::len),
        Some(30),
        "nothing of the refused create"
    );
}
