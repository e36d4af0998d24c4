//! Chatbot flows (P40): listed and read by every tenant user, written by admins. A flow is a
//! JSON definition ([`FlowDefinition`], its JSON Schema in the OpenAPI document); every save is a
//! new version, checked first — an invalid definition is refused with `422 invalid-flow`
//! listing every problem with its JSON pointer, and nothing is written. Publishing makes a
//! version live (checked again: a queue may have been deleted since), rolling back publishes an
//! earlier one; conversations already in a flow finish on the version they started.
//! `simulate` runs the interpreter over customer messages without sending or storing anything.

use std::collections::BTreeSet;

use lambda_http::http::header::{HeaderValue, CONTENT_TYPE};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::domain::center::QueueStore as _;
use shared::domain::flows::{
    parse_definition, simulate as run_simulation, validate, FlowContext, FlowDefinition, FlowProblem,
    SimStep, ValidationContext,
};
use shared::domain::flows_store::{FlowMeta, FlowStore as _, FlowStoreError};
use shared::domain::ports::TenantStore as _;
use shared::domain::{Clock, FlowId, TenantId};
use shared::lambda::http::{json_response, Problem, PROBLEM_BASE};

use super::{json_body, no_content, path_id};
use crate::auth::TenantPrincipal;
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// The most customer messages one simulation takes.
pub const MAX_SIMULATED_MESSAGES: usize = 50;

/// A flow as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FlowView {
    /// Its id.
    pub id: FlowId,
    /// Its name (the newest version's).
    pub name: String,
    /// The newest saved version (the draft).
    pub latest_version: u32,
    /// The published version; null when none is.
    pub live_version: Option<u32>,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Last saved, published or rolled back, epoch ms.
    pub updated_at: i64,
    /// The record's version (bumped by every change).
    pub version: u64,
    /// The newest version's definition, as saved (a `FlowDefinition`; only when one flow is
    /// read). Plain JSON here: the request schema of `FlowDefinition` keeps its defaults, which
    /// the stored form leaves out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<Value>,
}

/// `GET /v1/flows`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FlowList {
    /// Every flow of the tenant, oldest first.
    pub items: Vec<FlowView>,
}

/// `POST /v1/flows/{flow_id}/publish` and `/rollback`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// The version to publish: by default the newest (publish) or the one before the live one
    /// (rollback).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub version: Option<u32>,
}

/// `POST /v1/flows/{flow_id}/simulate`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateBody {
    /// The customer's messages, in order (the first starts the flow as a new conversation).
    #[schemars(length(max = 50))]
    pub messages: Vec<String>,
    /// The version to run (default: the newest).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub version: Option<u32>,
}

/// What a simulation answers: per customer message, what the bot would send and store.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Simulation {
    /// The version run.
    pub version: u32,
    /// One entry per customer message.
    pub steps: Vec<SimStep>,
}

/// `POST /v1/flows/{flow_id}/validate`: the problems of the newest version now.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FlowValidation {
    /// True when there is no problem.
    pub valid: bool,
    /// Every problem, with its JSON pointer.
    pub problems: Vec<FlowProblem>,
}

/// The `422 invalid-flow` problem: a problem+json body with every problem.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct InvalidFlow {
    /// `https://leadline.dev/problems/invalid-flow`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Invalid flow`.
    pub title: String,
    /// 422.
    pub status: u16,
    /// A summary.
    pub detail: String,
    /// Every problem, with its JSON pointer into the definition.
    pub problems: Vec<FlowProblem>,
}

fn invalid(problems: Vec<FlowProblem>) -> Response<Body> {
    let body = InvalidFlow {
        kind: format!("{PROBLEM_BASE}invalid-flow"),
        title: "Invalid flow".to_owned(),
        status: 422,
        detail: format!("the flow has {} problem(s); each is named by its path", problems.len()),
        problems,
    };
    let mut response = json_response(StatusCode::UNPROCESSABLE_ENTITY, &body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}

fn view(meta: &FlowMeta, definition: Option<FlowDefinition>) -> FlowView {
    FlowView {
        id: meta.id.clone(),
        name: meta.name.clone(),
        latest_version: meta.latest,
        live_version: meta.live,
        created_at: meta.created_at,
        updated_at: meta.updated_at,
        version: meta.version,
        definition: definition.and_then(|d| serde_json::to_value(d).ok()),
    }
}

fn store_error(error: FlowStoreError) -> ApiError {
    match error {
        FlowStoreError::NotFound => Problem::not_found("no such flow or version").into(),
        FlowStoreError::Conflict => {
            Problem::conflict("the flow changed meanwhile; read it again and retry").into()
        }
        FlowStoreError::Unknown(e) => ApiError::from(e),
    }
}

/// The tenant's queue ids (a route or handoff must name one).
async fn validation_context<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
) -> Result<ValidationContext, ApiError> {
    let queues = deps.queues.queues(tenant).await.map_err(|e| ApiError::from(anyhow::Error::new(e)))?;
    Ok(ValidationContext { queues: Some(queues.into_iter().map(|q| q.id).collect::<BTreeSet<_>>()) })
}

