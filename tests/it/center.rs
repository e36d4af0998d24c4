//! The contact center end to end, through the webhook and the API of the running local stack:
//! routing to a queue, round-robin among online agents, the assignee answering with their own
//! token, resolution and reopening, the analytics of it, waiting while nobody is online (and
//! queue depth over time in the analytics), and fifty conversations routed at once to five
//! agents. Each test has its own tenant.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api::{access, call, tenant_of, user};
use crate::ingest::{digits, eventually, post, TestTenant};

/// The fifty-at-once test keeps the local stack's few `api` instances busy for tens of seconds
/// (on AWS each request would get an instance of its own): the other tests of this module,
/// which the harness runs next to it (in name order), wait for it instead of timing out behind
/// its burst.
static BURST: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// A queue of the tenant, made through the API: its id.
pub(crate) async fn queue(admin: &str, name: &str, strategy: &str) -> String {
    let (status, created) =
        call(Method::POST, "/v1/queues", Some(admin), Some(json!({"name": name, "strategy": strategy})))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().expect("queue id").to_owned()
}

/// An agent of `queue`, logged in: their id and access token.
pub(crate) async fn agent(tenant: &TestTenant, email: &str, queue: &str) -> (String, String) {
    let (id, tokens) = user(&tenant.api_key, &tenant_of(&tenant.api_key), email, "agent", &[queue]).await;
    (id, access(&tokens))
}

pub(crate) async fn presence(token: &str, status: &str) {
    let (code, body) =
        call(Method::PUT, "/v1/me/presence", Some(token), Some(json!({"status": status}))).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["presence"], status);
}

/// A customer of the tenant (a new WhatsApp number) writes; the message's webhook fixture with
/// the customer's number and a message id unique to `n`.
/// Sent now: the customer-service window is open.
pub(crate) fn customer_message(tenant: &TestTenant, wa_id: &str, n: u32) -> String {
    tenant
        .fixture("text")
        .replace(&tenant.wa_id, wa_id)
        .replace("0001AA==", &format!("{n:04}AA=="))
        .replace("1767225601", &(now_ms() / 1000).to_string())
}

/// The conversation with `wa_id`, once the inbound pipeline has stored it.
pub(crate) async fn conversation_of(tenant: &TestTenant, wa_id: &str) -> Value {
    eventually("the conversation", || async {
        let (_, page) =
            call(Method::GET, &format!("/v1/conversations?phone={wa_id}"), Some(&tenant.api_key), None).await;
        Some(page["items"][0].clone()).filter(|c| c["id"].is_string())
    })
    .await
}

