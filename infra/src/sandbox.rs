//! The sandbox Graph API: what the functions use as the Graph base URL locally. It records every
//! request (the outbox), answers sends the way the Cloud API does, can be told to fail the next
//! sends with a Meta error (faults) — or to take them and lose the answer (a `garbage` 2xx, or a
//! `slow` one that comes after the client gave up) — serves Lead Ads leads registered by tests,
//! and can hold the requests whose path contains a given text until a test releases them (holds:
//! a Graph call that takes as long as a test needs, to show that one slow invocation blocks no
//! other).
//!
//! Beside it, a sandbox AI provider (`/_sandbox/ai/v1/chat/completions`, OpenAI-compatible): it
//! records every request exactly as received (`GET /_sandbox/ai/requests`), so tests can check
//! what would have left for an external provider (P31), and answers what was asked with fixed
//! replies, a fixed summary or `positive`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One request the sandbox received.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEntry {
    /// HTTP method.
    pub method: String,
    /// Path below `/_sandbox/graph`, with the query.
    pub path: String,
    /// The body as JSON (or as a string when it is not JSON).
    pub body: Value,
    /// When it arrived (epoch milliseconds).
    pub received_at: u64,
    /// The status the sandbox answered.
    pub response_status: u16,
    /// The body the sandbox answered.
    pub response_body: Value,
}

/// A fault to inject into the next send requests.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// The Meta error code (e.g. 130429, 131026); unused by `garbage` and `slow`.
    pub code: i64,
    /// The HTTP status to answer with: 4xx or 5xx for `error`, 2xx for `garbage` and `slow`.
    pub http_status: u16,
    /// What goes wrong (optional; `error` by default).
    #[serde(default)]
    pub kind: FaultKind,
    /// For `slow`: how long the answer takes, in milliseconds (default 15000, past the Graph
    /// client's 10 s timeout).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// How many send requests fail.
    pub times: u32,
    /// Optional message; a generic one otherwise.
    #[serde(default)]
    pub message: Option<String>,
    /// Only sends from this business number fail (tests running side by side stay apart);
    /// any number when absent.
    #[serde(default)]
    pub phone_number_id: Option<String>,
}

/// A hold as `POST /_sandbox/holds` takes it: Graph requests whose path (with its query)
/// contains `path_contains` wait until `DELETE /_sandbox/holds/{id}` releases them, or at most
/// `millis` (then they are answered as usual).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// What the path must contain (not empty).
    pub path_contains: String,
    /// The longest a request is held (at most 60 s).
    pub millis: u64,
}

/// A hold as the sandbox shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HoldView {
    /// Its id.
    pub id: String,
    /// Requests waiting on it now.
    pub waiting: usize,
    /// Requests it has held so far.
    pub held: usize,
    /// Whether it was released (it holds nothing more).
    pub released: bool,
}

#[derive(Debug)]
struct Hold {
    request: HoldRequest,
    view: HoldView,
    release: tokio::sync::watch::Sender<bool>,
}

/// What a fault does to a send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Meta refuses the send with the error `code` (nothing is sent).
    #[default]
    Error,
    /// Meta takes the message, but the answer is `http_status` with a body that is not JSON.
    Garbage,
    /// Meta takes the message and answers as usual, but only after `delay_ms`.
    Slow,
}

/// What a send that Meta took answers unusually.
#[derive(Debug, Clone, Copy)]
enum Lost {
    /// A body that does not parse, with this (2xx) status.
    Garbage(StatusCode),
    /// The usual answer, after this long.
    Slow(Duration),
}

/// The body a `garbage` fault answers: cut off mid-JSON.
const GARBAGE: &str = r#"{"messaging_product":"whatsapp","messages":[{"id":"#;

/// A lead as `POST /_sandbox/leads` takes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Lead {
    /// The leadgen id.
    pub id: String,
    /// The form answers, `[{name, values}]`.
    pub field_data: Value,
    /// The form.
    #[serde(default)]
    pub form_id: Option<String>,
    /// When it was created (ISO 8601, as Graph returns it).
    #[serde(default)]
    pub created_time: Option<String>,
}

#[derive(Debug, Default)]
struct State_ {
    outbox: Vec<OutboxEntry>,
    faults: VecDeque<Fault>,
    leads: HashMap<String, Value>,
    /// Message templates by WABA id, as `GET /<waba_id>/message_templates` lists them.
    templates: HashMap<String, Vec<Value>>,
    /// What the sandbox AI provider received.
    ai_requests: Vec<AiRequest>,
    /// Holds on Graph requests, by id.
    holds: HashMap<String, Hold>,
}

