//! The `api` function: the tenant API under `/v1`, JSON in and out, errors as
//! `application/problem+json`.
//!
//! One table, [`routes::OPERATIONS`], describes every operation: method, path, who may call it,
//! its parameters, body and answers. The router dispatches from it, access is enforced from it
//! before any handler runs (P14), and the document `GET /v1/openapi.json` serves is generated
//! from it ([`openapi`]; committed as `docs/openapi.json`, which a unit test keeps equal), so it
//! cannot drift from what the code serves.
//!
//! The tenant of a request comes only from its verified credential ([`auth`]); no path, header
//! or body can name another tenant (P15). Every tenant request counts against the tenant's
//! per-minute limit (P16); every change and every export or bulk read is audited (P18).

pub mod auth;
pub mod edge;
pub mod errors;
pub mod openapi;
pub mod operation;
pub mod passwords;
pub mod routes;

use std::collections::HashMap;

use lambda_http::http::StatusCode;
use lambda_http::RequestExt as _;
use lambda_http::{Body, Request, Response};
use shared::adapters::documents::DocEventLog;
use shared::adapters::documents::DocQueues;
use shared::adapters::documents::{
    DocAuditLog, DocDirectory, DocImports, DocQuality, DocRateLimiter, DocRecords, DocTemplates,
};
use shared::adapters::documents::{DocCanned, DocReadMarks};
use shared::adapters::graph::GraphClient;
use shared::app::center::CenterPorts;
use shared::app::outbound::OutboundPorts;
use shared::config::{ConfigError, Env};
use shared::domain::ai::AiProviders;
use shared::domain::audit::{AuditEntry, AuditLog, Target};
use shared::domain::ports::{Admission, RateLimiter};
use shared::domain::Clock;
use shared::lambda::http::Problem;
use shared::wiring::{Adapters, Aws, StoreConfig};
use tracing::Instrument as _;

use crate::auth::{Principal, TenantPrincipal};
use crate::errors::ApiError;

/// Request bodies above this size are refused with 413 (contact imports: [`MAX_IMPORT_BYTES`]).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The largest CSV import, 413 beyond (Lambda's synchronous payload limit is 6 MB; the rows are
/// capped too, [`routes::contacts::MAX_IMPORT_ROWS`]).
pub const MAX_IMPORT_BYTES: usize = 5 * 1024 * 1024;

/// The function's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The table, the key table and the KMS key for envelopes.
    pub store: StoreConfig,
    /// SHA-256 (hex) of the operator key that may create tenants (`OPERATOR_KEY_SHA256`).
    /// Only the hash is configured, so the key itself is in no environment.
    pub operator_key_sha256: [u8; 32],
    /// `outbound.fifo` (`OUTBOUND_QUEUE_URL`): accepted messages go here for `send`.
    pub outbound_queue_url: String,
    /// The Graph API base URL (`GRAPH_API_BASE_URL`, HTTPS): template sync, connection checks.
    pub graph_api_base_url: String,
    /// The Graph API version (`GRAPH_API_VERSION`, default `v23.0`).
    pub graph_api_version: String,
    /// `suggest` (`SUGGEST_QUEUE_URL`): AI suggestion requests go here.
    pub suggest_queue_url: String,
    /// `import.fifo` (`IMPORT_QUEUE_URL`): one message per staged chunk of a CSV import.
    pub import_queue_url: String,
    /// The `live` queue (`LIVE_QUEUE_URL`): notices to the console's WebSocket connections.
    pub live_queue_url: String,
    /// The AI providers tenants may choose (`AI_PROVIDERS`; none when unset).
    pub ai_providers: AiProviders,
    /// Requests per minute and source address without a valid credential: login, refresh and
    /// the other anonymous routes, and failed authentications (`ANONYMOUS_REQUESTS_PER_MINUTE`,
    /// default [`ANONYMOUS_REQUESTS_PER_MINUTE`]).
    pub anonymous_per_minute: u32,
    /// The agent console's origin (`CONSOLE_ORIGIN`, e.g. `https://console.example.com`): the
    /// one origin granted CORS with credentials. None: no CORS header at all.
    pub console_origin: Option<String>,
}

/// The default of [`Config::anonymous_per_minute`].
pub const ANONYMOUS_REQUESTS_PER_MINUTE: u32 = 120;

