//! Queues on the running local stack, through HTTP only: the demo tenant's agents log in and see
//! `Sales` and `Support`; an admin of a fresh tenant creates, renames and deletes a queue, a name
//! clash answers 409, and members show in the users' `queues`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::e2e::{base, demo, new_tenant};

async fn call(
    client: &reqwest::Client,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, format!("{}{path}", base())).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") })
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|q| q["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_demo_agents_log_in_and_list_the_demo_queues() {
    // Arrange
    let demo = demo();
    let client = crate::support::http();
    let agents = demo["agents"].as_array().expect("demo.json agents").clone();
    let queues = demo["queues"].as_array().expect("demo.json queues").clone();

    // Act
    let mut listed = Vec::new();
    for agent in &agents {
        let login =
            json!({"tenant_id": demo["tenant_id"], "email": agent["email"], "password": agent["password"]});
        let response =
            client.post(format!("{}/v1/auth/login", base())).json(&login).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{agent}");
        let tokens: Value = response.json().await.expect("json");
        assert_eq!(tokens["user"]["id"], agent["user_id"]);
        assert_eq!(tokens["user"]["role"], "agent");
        let token = tokens["access_token"].as_str().expect("access token");
        listed.push(call(&client, Method::GET, "/v1/queues", token, None).await);
    }
    let (_, tenant) =
        call(&client, Method::GET, "/v1/tenant", demo["api_key"].as_str().expect("key"), None).await;

    // Assert
    assert!(agents.len() >= 2, "{agents:?}");
    let mut queue_names: Vec<&str> = queues.iter().filter_map(|q| q["name"].as_str()).collect();
    queue_names.sort_unstable();
    assert_eq!(queue_names, ["Sales", "Support"]);
    for (status, list) in &listed {
        assert_eq!(*status, StatusCode::OK, "{list}");
        assert_eq!(names(list), ["Sales", "Support"]);
        for queue in list["items"].as_array().expect("items") {
            for agent in &agents {
                let members = queue["members"].as_array().expect("members");
                assert!(members.contains(&agent["user_id"]), "{} works {}", agent["email"], queue["name"]);
            }
        }
    }
    let hours = tenant["settings"]["business_hours"].as_array().expect("business hours");
    assert_eq!(hours.len(), 7, "{hours:?}");
    assert!(hours.iter().all(|h| h["open"] == "00:00" && h["close"] == "24:00"), "{hours:?}");
}

#[tokio::test]
async fn an_admin_creates_renames_and_deletes_a_queue_and_members_follow() {
    // Arrange
    let client = crate::support::http();
    let admin = new_tenant(&client).await;
    let (status, user) = call(
        &client,
        Method::POST,
        "/v1/users",
        &admin,
        Some(json!({"email": "member@example.com", "name": "Member", "role": "agent"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let user_id = user["user"]["id"].as_str().expect("id").to_owned();
    let user_path = format!("/v1/users/{user_id}");

    // Act
    let (created_status, created) = call(
        &client,
        Method::POST,
        "/v1/queues",
        &admin,
        Some(json!({"name": "Billing", "strategy": "least_busy", "members": [user_id]})),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/queues/{id}");
    let (_, member) = call(&client, Method::GET, &user_path, &admin, None).await;
    let (clash, problem) =
        call(&client, Method::POST, "/v1/queues", &admin, Some(json!({"name": "billing"}))).await;
    let (renamed_status, renamed) =
        call(&client, Method::PATCH, &path, &admin, Some(json!({"name": "Accounts", "version": 1}))).await;
    let (_, listed) = call(&client, Method::GET, "/v1/queues", &admin, None).await;
    let (deleted, _) = call(&client, Method::DELETE, &path, &admin, None).await;
    let (gone, _) = call(&client, Method::GET, &path, &admin, None).await;
    let (_, released) = call(&client, Method::GET, &user_path, &admin, None).await;

    // Assert
    assert_eq!(created_status, StatusCode::CREATED, "{created}");
    assert_eq!(created["members"], json!([user_id]));
    assert_eq!(member["queues"], json!([id]), "the member works the queue");
    assert_eq!(clash, StatusCode::CONFLICT);
    assert_eq!(problem["type"], "https://leadline.dev/problems/queue-name-taken");
    assert_eq!(renamed_status, StatusCode::OK, "{renamed}");
    assert_eq!((renamed["name"].as_str(), renamed["version"].as_u64()), (Some("Accounts"), Some(2)));
    assert_eq!(names(&listed), ["Accounts"]);
    assert_eq!(deleted, StatusCode::NO_CONTENT);
    assert_eq!(gone, StatusCode::NOT_FOUND);
    assert_eq!(released["queues"], json!([]), "deleting the queue releases its members");
}
