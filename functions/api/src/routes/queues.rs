//! Contact-center queues (departments, P41): listed by every tenant user, created, changed and
//! deleted by admins.
//!
//! A queue's members are not stored on the queue: they are the users whose `queues` name it (the
//! one source the agent scope and the assignment engine read). Setting `members` therefore writes
//! the users, each at the version it was read (optimistic, re-read on a race), after the whole
//! list was checked: an unknown or deleted user refuses the request before anything is written.

use std::collections::{BTreeMap, BTreeSet};

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::domain::center::{CenterError, Queue, QueueStore, Strategy};
use shared::domain::identity::{Directory, UpdateError, User, UserStatus, Versioned};
use shared::domain::{Clock, QueueId, TenantId, UserId};
use shared::lambda::http::{json_response, Problem};

use super::{json_body, no_content, nullable, path_id};
use crate::auth::TenantPrincipal;
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// The longest queue name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The largest first-response target: a week, in seconds.
pub const MAX_FIRST_RESPONSE_TARGET_SECONDS: u32 = 604_800;
/// The most members one request may list.
pub const MAX_MEMBERS: usize = 500;
/// The most queues a user works (as `PATCH /v1/users/{id}` allows).
const MAX_QUEUES_PER_USER: usize = 50;
/// How often a member's record is re-read when it changed under a membership write.
const USER_WRITE_ATTEMPTS: usize = 5;

/// `POST /v1/queues`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQueueBody {
    /// Its name (1 to 100 characters, unique within the tenant case-insensitively).
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// How it picks an agent (default `round_robin`).
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// The first-response target (SLA), 1 to 604800 seconds.
    #[serde(default)]
    #[schemars(range(min = 1, max = 604_800))]
    pub first_response_target_seconds: Option<u32>,
    /// Its members: user ids of the tenant.
    #[serde(default)]
    pub members: Option<Vec<String>>,
}

/// `PATCH /v1/queues/{queue_id}`: what is present changes.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateQueueBody {
    /// A new name.
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// A new strategy.
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// A new first-response target (1 to 604800 seconds), or null to clear it.
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(range(min = 1, max = 604_800))]
    pub first_response_target_seconds: Option<Option<u32>>,
    /// The members (replaces them).
    #[serde(default)]
    pub members: Option<Vec<String>>,
    /// The version read; 409 when the queue is no longer at it.
    #[serde(default)]
    pub version: Option<u64>,
}

/// A queue as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct QueueView {
    /// Its id.
    pub id: QueueId,
    /// Its name.
    pub name: String,
    /// How it picks an agent.
    pub strategy: Strategy,
    /// The first-response target (SLA), seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_response_target_seconds: Option<u32>,
    /// The users working it (whose `queues` name it), by id.
    pub members: Vec<UserId>,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Bumped by every change (send it back as `version` for optimistic concurrency).
    pub version: u64,
    /// Conversations waiting in it now (counted up to 1,000).
    pub waiting: u32,
    /// Since when the oldest of them waits, epoch ms; none when nothing waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_waiting_since: Option<i64>,
}

/// The most waiting conversations a queue's view counts.
const DEPTH_COUNTED: u16 = 1_000;

/// How many conversations wait in `queue` now, and since when the oldest does.
async fn depth<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    queue: &QueueId,
) -> Result<(u32, Option<i64>), ApiError> {
    use shared::domain::center::AgentStore as _;
    let waiting = deps.agents.waiting(tenant, queue, DEPTH_COUNTED).await?;
    Ok((u32::try_from(waiting.len()).unwrap_or(u32::MAX), waiting.first().map(|w| w.since)))
}

/// `GET /v1/queues`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct QueueList {
    /// Every queue of the tenant, by name.
    pub items: Vec<QueueView>,
}

