//! The local stand-in of API Gateway's WebSocket API for the console's live updates, on the
//! gateway's port:
//!
//! - `GET /live?token=…` (a WebSocket handshake): invokes the `realtime` function with a
//!   `$connect` event, as API Gateway does; its `statusCode` 200 completes the handshake (101),
//!   anything else answers that status (401 for a refused token). When the socket closes, a
//!   `$disconnect` event follows. Frames the page sends are read (pings answered, close
//!   honoured) and otherwise ignored, as the template routes only `$connect`/`$disconnect`.
//! - `POST /@connections/{id}`: the Management API's `PostToConnection` (the `realtime`
//!   function's `LIVE_MANAGEMENT_ENDPOINT` is the gateway's address): the body goes to that
//!   socket as one text frame; an unknown or closed connection answers 410 `GoneException`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::runtime::{Outcome, Runtime};
use crate::ws::{read_frame, write_frame, Opcode};

/// The function behind the WebSocket routes.
pub const FUNCTION: &str = "realtime";

/// The open sockets by connection id: what `PostToConnection` writes to.
#[derive(Debug, Clone, Default)]
pub struct Sockets(Arc<Mutex<HashMap<String, mpsc::UnboundedSender<String>>>>);

impl Sockets {
    fn insert(&self, id: &str, sender: mpsc::UnboundedSender<String>) {
        if let Ok(mut sockets) = self.0.lock() {
            sockets.insert(id.to_owned(), sender);
        }
    }

    fn remove(&self, id: &str) {
        if let Ok(mut sockets) = self.0.lock() {
            sockets.remove(id);
        }
    }

    /// Queues `text` for the socket; false when it is unknown or closed.
    fn send(&self, id: &str, text: String) -> bool {
        let sender = self.0.lock().ok().and_then(|sockets| sockets.get(id).cloned());
        sender.is_some_and(|s| s.send(text).is_ok())
    }
}

#[derive(Debug, Clone)]
struct Live {
    runtime: Arc<Runtime>,
    sockets: Sockets,
}

/// The routes `/live` and `/@connections/{id}`.
pub fn router(runtime: Arc<Runtime>, sockets: Sockets) -> Router {
    Router::new()
        .route("/live", get(handshake))
        .route("/@connections/{id}", post(post_to_connection))
        .with_state(Live { runtime, sockets })
}

/// A `$connect` or `$disconnect` event as API Gateway sends it (the fields the function reads,
/// and the usual others).
fn route_event(route: &str, connection_id: &str, query: Option<&str>, headers: &HeaderMap) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| {
            (name.as_str().to_owned(), Value::String(String::from_utf8_lossy(value.as_bytes()).into()))
        })
        .collect();
    let mut event = json!({
        "headers": headers,
        "isBase64Encoded": false,
        "requestContext": {
            "routeKey": route,
            "eventType": if route == "$connect" { "CONNECT" } else { "DISCONNECT" },
            "connectionId": connection_id,
            "domainName": "127.0.0.1",
            "stage": "local",
            "apiId": "local",
            "requestId": crate::random_hex(8).unwrap_or_default(),
            "requestTimeEpoch": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
        },
    });
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        let pairs: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (crate::apigw::percent_decode(k), Value::String(crate::apigw::percent_decode(v))))
            .collect();
        event["queryStringParameters"] = Value::Object(pairs);
    }
    event
}

/// Invokes the function with a route event; its `statusCode` (502 when it failed).
async fn invoke(runtime: &Runtime, event: &Value) -> u16 {
    match runtime.invoke(FUNCTION, Bytes::from(event.to_string())).await {
        Ok(Outcome::Response(answer)) => serde_json::from_slice::<Value>(&answer)
            .ok()
            .and_then(|v| v["statusCode"].as_u64())
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(502),
        Ok(Outcome::Error(_)) => 502,
        Err(error) => {
            tracing::warn!(%error, "The realtime function did not answer");
            503
        }
    }
}

fn status_only(status: StatusCode) -> Response<Body> {
    (status, Body::empty()).into_response()
}

async fn handshake(State(live): State<Live>, mut request: axum::extract::Request) -> Response<Body> {
    let headers = request.headers();
    let is_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = headers.get(header::SEC_WEBSOCKET_KEY).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (true, Some(key)) = (is_upgrade, key) else {
        return (StatusCode::UPGRADE_REQUIRED, [(header::UPGRADE, "websocket")]).into_response();
    };
    let Ok(connection_id) = crate::random_hex(12) else {
        return status_only(StatusCode::SERVICE_UNAVAILABLE);
    };
    let event = route_event("$connect", &connection_id, request.uri().query(), request.headers());
    let status = invoke(&live.runtime, &event).await;
    if status != 200 {
        return status_only(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY));
    }
    let (sender, outgoing) = mpsc::unbounded_channel();
    // Registered before the 101 goes out: a notice posted meanwhile waits in the channel.
    live.sockets.insert(&connection_id, sender);
    let upgrade = hyper::upgrade::on(&mut request);
    let headers = request.headers().clone();
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => serve(TokioIo::new(upgraded), outgoing).await,
            Err(error) => tracing::warn!(%error, "WebSocket upgrade failed"),
        }
        live.sockets.remove(&connection_id);
        invoke(&live.runtime, &route_event("$disconnect", &connection_id, None, &headers)).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, crate::ws::accept_value(&key))
        .body(Body::empty())
        .unwrap_or_else(|_| status_only(StatusCode::INTERNAL_SERVER_ERROR))
}

/// Runs one socket until either side closes it: notices out, the page's frames read.
async fn serve<S>(stream: S, mut outgoing: mpsc::UnboundedReceiver<String>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut input, mut output) = tokio::io::split(stream);
    loop {
        tokio::select! {
            text = outgoing.recv() => {
                let Some(text) = text else { break };
                if write_frame(&mut output, Opcode::Text, text.as_bytes(), None).await.is_err() {
                    break;
                }
            }
            frame = read_frame(&mut input) => {
                match frame {
                    Ok(Some(frame)) if frame.opcode == Opcode::Ping => {
                        if write_frame(&mut output, Opcode::Pong, &frame.payload, None).await.is_err() {
                            break;
                        }
                    }
                    Ok(Some(frame)) if frame.opcode == Opcode::Close => {
                        let _ = write_frame(&mut output, Opcode::Close, &frame.payload, None).await;
                        break;
                    }
                    // Anything else the page sends is ignored (no route but $connect/$disconnect).
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}

/// `PostToConnection`: 200, or 410 with API Gateway's error type for an unknown connection.
async fn post_to_connection(State(live): State<Live>, Path(id): Path<String>, body: Bytes) -> Response<Body> {
    let text = String::from_utf8_lossy(&body).into_owned();
    if live.sockets.send(&id, text) {
        return status_only(StatusCode::OK);
    }
    (
        StatusCode::GONE,
        [("x-amzn-errortype", "GoneException"), ("content-type", "application/json")],
        json!({"message": format!("connection {id} is gone")}).to_string(),
    )
        .into_response()
}
