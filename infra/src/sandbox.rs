//! The sandbox Graph API: what the functions use as the Graph base URL locally. It records every
//! request (the outbox), answers sends the way the Cloud API does, can be told to fail the next
//! sends with a Meta error (faults) — or to take them and lose the answer (a `garbage` 2xx, or a
//! `slow` one that comes after the client gave up) — serves Lead Ads leads registered by tests,
//! confirms the business numbers and Pages registered with it (`POST /_sandbox/numbers`,
//! `POST /_sandbox/pages`) only for their own tokens, as Graph does: an unknown token is code 190
//! (HTTP 401), an object the token may not read code 100 (subcode 33); and it can hold the
//! requests whose path contains a given text until a test releases them (holds: a Graph call
//! that takes as long as a test needs, to show that one slow invocation blocks no other).
//! It can also enforce Meta's throughput limit per business number (`POST /_sandbox/throughput`,
//! off by default) and counts sends accepted and refused by code ([`throughput`]).
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
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

mod holds;
mod media;
pub mod throughput;

use holds::{add_hold, hold, release_hold, Hold};

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
    /// Business numbers registered with `POST /_sandbox/numbers`.
    numbers: Vec<Number>,
    /// Pages registered with `POST /_sandbox/pages`.
    pages: Vec<Page>,
    /// Media by id: uploaded, or put there as a customer's (`media`).
    media: HashMap<String, media::StoredMedia>,
    /// Meta's throughput limit, when a test sets one, and the send counters.
    throughput: throughput::Throughput,
}

/// A business number as `POST /_sandbox/numbers` takes it: Graph then confirms it for this
/// token only (`GET /<phone_number_id>`, `GET /<waba_id>/phone_numbers`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Number {
    /// Meta's phone number id (digits).
    pub phone_number_id: String,
    /// The number customers see.
    pub display_phone_number: String,
    /// The WhatsApp Business Account it belongs to (digits).
    pub waba_id: String,
    /// The token that may read it (a system user's token in production).
    pub access_token: String,
}

/// A Page as `POST /_sandbox/pages` takes it: `GET /me` (and `GET /<page_id>`) with this token
/// answers the Page, as Graph does for a Page access token.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// The Page id (digits).
    pub page_id: String,
    /// The Page access token.
    pub access_token: String,
    /// The Page's name.
    #[serde(default)]
    pub name: Option<String>,
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

/// Graph's answer to a token it cannot parse or that is not (any more) valid.
fn invalid_token() -> (StatusCode, Value) {
    (
        StatusCode::UNAUTHORIZED,
        json!({"error": {
            "message": "Invalid OAuth access token - Cannot parse access token",
            "type": "OAuthException",
            "code": 190,
            "fbtrace_id": format!("sandbox-{}", crate::random_hex(6).unwrap_or_default()),
        }}),
    )
}

/// Graph's answer to an object that does not exist or that the token may not read.
fn unknown_object(id: &str) -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({"error": {
            "message": format!("Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"),
            "type": "GraphMethodException",
            "code": 100,
            "error_subcode": 33,
            "fbtrace_id": format!("sandbox-{}", crate::random_hex(6).unwrap_or_default()),
        }}),
    )
}

/// A number as Graph describes it, limited to the `fields` asked for (`id` always).
fn number_node(number: &Number, fields: Option<&str>) -> Value {
    let display = if number.display_phone_number.starts_with('+') {
        number.display_phone_number.clone()
    } else {
        format!("+{}", number.display_phone_number)
    };
    let full = json!({
        "verified_name": "Sandbox Business",
        "code_verification_status": "VERIFIED",
        "display_phone_number": display,
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": {"level": "STANDARD"},
        "id": number.phone_number_id,
    });
    let Some(fields) = fields else { return full };
    let mut node = serde_json::Map::new();
    for field in fields.split(',').map(str::trim).chain(["id"]) {
        if let Some(value) = full.get(field) {
            node.insert(field.to_owned(), value.clone());
        }
    }
    Value::Object(node)
}