pub(crate) async fn get_conversation(tenant: &TestTenant, id: &str) -> Value {
    let (status, body) =
        call(Method::GET, &format!("/v1/conversations/{id}"), Some(&tenant.api_key), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub(crate) async fn route(tenant: &TestTenant, conversation: &str, queue: &str) -> Value {
    let (status, body) = call(
        Method::PATCH,
        &format!("/v1/conversations/{conversation}"),
        Some(&tenant.api_key),
        Some(json!({"queue": queue})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub(crate) async fn analytics(tenant: &TestTenant, from: i64, query: &str) -> Value {
    let to = now_ms() + 60_000;
    let (status, body) = call(
        Method::GET,
        &format!("/v1/analytics/conversations?from={from}&to={to}{query}"),
        Some(&tenant.api_key),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub(crate) fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis(),
    )
    .expect("millis")
}

#[tokio::test]
async fn two_customers_go_round_robin_to_two_online_agents_who_answer_resolve_and_get_it_back() {
    let _beside_the_burst = BURST.read().await;
    // Arrange: a queue with two online agents.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let started = now_ms() - 1_000;
    let sales = queue(&tenant.api_key, "Sales", "round_robin").await;
    let (first_id, first) = agent(&tenant, "rr-one@example.com", &sales).await;
    let (second_id, second) = agent(&tenant, "rr-two@example.com", &sales).await;
    presence(&first, "online").await;
    presence(&second, "online").await;
    let customers = [format!("5521{}", digits(9)), format!("5531{}", digits(9))];

    // Act: two new customers write, and each conversation is routed to the queue.
    let mut assignees = Vec::new();
    let mut conversations = Vec::new();
    for wa_id in &customers {
        assert_eq!(post(&client, &customer_message(&tenant, wa_id, 1)).await, StatusCode::OK);
        let conversation = conversation_of(&tenant, wa_id).await;
        let id = conversation["id"].as_str().expect("id").to_owned();
        let routed = route(&tenant, &id, &sales).await;
        assert_eq!(routed["queue"], sales.as_str());
        assignees.push(routed["assignee"].as_str().expect("assigned at once").to_owned());
        conversations.push(id);
    }

    // Assert: one each, in turn.
    assignees.sort();
    let mut agents = vec![first_id.clone(), second_id.clone()];
    agents.sort();
    assert_eq!(assignees, agents, "round-robin gives one conversation to each online agent");

    // Act: the assignee of the first conversation answers with their own token, then resolves.
    let conversation = get_conversation(&tenant, &conversations[0]).await;
    assert_eq!(conversation["state"], "open");
    let assignee = conversation["assignee"].as_str().expect("assignee").to_owned();
    let token = if assignee == first_id { &first } else { &second };
    let sent = client
        .post(format!("{}/v1/messages", crate::e2e::base()))
        .bearer_auth(token)
        .header("idempotency-key", format!("reply-{}", digits(12)))
        .json(&json!({"to": customers[0], "type": "text", "text": {"body": "Olá! Posso ajudar."}}))
        .send()
        .await
        .expect("request");
    assert_eq!(sent.status(), StatusCode::ACCEPTED, "{:?}", sent.text().await);
    let (status, resolved) = call(
        Method::PATCH,
        &format!("/v1/conversations/{}", conversations[0]),
        Some(token),
        Some(json!({"state": "resolved"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["state"], "resolved");

    // Assert: the analytics of the agent show one first response and one resolution.
    let figures = eventually("the analytics", || async {
        let figures = analytics(&tenant, started, &format!("&agent={assignee}")).await;
        (figures["resolved"] == 1 && !figures["first_response_seconds"]["p50"].is_null()).then_some(figures)
    })
    .await;
    let elapsed = (now_ms() - started) as f64 / 1000.0;
    let first_response = figures["first_response_seconds"]["p50"].as_f64().expect("seconds");
    let resolution = figures["resolution_seconds"]["p50"].as_f64().expect("seconds");
    assert!(first_response >= 0.0 && first_response <= elapsed, "{figures}");
    assert!(resolution >= first_response && resolution <= elapsed, "{figures}");
    let tenant_figures = analytics(&tenant, started, "").await;
    assert_eq!(tenant_figures["conversations"], 2, "{tenant_figures}");
    assert_eq!(tenant_figures["resolved"], 1, "{tenant_figures}");

    // Act: the customer writes again.
    assert_eq!(post(&client, &customer_message(&tenant, &customers[0], 2)).await, StatusCode::OK);

    // Assert: reopened, back with the agent who had it (online, with room).
    let reopened = eventually("the reopening", || async {
        let now = get_conversation(&tenant, &conversations[0]).await;
        (now["state"] != "resolved").then_some(now)
    })
    .await;
    assert_eq!(reopened["state"], "open");
    assert_eq!(reopened["assignee"], assignee.as_str());
}

#[tokio::test]
async fn with_nobody_online_a_conversation_waits_and_goes_to_the_first_agent_who_comes_online() {
    let _beside_the_burst = BURST.read().await;
    // Arrange: a queue whose only agent is offline.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let support = queue(&tenant.api_key, "Support", "least_busy").await;
    let (agent_id, token) = agent(&tenant, "waiting@example.com", &support).await;
    assert_eq!(post(&client, &tenant.fixture("text")).await, StatusCode::OK);
    let conversation = conversation_of(&tenant, &tenant.wa_id).await;
    let id = conversation["id"].as_str().expect("id").to_owned();

    // Act: routed while nobody is online.
    let routed = route(&tenant, &id, &support).await;

    // Assert: it waits in the queue, visible to the queue's agent.
    assert_eq!(routed["state"], "queued", "{routed}");
    assert!(routed["assignee"].is_null(), "{routed}");
    let (status, seen) = call(Method::GET, &format!("/v1/conversations/{id}"), Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "the queue's agent sees what waits: {seen}");
    let (_, depth) = call(Method::GET, &format!("/v1/queues/{support}"), Some(&tenant.api_key), None).await;
    assert_eq!(depth["waiting"], 1, "{depth}");
    assert!(depth["oldest_waiting_since"].as_i64().is_some(), "{depth}");

    // Act: the agent comes online.
    presence(&token, "online").await;

    // Assert: assigned to them at once.
    let now = get_conversation(&tenant, &id).await;
    assert_eq!(now["state"], "open", "{now}");
    assert_eq!(now["assignee"], agent_id.as_str());
    let (_, agents) = call(Method::GET, "/v1/agents", Some(&tenant.api_key), None).await;
    let me = agents["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|a| a["user_id"] == agent_id.as_str())
        .cloned();
    assert_eq!(me.expect("listed")["load"], 1, "{agents}");
    let (_, depth) = call(Method::GET, &format!("/v1/queues/{support}"), Some(&tenant.api_key), None).await;
    assert_eq!(depth["waiting"], 0, "{depth}");
}

#[tokio::test]
async fn queue_depth_over_time_shows_two_waiting_then_none_once_an_agent_comes_online() {
    let _beside_the_burst = BURST.read().await;
    // Arrange: a queue whose only agent is offline; two customers write and are routed to it.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let started = now_ms() - 1_000;
    let support = queue(&tenant.api_key, "Support", "least_busy").await;
    let (agent_id, token) = agent(&tenant, "depth@example.com", &support).await;
    let mut conversations = Vec::new();
    for (n, wa_id) in (1..).zip([format!("5541{}", digits(9)), format!("5551{}", digits(9))]) {
        assert_eq!(post(&client, &customer_message(&tenant, &wa_id, n)).await, StatusCode::OK);
        let id = conversation_of(&tenant, &wa_id).await["id"].as_str().expect("id").to_owned();
        assert_eq!(route(&tenant, &id, &support).await["state"], "queued");
        conversations.push(id);
    }
    let in_queue = format!("&queue={support}");

    // Act
    let waiting = analytics(&tenant, started, &in_queue).await;

    // Assert: two wait now, none did at the start.
    let line = &waiting["waiting_line"];
    assert_eq!((line["depth_at_from"].as_i64(), line["depth_at_to"].as_i64()), (Some(0), Some(2)), "{line}");
    assert_eq!(line["entered"], 2, "{line}");
    assert_eq!(line["by_hour"].as_array().and_then(|h| h.last()).map(|h| h["depth"].clone()), Some(json!(2)));
    assert!(line["wait_seconds"]["max"].is_null(), "nobody left yet: {line}");

    // Act: the agent comes online and is given both.
    presence(&token, "online").await;

    // Assert: both with the agent, the line empty, and the time they waited counted.
    for id in &conversations {
        assert_eq!(get_conversation(&tenant, id).await["assignee"], agent_id.as_str());
    }
    for query in [in_queue.as_str(), ""] {
        let after = eventually("the depth back to zero", || async {
            let figures = analytics(&tenant, started, query).await;
            (figures["waiting_line"]["left"] == 2).then_some(figures)
        })
        .await;
        let line = &after["waiting_line"];
        assert_eq!((line["depth_at_to"].as_i64(), line["entered"].as_u64()), (Some(0), Some(2)), "{line}");
        let last_hour = line["by_hour"].as_array().and_then(|h| h.last()).cloned().expect("hours");
        assert_eq!((last_hour["depth"].as_i64(), last_hour["left"].as_u64()), (Some(0), Some(2)), "{line}");
        let longest = line["wait_seconds"]["max"].as_f64().expect("waits of those that left");
        assert!(longest > 0.0 && longest <= (now_ms() - started) as f64 / 1000.0, "{line}");
        assert!(line["wait_seconds"]["p50"].as_f64().is_some_and(|p| p > 0.0), "{line}");
    }
    let theirs = analytics(&tenant, started, &format!("&agent={agent_id}")).await;
    assert!(theirs["waiting_line"].is_null(), "an agent has no waiting line: {theirs}");
}

#[tokio::test]
async fn logging_out_sets_an_agent_offline_and_the_next_waiting_conversation_can_be_taken() {
    let _beside_the_burst = BURST.read().await;
    // Arrange: an online agent of a queue where a conversation waits for someone to take it.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let queue_id = queue(&tenant.api_key, "Front desk", "round_robin").await;
    let (agent_id, tokens) =
        user(&tenant.api_key, &tenant_of(&tenant.api_key), "front@example.com", "agent", &[&queue_id]).await;
    let token = access(&tokens);
    assert_eq!(post(&client, &tenant.fixture("text")).await, StatusCode::OK);
    let id = conversation_of(&tenant, &tenant.wa_id).await["id"].as_str().expect("id").to_owned();
    route(&tenant, &id, &queue_id).await;

    // Act: the agent takes the next waiting conversation, then logs out.
    let (status, taken) = call(Method::POST, "/v1/me/conversations/next", Some(&token), None).await;
    let (_, nothing_left) = call(Method::POST, "/v1/me/conversations/next", Some(&token), None).await;
    presence(&token, "online").await;
    let (logout, _) = call(
        Method::POST,
        "/v1/auth/logout",
        None,
        Some(json!({"refresh_token": crate::api::refresh_token(&tokens)})),
    )
    .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{taken}");
    assert_eq!(taken["id"], id.as_str());
    assert_eq!(taken["assignee"], agent_id.as_str());
    assert!(nothing_left.is_null(), "204 when nothing waits: {nothing_left}");
    assert_eq!(logout, StatusCode::NO_CONTENT);
    let (_, agents) = call(Method::GET, "/v1/agents", Some(&tenant.api_key), None).await;
    let row = agents["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|a| a["user_id"] == agent_id.as_str())
        .cloned();
    assert_eq!(row.expect("listed")["presence"], "offline", "{agents}");
}

#[tokio::test]
async fn fifty_conversations_routed_at_once_to_five_agents_of_capacity_ten_fill_each_agent_exactly() {
    let _alone = BURST.write().await;
    // Arrange: five online agents of capacity 10, fifty customers with a conversation each.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let queue_id = queue(&tenant.api_key, "Rush", "least_busy").await;
    let mut agents = Vec::new();
    for n in 0..5 {
        let (id, token) = agent(&tenant, &format!("rush-{n}@example.com"), &queue_id).await;
        let (status, body) = call(
            Method::PUT,
            &format!("/v1/agents/{id}/capacity"),
            Some(&tenant.api_key),
            Some(json!({"capacity": 10})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        presence(&token, "online").await;
        agents.push(id);
    }
    let customers: Vec<String> = (0..50).map(|n| format!("55{n:02}{}", digits(9))).collect();
    for batch in customers.chunks(10) {
        let posts = join_all(batch.iter().map(|wa_id| {
            let client = client.clone();
            let body = customer_message(&tenant, wa_id, 1);
            async move { post(&client, &body).await }
        }))
        .await;
        assert!(posts.iter().all(|s| *s == StatusCode::OK), "{posts:?}");
    }
    let mut conversations = Vec::new();
    for wa_id in &customers {
        conversations.push(conversation_of(&tenant, wa_id).await["id"].as_str().expect("id").to_owned());
    }

    // Act: all fifty routed at once.
    // (The local gateway answers 503 when its few `api` instances stay busy past the 30 s
    // timeout, as API Gateway does at its limit: a client tries again, and routing to the queue a
    // conversation is already in changes nothing.)
    let routed = join_all(conversations.iter().map(|id| {
        let (path, key, body) =
            (format!("/v1/conversations/{id}"), tenant.api_key.clone(), json!({"queue": queue_id}));
        async move {
            let mut answer = call(Method::PATCH, &path, Some(&key), Some(body.clone())).await;
            for _ in 0..3 {
                if answer.0 != StatusCode::SERVICE_UNAVAILABLE {
                    break;
                }
                answer = call(Method::PATCH, &path, Some(&key), Some(body.clone())).await;
            }
            answer
        }
    }))
    .await;

    // Assert: every routing answered; every conversation has exactly one agent; nobody is over
    // capacity, and each agent's load is what they hold.
    assert!(routed.iter().all(|(status, _)| *status == StatusCode::OK), "{routed:?}");
    let mut held = std::collections::BTreeMap::<String, u32>::new();
    for id in &conversations {
        let now = get_conversation(&tenant, id).await;
        assert_eq!(now["state"], "open", "every conversation assigned: {now}");
        *held.entry(now["assignee"].as_str().expect("assignee").to_owned()).or_default() += 1;
    }
    assert_eq!(held.len(), 5, "{held:?}");
    assert!(held.values().all(|n| *n == 10), "each agent holds exactly its capacity: {held:?}");
    let (_, listed) = call(Method::GET, "/v1/agents", Some(&tenant.api_key), None).await;
    for agent in &agents {
        let row = listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|a| a["user_id"] == agent.as_str())
            .cloned();
        assert_eq!(row.expect("listed")["load"], 10, "{listed}");
    }
}
