//! `leadline-admin` against the running local stack (`--local <state dir>`), as an operator
//! runs it: the built binary, its exit codes and its `--json` output.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::e2e::{base, state_dir};
use crate::ingest::{digits, eventually, post, TestTenant};

/// What one run printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {} / {}", self.stdout, self.stderr))
    }
}

/// The binary `cargo build` made (`LEADLINE_ADMIN_BIN` overrides).
fn binary() -> String {
    std::env::var("LEADLINE_ADMIN_BIN")
        .unwrap_or_else(|_| format!("{}/../target/debug/leadline-admin", env!("CARGO_MANIFEST_DIR")))
}

/// Runs `leadline-admin --local <state> <args>`, with no terminal (stdin empty).
fn admin(args: &[&str]) -> Run {
    let output = Command::new(binary())
        .arg("--local")
        .arg(state_dir())
        .args(args)
        .env_remove("LEADLINE_OPERATOR_KEY")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {} (build it with cargo build -p admin): {e}", binary()));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ok(args: &[&str]) -> Value {
    let run = admin(args);
    assert_eq!(run.code, 0, "{args:?}: {} {}", run.stdout, run.stderr);
    run.json()
}

#[tokio::test]
async fn tenants_are_created_listed_shown_replanned_closed_and_reopened() {
    // Arrange / Act: create.
    let created = ok(&["--json", "tenants", "create", "--name", "Admin E2E"]);
    let id = created["tenant_id"].as_str().expect("tenant id").to_owned();
    let api_key = created["api_key"].as_str().expect("api key").to_owned();

    // Assert: listed, shown, replanned (the limits not given kept), its usage.
    let listed = ok(&["--json", "tenants", "list"]);
    assert!(listed["items"].as_array().expect("items").iter().any(|t| t["id"] == id.as_str()), "listed");
    let shown = ok(&["--json", "tenants", "show", &id]);
    assert_eq!((shown["status"].as_str(), shown["name"].as_str()), (Some("active"), Some("Admin E2E")));
    let contacts = shown["plan"]["contacts"].clone();
    let replanned = ok(&["--json", "tenants", "set-plan", &id, "--users", "7"]);
    assert_eq!((replanned["plan"]["users"].as_u64(), &replanned["plan"]["contacts"]), (Some(7), &contacts));
    let usage = ok(&["--json", "usage", &id]);
    assert_eq!((usage["users"]["limit"].as_u64(), usage["contacts"]["used"].as_u64()), (Some(7), Some(0)));

    // Close: refused without a confirmation (no terminal), then done; the tenant's key stops.
    assert_eq!(admin(&["tenants", "close", &id]).code, 4, "not confirmed");
    let closed = ok(&["--json", "tenants", "close", &id, "--yes"]);
    assert_eq!(closed["status"], "closed");
    assert!(closed["reopen_until"].is_i64());
    let refused = crate::support::http()
        .get(format!("{}/v1/tenant", base()))
        .bearer_auth(&api_key)
        .send()
        .await
        .expect("request");
    assert!(refused.status().is_client_error(), "{}", refused.status());
    assert_eq!(admin(&["tenants", "close", &id, "--yes"]).code, 4, "already closed: a conflict");

    // Reopen: active again, and its key works.
    assert_eq!(ok(&["--json", "tenants", "reopen", &id])["status"], "active");
    let works = crate::support::http()
        .get(format!("{}/v1/tenant", base()))
        .bearer_auth(&api_key)
        .send()
        .await
        .expect("request");
    assert_eq!(works.status(), StatusCode::OK);
    assert_eq!(admin(&["tenants", "reopen", &id]).code, 4, "not closed: a conflict");
}

#[tokio::test]
async fn exit_codes_say_not_found_bad_usage_and_help() {
    let unknown = admin(&["--json", "tenants", "show", "t_000000000000unknown"]);
    assert_eq!(unknown.code, 3, "{}", unknown.stderr);
    assert!(serde_json::from_str::<Value>(&unknown.stderr).expect("a JSON error")["error"] == "not_found");
    assert_eq!(admin(&["tenants", "show", "not an id!"]).code, 2);
    assert_eq!(admin(&["tenants", "frobnicate"]).code, 2);
    assert_eq!(admin(&["tenants", "set-plan", "t_1"]).code, 2, "no limit given");
    for command in [
        &["--help"][..],
        &["tenants", "create", "--help"],
        &["dlq", "peek", "--help"],
        &["operator-key", "rotate", "--help"],
    ] {
        let help = admin(command);
        assert_eq!(help.code, 0, "{command:?}");
        assert!(help.stdout.contains("Usage"), "{command:?}: {}", help.stdout);
    }
    assert!(admin(&["--help"]).stdout.contains("Exit codes"));
}