/// One request the sandbox AI provider received.
#[derive(Debug, Clone, Serialize)]
pub struct AiRequest {
    /// Path below `/_sandbox/ai`.
    pub path: String,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    /// The body as JSON (or as a string when it is not JSON).
    pub body: Value,
}

/// The replies the sandbox AI provider suggests.
pub const SANDBOX_REPLIES: [&str; 2] = ["Thanks for your message, [name]!", "Sure, I can help with that."];
/// The summary it writes (its sentiment is always `positive`).
pub const SANDBOX_SUMMARY: &str = "The customer asks about a product; no answer yet.";

/// The sandbox; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    state: Arc<Mutex<State_>>,
}

fn graph_error(code: i64, message: &str) -> Value {
    json!({"error": {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": message},
        "fbtrace_id": format!("sandbox-{}", crate::random_hex(6).unwrap_or_default()),
    }})
}

impl Sandbox {
    /// The routes, to be mounted at `/_sandbox`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/graph/{*path}", any(graph))
            .route("/outbox", get(outbox).delete(clear_outbox))
            .route("/faults", post(add_fault))
            .route("/holds", post(add_hold))
            .route("/holds/{id}", get(hold).delete(release_hold))
            .route("/leads", post(add_lead))
            .route("/templates/{waba_id}", post(add_template))
            .route("/ai/requests", get(ai_requests))
            .route("/ai/v1/chat/completions", post(ai_completion))
            .with_state(self.clone())
    }

    fn answer(&self, method: &Method, path: &str, body: &Value) -> (StatusCode, Value, Option<Lost>) {
        let (status, answer) = self.answer_as_graph(method, path, body);
        if !status.is_success() {
            return (status, answer, None);
        }
        match self.lost_answer(method, path) {
            Some(Lost::Garbage(garbage_status)) => {
                (garbage_status, answer, Some(Lost::Garbage(garbage_status)))
            }
            lost => (status, answer, lost),
        }
    }

    /// A `garbage` or `slow` fault that applies to this send (taken, then its answer lost).
    fn lost_answer(&self, method: &Method, path: &str) -> Option<Lost> {
        let mut state = self.state.lock().ok()?;
        let segments: Vec<&str> =
            path.split('?').next().unwrap_or_default().split('/').filter(|s| !s.is_empty()).collect();
        let (&Method::POST, [_version, phone_number_id, "messages"]) = (method, segments.as_slice()) else {
            return None;
        };
        let applies = |f: &Fault| {
            f.kind != FaultKind::Error && f.phone_number_id.as_deref().is_none_or(|id| id == *phone_number_id)
        };
        let index = state.faults.iter().position(applies)?;
        let fault = &mut state.faults[index];
        fault.times = fault.times.saturating_sub(1);
        let lost = match fault.kind {
            FaultKind::Slow => Lost::Slow(Duration::from_millis(fault.delay_ms.unwrap_or(15_000))),
            _ => Lost::Garbage(StatusCode::from_u16(fault.http_status).unwrap_or(StatusCode::OK)),
        };
        if fault.times == 0 {
            state.faults.remove(index);
        }
        Some(lost)
    }

    fn answer_as_graph(&self, method: &Method, path: &str, body: &Value) -> (StatusCode, Value) {
        let Ok(mut state) = self.state.lock() else {
            return (StatusCode::INTERNAL_SERVER_ERROR, graph_error(1, "sandbox state poisoned"));
        };
        let segments: Vec<&str> =
            path.split('?').next().unwrap_or_default().split('/').filter(|s| !s.is_empty()).collect();
        match (method, segments.as_slice()) {
            (&Method::POST, [_version, phone_number_id, "messages"]) => {
                let applies = |f: &Fault| {
                    f.kind == FaultKind::Error
                        && f.phone_number_id.as_deref().is_none_or(|id| id == *phone_number_id)
                };
                if let Some(index) = state.faults.iter().position(applies) {
                    let fault = &mut state.faults[index];
                    fault.times = fault.times.saturating_sub(1);
                    let status = StatusCode::from_u16(fault.http_status).unwrap_or(StatusCode::BAD_REQUEST);
                    let message =
                        fault.message.clone().unwrap_or_else(|| format!("Sandbox fault {}", fault.code));
                    let error = graph_error(fault.code, &message);
                    if fault.times == 0 {
                        state.faults.remove(index);
                    }
                    return (status, error);
                }
                if body.get("status").and_then(Value::as_str) == Some("read") {
                    return (StatusCode::OK, json!({"success": true}));
                }
                let to = body.get("to").cloned().unwrap_or(Value::Null);
                let wamid =
                    format!("wamid.SANDBOX{}", crate::random_hex(16).unwrap_or_default().to_uppercase());
                (
                    StatusCode::OK,
                    json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": wamid}]}),
                )
            }
            (&Method::GET, [_version, id]) => match state.leads.get(*id) {
                Some(lead) => (StatusCode::OK, lead.clone()),
                None => (
                    StatusCode::BAD_REQUEST,
                    graph_error(
                        100,
                        &format!("Unsupported get request. Object with ID '{id}' does not exist"),
                    ),
                ),
            },
            (&Method::GET, [_version, waba_id, "message_templates"]) => {
                let data = state.templates.get(*waba_id).cloned().unwrap_or_default();
                (StatusCode::OK, json!({"data": data, "paging": {}}))
            }
            _ => (StatusCode::BAD_REQUEST, graph_error(100, "Unsupported request in the sandbox")),
        }
    }
}

