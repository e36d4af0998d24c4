//! Chatbot flows end to end (P40, P04, P63), through the webhook and the API of the running local
//! stack: the demo's welcome flow answers a new customer with its menu; a customer picks by
//! button or by typing, answers the email question wrongly then rightly, and ends routed and
//! assigned to an online agent; an out-of-hours greeting; an agent writing mid-flow stops the
//! bot; a restricted contact gets nothing; an invalid flow is refused with every problem named;
//! the simulation matches what the live run sent; a wait step times out with no customer message
//! (the timers job run ahead of the clock); an answer stored in a lead field shows on the
//! contact's lead. Each test but the demo's has its own tenant.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api::{access, call, tenant_of, user};
use crate::e2e::{demo, sandbox_records};
use crate::ingest::{digits, eventually, post, TestTenant};

/// A tenant open at every hour with the queues `Sales` and `Support`, one online agent working
/// both, and the welcome flow published with those queues.
struct Center {
    tenant: TestTenant,
    sales: String,
    support: String,
    agent: String,
    flow: String,
}

async fn api(credential: &str, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = call(method.clone(), path, Some(credential), body).await;
    assert!(status.is_success(), "{method} {path}: {status} {answer}");
    answer
}

async fn set_hours(tenant: &TestTenant, hours: Value) {
    let current = api(&tenant.api_key, Method::GET, "/v1/tenant", None).await;
    let mut settings = current["settings"].clone();
    settings["business_hours"] = hours;
    api(&tenant.api_key, Method::PATCH, "/v1/tenant", Some(json!({"settings": settings}))).await;
}

fn always() -> Value {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    Value::Array(days.iter().map(|d| json!({"day": d, "open": "00:00", "close": "24:00"})).collect())
}

/// Creates and publishes `definition`: the flow's id.
async fn publish(tenant: &TestTenant, definition: &Value) -> String {
    let created = api(&tenant.api_key, Method::POST, "/v1/flows", Some(definition.clone())).await;
    let id = created["id"].as_str().expect("flow id").to_owned();
    let live = api(&tenant.api_key, Method::POST, &format!("/v1/flows/{id}/publish"), Some(json!({}))).await;
    assert_eq!(live["live_version"], 1, "{live}");
    id
}