/// The inbound DLQ's messages (redacted), polled until `found` holds or 120 s passed (a
/// message reaches the DLQ after 5 deliveries).
fn peek_until(what: &str, found: impl Fn(&[Value]) -> bool) -> (Vec<Value>, String) {
    let started = Instant::now();
    loop {
        let run = admin(&["--json", "dlq", "peek", "inbound", "--max", "100"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let messages = run.json()["messages"].as_array().cloned().unwrap_or_default();
        if found(&messages) {
            return (messages, run.stdout);
        }
        assert!(started.elapsed() < Duration::from_secs(120), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn is_message_of(message: &Value, phone_number_id: &str) -> bool {
    message["body"]["event"]["message"]["phone_number_id"] == phone_number_id
}

fn is_lead_of(message: &Value, page_id: &str) -> bool {
    message["body"]["event"]["lead"]["page_id"] == page_id
}

#[tokio::test]
async fn a_poisoned_message_is_peeked_redacted_and_a_lead_redriven_after_the_fix_is_processed() {
    // Arrange: a message Leadline can never store (its id is malformed) and a lead Graph does
    // not have yet (fetching it fails until it is there): both end in the inbound DLQ.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let poison =
        tenant.fixture("text").replace(&format!("wamid.HBgN{}0001AA==", tenant.wa_id), "wamid bad id");
    assert_eq!(post(&client, &poison).await, StatusCode::OK);
    let leadgen_id = format!("9{}", digits(14));
    assert_eq!(
        post(&client, &tenant.fixture("leadgen").replace("__LEADGEN_ID__", &leadgen_id)).await,
        StatusCode::OK
    );
    let (phone_number_id, page_id) = (tenant.phone_number_id.clone(), tenant.page_id.clone());

    // Act: peek.
    let (_, printed) = peek_until("both messages in the DLQ", |messages| {
        messages.iter().any(|m| is_message_of(m, &phone_number_id))
            && messages.iter().any(|m| is_lead_of(m, &page_id))
    });

    // Assert: the ids that locate them are shown, the person is not.
    assert!(printed.contains(&leadgen_id), "the lead's id is shown");
    for personal in [tenant.wa_id.as_str(), "Ana Souza", "quero saber"] {
        assert!(!printed.contains(personal), "{personal} shown by dlq peek");
    }
    let count = ok(&["--json", "dlq", "count", "inbound"]);
    assert!(count["inbound"]["messages"].as_i64().unwrap_or(0) >= 2, "{count}");
    assert_eq!(admin(&["dlq", "purge", "inbound"]).code, 4, "a purge is confirmed first");

    // Act: fix the cause (Graph now has the lead), redrive.
    let lead = json!({"id": leadgen_id, "form_id": "12312312312", "created_time": "2026-11-23T10:00:00+0000",
        "field_data": [{"name": "phone_number", "values": [format!("+{}", tenant.wa_id)]}]});
    let registered =
        client.post(format!("{}/_sandbox/leads", base())).json(&lead).send().await.expect("request");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let redriven = ok(&["--json", "dlq", "redrive", "inbound"]);

    // Assert: the lead is processed; the poison message comes back to the DLQ and is purged.
    assert!(redriven["moved"].as_u64().unwrap_or(0) >= 2, "{redriven}");
    eventually("the redriven lead stored", || async {
        let leads = tenant.get(&client, "/v1/leads").await;
        leads["items"].as_array().filter(|items| items.len() == 1).map(|_| ())
    })
    .await;
    peek_until("the poison message back in the DLQ", |messages| {
        messages.iter().any(|m| is_message_of(m, &phone_number_id))
            && !messages.iter().any(|m| is_lead_of(m, &page_id))
    });
    let purged = ok(&["--json", "dlq", "purge", "inbound", "--yes"]);
    assert!(purged["purged"].as_i64().unwrap_or(0) >= 1, "{purged}");
    let after = admin(&["--json", "dlq", "peek", "inbound", "--max", "100"]).json();
    let left = after["messages"].as_array().cloned().unwrap_or_default();
    assert!(!left.iter().any(|m| is_message_of(m, &phone_number_id)), "purged");
}
