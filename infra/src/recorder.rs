//! A recording proxy in front of moto, one listener per function: each function's
//! `AWS_ENDPOINT_URL` points at its own listener, so every AWS call it makes is known by
//! function. Each call is forwarded unchanged and written, as IAM sees it (action and resource,
//! named by the logical id of `template.yaml`), to `<state>/aws-calls.jsonl`.
//!
//! The listeners also make moto's DynamoDB writes atomic per item, as DynamoDB's are: moto checks
//! a condition and writes without a lock, so two concurrent conditional writes of one item could
//! both pass (two agents both claiming one conversation). Writes of the same item are forwarded
//! one at a time across all functions ([`WriteGate`]), and a `GetItem` waits for a write of its
//! item in flight (so it never sees half a transaction); queries and other items stay concurrent.
//! moto's transactions themselves are made atomic (and cheap) by `infra/moto_server.py`.
//!
//! moto checks no IAM: `tests/it/iam.rs` reads that record after the end-to-end run and checks
//! every call against the function's role in `template.yaml`. The record also gives the number
//! of AWS calls per function and operation.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::bootstrap::Resources;

/// One AWS call as IAM authorizes it. A request that IAM authorizes per item (a transaction, a
/// batch over several tables) is one call per item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsCall {
    /// The function that made it (`api`, `inbound` …).
    pub function: String,
    /// The IAM action, e.g. `dynamodb:GetItem` (a transaction's items are `PutItem`,
    /// `UpdateItem`, `DeleteItem`, `ConditionCheckItem`, `GetItem`: IAM knows no transaction
    /// action).
    pub action: String,
    /// The resource by its logical id in `template.yaml` (`Table`, `Table/index/GSI1`,
    /// `KeyTable`, `OutboundQueue`, `SecretsKey`), the physical name when it is none of the
    /// stack's, or `*` for an operation on no resource.
    pub resource: String,
    /// The request (HTTP) it was part of, counted from 1 per function.
    pub request: u64,
    /// KMS only: the keys of the request's encryption context (`kms:EncryptionContextKeys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_keys: Option<Vec<String>>,
    /// The API operation of the request (`TransactWriteItems`, `SendMessageBatch`, `Decrypt`…),
    /// which the IAM action does not always name: `infra/bench-cost.sh` prices requests by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// DynamoDB only: the kinds of the items the request names, each as the leading segments of
    /// its keys (`T/CONV` for `T#<tenant>` / `CONV#<id>`; never an id), so that a cost can be
    /// traced to the item that incurs it. A transaction lists its items' kinds in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
}

/// Physical names of the stack's resources → logical ids of `template.yaml`.
#[derive(Debug, Clone, Default)]
pub struct LogicalNames(HashMap<String, String>);

impl LogicalNames {
    /// The names of what [`crate::bootstrap::bootstrap`] created.
    #[must_use]
    pub fn of(resources: &Resources) -> Self {
        Self(HashMap::from([
            (resources.table_name.clone(), "Table".to_owned()),
            (resources.key_table_name.clone(), "KeyTable".to_owned()),
            (resources.inbound.url.clone(), "InboundQueue".to_owned()),
            (resources.inbound.dlq_url.clone(), "InboundDeadLetterQueue".to_owned()),
            (resources.outbound.url.clone(), "OutboundQueue".to_owned()),
            (resources.outbound.dlq_url.clone(), "OutboundDeadLetterQueue".to_owned()),
            (resources.suggest.url.clone(), "SuggestQueue".to_owned()),
            (resources.suggest.dlq_url.clone(), "SuggestDeadLetterQueue".to_owned()),
            (resources.import.url.clone(), "ImportQueue".to_owned()),
            (resources.import.dlq_url.clone(), "ImportDeadLetterQueue".to_owned()),
            (resources.live.url.clone(), "LiveQueue".to_owned()),
            (resources.live.dlq_url.clone(), "LiveDeadLetterQueue".to_owned()),
            (resources.kms_key_id.clone(), "SecretsKey".to_owned()),
        ]))
    }

