//! The assignment engine (P41): routing conversations to queues, giving them to available
//! members, and everything that frees or adds capacity.
//!
//! Atomicity lives in the store: `update_conversation` moves the conversation, the agents' loads
//! and the waiting entries in one conditional write, so two engines racing for one conversation
//! or one agent's last slot cannot both win. The engine only decides *whom to try*, and tries the
//! next candidate when the store refuses.
//!
//! Assignment is event-driven: a conversation routed to a queue is assigned at once when a member
//! is available; otherwise it waits (oldest first) until a member comes online or frees a slot,
//! which [`agent_available`] reacts to. Nothing scans periodically.

use crate::domain::center::{
    AgentStatus, AgentStore, CenterError, CenterEvent, EventKind, EventLog, Queue, QueueStore, Strategy,
};
use crate::domain::identity::{Directory, DirectoryError, User, UserStatus};
use crate::domain::inbox::{
    waits_in, ConversationPatch, ConversationState, ConversationStore, ConversationView, InboxError,
    UpdateConversationError,
};
use crate::domain::{Clock, ConversationId, QueueId, TenantId, Timestamp, UserId};
use crate::wiring::Adapters;

/// How many waiting conversations one trigger assigns at most (a request's work stays bounded;
/// the next trigger goes on).
pub const MAX_ASSIGNED_PER_DRAIN: usize = 50;
/// How often one conversation is re-read and tried again after losing a race.
const MAX_ATTEMPTS: usize = 4;

/// The ports the engine uses.
#[derive(Debug)]
pub struct CenterPorts<'a, A: Adapters> {
    /// Conversations: the one atomic write of state, assignee, loads and waiting entries.
    pub conversations: &'a A::Conversations,
    /// Agents' presence, capacity and load; the waiting entries.
    pub agents: &'a A::Agents,
    /// Queues (strategy, round-robin position).
    pub queues: &'a A::Queues,
    /// Users: a queue's members are the users whose `queues` name it.
    pub directory: &'a A::Directory,
    /// The event log analytics read.
    pub events: &'a A::Events,
    /// Live notices to the console (sent with every recorded event, best effort).
    pub live: &'a A::Live,
    /// The time source.
    pub clock: &'a A::Clock,
}

/// Errors of the engine's operations.
#[derive(Debug, thiserror::Error)]
pub enum CenterOpError {
    /// No such conversation.
    #[error("no such conversation")]
    ConversationNotFound,
    /// No such queue.
    #[error("no such queue")]
    QueueNotFound,
    /// The agent is not an active user of the tenant.
    #[error("no such agent")]
    AgentNotFound,
    /// The agent holds as many open conversations as their capacity allows (or, where the
    /// engine requires it, is not online). Nothing was written.
    #[error("the agent is at capacity or not online")]
    AgentUnavailable,
    /// The state machine refuses the move. Nothing was written.
    #[error("a conversation cannot go from {from} to {to}")]
    IllegalTransition {
        /// The stored state.
        from: ConversationState,
        /// The state asked for.
        to: ConversationState,
    },
    /// The conversation changed since the caller saw it. Nothing was written.
    #[error("the conversation changed meanwhile: expected version {expected}, it is at {actual:?}")]
    VersionConflict {
        /// The version the caller saw.
        expected: u64,
        /// The version it is at, when known.
        actual: Option<u64>,
    },
    /// A store failed.
    #[error("the contact center store failed")]
    Unknown(#[from] anyhow::Error),
}

impl From<UpdateConversationError> for CenterOpError {
    fn from(error: UpdateConversationError) -> Self {
        match error {
            UpdateConversationError::NotFound => Self::ConversationNotFound,
            UpdateConversationError::IllegalTransition { from, to } => Self::IllegalTransition { from, to },
            UpdateConversationError::VersionConflict { expected, actual } => {
                Self::VersionConflict { expected, actual }
            }
            UpdateConversationError::AgentUnavailable { .. } => Self::AgentUnavailable,
            UpdateConversationError::Unknown(e) => Self::Unknown(e),
        }
    }
}

impl From<InboxError> for CenterOpError {
    fn from(error: InboxError) -> Self {
        Self::Unknown(anyhow::Error::new(error))
    }
}

impl From<CenterError> for CenterOpError {
    fn from(error: CenterError) -> Self {
        match error {
            CenterError::QueueNotFound => Self::QueueNotFound,
            CenterError::Unknown(e) => Self::Unknown(e),
            other => Self::Unknown(anyhow::Error::new(other)),
        }
    }
}

impl From<DirectoryError> for CenterOpError {
    fn from(error: DirectoryError) -> Self {
        Self::Unknown(anyhow::Error::new(error))
    }
}

/// What a caller (the API's `PATCH`, a flow) asks of a conversation. Every `None` leaves that
/// part alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// A new state.
    pub state: Option<ConversationState>,
    /// Give it to this agent (`Some(None)`: take it from its agent; it goes back to its queue
    /// when it has one).
    pub assignee: Option<Option<UserId>>,
    /// Route it to this queue (it waits there and is assigned by the queue's strategy), or
    /// take it out of its queue (`Some(None)`).
    pub queue: Option<Option<QueueId>>,
    /// Snooze until (epoch ms) — the conversation becomes `pending`; `Some(None)` clears it.
    pub snoozed_until: Option<Option<i64>>,
    /// The version the caller saw.
    pub expected_version: Option<u64>,
}