impl Config {
    /// Reads the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or invalid variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let hex = env.required("OPERATOR_KEY_SHA256")?;
        let operator_key_sha256 = auth::decode_sha256_hex(&hex).ok_or(ConfigError::Invalid {
            name: "OPERATOR_KEY_SHA256",
            reason: "must be 64 hex digits (the SHA-256 of the operator key)".to_owned(),
        })?;
        Ok(Self {
            store: StoreConfig::from_env(env)?,
            operator_key_sha256,
            outbound_queue_url: env.required("OUTBOUND_QUEUE_URL")?,
            graph_api_base_url: env.https_url("GRAPH_API_BASE_URL")?,
            graph_api_version: env.optional("GRAPH_API_VERSION").unwrap_or_else(|| "v23.0".to_owned()),
            suggest_queue_url: env.required("SUGGEST_QUEUE_URL")?,
            import_queue_url: env.required("IMPORT_QUEUE_URL")?,
            live_queue_url: env.required("LIVE_QUEUE_URL")?,
            ai_providers: env.ai_providers("AI_PROVIDERS")?,
            anonymous_per_minute: match env.optional("ANONYMOUS_REQUESTS_PER_MINUTE") {
                None => ANONYMOUS_REQUESTS_PER_MINUTE,
                Some(value) => value.parse().ok().filter(|n| *n > 0).ok_or(ConfigError::Invalid {
                    name: "ANONYMOUS_REQUESTS_PER_MINUTE",
                    reason: "must be a positive whole number".to_owned(),
                })?,
            },
            console_origin: match env.optional("CONSOLE_ORIGIN") {
                None => None,
                Some(origin) => {
                    Some(
                        console_origin(&origin).ok_or(ConfigError::Invalid {
                            name: "CONSOLE_ORIGIN",
                            reason: "must be an origin: scheme://host[:port], without path or trailing slash"
                                .to_owned(),
                        })?,
                    )
                }
            },
        })
    }
}

/// What the handler needs, built once per process (`main.rs` wires [`Aws`], tests the fakes).
#[derive(Debug)]
pub struct Deps<A: Adapters> {
    /// Configuration.
    pub config: Config,
    /// Tenants, keys and connections.
    pub tenants: A::Tenants,
    /// API keys.
    pub api_keys: A::ApiKeys,
    /// The WhatsApp number, Lead Ads Page and AI provider connections.
    pub connections: A::Connections,
    /// Which tenant a number or Page belongs to.
    pub routing: A::Routing,
    /// Envelope encryption of secrets.
    pub vault: A::Vault,
    /// The time source.
    pub clock: A::Clock,
    /// Contacts, their aliases and consent ledger.
    pub contacts: A::Contacts,
    /// Conversations and their messages.
    pub conversations: A::Conversations,
    /// Leads.
    pub leads: A::Leads,
    /// Deleting conversations and leads, erasing contacts.
    pub lifecycle: A::Lifecycle,
    /// Outbound messages as accepted and sent.
    pub outbox: A::Outbound,
    /// AI suggestion requests and their results.
    pub suggestions: A::Suggestions,
    /// Erasure requests and their receipts.
    pub erasures: A::Erasures,
    /// The retention run's day queues and re-stamping.
    pub schedule: A::Schedule,
    /// Purges of closed tenants and disconnected integrations.
    pub purges: A::Purges,
    /// Users and sessions.
    pub directory: A::Directory,
    /// The audit trail.
    pub audit: A::Audit,
    /// Notes, tasks, appointments, activities.
    pub records: A::Records,
    /// CSV import jobs and their staged rows.
    pub imports: A::Imports,
    /// Request rate limiting and monthly message counts.
    pub limiter: A::Limiter,
    /// `outbound.fifo`.
    pub outbound: A::Queue,
    /// `suggest`.
    pub suggest: A::Queue,
    /// `import.fifo`.
    pub import_queue: A::Queue,
    /// Idempotency keys of `POST /v1/messages`.
    pub idempotency: A::Idempotency,
    /// Message templates as synced.
    pub templates: A::Templates,
    /// The Cloud API (template sync, verifying a number before it is connected).
    pub cloud: A::Cloud,
    /// Lead Ads on the Graph API (verifying a Page token before it is connected).
    pub lead_ads: A::LeadAds,
    /// Sending quality counters.
    pub quality: A::Quality,
    /// Contact-center queues.
    pub queues: A::Queues,
    /// Agents' presence, capacity and load; what waits in each queue.
    pub agents: A::Agents,
    /// The contact center's event log and its hourly aggregates (analytics).
    pub events: A::Events,
    /// Canned responses.
    pub canned: A::Canned,
    /// Users' read marks on conversations.
    pub read_marks: A::ReadMarks,
    /// Chatbot flows and conversations' flow sessions (P40).
    pub flows: A::Flows,
    /// Live notices to the console (the `live` queue).
    pub live: A::Live,
}