async fn graph(
    State(sandbox): State<Sandbox>,
    method: Method,
    Path(path): Path<String>,
    uri: axum::http::Uri,
    body: Bytes,
) -> Response {
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    let full_path = match uri.query() {
        Some(query) => format!("/{path}?{query}"),
        None => format!("/{path}"),
    };
    sandbox.wait_for_holds(&full_path).await;
    let (status, response_body, lost) = sandbox.answer(&method, &full_path, &body);
    let received_at =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    // Taken but answered unreadably: the outbox shows what was answered.
    let recorded = match lost {
        Some(Lost::Garbage(_)) => Value::String(GARBAGE.to_owned()),
        _ => response_body.clone(),
    };
    if let Ok(mut state) = sandbox.state.lock() {
        state.outbox.push(OutboxEntry {
            method: method.to_string(),
            path: full_path,
            body,
            received_at,
            response_status: status.as_u16(),
            response_body: recorded,
        });
    }
    match lost {
        Some(Lost::Garbage(_)) => (status, [("content-type", "application/json")], GARBAGE).into_response(),
        Some(Lost::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            (status, Json(response_body)).into_response()
        }
        None => (status, Json(response_body)).into_response(),
    }
}

impl Sandbox {
    /// Waits while an unreleased hold matches `path` (at most its `millis`).
    async fn wait_for_holds(&self, path: &str) {
        let matching = self.state.lock().ok().and_then(|mut state| {
            let hold = state
                .holds
                .values_mut()
                .find(|h| !h.view.released && path.contains(&h.request.path_contains))?;
            hold.view.waiting += 1;
            hold.view.held += 1;
            Some((hold.view.id.clone(), hold.release.subscribe(), hold.request.millis))
        });
        let Some((id, mut released, millis)) = matching else { return };
        let _ = tokio::time::timeout(Duration::from_millis(millis), released.wait_for(|r| *r)).await;
        if let Ok(mut state) = self.state.lock() {
            if let Some(hold) = state.holds.get_mut(&id) {
                hold.view.waiting = hold.view.waiting.saturating_sub(1);
            }
        }
    }
}

async fn add_hold(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let request: HoldRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return bad_request(format!("expected {{path_contains, millis}}: {e}")),
    };
    if request.path_contains.is_empty() || request.millis > 60_000 {
        return bad_request("path_contains must not be empty and millis at most 60000".to_owned());
    }
    let id = format!("hold-{}", crate::random_hex(8).unwrap_or_default());
    let view = HoldView { id: id.clone(), waiting: 0, held: 0, released: false };
    let (release, _) = tokio::sync::watch::channel(false);
    if let Ok(mut state) = sandbox.state.lock() {
        state.holds.insert(id, Hold { request, view: view.clone(), release });
    }
    (StatusCode::CREATED, Json(view)).into_response()
}

async fn hold(State(sandbox): State<Sandbox>, Path(id): Path<String>) -> Response {
    let view = sandbox.state.lock().ok().and_then(|state| state.holds.get(&id).map(|h| h.view.clone()));
    match view {
        Some(view) => Json(view).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"detail": "no such hold"}))).into_response(),
    }
}

