//! The `webhook` function: the fast path for Meta's webhooks.
//!
//! `GET /webhooks/meta` answers Meta's verification handshake. `POST /webhooks/meta` checks
//! `X-Hub-Signature-256` over the raw body bytes before anything else (P10), splits the payload
//! into one event per message, status, preference, error, account update or lead
//! ([`split`]), and enqueues them to `inbound.fifo`. It answers 200 only once SQS has accepted
//! every event; otherwise 503, so that Meta retries (for up to 7 days) and nothing is lost.
//! No table or key is touched on this path.

pub mod signature;
pub mod split;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod split_golden_tests;
#[cfg(test)]
mod split_reference;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use shared::config::{ConfigError, Env};
use shared::domain::ports::Queue;
use shared::domain::Secret;
use shared::kernel::digest::HmacKey;
use shared::lambda::http::Problem;
use shared::wiring::{Adapters, Aws};

/// Meta sends at most 3 MB per webhook POST.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The function's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Meta app secret that signs webhook payloads (`META_APP_SECRET`).
    pub app_secret: Secret,
    /// The verify token of the handshake (`META_VERIFY_TOKEN`).
    pub verify_token: Secret,
    /// Where events go (`INBOUND_QUEUE_URL`).
    pub inbound_queue_url: String,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or invalid variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            app_secret: env.secret("META_APP_SECRET")?,
            verify_token: env.secret("META_VERIFY_TOKEN")?,
            inbound_queue_url: env.required("INBOUND_QUEUE_URL")?,
        })
    }
}

/// What the handler needs, built once per process (`main.rs` wires [`Aws`]): no store, only
/// the queue, so that this path stays fast.
#[derive(Debug)]
pub struct Deps<A: Adapters> {
    /// Configuration.
    pub config: Config,
    /// The `inbound.fifo` queue.
    pub queue: A::Queue,
    /// The app secret as an HMAC key, prepared once (from `config.app_secret`).
    pub app_key: HmacKey,
}

impl<A: Adapters> Deps<A> {
    /// The dependencies around `queue`, the HMAC key prepared from the configuration.
    #[must_use]
    pub fn new(config: Config, queue: A::Queue) -> Self {
        Self { app_key: HmacKey::new(config.app_secret.expose().as_bytes()), config, queue }
    }
}

impl Deps<Aws> {
    /// The production adapters, made from the process's clients.
    #[must_use]
    pub fn on(aws: &Aws, config: Config) -> Self {
        let queue = aws.queue(&config.inbound_queue_url);
        Self::new(config, queue)
    }
}

/// Handles one request.
pub async fn handle<A: Adapters>(request: Request, deps: &Deps<A>) -> Response<Body> {
    match *request.method() {
        Method::GET => handshake(&request, &deps.config),
        Method::POST => receive(&request, &deps.app_key, &deps.queue).await,
        _ => Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "use GET or POST",
        )
        .into_response(),
    }
}

/// Meta's verification handshake: echo `hub.challenge` only for the right verify token.
fn handshake(request: &Request, config: &Config) -> Response<Body> {
    let query = request.query_string_parameters();
    let mode = query.first("hub.mode");
    let token = query.first("hub.verify_token").unwrap_or_default();
    let challenge = query.first("hub.challenge");
    let token_ok = aws_lc_rs::constant_time::verify_slices_are_equal(
        token.as_bytes(),
        config.verify_token.expose().as_bytes(),
    )
    .is_ok();
    match (mode, challenge) {
        (Some("subscribe"), Some(challenge)) if token_ok => {
            let mut response = Response::new(Body::Text(challenge.to_owned()));
            response.headers_mut().insert(
                lambda_http::http::header::CONTENT_TYPE,
                lambda_http::http::HeaderValue::from_static("text/plain"),
            );
            response
        }
        _ => {
            tracing::warn!("Webhook verification refused");
            Problem::forbidden("hub.mode must be subscribe and hub.verify_token must match").into_response()
        }
    }
}