fn view(
    queue: &Queue,
    members: &BTreeMap<QueueId, Vec<UserId>>,
    (waiting, oldest_waiting_since): (u32, Option<i64>),
) -> QueueView {
    QueueView {
        waiting,
        oldest_waiting_since,
        id: queue.id.clone(),
        name: queue.name.clone(),
        strategy: queue.strategy,
        first_response_target_seconds: queue.first_response_target_seconds,
        members: members.get(&queue.id).cloned().unwrap_or_default(),
        created_at: queue.created_at,
        version: queue.version,
    }
}

/// The store's refusals as problems.
fn center_error(error: CenterError) -> ApiError {
    match error {
        CenterError::QueueNotFound => Problem::not_found("no such queue").into(),
        CenterError::QueueNameTaken => ApiError(Problem::new(
            StatusCode::CONFLICT,
            "queue-name-taken",
            "Queue name taken",
            "another queue of the tenant has this name (names are compared case-insensitively)",
        )),
        CenterError::Conflict => version_conflict(),
        CenterError::Unknown(e) => ApiError::from(e),
    }
}

fn version_conflict() -> ApiError {
    ApiError(Problem::new(
        StatusCode::CONFLICT,
        "version-conflict",
        "Version conflict",
        "the queue changed meanwhile; read it again and retry",
    ))
}

fn checked_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let count = name.chars().count();
    if (1..=MAX_NAME_CHARS).contains(&count) && !name.chars().any(char::is_control) {
        Ok(name.to_owned())
    } else {
        Err(Problem::bad_request(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters, none a control character"
        ))
        .into())
    }
}

fn checked_target(seconds: Option<u32>) -> Result<Option<u32>, ApiError> {
    match seconds {
        Some(s) if !(1..=MAX_FIRST_RESPONSE_TARGET_SECONDS).contains(&s) => Err(Problem::bad_request(
            format!("first_response_target_seconds must be 1 to {MAX_FIRST_RESPONSE_TARGET_SECONDS}"),
        )
        .into()),
        other => Ok(other),
    }
}

/// Every user of the tenant (deleted ones too: the caller filters).
async fn all_users<A: Adapters>(deps: &Deps<A>, tenant: &TenantId) -> Result<Vec<User>, ApiError> {
    let mut users = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = deps.directory.users(tenant, after.as_deref(), 100).await?;
        users.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(users),
        }
    }
}

/// Each queue's members: the live users whose `queues` name it, by id.
fn memberships(users: &[User]) -> BTreeMap<QueueId, Vec<UserId>> {
    let mut members: BTreeMap<QueueId, Vec<UserId>> = BTreeMap::new();
    for user in users.iter().filter(|u| u.status != UserStatus::Deleted) {
        for queue in &user.queues {
            members.entry(queue.clone()).or_default().push(user.id.clone());
        }
    }
    for list in members.values_mut() {
        list.sort();
    }
    members
}

/// Checks a member list against the tenant's users: every id a live user of the tenant who may
/// work one more queue. 400 naming every id refused; nothing is written here.
fn checked_members(raw: Vec<String>, users: &[User], queue: &QueueId) -> Result<BTreeSet<UserId>, ApiError> {
    let requested: BTreeSet<String> = raw.into_iter().map(|id| id.trim().to_owned()).collect();
    if requested.len() > MAX_MEMBERS {
        return Err(Problem::bad_request(format!("members: at most {MAX_MEMBERS}")).into());
    }
    let live: BTreeMap<&str, &User> =
        users.iter().filter(|u| u.status != UserStatus::Deleted).map(|u| (u.id.as_str(), u)).collect();
    let unknown: Vec<&str> =
        requested.iter().map(String::as_str).filter(|id| !live.contains_key(id)).collect();
    if !unknown.is_empty() {
        return Err(Problem::bad_request(format!("members: no such user: {}", unknown.join(", "))).into());
    }
    let full: Vec<&str> = requested
        .iter()
        .filter_map(|id| live.get(id.as_str()))
        .filter(|u| !u.queues.contains(queue) && u.queues.len() >= MAX_QUEUES_PER_USER)
        .map(|u| u.id.as_str())
        .collect();
    if !full.is_empty() {
        return Err(Problem::bad_request(format!(
            "members: these users already work {MAX_QUEUES_PER_USER} queues: {}",
            full.join(", ")
        ))
        .into());
    }
    Ok(requested.iter().filter_map(|id| live.get(id.as_str()).map(|u| u.id.clone())).collect())
}