impl Deps<Aws> {
    /// The production adapters, made from the process's clients.
    ///
    /// # Errors
    /// When the Graph HTTP client cannot be built.
    pub fn on(aws: &Aws, config: Config) -> anyhow::Result<Self> {
        let stores = aws.stores(&config.store);
        let inbox = stores.inbox();
        let table = stores.table();
        Ok(Self {
            tenants: stores.tenants(),
            api_keys: stores.tenants(),
            connections: stores.tenants(),
            routing: stores.tenants(),
            vault: aws.vault(&config.store),
            clock: aws.clock(),
            contacts: inbox.clone(),
            conversations: inbox.clone(),
            leads: inbox.clone(),
            lifecycle: inbox.clone(),
            outbox: inbox.clone(),
            agents: inbox.clone(),
            suggestions: inbox,
            erasures: stores.privacy(),
            schedule: stores.privacy(),
            purges: stores.privacy(),
            directory: DocDirectory::new(table.clone()),
            audit: DocAuditLog::new(table.clone()),
            records: DocRecords::new(table.clone()),
            imports: DocImports::new(table.clone()),
            limiter: DocRateLimiter::new(table.clone()),
            outbound: aws.queue(&config.outbound_queue_url),
            suggest: aws.queue(&config.suggest_queue_url),
            import_queue: aws.queue(&config.import_queue_url),
            idempotency: stores.idempotency(),
            templates: DocTemplates::new(table.clone()),
            queues: DocQueues::new(table.clone()),
            events: DocEventLog::new(table.clone()),
            canned: DocCanned::new(table.clone()),
            read_marks: DocReadMarks::new(table.clone()),
            flows: shared::adapters::documents::DocFlows::new(table.clone()),
            live: aws.live(&config.live_queue_url, table.clone()),
            quality: DocQuality::new(table),
            cloud: GraphClient::new(&config.graph_api_base_url, &config.graph_api_version)?,
            lead_ads: GraphClient::new(&config.graph_api_base_url, &config.graph_api_version)?,
            config,
        })
    }
}

impl<A: Adapters> Deps<A> {
    /// The ports of the contact center's engine ([`shared::app::center`]).
    #[must_use]
    pub fn center_ports(&self) -> CenterPorts<'_, A> {
        CenterPorts {
            conversations: &self.conversations,
            agents: &self.agents,
            queues: &self.queues,
            directory: &self.directory,
            events: &self.events,
            live: &self.live,
            clock: &self.clock,
        }
    }

    /// The ports [`shared::app::outbound::submit`] uses, with `outbound.fifo` as its queue.
    #[must_use]
    pub fn outbound_ports(&self) -> OutboundPorts<'_, A> {
        OutboundPorts {
            contacts: &self.contacts,
            conversations: &self.conversations,
            outbox: &self.outbox,
            tenants: &self.tenants,
            connections: &self.connections,
            templates: &self.templates,
            limiter: &self.limiter,
            queue: &self.outbound,
            clock: &self.clock,
        }
    }

    /// Appends an audit entry for `principal`'s action. The change it records is already
    /// stored: a failure here is logged (without content) rather than turned into an error
    /// that would make the client retry a change that happened.
    pub async fn audit(
        &self,
        principal: &TenantPrincipal,
        action: &str,
        target: Target,
        configure: impl FnOnce(AuditEntry) -> AuditEntry,
    ) {
        let entry = match AuditEntry::new(principal.actor.clone(), action, target, self.clock.now()) {
            Ok(entry) => configure(entry),
            Err(error) => {
                tracing::error!(action, error = format!("{error:#}"), "Audit entry not written");
                return;
            }
        };
        if let Err(error) = self.audit.record(&principal.tenant_id, &entry).await {
            tracing::error!(action, error = format!("{error:#}"), "Audit entry not written");
        }
    }
}

/// A target of an audit entry.
#[must_use]
pub fn target(kind: &str, id: impl Into<String>) -> Target {
    Target { kind: kind.to_owned(), id: id.into() }
}

/// What a handler gets of its request.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The verified caller.
    pub principal: &'a Principal,
    /// Path parameters by name (`{id}` of the operation's path).
    pub params: &'a HashMap<&'static str, String>,
    /// Query parameters (first value of each).
    pub query: &'a HashMap<String, String>,
    /// The body.
    pub body: &'a [u8],
    /// The request headers.
    pub headers: &'a lambda_http::http::HeaderMap,
}

impl Ctx<'_> {
    /// A path parameter (present by construction: the route matched).
    #[must_use]
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// The tenant credential (the access check ran before the handler).
    ///
    /// # Errors
    /// 403 for a caller that is not a tenant's.
    pub fn tenant(&self) -> Result<&TenantPrincipal, ApiError> {
        match self.principal {
            Principal::Tenant(tenant) => Ok(tenant),
            Principal::Operator | Principal::Anonymous => {
                Err(Problem::forbidden("this route is for a tenant's credentials").into())
            }
        }
    }
}