/// Applies `change` to `current` as the contact center means it, records what happened, and
/// reacts to the capacity it frees:
/// - a queue without an assignee **routes**: the conversation waits in the queue and is
///   assigned at once when a member is available;
/// - an assignee **assigns** (capacity enforced; the agent need not be online: a manager or
///   the agent themselves decided), also setting the queue when one is given;
/// - clearing the assignee **unassigns**: back to its queue (assigned again from there), or
///   open with nobody when it has none;
/// - a state alone moves the state (resolving frees the agent's slot).
///
/// # Errors
/// See [`CenterOpError`]; nothing was written on an error.
pub async fn apply<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    current: &ConversationView,
    change: &Change,
) -> Result<ConversationView, CenterOpError> {
    let at = ports.clock.now();
    // A queue id Leadline made must name a queue. Older queue names (chosen freely before queues
    // were an aggregate) still route: the conversation waits there for the agents whose queues
    // name it, who take it; no engine assigns it.
    if let Some(Some(queue)) = &change.queue {
        if queue.is_generated() && ports.queues.queue(tenant, queue).await?.is_none() {
            return Err(CenterOpError::QueueNotFound);
        }
    }
    if let Some(Some(agent)) = &change.assignee {
        if !active_user(ports, tenant, agent).await? {
            return Err(CenterOpError::AgentNotFound);
        }
    }
    // Routing to the queue it is already in changes nothing (a retried request does not take a
    // conversation from the agent the first one gave it to).
    let already_there = change.assignee.is_none()
        && change.state.is_none()
        && change.snoozed_until.is_none()
        && change.queue.as_ref().is_some_and(|q| q.is_some() && *q == current.queue);
    if already_there {
        after_change(ports, tenant, current, current).await?;
        return Ok(ports
            .conversations
            .conversation(tenant, &current.id)
            .await?
            .unwrap_or_else(|| current.clone()));
    }
    let patch = patch_for(current, change);
    let updated = ports.conversations.update_conversation(tenant, &current.id, &patch, at).await?;
    record_change(ports, tenant, current, &updated, at).await;
    after_change(ports, tenant, current, &updated).await?;
    // The conversation as it is after any assignment the change triggered.
    Ok(ports.conversations.conversation(tenant, &updated.id).await?.unwrap_or(updated))
}

