//! The Lambda Runtime API, emulated: each function runs as one or more processes (instances, as
//! Lambda runs one execution environment per concurrent invocation). Instance `i` of `name` polls
//! `GET /fn/<name>/<i>/2018-06-01/runtime/invocation/next` (its `AWS_LAMBDA_RUNTIME_API` is
//! `http://127.0.0.1:<port>/fn/<name>/<i>`); [`Runtime::invoke`] hands each event to whichever
//! instance asks next — an idle one, since a busy one is not polling — and waits for its
//! `/response` or `/error`. Each instance runs one invocation at a time, as an execution
//! environment does; the function runs as many at once as it has instances.

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
    /// One flag per instance: it has polled for work and not died since.
    ready: Vec<AtomicBool>,
}

impl Slot {
    fn instance(&self, instance: usize) -> Result<&AtomicBool, StatusCode> {
        self.ready.get(instance).ok_or(StatusCode::NOT_FOUND)
    }
}

/// One function as the runtime knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionSpec<'a> {
    /// Its name (the binary's, and the path segment of its Runtime API).
    pub name: &'a str,
    /// How long one invocation may run (as in `template.yaml`).
    pub timeout: Duration,
    /// How many instances (processes) run it: invocations at once.
    pub instances: usize,
}

/// How many instances of a function are ready, of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Readiness {
    /// Instances polling for work.
    pub ready: usize,
    /// Instances it runs.
    pub of: usize,
}

impl Readiness {
    /// Every instance is polling.
    #[must_use]
    pub fn all(self) -> bool {
        self.ready == self.of
    }
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
    /// A runtime for `functions` (at least one instance each).
    #[must_use]
    pub fn new(functions: &[FunctionSpec<'_>]) -> Arc<Self> {
        let slots = functions
            .iter()
            .map(|function| {
                let (sender, receiver) = mpsc::channel(64);
                let slot = Slot {
                    name: function.name.to_owned(),
                    timeout: function.timeout,
                    sender,
                    receiver: tokio::sync::Mutex::new(receiver),
                    pending: Mutex::new(HashMap::new()),
                    ready: (0..function.instances.max(1)).map(|_| AtomicBool::new(false)).collect(),
                };
                (function.name.to_owned(), Arc::new(slot))
            })
            .collect();
        Arc::new(Self { slots, counter: AtomicU64::new(0) })
    }

    /// How many instances of each function have polled for work (and not died since).
    #[must_use]
    pub fn readiness(&self) -> BTreeMap<String, Readiness> {
        self.slots
            .iter()
            .map(|(name, slot)| {
                let ready = slot.ready.iter().filter(|flag| flag.load(Ordering::SeqCst)).count();
                (name.clone(), Readiness { ready, of: slot.ready.len() })
            })
            .collect()
    }

    /// Whether every instance of every function is polling.
    #[must_use]
    pub fn all_ready(&self) -> bool {
        self.readiness().values().all(|r| r.all())
    }

    /// Marks one instance of a function as not ready (its process exited).
    pub fn mark_down(&self, name: &str, instance: usize) {
        if let Some(flag) = self.slots.get(name).and_then(|slot| slot.ready.get(instance)) {
            flag.store(false, Ordering::SeqCst);
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
            .route("/fn/{name}/{instance}/2018-06-01/runtime/invocation/next", get(next))
            .route("/fn/{name}/{instance}/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/fn/{name}/{instance}/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/fn/{name}/{instance}/2018-06-01/runtime/init/error", post(init_error))
            .layer(DefaultBodyLimit::max(LAMBDA_RESPONSE_BYTES))
            .with_state(Arc::clone(self))
    }

    fn slot(&self, name: &str) -> Result<&Arc<Slot>, StatusCode> {
        self.slots.get(name).ok_or(StatusCode::NOT_FOUND)
    }
}

async fn next(
    State(runtime): State<Arc<Runtime>>,
    Path((name, instance)): Path<(String, usize)>,
) -> Result<Response, StatusCode> {
    let slot = runtime.slot(&name)?;
    slot.instance(instance)?.store(true, Ordering::SeqCst);
    // The instances of a function wait here in turn: whichever is idle takes the next event.
    let mut receiver = slot.receiver.lock().await;
    let invocation = loop {
        let invocation = receiver.recv().await.ok_or(StatusCode::SERVICE_UNAVAILABLE)?;
        // Its caller gave up while it waited for a free instance (the gateway answered 503, the
        // poller's message will be redelivered): running it now would only keep an instance busy
        // for nobody and make every later invocation wait longer (on AWS it would have run at
        // once, on an instance of its own).
        if !invocation.reply.is_closed() {
            break invocation;
        }
        tracing::debug!(function = %slot.name, id = %invocation.id, "Invocation abandoned before it started; skipped");
    };
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
    Path((name, _instance, id)): Path<(String, usize, String)>,
    body: Bytes,
) -> StatusCode {
    complete(&runtime, &name, &id, Outcome::Response(body))
}

async fn fail(
    State(runtime): State<Arc<Runtime>>,
    Path((name, _instance, id)): Path<(String, usize, String)>,
    body: Bytes,
) -> StatusCode {
    complete(&runtime, &name, &id, Outcome::Error(body))
}

async fn init_error(
    State(runtime): State<Arc<Runtime>>,
    Path((name, instance)): Path<(String, usize)>,
    body: Bytes,
) -> StatusCode {
    tracing::error!(function = %name, instance, error = %String::from_utf8_lossy(&body), "Function failed to initialise");
    runtime.mark_down(&name, instance);
    StatusCode::ACCEPTED
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(instances: usize) -> Arc<Runtime> {
        Runtime::new(&[FunctionSpec { name: "api", timeout: Duration::from_secs(5), instances }])
    }

    /// What instance `instance` gets from `next`: the request id and payload.
    async fn next_event(runtime: &Arc<Runtime>, instance: usize) -> (String, Bytes) {
        let response = next(State(Arc::clone(runtime)), Path(("api".to_owned(), instance)))
            .await
            .expect("an invocation");
        let id = response.headers()["lambda-runtime-aws-request-id"].to_str().expect("id").to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1024).await.expect("body");
        (id, body)
    }

    #[tokio::test]
    async fn two_instances_run_two_invocations_at_once_and_each_answer_reaches_its_caller() {
        // Arrange
        let runtime = runtime(2);
        let invoke = |payload: &'static str| {
            let runtime = Arc::clone(&runtime);
            tokio::spawn(async move { runtime.invoke("api", Bytes::from_static(payload.as_bytes())).await })
        };
        let (first, second) = (invoke("one"), invoke("two"));

        // Act: each instance takes one; neither has answered when the other takes its own.
        let taken = [next_event(&runtime, 0).await, next_event(&runtime, 1).await];
        for (id, payload) in &taken {
            let answer = Bytes::from(format!("answer to {}", String::from_utf8_lossy(payload)));
            assert_eq!(complete(&runtime, "api", id, Outcome::Response(answer)), StatusCode::ACCEPTED);
        }

        // Assert
        let mut payloads: Vec<&[u8]> = taken.iter().map(|(_, p)| p.as_ref()).collect();
        payloads.sort_unstable();
        assert_eq!(payloads, [b"one".as_slice(), b"two".as_slice()]);
        assert_eq!(first.await.expect("task").ok(), Some(Outcome::Response(Bytes::from("answer to one"))));
        assert_eq!(second.await.expect("task").ok(), Some(Outcome::Response(Bytes::from("answer to two"))));
    }