/// Parses and checks a definition: the definition, or every problem.
async fn checked<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    body: &[u8],
) -> Result<Result<FlowDefinition, Vec<FlowProblem>>, ApiError> {
    let value: Value = json_body(body)?;
    let definition = match parse_definition(&value) {
        Ok(definition) => definition,
        Err(problems) => return Ok(Err(problems)),
    };
    let ctx = validation_context(deps, tenant).await?;
    Ok(validate(&definition, &ctx).map(|()| definition))
}

/// The flow of the path; 404 for an unknown one, another tenant's included.
async fn flow_of<A: Adapters>(
    ctx: &Ctx<'_>,
    deps: &Deps<A>,
) -> Result<(TenantPrincipal, FlowMeta), ApiError> {
    let principal = ctx.tenant()?.clone();
    let id = path_id(ctx.param("flow_id"), FlowId::parse, "flow")?;
    let meta = deps
        .flows
        .flow(&principal.tenant_id, &id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::from(Problem::not_found("no such flow")))?;
    Ok((principal, meta))
}

async fn definition_at<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    meta: &FlowMeta,
    number: u32,
) -> Result<FlowDefinition, ApiError> {
    let version = deps.flows.version(tenant, &meta.id, number).await.map_err(store_error)?;
    Ok(version.ok_or_else(|| ApiError::from(Problem::not_found("no such version")))?.definition)
}

/// `GET /v1/flows`.
///
/// # Errors
/// 500 when the store fails.
pub async fn list<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let flows = deps.flows.flows(&principal.tenant_id).await.map_err(store_error)?;
    let items = flows.iter().map(|m| view(m, None)).collect();
    Ok(json_response(StatusCode::OK, &FlowList { items }))
}

/// `GET /v1/flows/{flow_id}`: with the newest version's definition.
///
/// # Errors
/// 404 for an unknown flow.
pub async fn get<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let (principal, meta) = flow_of(&ctx, deps).await?;
    let definition = definition_at(deps, &principal.tenant_id, &meta, meta.latest).await?;
    Ok(json_response(StatusCode::OK, &view(&meta, Some(definition))))
}

/// `POST /v1/flows`: the body is the definition; 201 with version 1 (not published). Audited
/// as `flow.create`.
///
/// # Errors
/// 400 for a body that is not JSON; 422 `invalid-flow` naming every problem.
pub async fn create<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let definition = match checked(deps, &principal.tenant_id, ctx.body).await? {
        Ok(definition) => definition,
        Err(problems) => return Ok(invalid(problems)),
    };
    let now = deps.clock.now();
    let meta = FlowMeta {
        id: FlowId::generate(now)?,
        name: definition.name.clone(),
        latest: 1,
        live: None,
        created_at: now.as_millis(),
        updated_at: now.as_millis(),
        version: 1,
    };
    let meta = deps.flows.create_flow(&principal.tenant_id, &meta, &definition).await.map_err(store_error)?;
    deps.audit(principal, "flow.create", target("flow", meta.id.as_str()), |e| e.with_fields(["definition"]))
        .await;
    Ok(json_response(StatusCode::CREATED, &view(&meta, Some(definition))))
}

/// `PUT /v1/flows/{flow_id}`: the body is the new definition, saved as the next version (the
/// live one is unchanged). Audited as `flow.update`.
///
/// # Errors
/// 404; 400 for a body that is not JSON; 422 `invalid-flow`; 409 when saved at the same moment.
pub async fn update<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let (principal, meta) = flow_of(&ctx, deps).await?;
    let definition = match checked(deps, &principal.tenant_id, ctx.body).await? {
        Ok(definition) => definition,
        Err(problems) => return Ok(invalid(problems)),
    };
    let saved = deps
        .flows
        .save_version(
            &principal.tenant_id,
            &meta.id,
            meta.version,
            (&definition.name, &definition),
            deps.clock.now(),
        )
        .await
        .map_err(store_error)?;
    deps.audit(&principal, "flow.update", target("flow", meta.id.as_str()), |e| {
        e.with_fields(["definition"])
    })
    .await;
    Ok(json_response(StatusCode::OK, &view(&saved, Some(definition))))
}