    /// `leadline-table/index/GSI1` → `Table/index/GSI1`; an unknown name stays itself.
    fn logical(&self, physical: &str) -> String {
        let (name, index) = match physical.split_once("/index/") {
            Some((table, index)) => (table, Some(index)),
            None => (physical, None),
        };
        let logical = self.0.get(name).map_or(name, String::as_str);
        match index {
            Some(index) => format!("{logical}/index/{index}"),
            None => logical.to_owned(),
        }
    }
}

/// The IAM view of one request: `(action, resource, encryption context keys)` for each
/// authorization it needs. Resources are physical here.
#[must_use]
pub fn authorizations(headers: &HeaderMap, body: &[u8]) -> Vec<(String, String, Option<Vec<String>>)> {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |value: &Value| value.as_str().unwrap_or("*").to_owned();
    let Some((prefix, operation)) = target.split_once('.') else {
        // Neither JSON protocol: recorded as such, so that the check refuses it by name.
        return vec![(format!("unknown:{target}"), "*".to_owned(), None)];
    };
    match prefix {
        p if p.starts_with("DynamoDB_") => dynamodb(operation, &request),
        "TrentService" => {
            let keys = request
                .get("EncryptionContext")
                .and_then(Value::as_object)
                .map(|context| context.keys().cloned().collect::<Vec<_>>());
            // Decrypt of a symmetric ciphertext may name no key: the key is in the blob. The
            // local stack has one key, so the call is recorded against it.
            let key = request.get("KeyId").map_or_else(|| "SecretsKey".to_owned(), text);
            vec![(format!("kms:{operation}"), key, Some(keys.unwrap_or_default()))]
        }
        "AmazonSQS" => {
            // IAM authorizes a batch as its single action (`SendMessageBatch` needs
            // `sqs:SendMessage`).
            let action = operation.strip_suffix("Batch").unwrap_or(operation);
            vec![(format!("sqs:{action}"), text(&request["QueueUrl"]), None)]
        }
        _ => vec![(format!("unknown:{target}"), "*".to_owned(), None)],
    }
}

fn dynamodb(operation: &str, request: &Value) -> Vec<(String, String, Option<Vec<String>>)> {
    let table_resource = |item: &Value| {
        let table = item["TableName"].as_str().unwrap_or("*").to_owned();
        match item.get("IndexName").and_then(Value::as_str) {
            Some(index) => format!("{table}/index/{index}"),
            None => table,
        }
    };
    let action = |name: &str| format!("dynamodb:{name}");
    match operation {
        "TransactWriteItems" | "TransactGetItems" => request["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.as_object()?.iter().next())
            .map(|(kind, item)| {
                let name = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    other => other,
                };
                (action(name), table_resource(item), None)
            })
            .collect(),
        "BatchWriteItem" | "BatchGetItem" => request["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(table, _)| (action(operation), table.clone(), None))
            .collect(),
        _ if request.get("TableName").is_some() => vec![(action(operation), table_resource(request), None)],
        _ => vec![(action(operation), "*".to_owned(), None)],
    }
}

#[derive(Debug)]
struct Proxy {
    function: String,
    upstream: String,
    http: reqwest::Client,
    names: LogicalNames,
    log: Option<Arc<Mutex<tokio::fs::File>>>,
    writes: WriteGate,
    requests: std::sync::atomic::AtomicU64,
}

/// One for the whole stack: writes of one DynamoDB item pass it one at a time (see the module
/// doc); writes of different items do not wait for each other. (moto's own undoing of a
/// cancelled transaction, which restored whole tables, is replaced in `infra/moto_server.py`.)
#[derive(Debug, Clone, Default)]
pub struct WriteGate(Arc<std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>>);

impl WriteGate {
    /// Holds every item `keys` names (in one order, so two transactions never wait on each other).
    async fn hold(&self, mut keys: Vec<String>) -> Vec<tokio::sync::OwnedMutexGuard<()>> {
        keys.sort();
        keys.dedup();
        let locks: Vec<Arc<Mutex<()>>> = match self.0.lock() {
            Ok(mut map) => keys.into_iter().map(|key| Arc::clone(map.entry(key).or_default())).collect(),
            Err(_) => Vec::new(),
        };
        let mut guards = Vec::with_capacity(locks.len());
        for lock in locks {
            guards.push(lock.lock_owned().await);
        }
        guards
    }
}

/// The kinds of the items a DynamoDB request names ([`AwsCall::items`]); `None` for others.
fn item_kinds(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let operation = headers.get("x-amz-target")?.to_str().ok()?.strip_prefix("DynamoDB_20120810.")?;
    let request = serde_json::from_slice::<Value>(body).ok()?;
    let segment = |value: Option<&Value>| -> String {
        let text = value.and_then(|v| v.get("S")).and_then(Value::as_str).unwrap_or("?");
        // Only a fixed word (`CONV`, `MSG`…): an id in a key's first segment is not recorded.
        let word = text.split('#').next().unwrap_or("?");
        if !word.is_empty() && word.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            word.to_owned()
        } else {
            "*".to_owned()
        }
    };
    let kind = |key: &Value| format!("{}/{}", segment(key.get("PK")), segment(key.get("SK")));
    let kinds: Vec<String> = match operation {
        "PutItem" => vec![kind(&request["Item"])],
        "UpdateItem" | "DeleteItem" | "GetItem" => vec![kind(&request["Key"])],
        "Query" => {
            // The key condition's values: the partition's kind and, with a prefix, the sort key's.
            let values = request["ExpressionAttributeValues"].as_object()?;
            let mut segments: Vec<String> = values.values().map(|v| segment(Some(v))).collect();
            segments.sort();
            vec![format!("query:{}", segments.join("/"))]
        }
        "TransactWriteItems" | "TransactGetItems" => request["TransactItems"]
            .as_array()?
            .iter()
            .filter_map(|entry| entry.as_object()?.values().next())
            .map(|op| kind(op.get("Key").unwrap_or(&op["Item"])))
            .collect(),
        _ => return None,
    };
    Some(kinds.join(","))
}

