//! `GET /v1/analytics/conversations` (P42): validation, roles, and the numbers.

use shared::domain::center::analytics::{DAY_MS, HOUR_MS};
use shared::domain::center::{CenterEvent, EventKind, EventLog as _};
use shared::domain::{ConversationId, QueueId, UserId};

use super::*;

const PASSWORD: &str = "correct horse battery";

/// A midnight shortly before the test clock's now (1_800_000_000 s).
const T0: i64 = 1_800_000_000_000 - 1_800_000_000_000 % DAY_MS - 2 * DAY_MS;

/// A user of `role`, logged in: their access token.
async fn token(deps: &TestDeps, tenant: &str, admin: &str, role: &str) -> String {
    let email = format!("{role}@example.com");
    let body = serde_json::json!({"email": email, "name": "Someone", "role": role, "password": PASSWORD});
    let created = handle(request("POST", "/v1/users", Some(admin), &body.to_string()), deps).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", json(&created));
    let login = serde_json::json!({"tenant_id": tenant, "email": email, "password": PASSWORD});
    let tokens = handle(request("POST", "/v1/auth/login", None, &login.to_string()), deps).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", json(&tokens));
    json(&tokens)["access_token"].as_str().expect("access token").to_owned()
}

fn event(kind: EventKind, n: u32, at: i64, duration_ms: Option<i64>) -> CenterEvent {
    CenterEvent {
        id: format!("cnv_{n}:{kind:?}:{at}"),
        kind,
        conversation_id: Some(ConversationId::parse(format!("cnv_{n}")).expect("valid")),
        at,
        queue: Some(QueueId::parse("Support").expect("valid")),
        agent: None,
        duration_ms,
        target_ms: None,
        by_system: false,
    }
}

/// `GET /v1/analytics/conversations` with `query` (`a=1&b=2`, values as they are).
async fn analytics(deps: &TestDeps, key: &str, query: &str) -> Response<Body> {
    let pairs: Vec<(&str, &str)> = query.split('&').filter_map(|pair| pair.split_once('=')).collect();
    handle(get("/v1/analytics/conversations", &pairs, key), deps).await
}

#[tokio::test]
async fn the_figures_come_from_the_recorded_events() {
    // Arrange: two conversations one day, one resolved; one reopened the next day.
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let tenant_id = TenantId::parse(tenant.as_str()).expect("valid");
    let ann = UserId::parse("usr_ann").expect("valid");
    let mut first = event(EventKind::FirstReply, 1, T0 + HOUR_MS + 90_000, Some(90_000));
    first.agent = Some(ann.clone());
    first.target_ms = Some(60_000);
    let mut assigned = event(EventKind::Assigned, 1, T0 + HOUR_MS + 30_000, Some(30_000));
    assigned.agent = Some(ann.clone());
    let events = [
        event(EventKind::Opened, 1, T0 + HOUR_MS, None),
        event(EventKind::Received, 1, T0 + HOUR_MS, None),
        assigned,
        first,
        event(EventKind::Resolved, 1, T0 + 2 * HOUR_MS, Some(HOUR_MS)),
        event(EventKind::Opened, 2, T0 + 3 * HOUR_MS, None),
        event(EventKind::Reopened, 1, T0 + DAY_MS + 5, None),
        event(EventKind::Received, 1, T0 + DAY_MS + 5, None),
    ];
    for e in &events {
        deps.events.record(&tenant_id, e).await.expect("recorded");
    }
    let range = format!("from={}&to={}", T0 + 10, T0 + 2 * DAY_MS - 10);

    // Act
    let all = analytics(&deps, &admin, &range).await;
    let theirs = analytics(&deps, &admin, &format!("{range}&agent=usr_ann")).await;
    let queue = analytics(&deps, &admin, &format!("{range}&queue=Support")).await;
    let other_queue = analytics(&deps, &admin, &format!("{range}&queue=Sales")).await;

    // Assert
    assert_eq!(all.status(), StatusCode::OK, "{}", json(&all));
    let body = json(&all);
    assert_eq!(body["from"], T0, "widened to the hour");
    assert_eq!(body["to"], T0 + 2 * DAY_MS);
    assert_eq!(body["conversations"], 3);
    assert_eq!(body["resolved"], 1);
    assert_eq!(body["first_response_seconds"], serde_json::json!({"p50": 90.0, "p90": 90.0}));
    assert_eq!(body["resolution_seconds"], serde_json::json!({"p50": 3600.0, "p90": 3600.0}));
    assert_eq!(body["waiting_seconds"], serde_json::json!({"p50": 30.0, "p90": 30.0}));
    assert_eq!(body["sla_breaches"], 1);
    assert_eq!(body["messages_received"], 2);
    assert_eq!(body["agent_replies"], 0);
    assert_eq!(body["by_hour"].as_array().map(Vec::len), Some(48));
    assert_eq!(
        body["by_hour"][1],
        serde_json::json!({"hour": T0 + HOUR_MS, "conversations": 1, "resolved": 0,
        "messages_received": 1, "agent_replies": 0})
    );
    assert_eq!(
        body["by_day"],
        serde_json::json!([
        {"day": T0, "conversations": 2, "resolved": 1, "messages_received": 1, "agent_replies": 0},
        {"day": T0 + DAY_MS, "conversations": 1, "resolved": 0, "messages_received": 1, "agent_replies": 0}])
    );
    let theirs = json(&theirs);
    assert_eq!(theirs["conversations"], 1, "assigned to them");
    assert_eq!(theirs["resolution_seconds"], serde_json::json!({"p50": null, "p90": null}));
    assert_eq!(json(&queue)["messages_received"], 2);
    assert_eq!(json(&other_queue)["messages_received"], 0);
}