    #[tokio::test]
    async fn an_invocation_whose_caller_gave_up_while_it_waited_is_never_started() {
        // Arrange: a caller that stops waiting before any instance is free, then another.
        let runtime = runtime(1);
        let abandoned = {
            let runtime = Arc::clone(&runtime);
            tokio::spawn(async move { runtime.invoke("api", Bytes::from_static(b"abandoned")).await })
        };
        while runtime.slots["api"].sender.capacity() == runtime.slots["api"].sender.max_capacity() {
            tokio::task::yield_now().await;
        }
        abandoned.abort();
        let _ = abandoned.await;
        let waiting = {
            let runtime = Arc::clone(&runtime);
            tokio::spawn(async move { runtime.invoke("api", Bytes::from_static(b"waiting")).await })
        };

        // Act: the instance asks for its next event.
        let (_, payload) = next_event(&runtime, 0).await;

        // Assert: it gets the one somebody still waits for.
        assert_eq!(payload, Bytes::from_static(b"waiting"));
        waiting.abort();
    }

    #[tokio::test]
    async fn a_function_is_ready_when_every_instance_polled_and_not_after_one_died() {
        // Arrange
        let runtime = runtime(2);
        let poll = |instance: usize| {
            let runtime = Arc::clone(&runtime);
            tokio::spawn(
                async move { next(State(runtime), Path(("api".to_owned(), instance))).await.map(|_| ()) },
            )
        };

        // Act / Assert
        let first = poll(0);
        tokio::task::yield_now().await;
        let until_ready = async {
            while runtime.readiness()["api"].ready < 1 {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), until_ready).await.expect("instance 0 polled");
        assert!(!runtime.all_ready(), "one of two instances is not ready");
        let second = poll(1);
        let all_ready = async {
            while !runtime.all_ready() {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), all_ready).await.expect("both polled");
        runtime.mark_down("api", 1);
        assert_eq!(runtime.readiness()["api"], Readiness { ready: 1, of: 2 });
        let unknown = next(State(Arc::clone(&runtime)), Path(("api".to_owned(), 2))).await;
        assert_eq!(unknown.err(), Some(StatusCode::NOT_FOUND), "no third instance");
        first.abort();
        second.abort();
    }
}