async fn center(client: &reqwest::Client) -> Center {
    let tenant = TestTenant::new(client).await;
    set_hours(&tenant, always()).await;
    let mut ids = Vec::new();
    for name in ["Sales", "Support"] {
        let queue = api(&tenant.api_key, Method::POST, "/v1/queues", Some(json!({"name": name}))).await;
        ids.push(queue["id"].as_str().expect("queue id").to_owned());
    }
    let email = format!("agent{}@flows.test", digits(8));
    let (agent, tokens) =
        user(&tenant.api_key, &tenant_of(&tenant.api_key), &email, "agent", &[&ids[0], &ids[1]]).await;
    let agent_token = access(&tokens);
    api(&agent_token, Method::PUT, "/v1/me/presence", Some(json!({"status": "online"}))).await;
    let welcome = shared::domain::flows::welcome_flow(&ids[0], &ids[1]).expect("welcome flow");
    let flow = publish(&tenant, &serde_json::to_value(&welcome).expect("JSON")).await;
    let [sales, support] = [ids[0].clone(), ids[1].clone()];
    Center { tenant, sales, support, agent, flow }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

/// The customer `wa_id` sends a text (message number `n`, unique per customer).
async fn say(client: &reqwest::Client, tenant: &TestTenant, wa_id: &str, n: u32, text: &str) {
    let body = tenant
        .fixture("text")
        .replace(&tenant.wa_id, wa_id)
        .replace("0001AA==", &format!("{n:04}AA=="))
        .replace("1767225601", &now_secs().to_string())
        .replace("Olá, quero saber o preço do plano anual", text);
    assert_eq!(post(client, &body).await, StatusCode::OK);
}

/// The customer taps the reply button `id` titled `title`.
async fn tap(client: &reqwest::Client, tenant: &TestTenant, wa_id: &str, n: u32, (id, title): (&str, &str)) {
    let body = tenant
        .fixture("interactive_button_reply")
        .replace(&tenant.wa_id, wa_id)
        .replace("0009AA==", &format!("{n:04}AA=="))
        .replace("1767225609", &now_secs().to_string())
        .replace("talk_to_agent", id)
        .replace("Falar com atendente", title);
    assert_eq!(post(client, &body).await, StatusCode::OK);
}

/// What the sandbox Graph received for `wa_id`, oldest first.
async fn sent_to(wa_id: &str) -> Vec<Value> {
    sandbox_records("/_sandbox/outbox")
        .await
        .into_iter()
        .filter(|r| r["body"]["to"] == wa_id && r["body"]["status"].is_null())
        .map(|r| r["body"].clone())
        .collect()
}

/// Waits until `wa_id` got `count` messages; returns them.
async fn received(wa_id: &str, count: usize) -> Vec<Value> {
    eventually(&format!("{count} bot message(s) to the customer"), || async {
        let sent = sent_to(wa_id).await;
        (sent.len() >= count).then_some(sent)
    })
    .await
}

fn text_of(message: &Value) -> String {
    message["text"]["body"]
        .as_str()
        .or(message["interactive"]["body"]["text"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn option_titles(message: &Value) -> Vec<String> {
    let buttons = message["interactive"]["action"]["buttons"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Value> = message["interactive"]["action"]["sections"]
        .as_array()
        .map(|s| s.iter().flat_map(|s| s["rows"].as_array().cloned().unwrap_or_default()).collect())
        .unwrap_or_default();
    buttons
        .iter()
        .filter_map(|b| b["reply"]["title"].as_str())
        .chain(rows.iter().filter_map(|r| r["title"].as_str()))
        .map(str::to_owned)
        .collect()
}

async fn conversation(tenant: &TestTenant, wa_id: &str) -> Value {
    eventually("the conversation", || async {
        let (_, page) =
            call(Method::GET, &format!("/v1/conversations?phone={wa_id}"), Some(&tenant.api_key), None).await;
        let id = page["items"][0]["id"].as_str()?.to_owned();
        let (_, one) =
            call(Method::GET, &format!("/v1/conversations/{id}"), Some(&tenant.api_key), None).await;
        Some(one)
    })
    .await
}

/// Waits until the conversation with `wa_id` satisfies `check`.
async fn conversation_where(
    tenant: &TestTenant,
    wa_id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    eventually(what, || async {
        let current = conversation(tenant, wa_id).await;
        check(&current).then_some(current)
    })
    .await
}

/// Gives the pipeline time to (not) act: the customer's later message is stored, and whatever
/// the bot would have sent for it would be in the sandbox by then.
async fn settled(client: &reqwest::Client, tenant: &TestTenant, wa_id: &str, messages: usize) {
    eventually("the customer's messages stored", || async {
        let stored = tenant.messages(client, wa_id).await;
        (stored.iter().filter(|m| m["direction"] == "inbound").count() >= messages).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
}

#[tokio::test]
async fn the_demo_welcome_flow_answers_a_new_customer_with_the_menu() {
    // Arrange: the demo tenant, a customer nobody has seen.
    let client = crate::support::http();
    let demo = demo();
    let tenant = TestTenant {
        api_key: demo["api_key"].as_str().expect("key").to_owned(),
        phone_number_id: demo["phone_number_id"].as_str().expect("number").to_owned(),
        page_id: demo["page_id"].as_str().expect("page").to_owned(),
        wa_id: format!("5521{}", digits(9)),
    };

    // Act
    let (status, flows) = call(Method::GET, "/v1/flows", Some(&tenant.api_key), None).await;
    say(&client, &tenant, &tenant.wa_id.clone(), 1, "Oi").await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{flows}");
    let live: Vec<&Value> =
        flows["items"].as_array().expect("items").iter().filter(|f| f["live_version"].is_u64()).collect();
    assert!(!live.is_empty(), "a published flow: {flows}");
    let menu = received(&tenant.wa_id, 1).await;
    assert_eq!(menu[0]["type"], "interactive", "{}", menu[0]);
    assert_eq!(option_titles(&menu[0]), ["Sales", "Support"]);
}

#[tokio::test]
async fn sales_by_button_then_a_wrong_and_a_right_email_ends_routed_and_assigned() {
    // Arrange
    let client = crate::support::http();
    let setup = center(&client).await;
    let (tenant, wa_id) = (&setup.tenant, format!("5531{}", digits(9)));

    // Act: hello, the Sales button, a wrong email, a right one.
    say(&client, tenant, &wa_id, 1, "Hello").await;
    let menu = received(&wa_id, 1).await;
    tap(&client, tenant, &wa_id, 2, ("sales", "Sales")).await;
    let question = received(&wa_id, 2).await;
    say(&client, tenant, &wa_id, 3, "not an email").await;
    let again = received(&wa_id, 3).await;
    say(&client, tenant, &wa_id, 4, "Ana.Souza@Example.com").await;

    // Assert: the menu, the question, the re-ask; the email stored; routed to Sales and assigned.
    assert_eq!(option_titles(&menu[0]), ["Sales", "Support"]);
    assert!(text_of(&question[1]).contains("email"), "{}", question[1]);
    assert!(text_of(&again[2]).contains("not a valid email"), "{}", again[2]);
    let routed = conversation_where(tenant, &wa_id, "routed to Sales and assigned", |c| {
        c["queue"] == setup.sales.as_str() && c["assignee"] == setup.agent.as_str()
    })
    .await;
    assert_eq!(routed["state"], "open", "{routed}");
    let contact = eventually("the contact's email", || async {
        let contact = TestTenant { wa_id: wa_id.clone(), ..clone_tenant(tenant) }.contact(&client).await?;
        contact["email"].is_string().then_some(contact)
    })
    .await;
    assert_eq!(contact["email"], "ana.souza@example.com");
}

fn clone_tenant(tenant: &TestTenant) -> TestTenant {
    TestTenant {
        api_key: tenant.api_key.clone(),
        phone_number_id: tenant.phone_number_id.clone(),
        page_id: tenant.page_id.clone(),
        wa_id: tenant.wa_id.clone(),
    }
}

#[tokio::test]
async fn support_by_typing_is_routed_at_once_and_matches_the_simulation() {
    // Arrange
    let client = crate::support::http();
    let setup = center(&client).await;
    let (tenant, wa_id) = (&setup.tenant, format!("5541{}", digits(9)));

    // Act
    say(&client, tenant, &wa_id, 1, "Hi there").await;
    received(&wa_id, 1).await;
    say(&client, tenant, &wa_id, 2, "support").await;
    let sent = received(&wa_id, 2).await;
    let simulation = api(
        &tenant.api_key,
        Method::POST,
        &format!("/v1/flows/{}/simulate", setup.flow),
        Some(json!({"messages": ["Hi there", "support"]})),
    )
    .await;

    // Assert: routed to Support; the simulation sends what the live run sent, in order.
    conversation_where(tenant, &wa_id, "routed to Support", |c| c["queue"] == setup.support.as_str()).await;
    let simulated: Vec<Value> = simulation["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .flat_map(|s| s["actions"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["type"] == "send")
        .map(|a| a["body"].clone())
        .collect();
    assert_eq!(simulated.len(), sent.len(), "simulated {simulated:?}, sent {sent:?}");
    for (simulated, sent) in simulated.iter().zip(&sent) {
        for field in ["type", "text", "interactive"] {
            assert_eq!(
                simulated.get(field),
                sent.get(field).filter(|v| !v.is_null()),
                "{field}: {simulated} vs {sent}"
            );
        }
    }
}

#[tokio::test]
async fn an_agent_writing_mid_flow_stops_the_bot() {
    // Arrange: the customer has the menu; a person of the team (a manager: no assignment
    // needed to write) writes in the conversation.
    let client = crate::support::http();
    let setup = center(&client).await;
    let (tenant, wa_id) = (&setup.tenant, format!("5551{}", digits(9)));
    say(&client, tenant, &wa_id, 1, "Hello").await;
    received(&wa_id, 1).await;
    let email = format!("manager{}@flows.test", digits(8));
    let (_, tokens) = user(&tenant.api_key, &tenant_of(&tenant.api_key), &email, "manager", &[]).await;
    let reply = json!({"to": wa_id, "type": "text", "text": {"body": "Hi, Maria here. How can I help?"}});
    let sent = client
        .post(format!("{}/v1/messages", crate::e2e::base()))
        .bearer_auth(access(&tokens))
        .header("idempotency-key", format!("flows-{}", digits(12)))
        .json(&reply)
        .send()
        .await
        .expect("request");
    assert_eq!(sent.status(), StatusCode::ACCEPTED, "{:?}", sent.text().await);

    // Act: the customer answers the menu anyway.
    say(&client, tenant, &wa_id, 2, "sales").await;
    settled(&client, tenant, &wa_id, 2).await;

    // Assert: the menu and the person's message only; no email question, not routed.
    let sent = sent_to(&wa_id).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(text_of(&sent[1]), "Hi, Maria here. How can I help?");
    let after = conversation(tenant, &wa_id).await;
    assert!(after["queue"].is_null(), "{after}");
}

#[tokio::test]
async fn a_restricted_contact_gets_no_automated_message() {
    // Arrange: a known contact, restricted (P63).
    let client = crate::support::http();
    let setup = center(&client).await;
    let (tenant, wa_id) = (&setup.tenant, format!("5561{}", digits(9)));
    let contact = api(&tenant.api_key, Method::POST, "/v1/contacts", Some(json!({"phone": wa_id}))).await;
    let id = contact["id"].as_str().expect("contact id");
    api(&tenant.api_key, Method::PATCH, &format!("/v1/contacts/{id}"), Some(json!({"restricted": true})))
        .await;

    // Act
    say(&client, tenant, &wa_id, 1, "Hello").await;
    settled(&client, tenant, &wa_id, 1).await;

    // Assert: nothing sent, the conversation left to people.
    assert!(sent_to(&wa_id).await.is_empty());
    let current = conversation(tenant, &wa_id).await;
    assert!(current["queue"].is_null(), "{current}");
}

#[tokio::test]
async fn outside_business_hours_the_customer_gets_the_out_of_hours_greeting() {
    // Arrange: a tenant open one minute a week, with an out-of-hours flow.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    set_hours(&tenant, json!([{"day": "mon", "open": "00:00", "close": "00:01"}])).await;
    let closed = json!({"name": "Closed", "triggers": [{"type": "outside_hours"}], "start": "greet",
        "steps": {"greet": {"type": "message", "text": "We are closed now; we answer from Monday.", "next": "bye"},
                  "bye": {"type": "end"}}});
    publish(&tenant, &closed).await;
    let wa_id = format!("5571{}", digits(9));

    // Act
    say(&client, &tenant, &wa_id, 1, "Anyone there?").await;

    // Assert
    let sent = received(&wa_id, 1).await;
    assert_eq!(text_of(&sent[0]), "We are closed now; we answer from Monday.");
}

#[tokio::test]
async fn an_invalid_flow_is_refused_with_every_problem_named() {
    // Arrange: an unknown next step, an unreachable step, a button title over 20 characters,
    // four buttons, a queue that is not the tenant's.
    let (admin, _) = crate::api::tenant().await;
    let options: Vec<Value> = (0..4)
        .map(|n| json!({"id": format!("o{n}"), "title": if n == 0 { "A title much longer than twenty".to_owned() } else { format!("Option {n}") }, "next": "route"}))
        .collect();
    let invalid = json!({"name": "Broken", "triggers": [{"type": "new_conversation"}], "start": "menu",
        "steps": {"menu": {"type": "menu", "text": "Pick", "style": "buttons", "options": options},
                  "route": {"type": "route", "queue": "q_nosuchqueue"},
                  "ask": {"type": "ask", "text": "?", "validate": {"kind": "text"}, "next": "nowhere"}}});

    // Act
    let (status, problem) = call(Method::POST, "/v1/flows", Some(&admin), Some(invalid)).await;
    let (_, list) = call(Method::GET, "/v1/flows", Some(&admin), None).await;

    // Assert: 422 problem+json naming each problem by its path; nothing stored.
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["type"], "https://leadline.dev/problems/invalid-flow");
    let paths: Vec<&str> =
        problem["problems"].as_array().expect("problems").iter().filter_map(|p| p["path"].as_str()).collect();
    for expected in ["/steps/menu/options", "/steps/menu/options/0/title", "/steps/route/queue", "/steps/ask"]
    {
        assert!(paths.iter().any(|p| p.starts_with(expected)), "{expected} in {paths:?}");
    }
    assert!(problem["problems"].as_array().expect("problems").iter().all(|p| p["message"].is_string()));
    assert_eq!(list["items"], json!([]));
}

/// Runs the timers job ahead of the clock (`as_of`, which the local stack honours) for `tenant`.
async fn run_timers_at(as_of_ms: i64, tenant: &str) -> Value {
    let response = crate::support::http()
        .post(format!("{}/_local/schedule/timers", crate::e2e::base()))
        .json(&json!({"as_of": as_of_ms, "tenant": tenant}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

#[tokio::test]
async fn a_wait_times_out_without_a_customer_message_and_takes_the_timeout_branch() {
    // Arrange: a flow that asks, then waits a minute for the answer.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    set_hours(&tenant, always()).await;
    let waiting = json!({"name": "Wait", "triggers": [{"type": "new_conversation"}], "start": "hello",
        "steps": {"hello": {"type": "message", "text": "Are you still there?", "next": "wait"},
                  "wait": {"type": "wait", "timeout_minutes": 1, "next": "thanks", "on_timeout": "later"},
                  "thanks": {"type": "end", "text": "Thanks for answering"},
                  "later": {"type": "end", "text": "No worries, we will write again later"}}});
    publish(&tenant, &waiting).await;
    let wa_id = format!("5581{}", digits(9));
    say(&client, &tenant, &wa_id, 1, "Hi").await;
    let first = received(&wa_id, 1).await;
    assert_eq!(text_of(&first[0]), "Are you still there?");

    // Act: the customer stops answering; the timers job runs two minutes ahead.
    let as_of = i64::try_from(now_secs()).expect("seconds") * 1000 + 2 * 60_000;
    let report = run_timers_at(as_of, &tenant_of(&tenant.api_key)).await;

    // Assert: the timeout branch's message reaches Graph, once.
    let sent = received(&wa_id, 2).await;
    assert_eq!(text_of(&sent[1]), "No worries, we will write again later", "after {report}");
    run_timers_at(as_of, &tenant_of(&tenant.api_key)).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(sent_to(&wa_id).await.len(), 2, "the timeout ran once");
}

#[tokio::test]
async fn an_answer_stored_in_a_lead_field_shows_on_the_contacts_lead() {
    // Arrange: a flow asking which campaign brought the customer, stored on their lead.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    set_hours(&tenant, always()).await;
    let asking = json!({"name": "Campaign", "triggers": [{"type": "new_conversation"}], "start": "campaign",
        "steps": {"campaign": {"type": "ask", "text": "Which campaign brought you here?",
                               "validate": {"kind": "text"}, "store": {"lead": "campaign"}, "next": "done"},
                  "done": {"type": "end", "text": "Thank you"}}});
    publish(&tenant, &asking).await;
    let wa_id = format!("5591{}", digits(9));
    say(&client, &tenant, &wa_id, 1, "Hello").await;
    received(&wa_id, 1).await;

    // Act
    say(&client, &tenant, &wa_id, 2, "Summer sale").await;
    received(&wa_id, 2).await;

    // Assert: the contact's lead (created by the bot) holds the answer.
    let contacts = api(&tenant.api_key, Method::GET, &format!("/v1/contacts?phone={wa_id}"), None).await;
    let contact = contacts["items"][0]["id"].as_str().expect("contact id").to_owned();
    let leads = api(&tenant.api_key, Method::GET, &format!("/v1/leads?contact_id={contact}"), None).await;
    let id = leads["items"][0]["id"].as_str().expect("a lead of the contact").to_owned();
    let lead = api(&tenant.api_key, Method::GET, &format!("/v1/leads/{id}"), None).await;
    assert_eq!(lead["origin"]["campaign"], "Summer sale", "{lead}");
    assert_eq!(lead["stage"], "new", "{lead}");
    assert_eq!(leads["items"].as_array().map(Vec::len), Some(1), "{leads}");
}