#[tokio::test]
async fn queue_depth_over_time_starts_from_the_depth_before_the_range() {
    // Arrange: one waits in Support since the day before; a second enters in the range's first
    // hour; the first leaves in its third hour after 1 day and 2 hours.
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let tenant_id = TenantId::parse(tenant.as_str()).expect("valid");
    let left = event(EventKind::Dequeued, 1, T0 + 2 * HOUR_MS, Some(DAY_MS + 2 * HOUR_MS));
    for e in [event(EventKind::Queued, 1, T0 - DAY_MS, None), event(EventKind::Queued, 2, T0 + 5, None), left]
    {
        deps.events.record(&tenant_id, &e).await.expect("recorded");
    }
    let range = format!("from={T0}&to={}", T0 + 4 * HOUR_MS);

    // Act
    let all = json(&analytics(&deps, &admin, &range).await);
    let support = json(&analytics(&deps, &admin, &format!("{range}&queue=Support")).await);
    let sales = json(&analytics(&deps, &admin, &format!("{range}&queue=Sales")).await);
    let theirs = json(&analytics(&deps, &admin, &format!("{range}&agent=usr_ann")).await);

    // Assert
    let line = &all["waiting_line"];
    assert_eq!((line["depth_at_from"].as_i64(), line["depth_at_to"].as_i64()), (Some(1), Some(1)), "{line}");
    let depths: Vec<_> =
        line["by_hour"].as_array().expect("hours").iter().map(|h| h["depth"].clone()).collect();
    assert_eq!(depths, [2, 2, 1, 1]);
    assert_eq!(
        (line["entered"].as_u64(), line["left"].as_u64(), line["max_depth"].as_i64()),
        (Some(1), Some(1), Some(2))
    );
    assert_eq!(
        line["wait_seconds"],
        serde_json::json!({"p50": 93_600.0, "p90": 93_600.0, "avg": 93_600.0, "max": 93_600.0})
    );
    assert_eq!(line["by_day"][0]["depth"], 1);
    assert_eq!(support["waiting_line"], all["waiting_line"], "every line is Support's");
    assert_eq!(sales["waiting_line"]["depth_at_to"], 0);
    assert!(theirs["waiting_line"].is_null(), "{theirs}");
}

#[tokio::test]
async fn bad_ranges_and_ids_are_refused_with_a_reason() {
    let deps = deps();
    let (_, admin) = new_tenant(&deps).await;
    for query in [
        String::new(),
        format!("from={T0}"),
        format!("to={T0}"),
        format!("from=soon&to={T0}"),
        format!("from={T0}&to={T0}"),
        format!("from={}&to={T0}", T0 + 1),
        format!("from={T0}&to={}", T0 + 92 * DAY_MS + 1),
        format!("from=-5&to={T0}"),
        format!("from={T0}&to={}&agent=bad#id", T0 + DAY_MS),
        format!("from={T0}&to={}&queue= ", T0 + DAY_MS),
    ] {
        let response = analytics(&deps, &admin, &query).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        assert!(json(&response)["detail"].as_str().is_some_and(|d| !d.is_empty()), "{query}");
    }
    let ok = analytics(&deps, &admin, &format!("from={T0}&to={}", T0 + 92 * DAY_MS)).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(json(&ok)["first_response_seconds"], serde_json::json!({"p50": null, "p90": null}));
}

#[tokio::test]
async fn managers_and_admins_read_analytics_agents_do_not() {
    let deps = deps();
    let (tenant, admin) = new_tenant(&deps).await;
    let agent = token(&deps, &tenant, &admin, "agent").await;
    let manager = token(&deps, &tenant, &admin, "manager").await;
    let query = format!("from={T0}&to={}", T0 + DAY_MS);

    let as_agent = analytics(&deps, &agent, &query).await;
    let as_manager = analytics(&deps, &manager, &query).await;
    let anonymous = handle(request("GET", "/v1/analytics/conversations", None, ""), &deps).await;

    assert_eq!(as_agent.status(), StatusCode::FORBIDDEN);
    assert_eq!(as_manager.status(), StatusCode::OK, "{}", json(&as_manager));
    assert_eq!(json(&as_manager)["conversations"], 0);
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
