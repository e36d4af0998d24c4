//! The conversation state machine's contract on DynamoDB (moto): the same suites as the fake's,
//! so the two stores cannot drift apart.
//!
//! The claims race for real: eight tasks send their reads and conditional writes at once. But
//! moto's server checks a condition and applies the update without a lock, so two requests it
//! handles on two threads at the same moment can both pass (DynamoDB never lets them). The race
//! test therefore talks to moto through [`one_at_a_time`], a proxy that hands moto one request
//! at a time, in arrival order: every request stays atomic as on DynamoDB, while the tasks'
//! requests still interleave freely (all eight reads reach the table before the first write, so
//! without the condition expression all eight claims would win).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::adapters::dynamo::{DynamoInbox, Table};
use shared::testing::contract::conversation_state;

use crate::support::{aws, endpoint, http, inbox, keyring, table};

/// An endpoint in front of moto that forwards one request at a time (FIFO), answering as moto did.
async fn one_at_a_time() -> String {
    #[derive(Clone)]
    struct Proxy {
        upstream: String,
        client: reqwest::Client,
        turn: Arc<tokio::sync::Mutex<()>>,
    }
    async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let body: Bytes = axum::body::to_bytes(body, 1 << 24).await.expect("a request body");
        let uri = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let mut headers = HeaderMap::new();
        for (name, value) in &parts.headers {
            if name != axum::http::header::HOST && name != axum::http::header::CONTENT_LENGTH {
                headers.append(name.clone(), value.clone());
            }
        }
        let _turn = proxy.turn.lock().await;
        let answer = proxy
            .client
            .request(parts.method, format!("{}{uri}", proxy.upstream))
            .headers(headers)
            .body(body)
            .send()
            .await
            .expect("moto answers");
        let status = StatusCode::from_u16(answer.status().as_u16()).expect("a status");
        let mut headers = HeaderMap::new();
        for (name, value) in answer.headers() {
            if name != axum::http::header::CONTENT_LENGTH && name != axum::http::header::TRANSFER_ENCODING {
                headers.append(name.clone(), value.clone());
            }
        }
        let body = answer.bytes().await.expect("moto's answer");
        (status, headers, body).into_response()
    }
    let proxy = Proxy {
        upstream: endpoint().trim_end_matches('/').to_owned(),
        client: http(),
        turn: Arc::new(tokio::sync::Mutex::new(())),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = listener.local_addr().expect("an address");
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// The inbox on a fresh table, every table request through [`one_at_a_time`].
async fn serialized_inbox() -> DynamoInbox {
    let created = table().await;
    let config =
        aws_sdk_dynamodb::config::Builder::from(&aws().await).endpoint_url(one_at_a_time().await).build();
    let clock: Arc<dyn shared::domain::Clock> = Arc::new(shared::domain::SystemClock);
    let table = Table::new(aws_sdk_dynamodb::Client::from_conf(config), created.name().to_owned(), clock);
    DynamoInbox::new(table.clone(), keyring(&table).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn several_claims_of_one_conversation_have_one_winner() {
    conversation_state::several_claims_of_one_conversation_have_one_winner(serialized_inbox().await).await;
}

#[tokio::test]
async fn an_illegal_transition_is_refused_and_changes_nothing() {
    conversation_state::an_illegal_transition_is_refused_and_changes_nothing(inbox(&table().await).await)
        .await;
}