/// The items a DynamoDB write or single-item read names (table and key attributes), or none for
/// a query, a batch (which takes no condition) or another service.
fn written_items(headers: &HeaderMap, body: &[u8]) -> Vec<String> {
    let Some(operation) = headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .and_then(|t| t.strip_prefix("DynamoDB_20120810."))
    else {
        return Vec::new();
    };
    let Ok(request) = serde_json::from_slice::<Value>(body) else { return Vec::new() };
    let item_of = |table: &Value, key: &Value| -> String {
        let part = |name: &str| key.get(name).map(Value::to_string).unwrap_or_default();
        format!("{table}|{}|{}", part("PK"), part("SK"))
    };
    match operation {
        "PutItem" => vec![item_of(&request["TableName"], &request["Item"])],
        // A read of an item waits for a write of it in flight: DynamoDB's GetItem is serializable
        // with transactions, so it never sees one item of a transaction written and another
        // not; moto applies a transaction's items one after the other, readers unaware.
        "UpdateItem" | "DeleteItem" | "GetItem" => vec![item_of(&request["TableName"], &request["Key"])],
        "TransactWriteItems" | "TransactGetItems" => request["TransactItems"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|entry| entry.as_object()?.values().next())
                    .map(|op| item_of(&op["TableName"], op.get("Key").unwrap_or(&op["Item"])))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Starts one recording listener for `function` on a free loopback port, forwarding to
/// `upstream` and appending to `log` (with none, it only forwards, through `writes`); returns
/// its endpoint URL.
///
/// # Errors
/// When no port can be bound or the HTTP client cannot be built.
pub async fn start(
    function: &str,
    upstream: &str,
    names: LogicalNames,
    log: Option<Arc<Mutex<tokio::fs::File>>>,
    writes: WriteGate,
) -> anyhow::Result<String> {
    let http = shared::adapters::http::client_builder()
        .no_proxy()
        .build()
        .context("building the recorder's HTTP client")?;
    let proxy = Arc::new(Proxy {
        function: function.to_owned(),
        upstream: upstream.trim_end_matches('/').to_owned(),
        http,
        names,
        log,
        writes,
        requests: std::sync::atomic::AtomicU64::new(0),
    });
    let listener =
        tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.context("binding the AWS recorder")?;
    let address = listener.local_addr()?;
    let router = Router::new().fallback(forward).with_state(proxy).layer(DefaultBodyLimit::disable());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(format!("http://{address}"))
}

/// Opens (truncating) the record file `<state>/aws-calls.jsonl`.
///
/// # Errors
/// When the file cannot be created.
pub async fn open_log(state_dir: &Path) -> anyhow::Result<Arc<Mutex<tokio::fs::File>>> {
    let path = state_dir.join("aws-calls.jsonl");
    let file =
        tokio::fs::File::create(&path).await.with_context(|| format!("creating {}", path.display()))?;
    Ok(Arc::new(Mutex::new(file)))
}

/// Appends the calls of one request to the record.
async fn record(proxy: &Proxy, log: &Mutex<tokio::fs::File>, headers: &HeaderMap, body: &[u8]) {
    let request = proxy.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    let operation = headers
        .get("x-amz-target")
        .and_then(|target| target.to_str().ok())
        .and_then(|target| target.split_once('.'))
        .map(|(_, operation)| operation.to_owned());
    let items = item_kinds(headers, body);
    let mut lines = String::new();
    for (action, resource, encryption_context_keys) in authorizations(headers, body) {
        let call = AwsCall {
            function: proxy.function.clone(),
            action,
            resource: proxy.names.logical(&resource),
            request,
            encryption_context_keys,
            operation: operation.clone(),
            items: items.clone(),
        };
        if let Ok(line) = serde_json::to_string(&call) {
            lines.push_str(&line);
            lines.push('\n');
        }
    }
    // Flushed before the request goes on: tokio's file writes in the background, and a reader
    // that cuts the record at a moment (the cost benchmark's phases) must find every call made
    // before it there.
    let mut log = log.lock().await;
    if let Err(error) = async {
        log.write_all(lines.as_bytes()).await?;
        log.flush().await
    }
    .await
    {
        tracing::warn!(error = %error, "Could not record an AWS call");
    }
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    if let Some(log) = &proxy.log {
        record(&proxy, log, &headers, &body).await;
    }
    let _one_write_per_item_at_a_time = proxy.writes.hold(written_items(&headers, &body)).await;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = proxy.http.request(method, format!("{}{path}", proxy.upstream)).body(body);
    for (name, value) in &headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection" | "transfer-encoding") {
            outgoing = outgoing.header(name, value);
        }
    }
    match outgoing.send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if !matches!(name.as_str(), "content-length" | "connection" | "transfer-encoding") {
                    response = response.header(name, value);
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            response.body(Body::from(bytes)).unwrap_or_else(|_| bad_gateway())
        }
        Err(error) => {
            tracing::warn!(error = %error, "The AWS recorder could not reach moto");
            bad_gateway()
        }
    }
}