/// The store patch of `change` applied to `current`.
fn patch_for(current: &ConversationView, change: &Change) -> ConversationPatch {
    let mut patch = ConversationPatch {
        state: change.state,
        assignee: change.assignee.clone(),
        queue: change.queue.clone(),
        expected_version: change.expected_version.or(Some(current.version)),
        snoozed_until: change.snoozed_until,
        ..ConversationPatch::default()
    };
    let queue_after = change.queue.clone().unwrap_or_else(|| current.queue.clone());
    let routed = matches!((&change.assignee, &change.queue), (None, Some(Some(_))));
    if routed {
        // Routed: waits in the queue, nobody has it until the engine assigns it.
        patch.assignee = Some(None);
    }
    if patch.state.is_none() {
        patch.state = match &change.assignee {
            // Given to an agent: it is worked (a pending one stays pending).
            Some(Some(_)) if current.state == ConversationState::Pending => Some(ConversationState::Pending),
            Some(Some(_)) => Some(ConversationState::Open),
            // Taken from its agent: back to its queue, or open with nobody.
            Some(None) if queue_after.is_some() => Some(ConversationState::Queued),
            Some(None) => Some(ConversationState::Open),
            None if routed => Some(ConversationState::Queued),
            // A snooze makes it pending (waiting on the customer until then).
            None => change.snoozed_until.flatten().map(|_| ConversationState::Pending),
        };
    }
    patch
}

/// What the engine does after a change: assigns a conversation that now waits, and gives the
/// slot a change freed to whoever waits for it.
async fn after_change<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    before: &ConversationView,
    after: &ConversationView,
) -> Result<(), CenterOpError> {
    if let Some(queue) = after.queue.as_ref().filter(|_| after.state == ConversationState::Queued) {
        // Only this one: anything older still waiting found nobody available when it came, and
        // is given out when someone comes online or frees a slot (a drain), oldest first.
        assign_one(ports, tenant, queue, &after.id).await?;
    }
    let held_before = crate::domain::center::counts_toward_load(before.state, before.assignee.as_ref());
    let held_after = crate::domain::center::counts_toward_load(after.state, after.assignee.as_ref());
    if let Some(freed) = held_before.filter(|agent| held_after != Some(*agent)) {
        agent_available(ports, tenant, freed).await?;
    }
    Ok(())
}

/// Assigns waiting conversations of the agent's queues, oldest first, while the agent or other
/// members can take them: what an agent coming online, or freeing a slot, triggers.
///
/// # Errors
/// [`CenterOpError::Unknown`].
pub async fn agent_available<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    agent: &UserId,
) -> Result<usize, CenterOpError> {
    let Some(user) = ports.directory.user(tenant, agent).await? else { return Ok(0) };
    let mut assigned = 0;
    for queue in &user.value.queues {
        assigned += drain(ports, tenant, queue).await?;
    }
    Ok(assigned)
}

/// Assigns the queue's waiting conversations, oldest first, until none waits or no member is
/// available (at most [`MAX_ASSIGNED_PER_DRAIN`]). Returns how many it assigned.
///
/// # Errors
/// [`CenterOpError::Unknown`].
pub async fn drain<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    queue_id: &QueueId,
) -> Result<usize, CenterOpError> {
    let Some(mut queue) = ports.queues.queue(tenant, queue_id).await? else { return Ok(0) };
    let members = members(ports, tenant, queue_id).await?;
    let mut assigned = 0;
    let mut skipped = 0;
    while assigned < MAX_ASSIGNED_PER_DRAIN {
        // Skip entries another engine is taking right now (they are assigned or will be).
        let waiting =
            ports.agents.waiting(tenant, queue_id, u16::try_from(skipped + 1).unwrap_or(u16::MAX)).await?;
        let Some(next) = waiting.into_iter().nth(skipped) else { break };
        match assign_waiting(ports, tenant, &mut queue, &members, &next.conversation_id).await? {
            Outcome::Assigned => assigned += 1,
            Outcome::Moved => skipped += 1,
            Outcome::NobodyAvailable => break,
        }
    }
    Ok(assigned)
}

/// Gives one conversation waiting in `queue_id` to an available member, if there is one.
async fn assign_one<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    queue_id: &QueueId,
    conversation: &ConversationId,
) -> Result<(), CenterOpError> {
    let Some(mut queue) = ports.queues.queue(tenant, queue_id).await? else { return Ok(()) };
    let members = members(ports, tenant, queue_id).await?;
    assign_waiting(ports, tenant, &mut queue, &members, conversation).await?;
    Ok(())
}

/// What became of one waiting conversation.
enum Outcome {
    /// Given to a member.
    Assigned,
    /// It no longer waits here (someone else assigned or moved it).
    Moved,
    /// No member can take it now.
    NobodyAvailable,
}

