//! The Lambda Runtime API, emulated: each function process polls
//! `GET /fn/<name>/2018-06-01/runtime/invocation/next` (its `AWS_LAMBDA_RUNTIME_API` is
//! `http://127.0.0.1:<port>/fn/<name>`), and [`Runtime::invoke`] hands it one event at a time and
//! waits for its `/response` or `/error`, as Lambda does with one execution environment.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{mpsc, oneshot};

/// Lambda's limit on a synchronous invocation's response payload.
pub const LAMBDA_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// What a function answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `/response`: the handler's output.
    Response(Bytes),
    /// `/error` (or `/init/error`): the handler failed; the body is the runtime's error JSON.
    Error(Bytes),
}

/// Errors of [`Runtime::invoke`].
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// No function of that name is registered.
    #[error("no function named {0}")]
    UnknownFunction(String),
    /// The function did not answer before its timeout (or died mid-invocation).
    #[error("function {0} timed out")]
    Timeout(String),
}

struct Invocation {
    id: String,
    payload: Bytes,
    deadline_ms: u64,
    reply: oneshot::Sender<Outcome>,
}

struct Slot {
    name: String,
    timeout: Duration,
    sender: mpsc::Sender<Invocation>,
    receiver: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    ready: AtomicBool,
}

/// The emulator. Cheap to share (`Arc`).
pub struct Runtime {
    slots: HashMap<String, Arc<Slot>>,
    counter: AtomicU64,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("functions", &self.slots.keys().collect::<Vec<_>>()).finish()
    }
}

fn epoch_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Runtime {
    /// A runtime for the named functions, each with its invocation timeout.
    #[must_use]
    pub fn new(functions: &[(&str, Duration)]) -> Arc<Self> {
        let slots = functions
            .iter()
            .map(|(name, timeout)| {
                let (sender, receiver) = mpsc::channel(64);
                let slot = Slot {
                    name: (*name).to_owned(),
                    timeout: *timeout,
                    sender,
                    receiver: tokio::sync::Mutex::new(receiver),
                    pending: Mutex::new(HashMap::new()),
                    ready: AtomicBool::new(false),
                };
                ((*name).to_owned(), Arc::new(slot))
            })
            .collect();
        Arc::new(Self { slots, counter: AtomicU64::new(0) })
    }

    /// Which functions have polled for work (and not died since).
    #[must_use]
    pub fn readiness(&self) -> BTreeMap<String, bool> {
        self.slots.iter().map(|(name, slot)| (name.clone(), slot.ready.load(Ordering::SeqCst))).collect()
    }

    /// Marks a function as not ready (its process exited).
    pub fn mark_down(&self, name: &str) {
        if let Some(slot) = self.slots.get(name) {
            slot.ready.store(false, Ordering::SeqCst);
        }
    }

    /// Invokes `name` with `payload` and waits for its answer.
    ///
    /// # Errors
    /// [`InvokeError`].
    pub async fn invoke(&self, name: &str, payload: Bytes) -> Result<Outcome, InvokeError> {
        let slot = self.slots.get(name).ok_or_else(|| InvokeError::UnknownFunction(name.to_owned()))?;
        let id = format!(
            "local-{:08}-{}",
            self.counter.fetch_add(1, Ordering::SeqCst),
            crate::random_hex(4).unwrap_or_default()
        );
        let (reply, answer) = oneshot::channel();
        let deadline_ms = epoch_millis() + u64::try_from(slot.timeout.as_millis()).unwrap_or(u64::MAX);
        let invocation = Invocation { id: id.clone(), payload, deadline_ms, reply };
        let timed_out = || InvokeError::Timeout(name.to_owned());
        tokio::time::timeout(slot.timeout, async {
            slot.sender.send(invocation).await.map_err(|_| timed_out())?;
            answer.await.map_err(|_| timed_out())
        })
        .await
        .map_err(|_| timed_out())?
        .inspect_err(|_| {
            if let Ok(mut pending) = slot.pending.lock() {
                pending.remove(&id);
            }
        })
    }

    /// The Runtime API routes. A response may be as large as Lambda takes (6 MB), no larger:
    /// axum's default of 2 MB would refuse answers Lambda carries, and no limit would accept
    /// answers Lambda refuses.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/fn/{name}/2018-06-01/runtime/invocation/next", get(next))
            .route("/fn/{name}/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/fn/{name}/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/fn/{name}/2018-06-01/runtime/init/error", post(init_error))
            .layer(DefaultBodyLimit::max(LAMBDA_RESPONSE_BYTES))
            .with_state(Arc::clone(self))
    }

    fn slot(&self, name: &str) -> Result<&Arc<Slot>, StatusCode> {
        self.slots.get(name).ok_or(StatusCode::NOT_FOUND)
    }
}

async fn next(State(runtime): State<Arc<Runtime>>, Path(name): Path<String>) -> Result<Response, StatusCode> {
    let slot = runtime.slot(&name)?;
    slot.ready.store(true, Ordering::SeqCst);
    let mut receiver = slot.receiver.lock().await;
    let invocation = receiver.recv().await.ok_or(StatusCode::SERVICE_UNAVAILABLE)?;
    drop(receiver);
    if let Ok(mut pending) = slot.pending.lock() {
        pending.insert(invocation.id.clone(), invocation.reply);
    }
    let mut headers = HeaderMap::new();
    let header = |value: &str| HeaderValue::from_str(value).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR);
    headers.insert("lambda-runtime-aws-request-id", header(&invocation.id)?);
    headers.insert("lambda-runtime-deadline-ms", header(&invocation.deadline_ms.to_string())?);
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        header(&format!("arn:aws:lambda:us-east-1:123456789012:function:{}", slot.name))?,
    );
    headers.insert(
        "lambda-runtime-trace-id",
        header(&format!("Root=1-{}", crate::random_hex(12).unwrap_or_default()))?,
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    Ok((headers, invocation.payload).into_response())
}

fn complete(runtime: &Runtime, name: &str, id: &str, outcome: Outcome) -> StatusCode {
    let Ok(slot) = runtime.slot(name) else { return StatusCode::NOT_FOUND };
    let sender = slot.pending.lock().ok().and_then(|mut pending| pending.remove(id));
    match sender {
        Some(sender) => {
            let _ = sender.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn respond(
    State(runtime): State<Arc<Runtime>>,
    Path((name, id)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    complete(&runtime, &name, &id, Outcome::Response(body))
}

async fn fail(
    State(runtime): State<Arc<Runtime>>,
    Path((name, id)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    complete(&runtime, &name, &id, Outcome::Error(body))
}

async fn init_error(
    State(runtime): State<Arc<Runtime>>,
    Path(name): Path<String>,
    body: Bytes,
) -> StatusCode {
    tracing::error!(function = %name, error = %String::from_utf8_lossy(&body), "Function failed to initialise");
    runtime.mark_down(&name);
    StatusCode::ACCEPTED
}
