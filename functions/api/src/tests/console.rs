//! What the agent console needs of the API (docs/console-api.md): CORS for its origin, the
//! refresh token in a cookie, `WWW-Authenticate` and `Allow`, media, and the inbox's views.

use lambda_http::http::header::SET_COOKIE;
use serde_json::json;
use shared::domain::ports::MediaFile;

use super::agent_tools::{customer_writes, patch_conversation, user};
use super::*;

const CONSOLE: &str = "https://console.example";

fn from_console(mut request: Request, origin: &str) -> Request {
    request.headers_mut().insert("origin", origin.parse().expect("header"));
    request
}

fn with_cookie(mut request: Request, cookie: &str) -> Request {
    request.headers_mut().insert("cookie", cookie.parse().expect("header"));
    request
}

/// The `leadline_refresh=<value>` of a response's `Set-Cookie`.
fn set_cookie(response: &Response<Body>) -> String {
    let header = response.headers()[SET_COOKIE].to_str().expect("ascii").to_owned();
    header.split(';').next().expect("pair").to_owned()
}

#[tokio::test]
async fn a_preflight_from_the_console_is_granted_with_credentials_and_no_other_origin_is() {
    // Arrange
    let mut deps = deps();
    deps.config.console_origin = Some(CONSOLE.to_owned());

    // Act
    let granted = handle(from_console(request("OPTIONS", "/v1/inbox", None, ""), CONSOLE), &deps).await;
    let other =
        handle(from_console(request("OPTIONS", "/v1/inbox", None, ""), "https://evil.example"), &deps).await;
    let unknown = handle(from_console(request("OPTIONS", "/v1/nothing", None, ""), CONSOLE), &deps).await;
    let simple = handle(from_console(request("GET", "/v1/openapi.json", None, ""), CONSOLE), &deps).await;

    // Assert
    assert_eq!(granted.status(), StatusCode::NO_CONTENT);
    assert_eq!(granted.headers()["access-control-allow-origin"], CONSOLE);
    assert_eq!(granted.headers()["access-control-allow-credentials"], "true");
    assert_eq!(granted.headers()["access-control-allow-methods"], "GET");
    assert!(granted.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    assert_eq!(other.status(), StatusCode::NO_CONTENT);
    assert!(other.headers().get("access-control-allow-origin").is_none());
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(simple.headers()["access-control-allow-origin"], CONSOLE);
}

#[tokio::test]
async fn every_401_challenges_and_every_405_says_what_is_allowed() {
    let deps = deps();
    let none = handle(request("GET", "/v1/inbox", None, ""), &deps).await;
    let wrong = handle(request("GET", "/v1/inbox", Some("llk.tn_x.key.secret"), ""), &deps).await;
    let not_allowed = handle(request("PUT", "/v1/conversations/cv_1", None, ""), &deps).await;

    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers()["www-authenticate"], r#"Bearer realm="leadline""#);
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.headers()["www-authenticate"], r#"Bearer realm="leadline", error="invalid_token""#);
    assert_eq!(not_allowed.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(not_allowed.headers()["allow"], "GET, PATCH");
}

#[tokio::test]
async fn the_refresh_cookie_refreshes_rotates_and_logs_out() {
    // Arrange: an agent logs in as the console does.
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    user(&deps, &tenant, &admin, ("ana@example.com", "Ana", "agent"), &[]).await;
    let login = json!({"tenant_id": tenant, "email": "ana@example.com", "password": "correct horse battery", "cookie_only": true});
    let logged_in = handle(request("POST", "/v1/auth/login", None, &login.to_string()), &deps).await;
    let first = set_cookie(&logged_in);

    // Act
    let refreshed = handle(with_cookie(request("POST", "/v1/auth/refresh", None, ""), &first), &deps).await;
    let second = set_cookie(&refreshed);
    let reused = handle(with_cookie(request("POST", "/v1/auth/refresh", None, ""), &first), &deps).await;
    let after_reuse =
        handle(with_cookie(request("POST", "/v1/auth/refresh", None, ""), &second), &deps).await;
    let logout = handle(with_cookie(request("POST", "/v1/auth/logout", None, ""), &second), &deps).await;

    // Assert
    assert_eq!(logged_in.status(), StatusCode::OK);
    assert!(json(&logged_in).get("refresh_token").is_none(), "cookie_only keeps it out of the body");
    let attributes = logged_in.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/v1/auth"] {
        assert!(attributes.contains(part), "{attributes}");
    }
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert!(json(&refreshed)["access_token"].is_string());
    assert!(json(&refreshed).get("refresh_token").is_none());
    assert_ne!(first, second, "rotated");
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);
    assert!(reused.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"), "cleared");
    assert_eq!(after_reuse.status(), StatusCode::UNAUTHORIZED, "reuse revoked the session");
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert!(logout.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn a_script_login_still_gets_the_refresh_token_in_the_body_and_the_body_wins() {
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    user(&deps, &tenant, &admin, ("bo@example.com", "Bo", "agent"), &[]).await;
    let login = json!({"tenant_id": tenant, "email": "bo@example.com", "password": "correct horse battery"});
    let logged_in = handle(request("POST", "/v1/auth/login", None, &login.to_string()), &deps).await;
    let token = json(&logged_in)["refresh_token"].as_str().expect("in the body").to_owned();

    let body = json!({"refresh_token": token}).to_string();
    let refreshed =
        handle(with_cookie(request("POST", "/v1/auth/refresh", None, &body), "leadline_refresh=junk"), &deps)
            .await;

    assert_eq!(refreshed.status(), StatusCode::OK);
    assert!(json(&refreshed)["refresh_token"].is_string());
}

#[tokio::test]
async fn media_is_uploaded_by_type_and_size_and_downloaded_with_its_type() {
    // Arrange
    let deps = deps();
    let (_, admin) = new_tenant(&deps).await;
    assert_eq!(
        handle(request("PUT", "/v1/whatsapp", Some(&admin), CONNECT), &deps).await.status(),
        StatusCode::OK
    );
    deps.cloud
        .add_media("1234567890", MediaFile { mime_type: "image/jpeg".into(), bytes: vec![0xff, 0xd8, 1, 2] });
    let upload = |mime: &str, bytes: Vec<u8>| {
        let mut r = request("POST", "/v1/media", Some(&admin), "");
        *r.body_mut() = Body::Binary(bytes);
        r.headers_mut().insert("content-type", mime.parse().expect("header"));
        r
    };

    // Act
    let downloaded = handle(request("GET", "/v1/media/1234567890", Some(&admin), ""), &deps).await;
    let unknown = handle(request("GET", "/v1/media/999", Some(&admin), ""), &deps).await;
    let uploaded = handle(upload("image/png", b"\x89PNG....".to_vec()), &deps).await;
    let gif = handle(upload("image/gif", b"GIF89a".to_vec()), &deps).await;
    let big_sticker = handle(upload("image/webp", vec![0; 600 * 1024]), &deps).await;
    let too_big = handle(upload("application/pdf", vec![0; 5 * 1024 * 1024]), &deps).await;
    deps.cloud.fail_next(131_053);
    let refused = handle(upload("image/png", b"not a png".to_vec()), &deps).await;

    // Assert
    assert_eq!(downloaded.status(), StatusCode::OK);
    assert_eq!(downloaded.headers()["content-type"], "image/jpeg");
    assert_eq!(downloaded.body().as_ref(), &[0xff, 0xd8, 1, 2]);
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(uploaded.status(), StatusCode::CREATED, "{}", json(&uploaded));
    let id = json(&uploaded)["id"].as_str().expect("id").to_owned();
    assert_eq!(json(&uploaded)["kind"], "image");
    assert_eq!(deps.cloud.media(&id).map(|m| m.bytes), Some(b"\x89PNG....".to_vec()));
    assert_eq!(gif.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(gif.headers()["content-type"], "application/problem+json");
    assert_eq!(big_sticker.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_inbox_views_filter_and_all_is_for_managers() {
    // Arrange: two conversations, one assigned to the agent.
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let (agent, agent_id) = user(&deps, &tenant, &admin, ("cy@example.com", "Cy", "agent"), &[]).await;
    let (manager, _) = user(&deps, &tenant, &admin, ("di@example.com", "Di", "manager"), &[]).await;
    let (_, first) = customer_writes(&deps, &tenant, "+5511999990001", Some("Eva")).await;
    let (_, second) = customer_writes(&deps, &tenant, "+5511999990002", None).await;
    patch_conversation(&deps, &admin, &first, json!({"assignee": agent_id})).await;
    patch_conversation(&deps, &admin, &second, json!({"state": "resolved"})).await;

    // Act
    let all = handle(get("/v1/inbox", &[("view", "all")], &manager), &deps).await;
    let resolved = handle(get("/v1/inbox", &[("view", "all"), ("state", "resolved")], &manager), &deps).await;
    let by_assignee =
        handle(get("/v1/inbox", &[("view", "all"), ("assignee", &agent_id)], &manager), &deps).await;
    let agent_all = handle(get("/v1/inbox", &[("view", "all")], &agent), &deps).await;
    let mine = handle(get("/v1/inbox", &[("view", "mine")], &agent), &deps).await;
    let later =
        handle(get("/v1/inbox", &[("view", "all"), ("updated_since", "99999999999999")], &manager), &deps)
            .await;

    // Assert
    let ids = |r: &Response<Body>| -> Vec<String> {
        json(r)["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_str().expect("id").to_owned())
            .collect()
    };
    assert_eq!(ids(&all).len(), 2);
    assert_eq!(ids(&resolved), vec![second.to_string()]);
    assert_eq!(ids(&by_assignee), vec![first.to_string()]);
    assert_eq!(agent_all.status(), StatusCode::FORBIDDEN);
    assert_eq!(ids(&mine), vec![first.to_string()]);
    let item = &json(&mine)["items"][0];
    assert_eq!(item["contact_name"], "Eva");
    assert_eq!(item["unread_count"], 1);
    assert!(item["waiting_seconds"].is_null(), "assigned, not waiting");
    assert_eq!(item["last_message"]["direction"], "inbound");
    assert!(item["window"]["open"].as_bool().expect("window"));
    assert!(ids(&later).is_empty());
}
