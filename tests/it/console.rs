//! What the agent console needs of the API, on the running local stack through HTTP only
//! (docs/console-api.md): CORS for the console's origin, the refresh token in a cookie,
//! `WWW-Authenticate` on 401 and `Allow` on 405, media through the sandbox Graph API, and the
//! inbox's `all` view with its filters.

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::e2e::base;
use crate::ingest::{digits, eventually, post, TestTenant};

/// The console origin the local stack grants (`LEADLINE_CONSOLE_ORIGIN`, as the stack reads it).
fn console_origin() -> String {
    std::env::var("LEADLINE_CONSOLE_ORIGIN").unwrap_or_else(|_| infra::DEFAULT_CONSOLE_ORIGIN.to_owned())
}

/// A user of `role` in `tenant`, logged in with `cookie_only`: the access token, the
/// `leadline_refresh=...` pair and the user's id.
async fn login(client: &reqwest::Client, tenant: &TestTenant, role: &str) -> (String, String, String) {
    let email = format!("{role}{}@example.com", digits(8));
    let password = "correct horse battery";
    let created: Value = client
        .post(format!("{}/v1/users", base()))
        .bearer_auth(&tenant.api_key)
        .json(&json!({"email": email, "name": "Console User", "role": role, "password": password}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    let tenant_id = tenant.get(client, "/v1/tenant").await["id"].clone();
    let response = client
        .post(format!("{}/v1/auth/login", base()))
        .json(&json!({"tenant_id": tenant_id, "email": email, "password": password, "cookie_only": true}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = refresh_cookie(&response);
    let tokens: Value = response.json().await.expect("JSON");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    (
        tokens["access_token"].as_str().expect("token").to_owned(),
        cookie,
        created["user"]["id"].as_str().expect("id").to_owned(),
    )
}

fn refresh_cookie(response: &reqwest::Response) -> String {
    let header = response.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(
        header.contains("HttpOnly") && header.contains("Secure") && header.contains("SameSite=Strict"),
        "{header}"
    );
    header.split(';').next().expect("pair").to_owned()
}

#[tokio::test]
async fn a_browser_preflight_cookie_refresh_and_error_headers_work_as_the_console_expects() {
    // Arrange
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let (_, cookie, _) = login(&client, &tenant, "agent").await;

    // Act
    let preflight = client
        .request(Method::OPTIONS, format!("{}/v1/inbox", base()))
        .header("origin", console_origin())
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("request");
    let foreign = client
        .request(Method::OPTIONS, format!("{}/v1/inbox", base()))
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .expect("request");
    let refreshed = client
        .post(format!("{}/v1/auth/refresh", base()))
        .header("cookie", &cookie)
        .header("origin", console_origin())
        .send()
        .await
        .expect("request");
    let unauthorized = client.get(format!("{}/v1/inbox", base())).send().await.expect("request");
    let not_allowed = client.delete(format!("{}/v1/inbox", base())).send().await.expect("request");

    // Assert
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers()["access-control-allow-origin"], console_origin().as_str());
    assert_eq!(preflight.headers()["access-control-allow-credentials"], "true");
    assert!(foreign.headers().get("access-control-allow-origin").is_none());
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert_eq!(refreshed.headers()["access-control-allow-origin"], console_origin().as_str());
    assert_ne!(refresh_cookie(&refreshed), cookie, "rotated");
    let tokens: Value = refreshed.json().await.expect("JSON");
    assert!(tokens["access_token"].is_string() && tokens.get("refresh_token").is_none(), "{tokens}");
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert!(unauthorized.headers()["www-authenticate"].to_str().expect("ascii").starts_with("Bearer"));
    assert_eq!(not_allowed.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(not_allowed.headers()["allow"], "GET");
}

#[tokio::test]
async fn media_goes_through_the_api_to_the_sandbox_graph_and_back() {
    // Arrange: a customer's photo held by Graph, as an inbound webhook would name it.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let photo = [&[0xff, 0xd8, 0xff, 0xe0][..], digits(64).as_bytes()].concat();
    let held: Value = client
        .post(format!("{}/_sandbox/media", base()))
        .json(&json!({"phone_number_id": tenant.phone_number_id, "mime_type": "image/jpeg",
            "data_base64": base64::engine::general_purpose::STANDARD.encode(&photo)}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    let inbound_id = held["id"].as_str().expect("id");
    let png = [&b"\x89PNG\r\n\x1a\n"[..], digits(32).as_bytes()].concat();

    // Act
    let downloaded = client
        .get(format!("{}/v1/media/{inbound_id}", base()))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .expect("request");
    let uploaded = client
        .post(format!("{}/v1/media?filename=plan.png", base()))
        .bearer_auth(&tenant.api_key)
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .expect("request");
    let unsupported = client
        .post(format!("{}/v1/media", base()))
        .bearer_auth(&tenant.api_key)
        .header("content-type", "image/gif")
        .body(b"GIF89a".to_vec())
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(downloaded.status(), StatusCode::OK);
    assert_eq!(downloaded.headers()["content-type"], "image/jpeg");
    assert_eq!(downloaded.bytes().await.expect("bytes").as_ref(), photo.as_slice());
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let id = uploaded.json::<Value>().await.expect("JSON")["id"].as_str().expect("id").to_owned();
    let again = client
        .get(format!("{}/v1/media/{id}", base()))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .expect("request");
    assert_eq!(again.bytes().await.expect("bytes").as_ref(), png.as_slice(), "what was uploaded comes back");
    assert_eq!(unsupported.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let outbox = crate::e2e::sandbox_records("/_sandbox/outbox").await;
    assert!(outbox.iter().any(|r| r["method"] == "POST"
        && r["path"].as_str().is_some_and(|p| p.ends_with(&format!("{}/media", tenant.phone_number_id)))));
}

#[tokio::test]
async fn a_manager_lists_every_conversation_by_state_and_assignee() {
    // Arrange: a customer writes; the admin assigns the conversation to an agent.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let (manager, _, _) = login(&client, &tenant, "manager").await;
    let (agent, _, agent_id) = login(&client, &tenant, "agent").await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    assert_eq!(
        post(&client, &tenant.fixture("text").replace("1767225601", &now.to_string())).await,
        StatusCode::OK
    );
    let conversation = eventually("the conversation", || async {
        let listed = tenant.get(&client, &format!("/v1/conversations?phone={}", tenant.wa_id)).await;
        listed["items"][0]["id"].as_str().map(str::to_owned)
    })
    .await;
    let patched = client
        .patch(format!("{}/v1/conversations/{conversation}", base()))
        .bearer_auth(&tenant.api_key)
        .json(&json!({"assignee": agent_id, "state": "open"}))
        .send()
        .await
        .expect("request");
    assert_eq!(patched.status(), StatusCode::OK);
    let list = |token: String, query: &'static str| {
        let client = client.clone();
        async move {
            let response = client
                .get(format!("{}/v1/inbox?{query}", base()))
                .bearer_auth(token)
                .send()
                .await
                .expect("request");
            (response.status(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // Act
    let (_, all) = list(manager.clone(), "view=all").await;
    let (_, open) = list(manager.clone(), "view=all&state=open").await;
    let (_, resolved) = list(manager.clone(), "view=all&state=resolved").await;
    let by_agent = client
        .get(format!("{}/v1/inbox?view=all&assignee={agent_id}", base()))
        .bearer_auth(&manager)
        .send()
        .await
        .expect("request")
        .json::<Value>()
        .await
        .expect("JSON");
    let (agent_all, _) = list(agent.clone(), "view=all").await;
    let (_, mine) = list(agent, "view=mine").await;

    // Assert
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .map(|items| items.iter().filter_map(|i| i["id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    assert_eq!(ids(&all), [conversation.as_str()], "{all}");
    assert_eq!(ids(&open), [conversation.as_str()]);
    assert!(ids(&resolved).is_empty());
    assert_eq!(ids(&by_agent), [conversation.as_str()]);
    assert_eq!(agent_all, StatusCode::FORBIDDEN);
    let item = &mine["items"][0];
    assert_eq!(item["id"], conversation.as_str(), "{mine}");
    assert_eq!(item["contact_name"], "Ana Souza");
    assert_eq!(item["unread_count"], 1);
    assert!(item["waiting_seconds"].is_null());
    assert_eq!(item["window"]["open"], true);
}
