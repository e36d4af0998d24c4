//! The `realtime` function: the agent console's live updates (issue #18).
//!
//! One function, three triggers:
//! - `$connect` of the WebSocket API: the access token (`?token=`) is verified as the API
//!   verifies it ([`shared::app::access`]); refused → 401 and no connection; accepted → the
//!   connection is kept ([`LiveConnections`]) with who it is and what they may see;
//! - `$disconnect`: the connection is forgotten;
//! - the `live` queue: each [`LiveNotice`] is posted ([`LivePush`], API Gateway's
//!   `PostToConnection`) to the tenant's connections whose [`LiveAudience`] sees it; a
//!   connection answered 410 Gone is forgotten.
//!
//! A notice carries ids only. A failed post is not retried (a redelivery would post the notice
//! to every other connection again): the page refetches on reconnect and polls meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::SqsEvent;
use futures::future::join_all;
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::{json, Value};
use shared::app::access::{self, AccessError, AccessPorts};
use shared::config::{ConfigError, Env};
use shared::domain::live::{
    LiveAudience, LiveConnection, LiveConnections, LiveNotice, LivePush, PushError, CONNECTION_TTL_SECS,
};
use shared::domain::{Clock, ExpiresAt, TenantId};
use shared::lambda::batch::{run_batch, RecordError, RecordMeta};
use shared::wiring::{Adapters, Aws};

pub mod push;

/// The function's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The table (`TABLE_NAME`): connections, tenants, users and sessions.
    pub table_name: String,
    /// The KMS key (`KMS_KEY_ID`) that opens tenants' token signing keys.
    pub kms_key_id: String,
    /// The Management API of the WebSocket API (`LIVE_MANAGEMENT_ENDPOINT`):
    /// `https://<api id>.execute-api.<region>.amazonaws.com/<stage>` deployed, the local stack's
    /// own address locally.
    pub management_endpoint: String,
    /// How many notices of a batch run at once (`BATCH_CONCURRENCY`, default 10: the batch).
    pub concurrency: usize,
}

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or invalid variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            kms_key_id: env.required("KMS_KEY_ID")?,
            management_endpoint: env.required("LIVE_MANAGEMENT_ENDPOINT")?,
            concurrency: env.parsed_or("BATCH_CONCURRENCY", 10)?,
        })
    }
}

/// What the handler needs, built once per process (`main.rs` wires [`Aws`] and the Management
/// API, tests the fakes).
#[derive(Debug)]
pub struct Deps<A: Adapters, P> {
    /// Configuration.
    pub config: Config,
    /// Tenants (status, sealed signing key).
    pub tenants: A::Tenants,
    /// Opens the signing key.
    pub vault: A::Vault,
    /// Users and sessions.
    pub directory: A::Directory,
    /// The open connections.
    pub connections: A::LiveConnections,
    /// Posts to a connection.
    pub push: P,
    /// The time source.
    pub clock: A::Clock,
}

impl Deps<Aws, push::ManagementApi> {
    /// The production adapters, made from the process's clients.
    #[must_use]
    pub fn on(aws: &Aws, sdk: &aws_config::SdkConfig, config: Config) -> Self {
        let table = aws.table(&config.table_name);
        Self {
            tenants: shared::adapters::dynamo::DynamoTenantStore::new(table.clone()),
            vault: aws.vault_of(&config.kms_key_id),
            directory: shared::adapters::documents::DocDirectory::new(table.clone()),
            connections: shared::adapters::documents::DocLiveConnections::new(table),
            push: push::ManagementApi::new(sdk, &config.management_endpoint),
            clock: aws.clock(),
            config,
        }
    }
}

/// A WebSocket route event (`$connect`, `$disconnect`), the fields this function reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SocketEvent {
    /// Route and connection.
    pub request_context: SocketContext,
    /// The handshake's query (`$connect`).
    #[serde(default)]
    pub query_string_parameters: Option<HashMap<String, String>>,
}

/// The request context of a [`SocketEvent`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SocketContext {
    /// `$connect`, `$disconnect` or another route.
    pub route_key: String,
    /// API Gateway's id of the connection.
    pub connection_id: String,
}

/// Errors of [`handle`].
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event is neither an SQS batch nor a WebSocket route event.
    #[error("unrecognised event: {0}")]
    Unrecognised(String),
    /// A failed record has no message id.
    #[error(transparent)]
    Batch(#[from] shared::lambda::batch::BatchError),
}

impl From<HandleError> for lambda_runtime::Diagnostic {
    fn from(error: HandleError) -> Self {
        Self { error_type: "HandleError".to_owned(), error_message: error.to_string() }
    }
}

/// Handles one invocation: an SQS batch of notices, or a WebSocket route event.
///
/// # Errors
/// [`HandleError`] for an event of no known shape, or a batch whose failure cannot be reported.
pub async fn handle<A: Adapters, P: LivePush>(
    event: LambdaEvent<Value>,
    deps: &Deps<A, P>,
) -> Result<Value, HandleError> {
    let payload = event.payload;
    if payload.get("Records").is_some() {
        let batch: SqsEvent =
            serde_json::from_value(payload).map_err(|e| HandleError::Unrecognised(e.to_string()))?;
        // A batch's notices mostly belong to a few tenants: their connections are read once each.
        let tenants = BatchConnections::default();
        let tenants = &tenants;
        // Boxed: the nested futures of the stores are too deep a type for the compiler to lay
        // out inline in `main`'s.
        let response = Box::pin(run_batch(batch, deps.config.concurrency, |_: RecordMeta, notice: LiveNotice| {
            async move {
                let span = tracing::info_span!("live", tenant_id = %notice.tenant_id, conversation_id = %notice.conversation_id);
                tracing::Instrument::instrument(fan_out(&notice, deps, tenants), span).await
            }
        }))
        .await?;
        return serde_json::to_value(response).map_err(|e| HandleError::Unrecognised(e.to_string()));
    }
    let socket: SocketEvent =
        serde_json::from_value(payload).map_err(|e| HandleError::Unrecognised(e.to_string()))?;
    let status = match socket.request_context.route_key.as_str() {
        "$connect" => Box::pin(connect(&socket, deps)).await,
        "$disconnect" => Box::pin(disconnect(&socket.request_context.connection_id, deps)).await,
        // Anything the page sends (a keep-alive ping) is ignored.
        _ => 200,
    };
    Ok(json!({ "statusCode": status }))
}

