//! Queues through the API: created, listed, renamed and deleted by admins, read by agents; names
//! unique case-insensitively; members kept on the users' records.

use serde_json::{json as j, Value};

use super::*;

async fn call(deps: &TestDeps, method: &str, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
    let body = if body.is_null() { String::new() } else { body.to_string() };
    let response = handle(request(method, path, Some(key), &body), deps).await;
    let status = response.status();
    let value = if response.body().is_empty() { Value::Null } else { json(&response) };
    (status, value)
}

/// An invited user of the tenant (no password: nothing to hash), by id.
async fn user(deps: &TestDeps, admin: &str, email: &str) -> String {
    let body = j!({"email": email, "name": "Agent", "role": "agent"});
    let (status, created) = call(deps, "POST", "/v1/users", admin, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["user"]["id"].as_str().expect("id").to_owned()
}

/// An API key of `role`.
async fn key(deps: &TestDeps, admin: &str, role: &str) -> String {
    let (status, created) = call(deps, "POST", "/v1/api-keys", admin, j!({"name": role, "role": role})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["api_key"].as_str().expect("key").to_owned()
}

async fn user_queues(deps: &TestDeps, admin: &str, id: &str) -> Value {
    let (status, user) = call(deps, "GET", &format!("/v1/users/{id}"), admin, Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    user["queues"].clone()
}

#[tokio::test]
async fn an_admin_creates_queues_that_agents_list_by_name_with_their_members() {
    // Arrange
    let deps = deps();
    let (_, admin) = new_tenant(&deps).await;
    let (ana, bo) =
        (user(&deps, &admin, "ana@example.com").await, user(&deps, &admin, "bo@example.com").await);
    let agent = key(&deps, &admin, "agent").await;

    // Act
    let body = j!({"name": " Support ", "strategy": "least_busy", "first_response_target_seconds": 300,
        "members": [ana, bo]});
    let (status, support) = call(&deps, "POST", "/v1/queues", &admin, body).await;
    let (sales_status, sales) =
        call(&deps, "POST", "/v1/queues", &admin, j!({"name": "Sales", "members": [ana]})).await;
    let (list_status, list) = call(&deps, "GET", "/v1/queues", &agent, Value::Null).await;
    let id = support["id"].as_str().expect("id").to_owned();
    let (one_status, one) = call(&deps, "GET", &format!("/v1/queues/{id}"), &agent, Value::Null).await;

    // Assert
    assert_eq!((status, sales_status), (StatusCode::CREATED, StatusCode::CREATED), "{support} {sales}");
    assert!(id.starts_with("q_"), "{id}");
    assert_eq!(support["name"], "Support", "trimmed");
    assert_eq!(support["strategy"], "least_busy");
    assert_eq!(support["first_response_target_seconds"], 300);
    assert_eq!(support["version"], 1);
    let mut members = vec![ana.clone(), bo.clone()];
    members.sort();
    assert_eq!(support["members"], j!(members));
    assert_eq!(sales["strategy"], "round_robin", "the default");
    assert!(sales.get("first_response_target_seconds").is_none(), "{sales}");
    assert_eq!(list_status, StatusCode::OK);
    let names: Vec<&str> =
        list["items"].as_array().expect("items").iter().filter_map(|q| q["name"].as_str()).collect();
    assert_eq!(names, ["Sales", "Support"]);
    assert_eq!((one_status, &one), (StatusCode::OK, &support));
    let mut ana_queues = vec![id.clone(), sales["id"].as_str().expect("id").to_owned()];
    ana_queues.sort();
    assert_eq!(user_queues(&deps, &admin, &ana).await, j!(ana_queues), "members are the users' queues");
    assert_eq!(user_queues(&deps, &admin, &bo).await, j!([id]));
}

#[tokio::test]
async fn names_are_unique_case_insensitively_and_a_rename_frees_the_old_one() {
    // Arrange
    let deps = deps();
    let (_, admin) = new_tenant(&deps).await;
    let (_, sales) = call(&deps, "POST", "/v1/queues", &admin, j!({"name": "Sales"})).await;
    let (_, support) = call(&deps, "POST", "/v1/queues", &admin, j!({"name": "Support"})).await;
    let sales_path = format!("/v1/queues/{}", sales["id"].as_str().expect("id"));

    // Act
    let (clash, problem) = call(&deps, "POST", "/v1/queues", &admin, j!({"name": "SALES"})).await;
    let (onto, _) = call(&deps, "PATCH", &sales_path, &admin, j!({"name": "support "})).await;
    let (renamed_status, renamed) = call(&deps, "PATCH", &sales_path, &admin, j!({"name": "Revenue"})).await;
    let (reuse, _) = call(&deps, "POST", "/v1/queues", &admin, j!({"name": "sales"})).await;
    let (_, other_admin) = new_tenant(&deps).await;
    let (elsewhere, _) = call(&deps, "POST", "/v1/queues", &other_admin, j!({"name": "Support"})).await;

    // Assert
    assert_eq!(clash, StatusCode::CONFLICT);
    assert_eq!(problem["type"], "https://leadline.dev/problems/queue-name-taken");
    assert_eq!(onto, StatusCode::CONFLICT, "onto another queue's name");
    assert_eq!(renamed_status, StatusCode::OK, "{renamed}");
    assert_eq!((renamed["name"].as_str(), renamed["version"].as_u64()), (Some("Revenue"), Some(2)));
    assert_eq!(reuse, StatusCode::CREATED, "the old name is free");
    assert_eq!(elsewhere, StatusCode::CREATED, "names are per tenant");
    assert_eq!(support["name"], "Support");
}

#[tokio::test]
async fn a_patch_checks_the_version_clears_the_target_and_replaces_the_members() {
    // Arrange
    let deps = deps();
    let (_, admin) = new_tenant(&deps).await;
    let (ana, bo) =
        (user(&deps, &admin, "ana@example.com").await, user(&deps, &admin, "bo@example.com").await);
    let body = j!({"name": "Support", "first_response_target_seconds": 60, "members": [ana]});
    let (_, queue) = call(&deps, "POST", "/v1/queues", &admin, body).await;
    let id = queue["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/queues/{id}");

    // Act
    let (stale, problem) = call(&deps, "PATCH", &path, &admin, j!({"name": "X", "version": 7})).await;
    let body =
        j!({"first_response_target_seconds": null, "strategy": "least_busy", "members": [bo], "version": 1});
    let (status, patched) = call(&deps, "PATCH", &path, &admin, body).await;
    let (again, _) = call(&deps, "PATCH", &path, &admin, j!({"strategy": "round_robin", "version": 1})).await;

    // Assert
    assert_eq!(stale, StatusCode::CONFLICT);
    assert_eq!(problem["type"], "https://leadline.dev/problems/version-conflict");
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert!(patched.get("first_response_target_seconds").is_none(), "cleared: {patched}");
    assert_eq!(patched["strategy"], "least_busy");
    assert_eq!(patched["name"], "Support", "absent fields stay");
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["members"], j!([bo]));
    assert_eq!(user_queues(&deps, &admin, &ana).await, j!([]), "removed from the old member");
    assert_eq!(user_queues(&deps, &admin, &bo).await, j!([id]));
    assert_eq!(again, StatusCode::CONFLICT, "version 1 is stale now");
}

#[tokio::test]
async fn unknown_or_deleted_members_are_named_and_nothing_changes() {
    // Arrange
    let deps = deps();
    let (_, admin) = new_tenant(&deps).await;
    let ana = user(&deps, &admin, "ana@example.com").await;
    let gone = user(&deps, &admin, "gone@example.com").await;
    let (deleted, _) = call(&deps, "DELETE", &format!("/v1/users/{gone}"), &admin, Value::Null).await;
    let (_, queue) =
        call(&deps, "POST", "/v1/queues", &admin, j!({"name": "Support", "members": [ana]})).await;
    let path = format!("/v1/queues/{}", queue["id"].as_str().expect("id"));

    // Act
    let body = j!({"name": "Sales", "members": [ana, "usr_nobody", gone]});
    let (create, created) = call(&deps, "POST", "/v1/queues", &admin, body).await;
    let (patch, patched) =
        call(&deps, "PATCH", &path, &admin, j!({"name": "Help", "members": ["usr_nobody"]})).await;
    let (_, list) = call(&deps, "GET", "/v1/queues", &admin, Value::Null).await;

    // Assert
    assert_eq!(deleted, StatusCode::NO_CONTENT);
    assert_eq!(create, StatusCode::BAD_REQUEST);
    let detail = created["detail"].as_str().expect("detail");
    assert!(detail.contains("usr_nobody") && detail.contains(&gone) && !detail.contains(&ana), "{detail}");
    assert_eq!(patch, StatusCode::BAD_REQUEST, "{patched}");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "no queue created");
    assert_eq!(list["items"][0]["name"], "Support", "not renamed");
    assert_eq!(list["items"][0]["members"], j!([ana]), "members unchanged");
}

#[tokio::test]
async fn a_deleted_queue_leaves_its_members_and_answers_404() {
    // Arrange
    let deps = deps();
    let (_, admin) = new_tenant(&deps).await;
    let ana = user(&deps, &admin, "ana@example.com").await;
    let (_, support) =
        call(&deps, "POST", "/v1/queues", &admin, j!({"name": "Support", "members": [ana]})).await;
    let (_, sales) = call(&deps, "POST", "/v1/queues", &admin, j!({"name": "Sales", "members": [ana]})).await;
    let path = format!("/v1/queues/{}", support["id"].as_str().expect("id"));
    let (_, other_admin) = new_tenant(&deps).await;

    // Act
    let (foreign, _) = call(&deps, "DELETE", &path, &other_admin, Value::Null).await;
    let (status, _) = call(&deps, "DELETE", &path, &admin, Value::Null).await;
    let (read, _) = call(&deps, "GET", &path, &admin, Value::Null).await;
    let (again, _) = call(&deps, "DELETE", &path, &admin, Value::Null).await;
    let (audit_status, audit) = call(&deps, "GET", "/v1/audit", &admin, Value::Null).await;

    // Assert
    assert_eq!(foreign, StatusCode::NOT_FOUND, "another tenant's queue does not exist for it");
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!((read, again), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(user_queues(&deps, &admin, &ana).await, j!([sales["id"]]), "only the other queue is left");
    assert_eq!(audit_status, StatusCode::OK);
    let mut actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("queue."))
        .collect();
    actions.sort_unstable();
    assert_eq!(actions, ["queue.create", "queue.create", "queue.delete"], "each change audited once");
}

#[tokio::test]
async fn only_admins_change_queues_and_bad_bodies_are_refused() {
    // Arrange
    let deps = deps();
    let (_, admin) = new_tenant(&deps).await;
    let (agent, manager) = (key(&deps, &admin, "agent").await, key(&deps, &admin, "manager").await);
    let (_, queue) = call(&deps, "POST", "/v1/queues", &admin, j!({"name": "Support"})).await;
    let path = format!("/v1/queues/{}", queue["id"].as_str().expect("id"));

    // Act
    let (by_agent, _) = call(&deps, "POST", "/v1/queues", &agent, j!({"name": "Sales"})).await;
    let (by_manager, _) = call(&deps, "PATCH", &path, &manager, j!({"name": "Help"})).await;
    let (delete_by_agent, _) = call(&deps, "DELETE", &path, &agent, Value::Null).await;
    let mut bad = Vec::new();
    for body in [
        j!({"name": "Sales", "colour": "red"}),
        j!({"name": "   "}),
        j!({"name": "x".repeat(101)}),
        j!({"name": "Sales", "strategy": "random"}),
        j!({"name": "Sales", "first_response_target_seconds": 0}),
        j!({"name": "Sales", "first_response_target_seconds": 604_801}),
        j!({}),
    ] {
        bad.push(call(&deps, "POST", "/v1/queues", &admin, body).await.0);
    }
    let (bad_patch, _) = call(&deps, "PATCH", &path, &admin, j!({"members": "everyone"})).await;
    let (unknown, _) = call(&deps, "GET", "/v1/queues/q_nothing", &agent, Value::Null).await;

    // Assert
    assert_eq!(
        (by_agent, by_manager, delete_by_agent),
        (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN, StatusCode::FORBIDDEN)
    );
    assert!(bad.iter().all(|s| *s == StatusCode::BAD_REQUEST), "{bad:?}");
    assert_eq!(bad_patch, StatusCode::BAD_REQUEST);
    assert_eq!(unknown, StatusCode::NOT_FOUND);
}