/// The `fields` query parameter, if any.
fn fields_of(path: &str) -> Option<String> {
    let query = path.split_once('?')?.1;
    query.split('&').find_map(|pair| pair.strip_prefix("fields=")).map(|f| f.replace("%2C", ","))
}

impl State_ {
    /// True when the token is one the sandbox issued (registered with a number or a Page).
    fn knows_token(&self, token: Option<&str>) -> bool {
        token.is_some_and(|token| {
            self.numbers.iter().any(|n| n.access_token == token)
                || self.pages.iter().any(|p| p.access_token == token)
        })
    }

    /// `GET /<id>` of a registered number or Page, as `token` sees it; `None` when `id` is neither.
    fn node(&self, id: &str, token: Option<&str>, fields: Option<&str>) -> Option<(StatusCode, Value)> {
        let number = self.numbers.iter().find(|n| n.phone_number_id == id);
        let page = self.pages.iter().find(|p| p.page_id == id);
        if number.is_none() && page.is_none() {
            return None;
        }
        if !self.knows_token(token) {
            return Some(invalid_token());
        }
        if let Some(number) = number.filter(|n| Some(n.access_token.as_str()) == token) {
            return Some((StatusCode::OK, number_node(number, fields)));
        }
        if let Some(page) = page.filter(|p| Some(p.access_token.as_str()) == token) {
            return Some((StatusCode::OK, json!({"id": page.page_id, "name": page.name})));
        }
        Some(unknown_object(id))
    }

    /// `GET /me`: a Page token is its Page; a number's token is the system user that holds it.
    fn me(&self, token: Option<&str>) -> (StatusCode, Value) {
        if let Some(page) = self.pages.iter().find(|p| Some(p.access_token.as_str()) == token) {
            return (StatusCode::OK, json!({"id": page.page_id, "name": page.name}));
        }
        if self.knows_token(token) {
            return (StatusCode::OK, json!({"id": "100000000000000", "name": "Sandbox System User"}));
        }
        invalid_token()
    }

    /// `GET /<waba_id>/phone_numbers`: the WABA's numbers `token` may read.
    fn waba_numbers(&self, waba_id: &str, token: Option<&str>, fields: Option<&str>) -> (StatusCode, Value) {
        if !self.knows_token(token) {
            return invalid_token();
        }
        let data: Vec<Value> = self
            .numbers
            .iter()
            .filter(|n| n.waba_id == waba_id && Some(n.access_token.as_str()) == token)
            .map(|n| number_node(n, fields))
            .collect();
        if data.is_empty() {
            return unknown_object(waba_id);
        }
        let cursor = |n: &Value| n["id"].as_str().map(|id| B64.encode(id)).unwrap_or_default();
        let paging = json!({"cursors": {
            "before": data.first().map(cursor).unwrap_or_default(),
            "after": data.last().map(cursor).unwrap_or_default(),
        }});
        (StatusCode::OK, json!({"data": data, "paging": paging}))
    }
}

impl Sandbox {
    /// Registers a number (as `POST /_sandbox/numbers` does); the same id again replaces it.
    pub fn register_number(&self, number: Number) {
        if let Ok(mut state) = self.state.lock() {
            state.numbers.retain(|n| n.phone_number_id != number.phone_number_id);
            state.numbers.push(number);
        }
    }

    /// Registers a Page (as `POST /_sandbox/pages` does); the same id again replaces it.
    pub fn register_page(&self, page: Page) {
        if let Ok(mut state) = self.state.lock() {
            state.pages.retain(|p| p.page_id != page.page_id);
            state.pages.push(page);
        }
    }

