//! The public HTTP side of the local stack on `LEADLINE_PORT` (what API Gateway and Meta's
//! side are in production): `/webhooks/meta` → `webhook`, `/v1/*` → `api`, the sandbox Graph
//! API, the retention trigger, the agent console (`/console/`, [`crate::console`]), its live
//! updates (`/live` and the Management API's `/@connections/{id}`, [`crate::live`]) and `/health`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};

use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::runtime::{Outcome, Runtime};
use crate::sandbox::Sandbox;

/// API Gateway HTTP APIs accept at most 10 MB per request.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// Shared state of the gateway.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// The runtime emulator with the six functions.
    pub runtime: Arc<Runtime>,
    /// The sandbox Graph API.
    pub sandbox: Sandbox,
    /// Set once the demo tenant exists and `.local/demo.json` is written.
    pub demo_ready: Arc<AtomicBool>,
    /// The built agent console (`console/dist`), served under `/console/`.
    pub console_dir: std::path::PathBuf,
    /// The open WebSocket connections of `/live` ([`crate::live`]).
    pub live: crate::live::Sockets,
}

impl Gateway {
    /// The router.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/health", get(health))
            .route("/webhooks/meta", any(webhook))
            .route("/v1", any(api))
            .route("/v1/{*rest}", any(api))
            .route("/_local/schedule/retention", post(retention))
            .route("/_local/schedule/timers", post(timers))
            .fallback(not_found)
            .with_state(self.clone())
            .nest("/_sandbox", self.sandbox.router())
            .merge(crate::console::router(self.console_dir.clone()))
            .merge(crate::live::router(Arc::clone(&self.runtime), self.live.clone()))
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
    }

    /// Invokes an HTTP function with the v2 event of a request, as API Gateway does.
    pub async fn invoke_http(
        &self,
        function: &str,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Response<Body> {
        let event = crate::apigw::to_event(method, uri, headers, body);
        self.invoke_event(function, event, "127.0.0.1").await
    }

    /// Invokes an HTTP function with a v2 event whose `requestContext.http.sourceIp` is `source`.
    pub async fn invoke_event(
        &self,
        function: &str,
        mut event: serde_json::Value,
        source: &str,
    ) -> Response<Body> {
        event["requestContext"]["http"]["sourceIp"] = serde_json::Value::String(source.to_owned());
        let payload = Bytes::from(event.to_string());
        match self.runtime.invoke(function, payload).await {
            Ok(Outcome::Response(answer)) => crate::apigw::from_response(&answer).unwrap_or_else(|error| {
                tracing::error!(
                    function,
                    error = format!("{error:#}"),
                    "Function returned an invalid response"
                );
                gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }),
            Ok(Outcome::Error(_)) => {
                gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
            Err(error) => {
                tracing::error!(function, %error, "Invocation failed");
                gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            }
        }
    }

    /// Runs the retention function now, as the schedule does, and returns its report.
    ///
    /// # Errors
    /// When the function failed or did not answer.
    pub async fn run_retention(&self) -> anyhow::Result<serde_json::Value> {
        let payload = Bytes::from_static(br#"{"job":"retention"}"#);
        match self.runtime.invoke("retention", payload).await? {
            Outcome::Response(answer) => Ok(serde_json::from_slice(&answer)?),
            Outcome::Error(error) => anyhow::bail!("retention failed: {}", String::from_utf8_lossy(&error)),
        }
    }

    /// Runs the contact center's timers sweep now (the retention function's `timers` job, as
    /// its one-minute schedule does), or with `ahead`'s `as_of` (epoch ms, ahead of the clock)
    /// and `tenant` (only its timers): the local stack lets the function honour them, for tests.
    /// Returns the run's report.
    ///
    /// # Errors
    /// When the function failed or did not answer.
    pub async fn run_timers(&self, ahead: Option<&serde_json::Value>) -> anyhow::Result<serde_json::Value> {
        let mut input = json!({"job": "timers"});
        for field in ["as_of", "tenant"] {
            if let Some(value) = ahead.and_then(|a| a.get(field)) {
                input[field] = value.clone();
            }
        }
        let payload = Bytes::from(serde_json::to_vec(&input)?);
        match self.runtime.invoke("retention", payload).await? {
            Outcome::Response(answer) => Ok(serde_json::from_slice(&answer)?),
            Outcome::Error(error) => anyhow::bail!("timers failed: {}", String::from_utf8_lossy(&error)),
        }
    }
}

/// API Gateway's own error shape.
fn gateway_error(status: StatusCode, message: &str) -> Response<Body> {
    (status, Json(json!({"message": message}))).into_response()
}

async fn health(State(gateway): State<Gateway>) -> Response<Body> {
    // Ready only when every instance of every function polls for work.
    let instances = gateway.runtime.readiness();
    let functions: std::collections::BTreeMap<&String, bool> =
        instances.iter().map(|(name, readiness)| (name, readiness.all())).collect();
    let all_ready = functions.values().all(|ready| *ready);
    let demo = gateway.demo_ready.load(Ordering::SeqCst);
    let status = if all_ready && demo { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({"status": if status == StatusCode::OK { "ok" } else { "starting" }, "functions": functions,
        "instances": instances, "demo_tenant": demo});
    (status, Json(body)).into_response()
}

async fn webhook(State(gateway): State<Gateway>, request: axum::extract::Request) -> Response<Body> {
    forward(&gateway, "webhook", request).await
}

async fn api(State(gateway): State<Gateway>, request: axum::extract::Request) -> Response<Body> {
    forward(&gateway, "api", request).await
}

/// Invokes `function` with a request, its `sourceIp` the peer's address as API Gateway gives it
/// (the server is started with connect info; `127.0.0.1` otherwise).
async fn forward(gateway: &Gateway, function: &str, request: axum::extract::Request) -> Response<Body> {
    let source = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_owned(), |info| info.0.ip().to_string());
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await else {
        return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let event = crate::apigw::to_event(&parts.method, &parts.uri, &parts.headers, &body);
    gateway.invoke_event(function, event, &source).await
}

async fn retention(State(gateway): State<Gateway>) -> Response<Body> {
    match gateway.run_retention().await {
        Ok(report) => (StatusCode::OK, Json(report)).into_response(),
        Err(error) => gateway_error(StatusCode::BAD_GATEWAY, &format!("{error:#}")),
    }
}

/// `POST /_local/schedule/timers` with an optional body `{"as_of": <epoch ms>, "tenant": <id>}`.
async fn timers(State(gateway): State<Gateway>, body: Bytes) -> Response<Body> {
    let ahead = serde_json::from_slice::<serde_json::Value>(&body).ok();
    match gateway.run_timers(ahead.as_ref()).await {
        Ok(report) => (StatusCode::OK, Json(report)).into_response(),
        Err(error) => gateway_error(StatusCode::BAD_GATEWAY, &format!("{error:#}")),
    }
}

async fn not_found() -> Response<Body> {
    (
        StatusCode::NOT_FOUND,
        [("content-type", "application/problem+json")],
        Json(json!({"type": "https://leadline.dev/problems/not-found", "title": "Not found", "status": 404, "detail": "no such route on the local stack"})),
    )
        .into_response()
}