/// Tries the queue's available members, in the queue's order, on one waiting conversation.
async fn assign_waiting<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    queue: &mut Queue,
    members: &[UserId],
    conversation_id: &ConversationId,
) -> Result<Outcome, CenterOpError> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(conversation) = ports.conversations.conversation(tenant, conversation_id).await? else {
            return Ok(Outcome::Moved);
        };
        if conversation.state != ConversationState::Queued || conversation.queue.as_ref() != Some(&queue.id) {
            return Ok(Outcome::Moved);
        }
        let candidates = candidates(ports, tenant, queue, members, conversation.assignee.as_ref()).await?;
        if candidates.is_empty() {
            return Ok(Outcome::NobodyAvailable);
        }
        let mut lost_race = false;
        for agent in candidates {
            let at = ports.clock.now();
            let patch = ConversationPatch {
                state: Some(ConversationState::Open),
                assignee: Some(Some(agent.clone())),
                expected_version: Some(conversation.version),
                require_online: true,
                ..ConversationPatch::default()
            };
            match ports.conversations.update_conversation(tenant, conversation_id, &patch, at).await {
                Ok(updated) => {
                    record_change(ports, tenant, &conversation, &updated, at).await;
                    note_turn(ports, tenant, queue, &agent).await;
                    return Ok(Outcome::Assigned);
                }
                // Full or gone offline meanwhile: the next one.
                Err(UpdateConversationError::AgentUnavailable { .. }) => {}
                Err(UpdateConversationError::VersionConflict { .. }) => {
                    lost_race = true;
                    break;
                }
                Err(
                    UpdateConversationError::NotFound | UpdateConversationError::IllegalTransition { .. },
                ) => return Ok(Outcome::Moved),
                Err(UpdateConversationError::Unknown(e)) => return Err(CenterOpError::Unknown(e)),
            }
        }
        if !lost_race {
            // Every candidate refused: all full or offline by now.
            return Ok(Outcome::NobodyAvailable);
        }
    }
    Ok(Outcome::Moved)
}

/// The round-robin position moves on to `agent`. Best effort: a concurrent change of the queue
/// wins, and round-robin then starts after whoever it recorded.
async fn note_turn<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    queue: &mut Queue,
    agent: &UserId,
) {
    if queue.strategy != Strategy::RoundRobin {
        return;
    }
    let mut turned = queue.clone();
    turned.last_assigned = Some(agent.clone());
    match ports.queues.update_queue(tenant, &turned).await {
        Ok(stored) => *queue = stored,
        Err(error) => {
            tracing::info!(error = %error, "Round-robin position not moved (the queue changed meanwhile)");
            queue.last_assigned = Some(agent.clone());
            if let Ok(Some(fresh)) = ports.queues.queue(tenant, &queue.id).await {
                *queue = Queue { last_assigned: Some(agent.clone()), ..fresh };
            }
        }
    }
}

/// The queue's members now available, in the order to try them: the sticky agent first (who
/// last handled the conversation), then by the queue's strategy.
async fn candidates<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    queue: &Queue,
    members: &[UserId],
    sticky: Option<&UserId>,
) -> Result<Vec<UserId>, CenterOpError> {
    let statuses = ports.agents.agents(tenant).await?;
    let mut available: Vec<AgentStatus> = members
        .iter()
        .filter_map(|member| {
            statuses
                .iter()
                .find(|s| &s.user_id == member)
                .cloned()
                .or_else(|| Some(AgentStatus::unseen(member.clone())))
        })
        .filter(AgentStatus::available)
        .collect();
    order(queue, &mut available);
    let mut ordered: Vec<UserId> = available.into_iter().map(|a| a.user_id).collect();
    if let Some(position) = sticky.and_then(|agent| ordered.iter().position(|a| a == agent)) {
        let agent = ordered.remove(position);
        ordered.insert(0, agent);
    }
    Ok(ordered)
}