    /// The routes, to be mounted at `/_sandbox`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/graph/{*path}", any(graph))
            .route("/graph/_media/{id}", get(media::download))
            .route("/media", post(media::add))
            .route("/outbox", get(outbox).delete(clear_outbox))
            .route("/faults", post(add_fault))
            .route("/throughput", get(throughput::throughput).post(throughput::set_throughput))
            .route("/holds", post(add_hold))
            .route("/holds/{id}", get(hold).delete(release_hold))
            .route("/leads", post(add_lead))
            .route("/numbers", post(add_number))
            .route("/pages", post(add_page))
            .route("/templates/{waba_id}", post(add_template))
            .route("/ai/requests", get(ai_requests))
            .route("/ai/v1/chat/completions", post(ai_completion))
            .with_state(self.clone())
    }

    /// Adds a request to the outbox.
    fn record(&self, method: &Method, path: String, body: Value, status: StatusCode, answered: Value) {
        let received_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        if let Ok(mut state) = self.state.lock() {
            state.outbox.push(OutboxEntry {
                method: method.to_string(),
                path,
                body,
                received_at,
                response_status: status.as_u16(),
                response_body: answered,
            });
        }
    }

    fn answer(
        &self,
        method: &Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (StatusCode, Value, Option<Lost>) {
        let (status, answer) = self.answer_as_graph(method, path, token, body);
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

    fn answer_as_graph(
        &self,
        method: &Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (StatusCode, Value) {
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
                    let code = fault.code;
                    if fault.times == 0 {
                        state.faults.remove(index);
                    }
                    state.throughput.refused(phone_number_id, code);
                    return (status, error);
                }
                if body.get("status").and_then(Value::as_str) == Some("read") {
                    return (StatusCode::OK, json!({"success": true}));
                }
                if !state.throughput.admit(phone_number_id, std::time::Instant::now()) {
                    return throughput::rate_limit_hit();
                }
                let to = body.get("to").cloned().unwrap_or(Value::Null);
                let wamid =
                    format!("wamid.SANDBOX{}", crate::random_hex(16).unwrap_or_default().to_uppercase());
                (
                    StatusCode::OK,
                    json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": wamid}]}),
                )
            }
            (&Method::GET, [_version, "me"]) => state.me(token),
            (&Method::GET, [_version, waba_id, "phone_numbers"]) => {
                state.waba_numbers(waba_id, token, fields_of(path).as_deref())
            }
            (&Method::GET, [_version, id]) => match state.leads.get(*id) {
                Some(lead) => (StatusCode::OK, lead.clone()),
                None => {
                    state.node(id, token, fields_of(path).as_deref()).unwrap_or_else(|| unknown_object(id))
                }
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
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| {
            // Graph also takes the token as a query parameter.
            uri.query()?.split('&').find_map(|p| p.strip_prefix("access_token=")).map(str::to_owned)
        });
    let full_path = match uri.query() {
        Some(query) => format!("/{path}?{query}"),
        None => format!("/{path}"),
    };
    if let Some((status, answer, recorded)) =
        media::answer(&sandbox, &method, &full_path, token.as_deref(), &headers, &body)
    {
        sandbox.record(&method, full_path, recorded, status, answer.clone());
        return (status, Json(answer)).into_response();
    }
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    sandbox.wait_for_holds(&full_path).await;
    let (status, response_body, lost) = sandbox.answer(&method, &full_path, token.as_deref(), &body);
    // Taken but answered unreadably: the outbox shows what was answered.
    let recorded = match lost {
        Some(Lost::Garbage(_)) => Value::String(GARBAGE.to_owned()),
        _ => response_body.clone(),
    };
    sandbox.record(&method, full_path, body, status, recorded);
    match lost {
        Some(Lost::Garbage(_)) => (status, [("content-type", "application/json")], GARBAGE).into_response(),
        Some(Lost::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            (status, Json(response_body)).into_response()
        }
        None => (status, Json(response_body)).into_response(),
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

pub(super) fn bad_request(detail: String) -> Response {
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

fn digits(value: &str) -> bool {
    !value.is_empty() && value.len() <= 32 && value.chars().all(|c| c.is_ascii_digit())
}

/// `POST /_sandbox/numbers` with `{phone_number_id, display_phone_number, waba_id, access_token}`.
async fn add_number(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let number: Number = match serde_json::from_slice(&body) {
        Ok(number) => number,
        Err(e) => {
            return bad_request(format!(
                "expected {{phone_number_id, display_phone_number, waba_id, access_token}}: {e}"
            ))
        }
    };
    if !digits(&number.phone_number_id) || !digits(&number.waba_id) || number.access_token.is_empty() {
        return bad_request("phone_number_id and waba_id must be digits, access_token non-empty".to_owned());
    }
    let shown = json!({"phone_number_id": number.phone_number_id, "display_phone_number": number.display_phone_number, "waba_id": number.waba_id});
    sandbox.register_number(number);
    (StatusCode::CREATED, Json(shown)).into_response()
}

/// `POST /_sandbox/pages` with `{page_id, access_token, name?}`.
async fn add_page(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let page: Page = match serde_json::from_slice(&body) {
        Ok(page) => page,
        Err(e) => return bad_request(format!("expected {{page_id, access_token, name}}: {e}")),
    };
    if !digits(&page.page_id) || page.access_token.is_empty() {
        return bad_request("page_id must be digits, access_token non-empty".to_owned());
    }
    let shown = json!({"page_id": page.page_id, "name": page.name});
    sandbox.register_page(page);
    (StatusCode::CREATED, Json(shown)).into_response()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> Sandbox {
        let sandbox = Sandbox::default();
        sandbox.register_number(Number {
            phone_number_id: "106540352242922".into(),
            display_phone_number: "15550100001".into(),
            waba_id: "102290129340398".into(),
            access_token: "EAAOWNER".into(),
        });
        sandbox.register_number(Number {
            phone_number_id: "106540352242999".into(),
            display_phone_number: "+1 555 010 0099".into(),
            waba_id: "102290129340999".into(),
            access_token: "EAAOTHER".into(),
        });
        sandbox.register_page(Page {
            page_id: "109876543210987".into(),
            access_token: "EAAPAGE".into(),
            name: None,
        });
        sandbox
    }

    #[test]
    fn a_registered_number_is_confirmed_for_its_token_only_as_graph_answers() {
        let sandbox = sandbox();
        let get = |path: &str, token: Option<&str>| {
            sandbox.answer_as_graph(&Method::GET, path, token, &Value::Null)
        };

        let own = get("/v23.0/106540352242922?fields=id,display_phone_number", Some("EAAOWNER"));
        let another_token = get("/v23.0/106540352242922", Some("EAAOTHER"));
        let made_up = get("/v23.0/106540352242922", Some("EAAMADEUP"));
        let listed = get("/v23.0/102290129340398/phone_numbers", Some("EAAOWNER"));
        let not_its_waba = get("/v23.0/102290129340999/phone_numbers", Some("EAAOWNER"));
        let page = get("/v23.0/me?fields=id", Some("EAAPAGE"));
        let no_page = get("/v23.0/me", Some("EAAMADEUP"));

        assert_eq!(
            own,
            (StatusCode::OK, json!({"id": "106540352242922", "display_phone_number": "+15550100001"}))
        );
        assert_eq!(
            (another_token.0, another_token.1["error"]["code"].clone()),
            (StatusCode::BAD_REQUEST, json!(100))
        );
        assert_eq!(another_token.1["error"]["error_subcode"], 33);
        assert_eq!((made_up.0, made_up.1["error"]["code"].clone()), (StatusCode::UNAUTHORIZED, json!(190)));
        assert_eq!(listed.0, StatusCode::OK);
        assert_eq!(listed.1["data"][0]["id"], "106540352242922");
        assert!(listed.1["paging"]["cursors"]["after"].is_string());
        assert_eq!(not_its_waba.1["error"]["code"], 100);
        assert_eq!(page, (StatusCode::OK, json!({"id": "109876543210987", "name": null})));
        assert_eq!(no_page.1["error"]["code"], 190);
    }
}