/// Makes `user` work `queue` (`member`) or not, at the version read, re-reading on a race.
/// Audited as `user.update` (field `queues`) when it changed something.
async fn set_member<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
    user: &UserId,
    queue: &QueueId,
    member: bool,
) -> Result<(), ApiError> {
    for _ in 0..USER_WRITE_ATTEMPTS {
        let Some(Versioned { value: mut stored, version }) =
            deps.directory.user(&principal.tenant_id, user).await?
        else {
            return Ok(());
        };
        if stored.status == UserStatus::Deleted || stored.queues.contains(queue) == member {
            return Ok(());
        }
        if member {
            stored.queues.push(queue.clone());
            stored.queues.sort();
        } else {
            stored.queues.retain(|q| q != queue);
        }
        stored.updated_at = deps.clock.now();
        match deps.directory.update_user(&stored, version).await {
            Ok(()) => {
                deps.audit(principal, "user.update", target("user", user.as_str()), |e| {
                    e.with_fields(["queues"])
                })
                .await;
                return Ok(());
            }
            Err(UpdateError::Conflict) => {}
            Err(UpdateError::Unknown(e)) => return Err(UpdateError::Unknown(e).into()),
        }
    }
    Err(Problem::conflict("a member's record kept changing; retry").into())
}

/// Makes exactly `wanted` the members of `queue` (none: nobody works it any more).
async fn set_members<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
    queue: &QueueId,
    wanted: &BTreeSet<UserId>,
    users: &[User],
) -> Result<(), ApiError> {
    for user in users.iter().filter(|u| u.status != UserStatus::Deleted) {
        let member = wanted.contains(&user.id);
        if user.queues.contains(queue) != member {
            set_member(deps, principal, &user.id, queue, member).await?;
        }
    }
    Ok(())
}

/// The queue of the path; 404 for an unknown one, another tenant's included.
async fn queue_of<A: Adapters>(ctx: &Ctx<'_>, deps: &Deps<A>) -> Result<(TenantPrincipal, Queue), ApiError> {
    let principal = ctx.tenant()?.clone();
    let id = path_id(ctx.param("queue_id"), QueueId::parse, "queue")?;
    let queue = deps
        .queues
        .queue(&principal.tenant_id, &id)
        .await
        .map_err(center_error)?
        .ok_or_else(|| ApiError::from(Problem::not_found("no such queue")))?;
    Ok((principal, queue))
}

/// `GET /v1/queues`: every queue with its members, by name.
///
/// # Errors
/// 500 when a store fails.
pub async fn list<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let queues = deps.queues.queues(&principal.tenant_id).await.map_err(center_error)?;
    let members = memberships(&all_users(deps, &principal.tenant_id).await?);
    let mut items = Vec::with_capacity(queues.len());
    for queue in &queues {
        items.push(view(queue, &members, depth(deps, &principal.tenant_id, &queue.id).await?));
    }
    Ok(json_response(StatusCode::OK, &QueueList { items }))
}

/// `GET /v1/queues/{queue_id}`.
///
/// # Errors
/// 404 for an unknown queue.
pub async fn get<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let (principal, queue) = queue_of(&ctx, deps).await?;
    let members = memberships(&all_users(deps, &principal.tenant_id).await?);
    let depth = depth(deps, &principal.tenant_id, &queue.id).await?;
    Ok(json_response(StatusCode::OK, &view(&queue, &members, depth)))
}