/// Orders available members by the queue's strategy.
fn order(queue: &Queue, available: &mut [AgentStatus]) {
    match queue.strategy {
        Strategy::RoundRobin => {
            available.sort_by(|a, b| a.user_id.cmp(&b.user_id));
            // Those after the member assigned last come first, then from the start again.
            let start = queue
                .last_assigned
                .as_ref()
                .map_or(0, |last| available.iter().position(|a| &a.user_id > last).unwrap_or(0));
            available.rotate_left(start);
        }
        Strategy::LeastBusy => available.sort_by(|a, b| {
            (a.load, a.last_assigned_at.unwrap_or(0), &a.user_id).cmp(&(
                b.load,
                b.last_assigned_at.unwrap_or(0),
                &b.user_id,
            ))
        }),
    }
}

/// The active users whose queues include `queue`.
async fn members<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    queue: &QueueId,
) -> Result<Vec<UserId>, CenterOpError> {
    let mut members = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ports.directory.users(tenant, after.as_deref(), 100).await?;
        members.extend(
            page.items
                .iter()
                .filter(|user| user.status == UserStatus::Active && user.queues.contains(queue))
                .map(|user: &User| user.id.clone()),
        );
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(members)
}

async fn active_user<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    user: &UserId,
) -> Result<bool, CenterOpError> {
    Ok(ports.directory.user(tenant, user).await?.is_some_and(|u| u.value.status == UserStatus::Active))
}

/// Gives the agent the oldest conversation waiting in their queues (capacity enforced; they
/// need not be online: they asked). `None` when nothing waits or they are at capacity.
///
/// # Errors
/// [`CenterOpError::AgentNotFound`]; [`CenterOpError::Unknown`].
pub async fn take_next<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    agent: &UserId,
) -> Result<Option<ConversationView>, CenterOpError> {
    let Some(user) =
        ports.directory.user(tenant, agent).await?.filter(|u| u.value.status == UserStatus::Active)
    else {
        return Err(CenterOpError::AgentNotFound);
    };
    for _ in 0..MAX_ASSIGNED_PER_DRAIN {
        // The oldest entry across the agent's queues.
        let mut oldest = None;
        for queue in &user.value.queues {
            if let Some(first) = ports.agents.waiting(tenant, queue, 1).await?.into_iter().next() {
                if oldest.as_ref().is_none_or(|o: &crate::domain::center::Waiting| first.since < o.since) {
                    oldest = Some(first);
                }
            }
        }
        let Some(next) = oldest else { return Ok(None) };
        let Some(conversation) = ports.conversations.conversation(tenant, &next.conversation_id).await?
        else {
            continue;
        };
        if conversation.state != ConversationState::Queued {
            continue;
        }
        let at = ports.clock.now();
        let patch = ConversationPatch {
            state: Some(ConversationState::Open),
            assignee: Some(Some(agent.clone())),
            expected_version: Some(conversation.version),
            ..ConversationPatch::default()
        };
        match ports.conversations.update_conversation(tenant, &conversation.id, &patch, at).await {
            Ok(updated) => {
                record_change(ports, tenant, &conversation, &updated, at).await;
                return Ok(Some(updated));
            }
            Err(UpdateConversationError::AgentUnavailable { .. }) => return Ok(None),
            // Someone else took it: the next oldest.
            Err(
                UpdateConversationError::VersionConflict { .. }
                | UpdateConversationError::NotFound
                | UpdateConversationError::IllegalTransition { .. },
            ) => {}
            Err(UpdateConversationError::Unknown(e)) => return Err(CenterOpError::Unknown(e)),
        }
    }
    Ok(None)
}