/// `$connect`: verifies the token and keeps the connection. Returns the handshake's status:
/// 200, 401 (no or a refused token), 503 (a store or the key service failed).
pub async fn connect<A: Adapters, P>(socket: &SocketEvent, deps: &Deps<A, P>) -> u16 {
    let token = socket.query_string_parameters.as_ref().and_then(|q| q.get("token")).map(|t| t.trim());
    let Some(token) = token.filter(|t| !t.is_empty()) else { return 401 };
    let ports = AccessPorts {
        tenants: &deps.tenants,
        vault: &deps.vault,
        directory: &deps.directory,
        clock: &deps.clock,
    };
    let holder = match access::verify_access_token(&ports, token).await {
        Ok(holder) => holder,
        Err(AccessError::Invalid) => {
            tracing::info!("Live connection refused: invalid credential");
            return 401;
        }
        Err(AccessError::Unknown(error)) => {
            tracing::error!(error = format!("{error:#}"), "Live connection: credential lookup failed");
            return 503;
        }
    };
    let now = deps.clock.now();
    let connection = LiveConnection {
        connection_id: socket.request_context.connection_id.clone(),
        tenant_id: holder.tenant.id.clone(),
        audience: LiveAudience {
            user_id: holder.user.id.clone(),
            role: holder.user.role,
            queues: holder.user.queues,
        },
        connected_at: now.as_millis(),
        expires_at: ExpiresAt::from_epoch_secs(now.as_secs() + CONNECTION_TTL_SECS),
    };
    match deps.connections.put_connection(&connection).await {
        Ok(()) => {
            tracing::info!(tenant_id = %connection.tenant_id, user_id = %connection.audience.user_id, "Live connection opened");
            200
        }
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "Live connection not stored");
            503
        }
    }
}

/// `$disconnect`: forgets the connection (API Gateway ignores the answer).
pub async fn disconnect<A: Adapters, P>(connection_id: &str, deps: &Deps<A, P>) -> u16 {
    match deps.connections.remove_connection(connection_id).await {
        Ok(_) => 200,
        Err(error) => {
            // It expires on its own, and a post to it answers Gone.
            tracing::warn!(error = format!("{error:#}"), "Live connection not removed");
            500
        }
    }
}

/// The tenants' connections as read once for one batch (a connection gone meanwhile answers
/// Gone, which is handled as anywhere).
#[derive(Debug, Default)]
pub struct BatchConnections(Mutex<HashMap<TenantId, Arc<tokio::sync::OnceCell<Vec<LiveConnection>>>>>);

impl BatchConnections {
    /// The tenant's connections, read on the batch's first call for it.
    async fn of<A: Adapters, P>(
        &self,
        tenant: &TenantId,
        deps: &Deps<A, P>,
    ) -> Result<Vec<LiveConnection>, RecordError> {
        let cell = match self.0.lock() {
            Ok(mut cells) => Arc::clone(cells.entry(tenant.clone()).or_default()),
            // A poisoned map only costs the cache.
            Err(_) => Arc::new(tokio::sync::OnceCell::new()),
        };
        let connections = cell
            .get_or_try_init(|| deps.connections.connections(tenant))
            .await
            .map_err(|e| RecordError::retryable("reading the live connections", &e))?;
        Ok(connections.clone())
    }
}

/// Posts one notice to every connection of its tenant that sees it.
///
/// # Errors
/// [`RecordError::Retryable`] when the connections cannot be read (nothing was posted yet).
pub async fn fan_out<A: Adapters, P: LivePush>(
    notice: &LiveNotice,
    deps: &Deps<A, P>,
    tenants: &BatchConnections,
) -> Result<(), RecordError> {
    let connections = tenants.of(&notice.tenant_id, deps).await?;
    let data = notice.message().to_string();
    let posts = connections.iter().filter(|c| c.audience.sees(notice)).map(|c| async {
        match deps.push.post(&c.connection_id, data.as_bytes()).await {
            Ok(()) => 1,
            Err(PushError::Gone) => {
                if let Err(error) = deps.connections.remove_connection(&c.connection_id).await {
                    tracing::warn!(error = format!("{error:#}"), "Gone live connection not removed");
                }
                0
            }
            Err(PushError::Unknown(error)) => {
                tracing::warn!(error = format!("{error:#}"), "Live notice not posted to a connection");
                0
            }
        }
    });
    let posted: usize = join_all(posts).await.into_iter().sum();
    // A notice for a tenant with no console open is most notices at night: not worth a line
    // each (`docs/cost.md`); one that reached or missed a connection is.
    if connections.is_empty() {
        tracing::debug!(kind = ?notice.kind, "Live notice, no connection");
    } else {
        tracing::info!(kind = ?notice.kind, posted, connections = connections.len(), "Live notice");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
