//! The traffic model of issue #19, through the running local stack (`infra/bench-cost.sh`, which
//! starts a stack of its own and prices the result; ignored in the normal run).
//!
//! `BENCH_EVENTS` (N, default 60) inbound text messages from N / `BENCH_PER_PERSON` people
//! (default 2 each), N outbound text messages to the same people through `POST /v1/messages`
//! and the `send` function, and 3N statuses (sent, delivered, read of each) through the
//! webhook. Each phase is counted on its own from the stack's AWS call record
//! (`<state>/aws-calls.jsonl`, `infra/src/recorder.rs`) and its function logs
//! (`<state>/logs/<function>.log`): only the functions that do the phase's work, so the
//! benchmark's own reads through the API (waiting for the effects) are not counted.
//!
//! Prints one line `BENCH_COST <json>`: per phase, the events, the HTTP requests the gateway
//! took, and per function the AWS requests by operation, the items they named (a transaction
//! is one request of several items) and the bytes and lines of logs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::e2e::{base, sandbox_records, state_dir};
use crate::ingest::{digits, post, TestTenant, WABA_ID};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

/// Where the record and each function's log stood at one moment.
#[derive(Debug, Clone)]
struct Mark {
    record: u64,
    logs: BTreeMap<String, u64>,
}

const FUNCTIONS: &[&str] = &["webhook", "api", "inbound", "send", "suggest", "realtime"];

fn record_path() -> PathBuf {
    state_dir().join("aws-calls.jsonl")
}

fn size(path: &PathBuf) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn log_path(function: &str) -> PathBuf {
    state_dir().join("logs").join(format!("{function}.log"))
}

fn mark() -> Mark {
    Mark {
        record: size(&record_path()),
        logs: FUNCTIONS.iter().map(|f| ((*f).to_owned(), size(&log_path(f)))).collect(),
    }
}

/// What `function` did between two marks: AWS requests and items by operation, log bytes and
/// lines.
fn usage(function: &str, from: &Mark, to: &Mark) -> Value {
    let record = std::fs::read(record_path()).expect("the AWS call record");
    let window = &record[from.record as usize..(to.record as usize).min(record.len())];
    let mut requests: BTreeMap<String, std::collections::BTreeSet<u64>> = BTreeMap::new();
    let mut items: BTreeMap<String, u64> = BTreeMap::new();
    for line in window.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(call) = serde_json::from_slice::<Value>(line) else { continue };
        if call["function"] != function {
            continue;
        }
        let operation = call["operation"]
            .as_str()
            .or_else(|| call["action"].as_str().and_then(|a| a.split_once(':')).map(|(_, op)| op))
            .unwrap_or("?")
            .to_owned();
        // SQS is priced by queue kind (FIFO or standard): its operations are named with the queue.
        let operation = match call["action"].as_str() {
            Some(action) if action.starts_with("sqs:") => {
                format!("{operation}@{}", call["resource"].as_str().unwrap_or("?"))
            }
            _ => operation,
        };
        requests.entry(operation.clone()).or_default().insert(call["request"].as_u64().unwrap_or(0));
        *items.entry(operation).or_default() += 1;
    }
    let requests: BTreeMap<String, usize> = requests.into_iter().map(|(op, ids)| (op, ids.len())).collect();
    let log = std::fs::read(log_path(function)).unwrap_or_default();
    let (start, end) = (from.logs[function] as usize, (to.logs[function] as usize).min(log.len()));
    let text = &log[start.min(end)..end];
    let lines = text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
    json!({"requests": requests, "items": items, "log_bytes": text.len(), "log_lines": lines})
}

fn inbound_body(tenant: &TestTenant, wa_id: &str, n: usize) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100001",
        "phone_number_id": tenant.phone_number_id}, "contacts": [{"profile": {"name": "Ana Souza"}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": format!("wamid.BENCH{}{n:06}", digits(12)),
        "timestamp": now_secs().to_string(), "type": "text",
        "text": {"body": "Olá, quero saber o preço do plano anual"}}]}}]}]})
    .to_string()
}

/// Now, in epoch seconds: a customer's message opens the 24 h window from its own time.
fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn status_body(tenant: &TestTenant, wa_id: &str, wamid: &str, status: &str, at: u64) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100001",
        "phone_number_id": tenant.phone_number_id},
        "statuses": [{"id": wamid, "status": status, "timestamp": at.to_string(), "recipient_id": wa_id}]}}]}]})
    .to_string()
}