/// A customer wrote in `conversation`: a resolved conversation reopens (to the agent who had it
/// when they are online with a free slot, else to its queue, else open with nobody), and a
/// snoozed one wakes up (pending → open). Anything else stays as it is.
///
/// # Errors
/// [`CenterOpError::Unknown`]; a conflict when someone changed it at the same moment.
pub async fn customer_wrote<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    conversation: &ConversationView,
) -> Result<ConversationView, CenterOpError> {
    let at = ports.clock.now();
    match conversation.state {
        ConversationState::Resolved => {
            let back_to_agent = ConversationPatch {
                state: Some(ConversationState::Open),
                expected_version: Some(conversation.version),
                require_online: true,
                ..ConversationPatch::default()
            };
            let reopened = match (&conversation.assignee, &conversation.queue) {
                (Some(_), _) => {
                    match ports
                        .conversations
                        .update_conversation(tenant, &conversation.id, &back_to_agent, at)
                        .await
                    {
                        Err(UpdateConversationError::AgentUnavailable { .. }) => None,
                        other => Some(other?),
                    }
                }
                _ => None,
            };
            let reopened = match reopened {
                Some(reopened) => reopened,
                None => {
                    // Nobody to give it back to: its queue, or open with nobody.
                    let patch = ConversationPatch {
                        state: Some(if conversation.queue.is_some() {
                            ConversationState::Queued
                        } else {
                            ConversationState::Open
                        }),
                        assignee: Some(None),
                        expected_version: Some(conversation.version),
                        ..ConversationPatch::default()
                    };
                    ports.conversations.update_conversation(tenant, &conversation.id, &patch, at).await?
                }
            };
            record_change(ports, tenant, conversation, &reopened, at).await;
            after_change(ports, tenant, conversation, &reopened).await?;
            Ok(ports.conversations.conversation(tenant, &conversation.id).await?.unwrap_or(reopened))
        }
        ConversationState::Pending if conversation.snoozed_until.is_some() => {
            timers::wake(ports, tenant, conversation, false).await
        }
        _ => Ok(conversation.clone()),
    }
}

/// An agent replied in the conversation at `at`: an `agent_reply` event, and a `first_reply`
/// with the time since the cycle started when it is the cycle's first.
///
/// # Errors
/// [`CenterOpError::Unknown`].
pub async fn agent_replied<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    conversation: &ConversationId,
    agent: Option<&UserId>,
    message_key: &str,
    at: Timestamp,
) -> Result<(), CenterOpError> {
    let first = ports.conversations.note_agent_reply(tenant, conversation, at).await?;
    let current = match &first {
        Some(view) => Some(view.clone()),
        None => ports.conversations.conversation(tenant, conversation).await?,
    };
    let Some(current) = current else { return Ok(()) };
    let agent = agent.cloned().or_else(|| current.assignee.clone());
    let reply = CenterEvent {
        id: format!("{conversation}#agent_reply#{message_key}"),
        kind: EventKind::AgentReply,
        conversation_id: Some(conversation.clone()),
        at: at.as_millis(),
        queue: current.queue.clone(),
        agent: agent.clone(),
        duration_ms: None,
        target_ms: None,
        by_system: false,
    };
    record(ports, tenant, &reply).await;
    if let Some(first) = first {
        let target_ms = match &first.queue {
            Some(queue) => ports
                .queues
                .queue(tenant, queue)
                .await
                .ok()
                .flatten()
                .and_then(|q| q.first_response_target_seconds)
                .map(|s| i64::from(s) * 1000),
            None => None,
        };
        let event = CenterEvent {
            id: format!("{conversation}#first_reply#{}", first.cycle_started_at),
            kind: EventKind::FirstReply,
            conversation_id: Some(conversation.clone()),
            at: at.as_millis(),
            queue: first.queue.clone(),
            agent,
            duration_ms: Some(at.as_millis() - first.cycle_started_at),
            target_ms,
            by_system: false,
        };
        record(ports, tenant, &event).await;
    }
    Ok(())
}

/// A customer message arrived in `conversation` (new when `opened`): `opened` and `received`
/// events, returned when not written so the queue record is retried (ids keep them once).
///
/// # Errors
/// [`CenterError::Unknown`] when an event was not written.
pub async fn customer_message<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    conversation: &ConversationView,
    message_key: &str,
    opened: bool,
    at: Timestamp,
) -> Result<(), CenterError> {
    let received = CenterEvent {
        id: format!("{}#received#{message_key}", conversation.id),
        kind: EventKind::Received,
        conversation_id: Some(conversation.id.clone()),
        at: at.as_millis(),
        queue: conversation.queue.clone(),
        agent: conversation.assignee.clone(),
        duration_ms: None,
        target_ms: None,
        by_system: false,
    };
    if opened {
        let event = CenterEvent {
            id: format!("{}#opened", conversation.id),
            kind: EventKind::Opened,
            at: conversation.cycle_started_at,
            agent: None,
            ..received.clone()
        };
        record_or_fail(ports, tenant, &event).await?;
    }
    record_or_fail(ports, tenant, &received).await
}