/// `POST /v1/flows/{flow_id}/validate`: the newest version's problems against the tenant now.
///
/// # Errors
/// 404.
pub async fn check<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let (principal, meta) = flow_of(&ctx, deps).await?;
    let definition = definition_at(deps, &principal.tenant_id, &meta, meta.latest).await?;
    let problems = validate(&definition, &validation_context(deps, &principal.tenant_id).await?)
        .err()
        .unwrap_or_default();
    Ok(json_response(StatusCode::OK, &FlowValidation { valid: problems.is_empty(), problems }))
}

/// `POST /v1/flows/{flow_id}/publish` (`rollback`: false) and `/rollback` (true). Audited as
/// `flow.publish` / `flow.rollback`.
///
/// # Errors
/// 404 (flow or version); 400 for a rollback with nothing earlier; 422 `invalid-flow`; 409.
pub async fn publish<A: Adapters>(
    ctx: Ctx<'_>,
    deps: &Deps<A>,
    rollback: bool,
) -> Result<Response<Body>, ApiError> {
    // The flow first: another tenant's id is 404 before the body is read.
    let (principal, meta) = flow_of(&ctx, deps).await?;
    let body: PublishBody = json_body(ctx.body)?;
    let number = match (body.version, rollback) {
        (Some(number), false) => number,
        (None, false) => meta.latest,
        (Some(number), true) if meta.live.is_none_or(|live| number < live) => number,
        (None, true) => match meta.live {
            Some(live) if live > 1 => live - 1,
            _ => return Err(Problem::bad_request("no earlier version to roll back to").into()),
        },
        (Some(_), true) => {
            return Err(Problem::bad_request("a rollback publishes a version before the live one").into())
        }
    };
    let definition = definition_at(deps, &principal.tenant_id, &meta, number).await?;
    if let Err(problems) = validate(&definition, &validation_context(deps, &principal.tenant_id).await?) {
        return Ok(invalid(problems));
    }
    let live = deps
        .flows
        .set_live(&principal.tenant_id, &meta.id, meta.version, Some(number), deps.clock.now())
        .await
        .map_err(store_error)?;
    let action = if rollback { "flow.rollback" } else { "flow.publish" };
    deps.audit(&principal, action, target("flow", meta.id.as_str()), |e| e.with_fields(["live_version"]))
        .await;
    Ok(json_response(StatusCode::OK, &view(&live, None)))
}

/// `DELETE /v1/flows/{flow_id}`: the flow and its versions; conversations in it stop at their
/// next message. Audited as `flow.delete`.
///
/// # Errors
/// 404.
pub async fn delete<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let (principal, meta) = flow_of(&ctx, deps).await?;
    deps.flows.delete_flow(&principal.tenant_id, &meta.id).await.map_err(store_error)?;
    deps.audit(&principal, "flow.delete", target("flow", meta.id.as_str()), |e| e).await;
    Ok(no_content())
}

/// `POST /v1/flows/{flow_id}/simulate`: what the bot would send and store for the messages, for
/// a new contact with an open service window, at the tenant's settings now. Sends nothing,
/// stores nothing.
///
/// # Errors
/// 404; 400 for more than 50 messages.
pub async fn simulate<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let (principal, meta) = flow_of(&ctx, deps).await?;
    let body: SimulateBody = json_body(ctx.body)?;
    if body.messages.len() > MAX_SIMULATED_MESSAGES {
        return Err(Problem::bad_request(format!("messages: at most {MAX_SIMULATED_MESSAGES}")).into());
    }
    let number = body.version.unwrap_or(meta.latest);
    let definition = definition_at(deps, &principal.tenant_id, &meta, number).await?;
    let tenant = deps.tenants.tenant(&principal.tenant_id).await.map_err(ApiError::from)?;
    let flow_ctx = FlowContext {
        now: deps.clock.now(),
        settings: tenant.map(|t| t.settings).unwrap_or_default(),
        name: None,
        email: None,
        attributes: std::collections::BTreeMap::new(),
        tags: Vec::new(),
        lead_stage: None,
        window_open: true,
    };
    let steps = run_simulation(&definition, &flow_ctx, &body.messages);
    Ok(json_response(StatusCode::OK, &Simulation { version: number, steps }))
}