/// An origin as browsers send it (`scheme://host[:port]`), or `None`.
fn console_origin(raw: &str) -> Option<String> {
    let origin = raw.trim();
    let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"))?;
    let valid = !rest.is_empty()
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    valid.then(|| origin.to_owned())
}

/// Handles one request: answers preflights, routes, authenticates, checks access and the rate
/// limit, runs the operation, maps every error to a problem, and adds the headers every answer
/// carries ([`edge::finish`]: CORS, `WWW-Authenticate`, `Allow`).
pub async fn handle<A: Adapters>(request: Request, deps: &Deps<A>) -> Response<Body> {
    let path = request.uri().path().trim_end_matches('/').to_owned();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let methods = routes::methods_of(&segments);
    let origin = edge::origin(request.headers()).map(str::to_owned);
    let had_credential = request.headers().contains_key(lambda_http::http::header::AUTHORIZATION);
    let seen = edge::Seen { origin: origin.as_deref(), had_credential, methods: &methods };
    let configured = deps.config.console_origin.as_deref();
    let mut response = if request.method() == lambda_http::http::Method::OPTIONS && !methods.is_empty() {
        edge::preflight(configured, seen)
    } else {
        route(request, &segments, deps).await
    };
    edge::finish(&mut response, configured, seen);
    response
}

/// [`handle`] for everything but the edge headers.
async fn route<A: Adapters>(request: Request, segments: &[&str], deps: &Deps<A>) -> Response<Body> {
    let Some((operation, params)) = routes::find(request.method().as_str(), segments) else {
        return if routes::known_path(segments) {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this path does not take this method",
            )
            .into_response()
        } else {
            Problem::not_found("no such route").into_response()
        };
    };
    let body: &[u8] = request.body().as_ref();
    let cap = operation.body.max_bytes();
    if body.len() > cap {
        return Problem::payload_too_large(cap).into_response();
    }
    let principal = match auth::authenticate(&request, deps).await {
        Ok(principal) => principal,
        Err(error) => {
            // Guessing credentials counts against the caller's address like anonymous calls.
            if matches!(error, auth::AuthError::Invalid) {
                if let Some(limited) = limit_source(&request, deps).await {
                    return limited;
                }
            }
            return ApiError::from(error).into_response();
        }
    };
    if principal == Principal::Anonymous {
        if let Some(limited) = limit_source(&request, deps).await {
            return limited;
        }
    }
    if let Err(error) = routes::check_access(operation, &principal) {
        return error.into_response();
    }
    if let Principal::Tenant(tenant) = &principal {
        match deps.limiter.admit(&tenant.tenant_id, tenant.plan.requests_per_minute, deps.clock.now()).await {
            Ok(Admission::Allowed) => {}
            Ok(Admission::Limited { retry_after_secs }) => {
                return Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many requests",
                    format!("the plan allows {} requests per minute", tenant.plan.requests_per_minute),
                )
                .with_retry_after(retry_after_secs)
                .into_response();
            }
            // A counter outage must not take the API down with it: let the request through.
            Err(error) => tracing::warn!(error = format!("{error:#}"), "Rate limiter unavailable"),
        }
    }
    let span = tracing::info_span!("request", route = operation.name(), tenant_id = principal.tenant_label());
    let query: HashMap<String, String> =
        request.query_string_parameters().iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let ctx = Ctx { principal: &principal, params: &params, query: &query, body, headers: request.headers() };
    match routes::dispatch(operation.op, ctx, deps).instrument(span).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// The client's address as API Gateway saw it (`requestContext.http.sourceIp`).
fn source_ip(request: &Request) -> &str {
    match request.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => {
            context.http.source_ip.as_deref().unwrap_or("unknown")
        }
        _ => "unknown",
    }
}

/// Counts a request without a valid credential against its source address: 429 past
/// [`Config::anonymous_per_minute`]. A counter outage lets the request through, as for tenants.
async fn limit_source<A: Adapters>(request: &Request, deps: &Deps<A>) -> Option<Response<Body>> {
    let per_minute = deps.config.anonymous_per_minute;
    match deps.limiter.admit_source(source_ip(request), per_minute, deps.clock.now()).await {
        Ok(Admission::Allowed) => None,
        Ok(Admission::Limited { retry_after_secs }) => Some(
            Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                format!(
                    "at most {per_minute} requests per minute without a valid credential from one address"
                ),
            )
            .with_retry_after(retry_after_secs)
            .into_response(),
        ),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "Rate limiter unavailable");
            None
        }
    }
}

#[cfg(test)]
mod tests;