async fn receive<Q: Queue>(request: &Request, app_key: &HmacKey, queue: &Q) -> Response<Body> {
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Problem::payload_too_large(MAX_BODY_BYTES).into_response();
    }
    let header = request.headers().get(signature::HEADER).and_then(|v| v.to_str().ok());
    if let Err(error) = signature::verify_with(app_key, body, header) {
        tracing::warn!(%error, "Webhook signature refused");
        return Problem::unauthorized(error.to_string()).into_response();
    }
    let split = match split::split(body) {
        Ok(split) => split,
        Err(error) => return Problem::bad_request(error.to_string()).into_response(),
    };
    for ignored in &split.ignored {
        tracing::info!(what = %ignored, "Webhook part not handled; acknowledged");
    }
    if let Err(error) = queue.send_batch(&split.messages).await {
        tracing::error!(
            error = format!("{error:#}"),
            events = split.messages.len(),
            "Enqueueing failed; Meta will retry"
        );
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "enqueue-failed",
            "Try again",
            "the events could not be queued; the delivery will be retried",
        )
        .with_retry_after(5)
        .into_response();
    }
    // DEBUG: every delivery is counted by the `EventsReceived` metric below (issue #19: INFO logs
    // are paid per byte, a few hundred bytes per event at most).
    tracing::debug!(events = split.messages.len(), "Webhook accepted");
    emit_received(&split.messages);
    Response::new(Body::Empty)
}

/// `EventsReceived` by kind (one EMF line per kind present).
fn emit_received(messages: &[shared::domain::ports::QueueMessage]) {
    let mut counts: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for message in messages {
        *counts.entry(shared::metrics::event_kind(&message.body)).or_default() += 1;
    }
    for (kind, count) in counts {
        shared::metrics::emit(
            &[("Function", "webhook"), ("Kind", kind)],
            &[shared::metrics::Metric::count("EventsReceived", count)],
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use lambda_http::http::Request as HttpRequest;
    use shared::testing::{Fakes, MemoryQueue};

    use super::*;

    fn deps() -> Deps<Fakes> {
        Deps::new(
            Config {
                app_secret: Secret::new("app-secret"),
                verify_token: Secret::new("verify-me"),
                inbound_queue_url: "http://queue".into(),
            },
            MemoryQueue::default(),
        )
    }

    fn get(params: &[(&str, &str)]) -> Request {
        let query: HashMap<String, String> = params.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        HttpRequest::builder()
            .method("GET")
            .uri("/webhooks/meta")
            .body(Body::Empty)
            .expect("valid request")
            .with_query_string_parameters(query)
    }

    #[tokio::test]
    async fn handshake_echoes_challenge_for_the_right_token_only() {
        let deps = deps();
        let ok = handle(
            get(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", "verify-me"),
                ("hub.challenge", "1158201444"),
            ]),
            &deps,
        )
        .await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.body().as_ref(), b"1158201444");

        let wrong = handle(
            get(&[("hub.mode", "subscribe"), ("hub.verify_token", "nope"), ("hub.challenge", "1")]),
            &deps,
        )
        .await;
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        let no_mode = handle(get(&[("hub.verify_token", "verify-me"), ("hub.challenge", "1")]), &deps).await;
        assert_eq!(no_mode.status(), StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn unsigned_post_is_401_and_enqueues_nothing() {
        let deps = deps();
        let request = HttpRequest::builder()
            .method("POST")
            .uri("/webhooks/meta")
            .body(Body::from("{}"))
            .expect("valid");
        let response = handle(request, &deps).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(deps.queue.sent().is_empty());
    }

    fn signed(body: &str) -> Request {
        HttpRequest::builder()
            .method("POST")
            .uri("/webhooks/meta")
            .header(signature::HEADER, signature::sign(b"app-secret", body.as_bytes()))
            .body(Body::from(body.to_owned()))
            .expect("valid")
    }

    const ONE_TEXT: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"310","changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":"420"},"contacts":[{"profile":{"name":"A"},"wa_id":"5511"}],
        "messages":[{"from":"5511","id":"wamid.A","timestamp":"1","type":"text","text":{"body":"hi"}}]}}]}]}"#;

    #[tokio::test]
    async fn signed_post_enqueues_its_events_and_answers_200() {
        let deps = deps();
        let response = handle(signed(ONE_TEXT), &deps).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(deps.queue.sent().len(), 1);
    }

    #[tokio::test]
    async fn queue_failure_is_503_so_meta_retries() {
        let deps = deps();
        deps.queue.set_failing(true);
        let response = handle(signed(ONE_TEXT), &deps).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key("retry-after"));
    }

    #[tokio::test]
    async fn signed_garbage_is_400_and_unknown_objects_200() {
        let deps = deps();
        assert_eq!(handle(signed("{not json"), &deps).await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            handle(signed(r#"{"object":"instagram","entry":[]}"#), &deps).await.status(),
            StatusCode::OK
        );
        assert!(deps.queue.sent().is_empty());
    }

    #[tokio::test]
    async fn oversized_post_is_413() {
        let deps = deps();
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        let request = HttpRequest::builder()
            .method("POST")
            .uri("/webhooks/meta")
            .body(Body::from(body))
            .expect("valid");
        assert_eq!(handle(request, &deps).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