/// Polls `check` until it holds, for up to `BENCH_WAIT_SECONDS` (default 600: moto is slow).
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let limit = Duration::from_secs(env_or("BENCH_WAIT_SECONDS", 600) as u64);
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn message(client: &reqwest::Client, tenant: &TestTenant, id: &str) -> Value {
    let response = client
        .get(format!("{}/v1/messages/{id}", base()))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

#[tokio::test]
#[ignore = "a benchmark: infra/bench-cost.sh runs it against a local stack of its own"]
#[allow(clippy::print_stdout)] // The report is the point.
async fn bench_cost() {
    // Arrange: a tenant with its number, and its customers.
    let events = env_or("BENCH_EVENTS", 60);
    let per_person = env_or("BENCH_PER_PERSON", 2).max(1);
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let people: Vec<String> =
        (0..events.div_ceil(per_person)).map(|_| format!("5511{}", digits(9))).collect();
    let person = |n: usize| &people[n % people.len()];

    // Inbound: N text messages, each its own webhook delivery.
    let inbound_start = mark();
    for n in 0..events {
        assert_eq!(post(&client, &inbound_body(&tenant, person(n), n)).await, StatusCode::OK);
    }
    for (k, wa_id) in people.iter().enumerate() {
        let expected = (0..events).filter(|n| n % people.len() == k).count();
        until("every inbound message stored", || async {
            tenant.messages(&client, wa_id).await.len() >= expected
        })
        .await;
    }
    let inbound_end = mark();

    // Outbound: N texts accepted by the API (synchronous: its part ends with the last answer)
    // and sent by `send` (its part ends when every message has its wamid).
    let outbound_start = mark();
    let mut ids = Vec::new();
    for n in 0..events {
        let response = client
            .post(format!("{}/v1/messages", base()))
            .bearer_auth(&tenant.api_key)
            .header("idempotency-key", format!("bench-{}-{n}", digits(10)))
            .json(&json!({"to": person(n), "type": "text", "text": {"body": "Obrigado! Segue o preço."}}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.expect("json");
        ids.push((body["id"].as_str().expect("id").to_owned(), person(n).clone()));
    }
    let accepted = mark();
    let mut wamids = Vec::new();
    for (id, wa_id) in &ids {
        until("every message sent", || async { message(&client, &tenant, id).await["wamid"].is_string() })
            .await;
        let wamid = message(&client, &tenant, id).await["wamid"].as_str().unwrap_or_default().to_owned();
        wamids.push((id.clone(), wa_id.clone(), wamid));
    }
    let outbound_end = mark();

    // Statuses: sent, delivered, read of each, each its own webhook delivery.
    let statuses_start = mark();
    for (_, wa_id, wamid) in &wamids {
        for (k, status) in ["sent", "delivered", "read"].into_iter().enumerate() {
            let at = now_secs() + k as u64;
            assert_eq!(post(&client, &status_body(&tenant, wa_id, wamid, status, at)).await, StatusCode::OK);
        }
    }
    for (id, _, _) in &wamids {
        until("every message read", || async { message(&client, &tenant, id).await["status"] == "read" })
            .await;
    }
    let statuses_end = mark();

    // Report: each phase's functions between its marks.
    let of = |functions: &[(&str, &Mark, &Mark)]| -> Value {
        functions.iter().map(|(f, from, to)| ((*f).to_owned(), usage(f, from, to))).collect()
    };
    let graph_sends = sandbox_records("/_sandbox/outbox")
        .await
        .iter()
        .filter(|r| {
            r["path"].as_str().is_some_and(|p| p.contains(&format!("{}/messages", tenant.phone_number_id)))
        })
        .count();
    let report = json!({
        "events": events,
        "people": people.len(),
        "graph_sends": graph_sends,
        "phases": {
            "inbound": {"events": events, "webhook_posts": events, "api_requests": 0,
                "functions": of(&[("webhook", &inbound_start, &inbound_end), ("inbound", &inbound_start, &inbound_end),
                    ("suggest", &inbound_start, &inbound_end), ("realtime", &inbound_start, &inbound_end)])},
            "outbound": {"events": events, "webhook_posts": 0, "api_requests": events,
                "functions": of(&[("api", &outbound_start, &accepted), ("send", &outbound_start, &outbound_end),
                    ("realtime", &outbound_start, &outbound_end)])},
            "statuses": {"events": 3 * events, "webhook_posts": 3 * events, "api_requests": 0,
                "functions": of(&[("webhook", &statuses_start, &statuses_end), ("inbound", &statuses_start, &statuses_end),
                    ("realtime", &statuses_start, &statuses_end)])},
        }
    });
    println!("BENCH_COST {report}");

    // Assert: everything the model sent was done once.
    assert_eq!(graph_sends, events, "each outbound message reached Graph once");
}
