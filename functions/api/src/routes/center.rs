//! The contact center's people: agents' presence and capacity, who is online with what load,
//! and an agent taking the next waiting conversation. Assignment itself is the engine's
//! (`shared::app::center`); these routes set what it decides on and wake it.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::app::center;
use shared::domain::center::{AgentStatus, AgentStore as _, Presence, MAX_CAPACITY};
use shared::domain::identity::{Directory as _, UserStatus};
use shared::domain::tenant::Role;
use shared::domain::{Clock as _, QueueId, UserId};
use shared::lambda::http::{json_response, Problem};

use super::{json_body, no_content, path_id};
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// `PUT /v1/me/presence`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceBody {
    /// `online` (takes conversations), `away` (keeps theirs, takes no new ones) or `offline`.
    pub status: String,
}

/// An agent's presence and load, as managers see them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AgentView {
    /// The user.
    pub user_id: UserId,
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// The queues they work.
    pub queues: Vec<QueueId>,
    /// `online`, `away` or `offline`.
    pub presence: Presence,
    /// When the presence last changed, epoch ms (0 when never set).
    pub presence_at: i64,
    /// Open conversations they may hold at most.
    pub capacity: u32,
    /// Open conversations they hold now.
    pub load: u32,
}

/// `GET /v1/agents`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AgentList {
    /// Every active user of the tenant, online ones first, then by name.
    pub items: Vec<AgentView>,
}

/// `PUT /v1/agents/{user_id}/capacity`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityBody {
    /// Open conversations the agent may hold at most (1 to 100).
    pub capacity: u32,
}

fn status_view(status: &AgentStatus) -> serde_json::Value {
    serde_json::json!({
        "user_id": status.user_id,
        "presence": status.presence,
        "presence_at": status.presence_at,
        "capacity": status.capacity,
        "load": status.load,
    })
}

/// `PUT /v1/me/presence`: only online agents are assigned; coming online assigns them what
/// waits in their queues at once.
///
/// # Errors
/// 400 for an unknown status; 403 for an API key (presence is a person's).
pub async fn set_presence<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: PresenceBody = json_body(ctx.body)?;
    let presence = Presence::parse(body.status.trim())
        .ok_or_else(|| Problem::bad_request("status must be one of online, away, offline"))?;
    let user = principal
        .user_id
        .as_ref()
        .ok_or_else(|| Problem::forbidden("presence belongs to a person logged in, not to an API key"))?;
    let status = deps.agents.set_presence(&principal.tenant_id, user, presence, deps.clock.now()).await?;
    if presence == Presence::Online {
        center::agent_available(&deps.center_ports(), &principal.tenant_id, user).await?;
    }
    let status = deps.agents.agent(&principal.tenant_id, user).await.unwrap_or(status);
    Ok(json_response(StatusCode::OK, &status_view(&status)))
}

/// `GET /v1/agents`: who works, with presence, capacity and load.
///
/// # Errors
/// 500 when a store fails.
pub async fn agents<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let tenant = &ctx.tenant()?.tenant_id;
    let statuses = deps.agents.agents(tenant).await?;
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = deps.directory.users(tenant, after.as_deref(), 100).await?;
        for user in page.items.into_iter().filter(|u| u.status == UserStatus::Active) {
            let status = statuses
                .iter()
                .find(|s| s.user_id == user.id)
                .cloned()
                .unwrap_or_else(|| AgentStatus::unseen(user.id.clone()));
            items.push(AgentView {
                user_id: user.id,
                name: user.name,
                role: user.role,
                queues: user.queues,
                presence: status.presence,
                presence_at: status.presence_at,
                capacity: status.capacity,
                load: status.load,
            });
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    items.sort_by(|a, b| {
        (a.presence != Presence::Online, a.name.to_lowercase())
            .cmp(&(b.presence != Presence::Online, b.name.to_lowercase()))
    });
    Ok(json_response(StatusCode::OK, &AgentList { items }))
}

/// `PUT /v1/agents/{user_id}/capacity`: a higher capacity assigns what waits at once.
///
/// # Errors
/// 400 for a capacity outside 1 to 100; 404 for a user not of this tenant.
pub async fn set_capacity<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    // Whose first: another tenant's user is unknown here, whatever the body says.
    let user = path_id(ctx.param("user_id"), UserId::parse, "user")?;
    if !deps.directory_user(&principal.tenant_id, &user).await? {
        return Err(Problem::not_found("no such user").into());
    }
    let body: CapacityBody = json_body(ctx.body)?;
    if !(1..=MAX_CAPACITY).contains(&body.capacity) {
        return Err(Problem::bad_request(format!("capacity must be 1 to {MAX_CAPACITY}")).into());
    }
    let status = deps.agents.set_capacity(&principal.tenant_id, &user, body.capacity).await?;
    center::agent_available(&deps.center_ports(), &principal.tenant_id, &user).await?;
    deps.audit(principal, "agent.capacity", target("user", user.as_str()), |e| e).await;
    Ok(json_response(StatusCode::OK, &status_view(&status)))
}

/// `POST /v1/conversations/next`: the calling agent takes the oldest conversation waiting in
/// their queues (within their capacity). 204 when none waits or they are at capacity.
///
/// # Errors
/// 403 for an API key.
pub async fn take_next<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let user = principal
        .user_id
        .as_ref()
        .ok_or_else(|| Problem::forbidden("taking a conversation is for a person logged in"))?;
    match center::take_next(&deps.center_ports(), &principal.tenant_id, user).await? {
        Some(conversation) => {
            deps.audit(
                principal,
                "conversation.take",
                target("conversation", conversation.id.as_str()),
                |e| e.about(&conversation.contact_id),
            )
            .await;
            Ok(json_response(StatusCode::OK, &conversation))
        }
        None => Ok(no_content()),
    }
}
