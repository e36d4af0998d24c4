//! Metrics: after a few actions on the local stack (a webhook in, a reply out, a retention
//! run), the functions' logs hold CloudWatch embedded-metric-format lines (`shared::metrics`)
//! that parse as CloudWatch would read them; and log lines carry `requestId` and `tenant_id` at
//! their top level.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::e2e::{base, state_dir};
use crate::ingest::eventually;

/// Every JSON line of `<state>/logs/<function>.log`.
fn log_lines(function: &str) -> Vec<Value> {
    let path = state_dir().join("logs").join(format!("{function}.log"));
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines().filter_map(|line| serde_json::from_str::<Value>(line).ok()).collect()
}

/// The metric names of `function`'s EMF lines, each line checked as CloudWatch reads it: the
/// `Leadline` namespace, every dimension a string at the top level, every metric a number or a
/// list of numbers at the top level.
fn metrics_of(function: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in log_lines(function).into_iter().filter(|l| l.get("_aws").is_some()) {
        assert!(line["_aws"]["Timestamp"].is_i64(), "{line}");
        for directive in line["_aws"]["CloudWatchMetrics"].as_array().expect("directives") {
            assert_eq!(directive["Namespace"], "Leadline", "{line}");
            for set in directive["Dimensions"].as_array().expect("dimension sets") {
                for dimension in set.as_array().expect("a dimension set") {
                    let name = dimension.as_str().expect("a dimension name");
                    assert!(line[name].is_string(), "dimension {name} missing in {line}");
                }
            }
            for metric in directive["Metrics"].as_array().expect("metrics") {
                let name = metric["Name"].as_str().expect("a metric name");
                let value = &line[name];
                let numeric = value.is_number()
                    || value
                        .as_array()
                        .is_some_and(|values| !values.is_empty() && values.iter().all(Value::is_number));
                assert!(numeric, "metric {name} without a value in {line}");
                assert!(["Count", "Milliseconds"].contains(&metric["Unit"].as_str().unwrap_or("")), "{line}");
                names.insert(name.to_owned());
            }
        }
    }
    names
}

#[tokio::test]
async fn functions_log_embedded_metrics_and_lines_carry_request_and_tenant_ids() {
    // Arrange / Act: a customer's message in, a reply out, a retention run.
    let client = crate::support::http();
    // The customer writes (webhook, inbound), which opens the 24 h window for the reply.
    let tenant = crate::send::with_open_window().await;
    let sent = client
        .post(format!("{}/v1/messages", base()))
        .bearer_auth(&tenant.api_key)
        .header("idempotency-key", crate::support::unique("metrics"))
        .json(&json!({"to": tenant.wa_id, "type": "text", "text": {"body": "Obrigado, respondemos já"}}))
        .send()
        .await
        .expect("request");
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let id = sent.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();
    eventually("the reply sent", || async {
        let message = tenant.get(&client, &format!("/v1/messages/{id}")).await;
        (message["status"] != "queued").then_some(())
    })
    .await;
    let retention =
        client.post(format!("{}/_local/schedule/retention", base())).send().await.expect("request");
    assert!(retention.status().is_success());

    // Assert: each function's metrics, parsed.
    let expected: [(&str, &[&str]); 4] = [
        ("webhook", &["EventsReceived"]),
        ("inbound", &["EventsReceived", "QueueToStoreLatency"]),
        ("send", &["SendLatency", "MessagesSent"]),
        ("retention", &["RetentionItemsDeleted", "ErasuresDone", "ErasuresPastDeadline"]),
    ];
    // (A function's output reaches its log file a moment after the invocation answered.)
    let started = std::time::Instant::now();
    for (function, names) in expected {
        loop {
            let found = metrics_of(function);
            let missing: Vec<&&str> = names.iter().filter(|name| !found.contains(**name)).collect();
            if missing.is_empty() {
                break;
            }
            assert!(
                started.elapsed().as_secs() < 20,
                "{function} logged no {missing:?} metric (found {found:?})"
            );
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
    let kinds: BTreeSet<String> = log_lines("inbound")
        .iter()
        .filter(|l| l.get("EventsReceived").is_some())
        .filter_map(|l| l["Kind"].as_str().map(str::to_owned))
        .collect();
    assert!(kinds.contains("message"), "{kinds:?}");

    // And the API's lines of this tenant carry the invocation's request id and the tenant id at
    // the top level.
    let tenant_id = tenant.get(&client, "/v1/tenant").await["id"].as_str().expect("id").to_owned();
    let line = log_lines("api")
        .into_iter()
        .find(|l| l["tenant_id"] == tenant_id.as_str())
        .expect("an api line of this tenant with tenant_id at its top level");
    assert!(line["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{line}");
}
