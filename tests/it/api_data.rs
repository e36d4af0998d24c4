//! The tenant's data and settings through the API, end to end: contacts, their records and
//! timeline, leads, CSV imports, the audit trail, plan limits, closing a tenant, settings, API keys
//! and user administration.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api::{access, call, login, operator, tenant, user, PASSWORD};
use crate::e2e::base;
use crate::ingest::{eventually, post, TestTenant};

#[tokio::test]
async fn contacts_records_leads_and_the_timeline() {
    // Arrange
    let (admin, _) = tenant().await;

    // Act / Assert: create, then the same person again.
    let (status, created) = call(
        Method::POST,
        "/v1/contacts",
        Some(&admin),
        Some(json!({"phone": "+55 11 97777-0001", "name": "Eva", "tags": ["vip"], "attributes": {"city": "Recife"}, "consent": "opt_in"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let contact = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["consent"]["state"], "opt_in");
    assert_eq!(created["consent"]["source"], "api");
    let (again, same) = call(
        Method::POST,
        "/v1/contacts",
        Some(&admin),
        Some(json!({"phone": "5511977770001", "tags": ["returning"]})),
    )
    .await;
    assert_eq!(again, StatusCode::OK);
    assert_eq!(same["id"], contact.as_str());
    assert_eq!(same["tags"], json!(["returning", "vip"]));
    for bad in [
        json!({}),
        json!({"phone": "12"}),
        json!({"email": "nope"}),
        json!({"phone": "5511977770009", "extra": 1}),
    ] {
        assert_eq!(
            call(Method::POST, "/v1/contacts", Some(&admin), Some(bad.clone())).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }

    // Rectification, with an email another contact holds refused.
    call(Method::POST, "/v1/contacts", Some(&admin), Some(json!({"email": "taken@example.com"}))).await;
    let corrected = call(
        Method::PATCH,
        &format!("/v1/contacts/{contact}"),
        Some(&admin),
        Some(json!({"name": "Eva Souza", "email": "eva@example.com", "attributes": {}})),
    )
    .await;
    assert_eq!(corrected.0, StatusCode::OK);
    assert_eq!(corrected.1["name"], "Eva Souza");
    assert!(corrected.1.get("attributes").is_none());
    let (by_email, found) = call(Method::GET, "/v1/contacts?email=EVA@example.com", Some(&admin), None).await;
    assert_eq!(by_email, StatusCode::OK);
    assert_eq!(found["items"][0]["id"], contact.as_str());
    let taken = call(
        Method::PATCH,
        &format!("/v1/contacts/{contact}"),
        Some(&admin),
        Some(json!({"email": "taken@example.com"})),
    )
    .await;
    assert_eq!(taken.0, StatusCode::CONFLICT);
    let (_, tagged) = call(Method::GET, "/v1/contacts?tag=vip", Some(&admin), None).await;
    assert_eq!(tagged["items"].as_array().map(Vec::len), Some(1));

    // Records: kinds keep their fields; tasks complete.
    let base_path = format!("/v1/contacts/{contact}");
    assert_eq!(
        call(
            Method::POST,
            &format!("{base_path}/notes"),
            Some(&admin),
            Some(json!({"text": "Prefers mornings"}))
        )
        .await
        .0,
        StatusCode::CREATED
    );
    assert_eq!(
        call(
            Method::POST,
            &format!("{base_path}/notes"),
            Some(&admin),
            Some(json!({"text": "x", "due_at": 1}))
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(
            Method::POST,
            &format!("{base_path}/appointments"),
            Some(&admin),
            Some(json!({"text": "Visit", "starts_at": 5, "ends_at": 4}))
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    let (_, task) = call(
        Method::POST,
        &format!("{base_path}/tasks"),
        Some(&admin),
        Some(json!({"text": "Send offer", "due_at": 1_900_000_000_000_i64})),
    )
    .await;
    let task_id = task["id"].as_str().expect("task").to_owned();
    let (done, task) = call(
        Method::PATCH,
        &format!("{base_path}/tasks/{task_id}"),
        Some(&admin),
        Some(json!({"done": true})),
    )
    .await;
    assert_eq!(done, StatusCode::OK);
    assert!(task["done_at"].is_i64());
    assert_eq!(
        call(Method::DELETE, &format!("{base_path}/tasks/{task_id}"), Some(&admin), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(Method::DELETE, &format!("{base_path}/tasks/{task_id}"), Some(&admin), None).await.0,
        StatusCode::NOT_FOUND
    );

    // Leads: by hand, linked to the contact, stage moves audited and on the timeline.
    let (status, lead) = call(
        Method::POST,
        "/v1/leads",
        Some(&admin),
        Some(json!({"phone": "5511977770001", "origin": {"campaign": "spring"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(lead["contact_id"], contact.as_str());
    assert_eq!(lead["stage"], "new");
    let lead_id = lead["id"].as_str().expect("lead").to_owned();
    let (_, moved) = call(
        Method::PATCH,
        &format!("/v1/leads/{lead_id}"),
        Some(&admin),
        Some(json!({"stage": "qualified"})),
    )
    .await;
    assert_eq!(moved["stage"], "qualified");
    let (_, qualified) = call(Method::GET, "/v1/leads?stage=qualified", Some(&admin), None).await;
    assert_eq!(qualified["items"][0]["id"], lead_id.as_str());
    assert_eq!(call(Method::GET, "/v1/leads?stage=hot", Some(&admin), None).await.0, StatusCode::BAD_REQUEST);

    let (_, timeline) = call(Method::GET, &format!("{base_path}/timeline"), Some(&admin), None).await;
    let kinds: Vec<&str> =
        timeline["items"].as_array().expect("items").iter().filter_map(|a| a["kind"].as_str()).collect();
    for kind in ["lead.stage_changed", "task.completed", "task.created", "note.created", "contact.updated"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }

    // Deleting the contact removes it and its records.
    let (deleted, counts) = call(Method::DELETE, &base_path, Some(&admin), None).await;
    assert_eq!(deleted, StatusCode::OK);
    assert!(counts["records"].as_u64().unwrap_or(0) >= 4, "{counts}");
    assert_eq!(call(Method::GET, &base_path, Some(&admin), None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_csv_import_refuses_a_file_with_bad_rows_and_a_good_one_is_idempotent() {
    // Arrange
    let (admin, _) = tenant().await;
    let fixture = |name: &str| {
        std::fs::read_to_string(format!("{}/fixtures/api/{name}", env!("CARGO_MANIFEST_DIR")))
            .expect("fixture")
    };
    let client = crate::support::http();
    let import = |body: String| {
        let (client, admin) = (client.clone(), admin.clone());
        async move {
            let response = client
                .post(format!("{}/v1/contacts/import?source=fair-2026", base()))
                .bearer_auth(admin)
                .header("content-type", "text/csv")
                .body(body)
                .send()
                .await
                .expect("request");
            (response.status(), response.json::<Value>().await.expect("json"))
        }
    };
    let finished = |job: Value| {
        let admin = admin.clone();
        async move {
            let path = format!("/v1/imports/{}", job["id"].as_str().expect("job id"));
            eventually("the import job ends", || {
                let (admin, path) = (admin.clone(), path.clone());
                async move {
                    let (_, job) = call(Method::GET, &path, Some(&admin), None).await;
                    (job["status"] == "done").then_some(job)
                }
            })
            .await
        }
    };

    // Act
    let (refused, problem) = import(fixture("contacts_import.csv")).await;
    let (status, first) = import(fixture("contacts_import_valid.csv")).await;
    let first = finished(first).await;
    let (_, second) = import(fixture("contacts_import_valid.csv")).await;
    let second = finished(second).await;
    let (bad_header, _) = import("phone,shoe_size\n5511988880001,42\n".to_owned()).await;

    // Assert
    assert_eq!(refused, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let lines: Vec<u64> =
        problem["errors"].as_array().expect("errors").iter().filter_map(|e| e["line"].as_u64()).collect();
    assert_eq!(lines, vec![4, 5, 6], "{problem}");
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!((first["rows"].as_u64(), first["created"].as_u64()), (Some(4), Some(4)), "{first}");
    assert_eq!((second["created"].as_u64(), second["updated"].as_u64()), (Some(0), Some(0)), "{second}");
    assert_eq!(second["unchanged"], 4, "{second}");
    assert_eq!(bad_header, StatusCode::BAD_REQUEST);
    let (_, ana) = call(Method::GET, "/v1/contacts?phone=5511988880001", Some(&admin), None).await;
    let ana = &ana["items"][0];
    assert_eq!(ana["name"], "Ana Lima");
    assert_eq!(ana["tags"], json!(["sp", "vip"]));
    assert_eq!(ana["attributes"]["city"], "São Paulo");
    assert_eq!(ana["consent"]["source"], "import");
    assert_eq!(ana["consent_ledger"].as_array().map(Vec::len), Some(1), "re-import adds no consent event");
    let (_, bruno) = call(Method::GET, "/v1/contacts?phone=5511988880002", Some(&admin), None).await;
    assert_eq!(bruno["items"][0]["consent"]["state"], "opt_out");
    let (_, carla) = call(Method::GET, "/v1/contacts?phone=5511988880003", Some(&admin), None).await;
    assert_eq!(carla["items"][0]["name"], "Carla; \"CJ\" Souza");
}

#[tokio::test]
async fn mutations_exports_and_bulk_reads_are_in_the_audit_trail() {
    // Arrange
    let (admin, tenant) = tenant().await;
    let (user_id, tokens) = user(&admin, &tenant, "auditor@example.com", "manager", &[]).await;
    let manager = access(&tokens);

    // Act
    let (_, contact) =
        call(Method::POST, "/v1/contacts", Some(&manager), Some(json!({"email": "subject@example.com"})))
            .await;
    let contact = contact["id"].as_str().expect("id").to_owned();
    call(Method::PATCH, &format!("/v1/contacts/{contact}"), Some(&manager), Some(json!({"name": "Subject"})))
        .await;
    call(Method::GET, "/v1/contacts", Some(&manager), None).await;
    call(Method::GET, "/v1/privacy/export?email=subject@example.com", Some(&admin), None).await;
    let as_manager = call(Method::GET, "/v1/audit", Some(&manager), None).await;

    // Assert
    assert_eq!(as_manager.0, StatusCode::FORBIDDEN, "the trail is for admins");
    let (_, about) = call(Method::GET, &format!("/v1/audit?target={contact}"), Some(&admin), None).await;
    let actions: Vec<&str> =
        about["items"].as_array().expect("items").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, vec!["privacy.export", "contact.update", "contact.create"], "newest first");
    let update = &about["items"][1];
    assert_eq!(update["actor"], json!({"kind": "user", "id": user_id}));
    assert_eq!(update["fields"], json!(["name"]));
    assert!(!about.to_string().contains("subject@example.com"), "the trail holds no personal data");
    let (_, reads) =
        call(Method::GET, &format!("/v1/audit?actor={user_id}&action=contact.list"), Some(&admin), None)
            .await;
    assert_eq!(reads["items"].as_array().map(Vec::len), Some(1));
    let (_, logins) = call(Method::GET, "/v1/audit?action=session.", Some(&admin), None).await;
    assert_eq!(logins["items"][0]["action"], "session.login");
}

#[tokio::test]
async fn the_plan_limits_rate_contacts_and_users_with_clear_errors() {
    // Arrange
    let (admin, tenant) = tenant().await;
    let plan = json!({"requests_per_minute": 12, "contacts": 1, "users": 1, "messages_per_month": 0});
    let (status, _) =
        call(Method::PUT, &format!("/v1/tenants/{tenant}/plan"), Some(&operator()), Some(plan)).await;
    assert_eq!(status, StatusCode::OK);

    // Act
    let first =
        call(Method::POST, "/v1/contacts", Some(&admin), Some(json!({"email": "one@example.com"}))).await;
    let second =
        call(Method::POST, "/v1/contacts", Some(&admin), Some(json!({"email": "two@example.com"}))).await;
    let same =
        call(Method::POST, "/v1/contacts", Some(&admin), Some(json!({"email": "one@example.com"}))).await;
    let first_user = call(
        Method::POST,
        "/v1/users",
        Some(&admin),
        Some(json!({"email": "u1@example.com", "name": "U", "role": "agent", "password": PASSWORD})),
    )
    .await;
    let second_user = call(
        Method::POST,
        "/v1/users",
        Some(&admin),
        Some(json!({"email": "u2@example.com", "name": "U", "role": "agent", "password": PASSWORD})),
    )
    .await;
    let (_, usage) = call(Method::GET, "/v1/usage", Some(&admin), None).await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..12 {
        let response = crate::support::http()
            .get(format!("{}/v1/tenant", base()))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("request");
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }

    // Assert
    assert_eq!(first.0, StatusCode::CREATED);
    assert_eq!(second.0, StatusCode::FORBIDDEN);
    assert_eq!(second.1["type"], "https://leadline.dev/problems/plan-limit");
    assert_eq!(same.0, StatusCode::OK, "finding an existing contact is not a new one");
    assert_eq!(first_user.0, StatusCode::CREATED);
    assert_eq!(second_user.0, StatusCode::FORBIDDEN);
    assert_eq!(usage["contacts"], json!({"used": 1, "limit": 1}));
    let limited = limited.unwrap_or_else(|| panic!("no 429 within the minute's budget: {statuses:?}"));
    let retry_after: u64 = limited.headers()["retry-after"].to_str().expect("text").parse().expect("seconds");
    assert!((1..=60).contains(&retry_after));
}

#[tokio::test]
async fn a_closed_tenant_refuses_its_credentials_until_the_operator_reopens_it() {
    // Arrange
    let (admin, tenant) = tenant().await;
    let (_, tokens) = user(&admin, &tenant, "closer@example.com", "admin", &[]).await;

    // Act
    let unconfirmed =
        call(Method::POST, "/v1/tenant/close", Some(&admin), Some(json!({"confirm_tenant_id": "tn_other"})))
            .await;
    let (closed, view) =
        call(Method::POST, "/v1/tenant/close", Some(&admin), Some(json!({"confirm_tenant_id": tenant})))
            .await;
    let key_after = call(Method::GET, "/v1/tenant", Some(&admin), None).await;
    let token_after = call(Method::GET, "/v1/me", Some(&access(&tokens)), None).await;
    let login_after = call(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"tenant_id": tenant, "email": "closer@example.com", "password": PASSWORD})),
    )
    .await;
    let reopened = call(Method::POST, &format!("/v1/tenants/{tenant}/reopen"), Some(&operator()), None).await;
    let twice = call(Method::POST, &format!("/v1/tenants/{tenant}/reopen"), Some(&operator()), None).await;

    // Assert
    assert_eq!(unconfirmed.0, StatusCode::BAD_REQUEST);
    assert_eq!(closed, StatusCode::OK);
    assert_eq!(view["status"], "closed");
    assert!(view["reopen_until"].as_i64() > view["closed_at"].as_i64());
    assert_eq!(key_after.0, StatusCode::UNAUTHORIZED);
    assert_eq!(token_after.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login_after.0, StatusCode::UNAUTHORIZED);
    assert_eq!(reopened.0, StatusCode::OK);
    assert_eq!(twice.0, StatusCode::CONFLICT);
    assert_eq!(call(Method::GET, "/v1/tenant", Some(&admin), None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn settings_api_keys_and_users_round_trip_with_clear_errors() {
    // Arrange
    let (admin, _) = tenant().await;

    // Act / Assert: settings.
    let settings = json!({"time_zone": "America/Sao_Paulo", "business_hours": [{"day": "mon", "open": "08:00", "close": "18:00"}],
        "opt_out_keywords": ["stop", "sair"], "opt_in_keywords": ["voltar"], "ai_enabled": true});
    let (status, tenant) =
        call(Method::PATCH, "/v1/tenant", Some(&admin), Some(json!({"name": "Loja", "settings": settings})))
            .await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    assert_eq!(tenant["settings"]["opt_out_keywords"], json!(["SAIR", "STOP"]));
    for bad in [
        json!({"settings": {"time_zone": "Mars", "business_hours": [], "opt_out_keywords": [], "opt_in_keywords": [], "ai_enabled": false}}),
        json!({"settings": {"time_zone": "UTC", "business_hours": [{"day": "mon", "open": "18:00", "close": "08:00"}], "opt_out_keywords": [], "opt_in_keywords": [], "ai_enabled": false}}),
        json!({"name": ""}),
    ] {
        assert_eq!(
            call(Method::PATCH, "/v1/tenant", Some(&admin), Some(bad.clone())).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }

    // API keys: shown once, listed without secrets, revoked at once.
    let (status, created) = call(
        Method::POST,
        "/v1/api-keys",
        Some(&admin),
        Some(json!({"name": "crm sync", "role": "manager"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = created["api_key"].as_str().expect("key").to_owned();
    assert_eq!(call(Method::GET, "/v1/contacts", Some(&key), None).await.0, StatusCode::OK);
    assert_eq!(call(Method::GET, "/v1/users", Some(&key), None).await.0, StatusCode::FORBIDDEN);
    let (_, listed) = call(Method::GET, "/v1/api-keys", Some(&admin), None).await;
    assert!(!listed.to_string().contains(key.rsplit('.').next().expect("secret")));
    let id = created["id"].as_str().expect("id");
    assert_eq!(
        call(Method::DELETE, &format!("/v1/api-keys/{id}"), Some(&admin), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(call(Method::GET, "/v1/contacts", Some(&key), None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(Method::DELETE, &format!("/v1/api-keys/{id}"), Some(&admin), None).await.0,
        StatusCode::NOT_FOUND
    );

    // Users: duplicates, bad roles and weak passwords are refused.
    let body = json!({"email": "dup@example.com", "name": "D", "role": "agent", "password": PASSWORD});
    assert_eq!(
        call(Method::POST, "/v1/users", Some(&admin), Some(body.clone())).await.0,
        StatusCode::CREATED
    );
    assert_eq!(call(Method::POST, "/v1/users", Some(&admin), Some(body)).await.0, StatusCode::CONFLICT);
    assert_eq!(
        call(
            Method::POST,
            "/v1/users",
            Some(&admin),
            Some(json!({"email": "r@example.com", "name": "R", "role": "owner"}))
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(
            Method::POST,
            "/v1/users",
            Some(&admin),
            Some(json!({"email": "w@example.com", "name": "W", "role": "agent", "password": "short"}))
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn admins_change_roles_disable_users_and_cannot_lock_themselves_out() {
    // Arrange
    let (admin_key, tenant) = tenant().await;
    let (admin_id, admin_tokens) = user(&admin_key, &tenant, "boss@example.com", "admin", &[]).await;
    let (agent_id, agent_tokens) = user(&admin_key, &tenant, "worker@example.com", "agent", &[]).await;
    let admin = access(&admin_tokens);
    let path = format!("/v1/users/{agent_id}");

    // Act / Assert: a promotion applies to the very next request.
    assert_eq!(
        call(Method::GET, "/v1/contacts", Some(&access(&agent_tokens)), None).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, promoted) =
        call(Method::PATCH, &path, Some(&admin), Some(json!({"role": "manager", "queues": ["vip"]}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(promoted["role"], "manager");
    assert_eq!(call(Method::GET, "/v1/contacts", Some(&access(&agent_tokens)), None).await.0, StatusCode::OK);
    let (_, shown) = call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(shown["queues"], json!(["vip"]));
    assert!(shown.get("password_hash").is_none());

    // Disabling refuses the user's tokens and logins; enabling lets them log in again.
    assert_eq!(
        call(Method::PATCH, &path, Some(&admin), Some(json!({"status": "disabled"}))).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(Method::GET, "/v1/me", Some(&access(&agent_tokens)), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let refused = call(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"tenant_id": tenant, "email": "worker@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(refused.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(Method::PATCH, &path, Some(&admin), Some(json!({"status": "active"}))).await.0,
        StatusCode::OK
    );
    login(&tenant, "worker@example.com", PASSWORD).await;

    // No admin demotes, disables or deletes themselves.
    let own = format!("/v1/users/{admin_id}");
    assert_eq!(
        call(Method::PATCH, &own, Some(&admin), Some(json!({"role": "agent"}))).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        call(Method::PATCH, &own, Some(&admin), Some(json!({"status": "disabled"}))).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(call(Method::DELETE, &own, Some(&admin), None).await.0, StatusCode::CONFLICT);
    assert_eq!(
        call(Method::PATCH, &path, Some(&admin), Some(json!({"role": "owner"}))).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(call(Method::GET, "/v1/users/usr_unknown", Some(&admin), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(Method::GET, "/v1/leads/ld_unknown", Some(&admin), None).await.0, StatusCode::NOT_FOUND);
    let (_, users) = call(Method::GET, "/v1/users?limit=1", Some(&admin), None).await;
    assert_eq!(users["items"].as_array().map(Vec::len), Some(1));
    let (_, rest) = call(
        Method::GET,
        &format!("/v1/users?limit=10&cursor={}", users["next"].as_str().expect("next")),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));

    // Deleting a user frees its email at once (its personal data goes with it, P55:
    // `api::tests::deleting_a_user_removes_its_personal_data_and_keeps_its_id`).
    assert_eq!(call(Method::DELETE, &path, Some(&admin), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(Method::GET, &path, Some(&admin), None).await.0, StatusCode::NOT_FOUND);
    user(&admin_key, &tenant, "worker@example.com", "agent", &[]).await;
}

#[tokio::test]
async fn appointments_and_notes_are_changed_and_deleted_and_conversations_filter() {
    // Arrange
    let client = crate::support::http();
    let owner = TestTenant::new(&client).await;
    let key = owner.api_key.clone();
    assert_eq!(post(&client, &owner.fixture("text")).await, StatusCode::OK);
    let contact = eventually("the contact", || async { owner.contact(&client).await }).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let base_path = format!("/v1/contacts/{contact}");

    // Act / Assert: appointments keep start before end through changes.
    let (_, appointment) = call(Method::POST, &format!("{base_path}/appointments"), Some(&key),
        Some(json!({"text": "Demo", "starts_at": 1_900_000_000_000_i64, "ends_at": 1_900_000_360_000_i64, "location": "Loja"}))).await;
    let appointment_path = format!("{base_path}/appointments/{}", appointment["id"].as_str().expect("id"));
    assert_eq!(
        call(Method::PATCH, &appointment_path, Some(&key), Some(json!({"ends_at": 1}))).await.0,
        StatusCode::BAD_REQUEST
    );
    let (moved, changed) =
        call(Method::PATCH, &appointment_path, Some(&key), Some(json!({"location": null}))).await;
    assert_eq!(moved, StatusCode::OK);
    assert!(changed.get("location").is_none());
    assert_eq!(
        call(Method::PATCH, &appointment_path, Some(&key), Some(json!({"done": true}))).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(call(Method::DELETE, &appointment_path, Some(&key), None).await.0, StatusCode::NO_CONTENT);
    let (_, note) =
        call(Method::POST, &format!("{base_path}/notes"), Some(&key), Some(json!({"text": "first"}))).await;
    let note_path = format!("{base_path}/notes/{}", note["id"].as_str().expect("id"));
    let (_, edited) = call(Method::PATCH, &note_path, Some(&key), Some(json!({"text": "second"}))).await;
    assert_eq!(edited["text"], "second");
    assert_eq!(call(Method::DELETE, &note_path, Some(&key), None).await.0, StatusCode::NO_CONTENT);
    let (_, notes) = call(Method::GET, &format!("{base_path}/notes"), Some(&key), None).await;
    assert_eq!(notes["items"].as_array().map(Vec::len), Some(0));

    // Conversations filter by state, queue and time.
    let (_, page) = call(Method::GET, "/v1/conversations?state=open", Some(&key), None).await;
    let conversation = page["items"][0]["id"].as_str().expect("an open conversation").to_owned();
    call(
        Method::PATCH,
        &format!("/v1/conversations/{conversation}"),
        Some(&key),
        Some(json!({"state": "pending", "queue": "billing"})),
    )
    .await;
    for (query, expected) in [
        ("state=open", 0),
        ("state=pending", 1),
        ("queue=billing", 1),
        ("queue=sales", 0),
        ("updated_since=4102444800000", 0),
    ] {
        let (status, page) = call(Method::GET, &format!("/v1/conversations?{query}"), Some(&key), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["items"].as_array().map(Vec::len), Some(expected), "{query}");
    }
    for bad in ["state=closed", "updated_since=yesterday", "assignee=%23"] {
        assert_eq!(
            call(Method::GET, &format!("/v1/conversations?{bad}"), Some(&key), None).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let (_, one) = call(Method::GET, &format!("/v1/conversations/{conversation}"), Some(&key), None).await;
    assert_eq!(one["queue"], "billing");
    let (_, timeline) = call(Method::GET, &format!("{base_path}/timeline"), Some(&key), None).await;
    let kinds: Vec<&str> =
        timeline["items"].as_array().expect("items").iter().filter_map(|a| a["kind"].as_str()).collect();
    assert!(kinds.contains(&"message.inbound") && kinds.contains(&"conversation.state_changed"), "{kinds:?}");
}