fn bad_gateway() -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn dynamodb_writes_and_single_item_reads_name_the_items_they_hold() {
        let update = r#"{"TableName":"t","Key":{"PK":{"S":"T#a"},"SK":{"S":"CONV#1"}}}"#;
        let transaction = r#"{"TransactItems":[{"Put":{"TableName":"t","Item":{"PK":{"S":"T#a"},"SK":{"S":"C#1"},"x":{"N":"1"}}}},
            {"ConditionCheck":{"TableName":"t","Key":{"PK":{"S":"T#a"},"SK":{"S":"C#2"}}}}]}"#;
        let written = |target_header, body: &str| written_items(&target(target_header), body.as_bytes());
        assert_eq!(written("DynamoDB_20120810.UpdateItem", update), [r#""t"|{"S":"T#a"}|{"S":"CONV#1"}"#]);
        assert_eq!(written("DynamoDB_20120810.TransactWriteItems", transaction).len(), 2);
        assert_eq!(
            written("DynamoDB_20120810.GetItem", update).len(),
            1,
            "a read waits for a write in flight"
        );
        assert!(written("DynamoDB_20120810.Query", update).is_empty());
        assert!(written("TrentService.Decrypt", update).is_empty());
    }

    #[test]
    fn item_kinds_name_the_keys_words_and_never_an_id() {
        let get = r#"{"TableName":"t","Key":{"PK":{"S":"T#tn_01abc"},"SK":{"S":"CONV#01xyz"}}}"#;
        let due = r#"{"TableName":"t","Item":{"PK":{"S":"DUE#2026"},"SK":{"S":"tn_01abc#x"}}}"#;
        let transaction = r#"{"TransactItems":[{"Put":{"TableName":"t","Item":{"PK":{"S":"T#a"},"SK":{"S":"MSG#1"}}}},
            {"Update":{"TableName":"t","Key":{"PK":{"S":"T#a"},"SK":{"S":"CONV#2"}}}}]}"#;
        let kinds = |target_header, body: &str| item_kinds(&target(target_header), body.as_bytes());
        assert_eq!(kinds("DynamoDB_20120810.GetItem", get).as_deref(), Some("T/CONV"));
        assert_eq!(kinds("DynamoDB_20120810.PutItem", due).as_deref(), Some("DUE/*"));
        assert_eq!(
            kinds("DynamoDB_20120810.TransactWriteItems", transaction).as_deref(),
            Some("T/MSG,T/CONV")
        );
        assert_eq!(kinds("TrentService.Decrypt", get), None);
    }

    #[test]
    fn an_index_is_named_by_its_tables_logical_id() {
        let names = LogicalNames(HashMap::from([("leadline-table".to_owned(), "Table".to_owned())]));
        assert_eq!(names.logical("leadline-table/index/GSI1"), "Table/index/GSI1");
        assert_eq!(names.logical("leadline-table"), "Table");
        assert_eq!(names.logical("other"), "other");
    }

    fn target(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-target", HeaderValue::from_static(value));
        headers
    }

    fn calls(target_header: &'static str, body: &str) -> Vec<(String, String, Option<Vec<String>>)> {
        authorizations(&target(target_header), body.as_bytes())
    }

    #[test]
    fn a_query_on_an_index_is_authorized_on_the_index() {
        let found = calls("DynamoDB_20120810.Query", r#"{"TableName":"t","IndexName":"GSI1"}"#);
        assert_eq!(found, vec![("dynamodb:Query".into(), "t/index/GSI1".into(), None)]);
    }

    #[test]
    fn a_transaction_is_one_authorization_per_item_and_table() {
        let body = r#"{"TransactItems":[{"Put":{"TableName":"t"}},{"Delete":{"TableName":"k"}},
            {"ConditionCheck":{"TableName":"t"}},{"Update":{"TableName":"t"}}]}"#;
        let found: Vec<_> = calls("DynamoDB_20120810.TransactWriteItems", body)
            .into_iter()
            .map(|(action, resource, _)| format!("{action} {resource}"))
            .collect();
        assert_eq!(
            found,
            [
                "dynamodb:PutItem t",
                "dynamodb:DeleteItem k",
                "dynamodb:ConditionCheckItem t",
                "dynamodb:UpdateItem t"
            ]
        );
    }

    #[test]
    fn a_batch_write_is_authorized_on_every_table_it_names() {
        let body = r#"{"RequestItems":{"t":[],"k":[]}}"#;
        let mut found: Vec<_> = calls("DynamoDB_20120810.BatchWriteItem", body)
            .into_iter()
            .map(|(_, resource, _)| resource)
            .collect();
        found.sort();
        assert_eq!(found, ["k", "t"]);
    }

    #[test]
    fn kms_calls_carry_their_key_and_encryption_context_keys() {
        let body = r#"{"KeyId":"alias/x","EncryptionContext":{"tenant_id":"a","purpose":"b"}}"#;
        let found = calls("TrentService.GenerateDataKey", body);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].0.as_str(), found[0].1.as_str()), ("kms:GenerateDataKey", "alias/x"));
        let mut keys = found[0].2.clone().unwrap_or_default();
        keys.sort();
        assert_eq!(keys, ["purpose", "tenant_id"]);
        assert_eq!(calls("TrentService.Decrypt", "{}")[0].1, "SecretsKey");
    }

    #[test]
    fn sqs_calls_name_their_queue_and_unknown_protocols_are_kept_unknown() {
        let found = calls("AmazonSQS.SendMessage", r#"{"QueueUrl":"http://q/1/inbound"}"#);
        assert_eq!(found, vec![("sqs:SendMessage".into(), "http://q/1/inbound".into(), None)]);
        let batch = calls("AmazonSQS.SendMessageBatch", r#"{"QueueUrl":"http://q/1/inbound"}"#);
        assert_eq!(batch, found, "a batch is authorized as its single action");
        let unknown = authorizations(&HeaderMap::new(), b"Action=SendMessage");
        assert!(unknown[0].0.starts_with("unknown:"));
    }
}