/// The events one change of a conversation makes: dequeued, routed/queued, assigned,
/// transferred, resolved, reopened. Ids carry the conversation's new version, so a retried change is
/// logged once.
async fn record_change<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    before: &ConversationView,
    after: &ConversationView,
    at: Timestamp,
) {
    for event in change_events(before, after, at) {
        record(ports, tenant, &event).await;
    }
}

/// The events of a change from `before` to `after` (pure: the rule in one place).
#[must_use]
pub fn change_events(before: &ConversationView, after: &ConversationView, at: Timestamp) -> Vec<CenterEvent> {
    use ConversationState::{Queued, Resolved};
    let at_ms = at.as_millis();
    let event =
        |kind: EventKind, queue: Option<&QueueId>, agent: Option<&UserId>, duration_ms: Option<i64>| {
            CenterEvent {
                id: format!("{}#{}#v{}", after.id, serde_name(kind), after.version),
                kind,
                conversation_id: Some(after.id.clone()),
                at: at_ms,
                queue: queue.cloned(),
                agent: agent.cloned(),
                duration_ms,
                target_ms: None,
                by_system: false,
            }
        };
    let mut events = Vec::new();
    // Someone worked it (an agent had it, or it waited in a queue) before this change.
    let held_before = before.state != Resolved && before.assignee.is_some();
    let queued_before = before.state == Queued;
    // Leaving a queue's waiting line, whatever the reason (assigned, transferred, resolved,
    // routed elsewhere or out): decided here, on the same rule as the waiting entries
    // (`waits_in`), so every entry (`Queued` below) has its exit and depth over time adds up.
    let (line_before, line_after) =
        (waits_in(before.state, before.queue.as_ref()), waits_in(after.state, after.queue.as_ref()));
    if let Some(left) = line_before.filter(|_| line_before != line_after) {
        let wait = before.queued_at.map(|since| at_ms - since);
        events.push(event(EventKind::Dequeued, Some(left), None, wait));
    }
    if before.state == Resolved && after.state != Resolved {
        events.push(event(EventKind::Reopened, after.queue.as_ref(), after.assignee.as_ref(), None));
    }
    if after.state == Queued && !(queued_before && before.queue == after.queue) {
        if held_before || queued_before {
            events.push(event(EventKind::Transferred, after.queue.as_ref(), before.assignee.as_ref(), None));
        }
        events.push(event(EventKind::Routed, after.queue.as_ref(), None, None));
        events.push(event(EventKind::Queued, after.queue.as_ref(), None, None));
    }
    if after.state != Resolved && after.assignee.is_some() && after.assignee != before.assignee {
        if held_before {
            events.push(event(EventKind::Transferred, after.queue.as_ref(), after.assignee.as_ref(), None));
        }
        let waited = before.queued_at.filter(|_| queued_before).map(|since| at_ms - since);
        events.push(event(EventKind::Assigned, after.queue.as_ref(), after.assignee.as_ref(), waited));
    }
    if after.state == Resolved && before.state != Resolved {
        events.push(event(
            EventKind::Resolved,
            after.queue.as_ref(),
            after.assignee.as_ref(),
            Some(at_ms - before.cycle_started_at),
        ));
    }
    events
}

fn serde_name(kind: EventKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Appends an event and sends its live notice to the console; a failure of either is logged,
/// never fails the change it describes (the change is already written; analytics then miss one
/// sample, which the log says; the page catches up by polling).
async fn record<A: Adapters>(ports: &CenterPorts<'_, A>, tenant: &TenantId, event: &CenterEvent) {
    if let Err(error) = ports.events.record(tenant, event).await {
        tracing::error!(error = format!("{error:#}"), kind = ?event.kind, "Contact center event not recorded");
    }
    crate::app::live::notify_event(ports.live, tenant, event).await;
}

/// Records `event`, returning the failure (the live notice goes only with a recorded event).
async fn record_or_fail<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    event: &CenterEvent,
) -> Result<(), CenterError> {
    ports.events.record(tenant, event).await?;
    crate::app::live::notify_event(ports.live, tenant, event).await;
    Ok(())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod timer_tests;
pub mod timers;