async fn release_hold(State(sandbox): State<Sandbox>, Path(id): Path<String>) -> Response {
    let view = sandbox.state.lock().ok().and_then(|mut state| {
        let hold = state.holds.get_mut(&id)?;
        hold.view.released = true;
        hold.release.send_replace(true);
        Some(hold.view.clone())
    });
    match view {
        Some(view) => Json(view).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"detail": "no such hold"}))).into_response(),
    }
}

async fn outbox(State(sandbox): State<Sandbox>) -> Response {
    let entries = sandbox.state.lock().map(|s| s.outbox.clone()).unwrap_or_default();
    Json(entries).into_response()
}

async fn clear_outbox(State(sandbox): State<Sandbox>) -> StatusCode {
    if let Ok(mut state) = sandbox.state.lock() {
        state.outbox.clear();
    }
    StatusCode::NO_CONTENT
}

fn bad_request(detail: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/problem+json")],
        Json(json!({"type": "https://leadline.dev/problems/bad-request", "title": "Bad request", "status": 400, "detail": detail})),
    )
        .into_response()
}

async fn add_fault(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(fault) => fault,
        Err(e) => return bad_request(format!("expected {{code, http_status, times}}: {e}")),
    };
    let status_fits = match fault.kind {
        FaultKind::Error => fault.http_status >= 400,
        FaultKind::Garbage | FaultKind::Slow => (200..300).contains(&fault.http_status),
    };
    if fault.times == 0 || StatusCode::from_u16(fault.http_status).is_err() || !status_fits {
        return bad_request(
            "times must be at least 1 and http_status a 4xx or 5xx status (a 2xx for garbage and slow)"
                .to_owned(),
        );
    }
    if let Ok(mut state) = sandbox.state.lock() {
        state.faults.push_back(fault.clone());
    }
    (StatusCode::CREATED, Json(fault)).into_response()
}

async fn add_lead(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let lead: Lead = match serde_json::from_slice(&body) {
        Ok(lead) => lead,
        Err(e) => return bad_request(format!("expected {{id, field_data, form_id, created_time}}: {e}")),
    };
    if lead.id.is_empty() || lead.id.contains('/') {
        return bad_request("id must be non-empty and contain no '/'".to_owned());
    }
    let stored = json!({
        "id": lead.id,
        "created_time": lead.created_time,
        "form_id": lead.form_id,
        "field_data": lead.field_data,
    });
    if let Ok(mut state) = sandbox.state.lock() {
        state.leads.insert(lead.id.clone(), stored.clone());
    }
    (StatusCode::CREATED, Json(stored)).into_response()
}

/// `POST /_sandbox/templates/<waba_id>` with a template as Meta lists it
/// (`{name, language, status, category, components}`): `GET …/message_templates` returns it.
async fn add_template(State(sandbox): State<Sandbox>, Path(waba_id): Path<String>, body: Bytes) -> Response {
    let template: Value = match serde_json::from_slice(&body) {
        Ok(template @ Value::Object(_))
            if template.get("name").is_some() && template.get("language").is_some() =>
        {
            template
        }
        _ => return bad_request("expected a template object with name and language".to_owned()),
    };
    if let Ok(mut state) = sandbox.state.lock() {
        let list = state.templates.entry(waba_id).or_default();
        list.retain(|t| {
            t.get("name") != template.get("name") || t.get("language") != template.get("language")
        });
        list.push(template.clone());
    }
    (StatusCode::CREATED, Json(template)).into_response()
}

/// `POST /_sandbox/ai/v1/chat/completions`: records the request, answers a chat completion whose
/// content is the JSON Leadline asks for.
async fn ai_completion(
    State(sandbox): State<Sandbox>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    // Answer what was asked: the system message says which kind of suggestion.
    let asked = body.pointer("/messages/0/content").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Ok(mut state) = sandbox.state.lock() {
        state.ai_requests.push(AiRequest { path: "/v1/chat/completions".to_owned(), authorization, body });
    }
    let content = if asked.contains("Summarize") {
        json!({"summary": SANDBOX_SUMMARY})
    } else if asked.contains("sentiment") {
        json!({"sentiment": "positive"})
    } else {
        json!({"replies": SANDBOX_REPLIES})
    }
    .to_string();
    Json(json!({
        "id": format!("chatcmpl-sandbox{}", crate::random_hex(8).unwrap_or_default()),
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }))
    .into_response()
}

async fn ai_requests(State(sandbox): State<Sandbox>) -> Response {
    let requests = sandbox.state.lock().map(|s| s.ai_requests.clone()).unwrap_or_default();
    Json(requests).into_response()
}