/// `POST /v1/queues`: audited as `queue.create`.
///
/// # Errors
/// 400 for a bad body or an unknown member; 409 `queue-name-taken`.
pub async fn create<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: CreateQueueBody = json_body(ctx.body)?;
    let name = checked_name(&body.name)?;
    let first_response_target_seconds = checked_target(body.first_response_target_seconds)?;
    let now = deps.clock.now();
    let id = QueueId::generate(now)?;
    let users = all_users(deps, &principal.tenant_id).await?;
    let wanted = body.members.map(|m| checked_members(m, &users, &id)).transpose()?.unwrap_or_default();
    let queue = Queue {
        id,
        name,
        strategy: body.strategy.unwrap_or_default(),
        first_response_target_seconds,
        last_assigned: None,
        created_at: now.as_millis(),
        version: 1,
    };
    deps.queues.create_queue(&principal.tenant_id, &queue).await.map_err(center_error)?;
    set_members(deps, principal, &queue.id, &wanted, &users).await?;
    deps.audit(principal, "queue.create", target("queue", queue.id.as_str()), |e| {
        e.with_fields(["name", "strategy", "first_response_target_seconds", "members"])
    })
    .await;
    let members = BTreeMap::from([(queue.id.clone(), wanted.into_iter().collect())]);
    Ok(json_response(StatusCode::CREATED, &view(&queue, &members, (0, None))))
}

/// `PATCH /v1/queues/{queue_id}`: audited as `queue.update` with the fields changed.
///
/// # Errors
/// 404 for an unknown queue; 400 for a bad body or an unknown member; 409 `queue-name-taken`
/// or `version-conflict`.
pub async fn update<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let body: UpdateQueueBody = json_body(ctx.body)?;
    let (principal, stored) = queue_of(&ctx, deps).await?;
    if body.version.is_some_and(|v| v != stored.version) {
        return Err(version_conflict());
    }
    let mut queue = stored.clone();
    let mut fields = Vec::new();
    if let Some(raw) = &body.name {
        queue.name = checked_name(raw)?;
        fields.push("name");
    }
    if let Some(strategy) = body.strategy {
        queue.strategy = strategy;
        fields.push("strategy");
    }
    if let Some(target_seconds) = body.first_response_target_seconds {
        queue.first_response_target_seconds = checked_target(target_seconds)?;
        fields.push("first_response_target_seconds");
    }
    let users = all_users(deps, &principal.tenant_id).await?;
    let wanted = body.members.map(|m| checked_members(m, &users, &queue.id)).transpose()?;
    if queue != stored {
        queue = deps.queues.update_queue(&principal.tenant_id, &queue).await.map_err(center_error)?;
    }
    if let Some(wanted) = &wanted {
        set_members(deps, &principal, &queue.id, wanted, &users).await?;
        fields.push("members");
    }
    deps.audit(&principal, "queue.update", target("queue", queue.id.as_str()), |e| e.with_fields(fields))
        .await;
    let members = memberships(&all_users(deps, &principal.tenant_id).await?);
    let depth = depth(deps, &principal.tenant_id, &queue.id).await?;
    Ok(json_response(StatusCode::OK, &view(&queue, &members, depth)))
}

/// `DELETE /v1/queues/{queue_id}`: the queue goes, and with it from every member's `queues`.
/// Audited as `queue.delete`.
///
/// # Errors
/// 404 for an unknown queue; 409 (`queue-not-empty`) while conversations wait in it (nothing
/// changed: they would wait in a queue nobody works).
pub async fn delete<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let (principal, queue) = queue_of(&ctx, deps).await?;
    let (waiting, _) = depth(deps, &principal.tenant_id, &queue.id).await?;
    if waiting > 0 {
        let detail = format!(
            "{waiting} conversation(s) still wait in this queue: assign, transfer or resolve them first"
        );
        return Err(Problem::new(StatusCode::CONFLICT, "queue-not-empty", "Queue not empty", detail).into());
    }
    // Members first: should this fail half-way, the queue is still there and a retry of the
    // deletion finishes the job (once the queue is gone, a retry would answer 404).
    let users = all_users(deps, &principal.tenant_id).await?;
    set_members(deps, &principal, &queue.id, &BTreeSet::new(), &users).await?;
    deps.queues.delete_queue(&principal.tenant_id, &queue.id).await.map_err(center_error)?;
    deps.audit(&principal, "queue.delete", target("queue", queue.id.as_str()), |e| e).await;
    Ok(no_content())
}
