//! [`AgentStore`] in memory, on the inbox's own state: loads and waiting entries move under the
//! same lock as the conversations they follow (the table's one transaction).

use super::*;
use crate::domain::center::{AgentStatus, AgentStore, CenterError, Presence, TimerKind, Waiting};
use crate::domain::inbox::CenterMoves;
use crate::domain::{QueueId, UserId};

/// Applies a conversation's moves to the agents' loads and the waiting entries (after the
/// caller checked the taking agent's capacity and presence).
pub(super) fn move_center(
    state: &mut InboxState,
    tenant: &TenantId,
    conversation: &ConversationView,
    moves: &CenterMoves<'_>,
    at: Timestamp,
) {
    if let Some(agent) = moves.release {
        if let Some(status) = state.agents.get_mut(&(tenant.clone(), agent.clone())) {
            // A conversation assigned before loads existed released to no load: never below 0.
            status.load = status.load.saturating_sub(1);
        }
    }
    if let Some(agent) = moves.take {
        let status = state
            .agents
            .entry((tenant.clone(), agent.clone()))
            .or_insert_with(|| AgentStatus::unseen(agent.clone()));
        status.load += 1;
        if moves.reassigned {
            status.last_assigned_at = Some(at.as_millis());
        }
    }
    if moves.leave.is_some() || moves.enter.is_some() {
        state.waiting.retain(|(t, w)| !(t == tenant && w.conversation_id == conversation.id));
    }
    if let Some((queue, since)) = moves.enter {
        let entry = Waiting { conversation_id: conversation.id.clone(), queue: queue.clone(), since };
        state.waiting.push((tenant.clone(), entry));
    }
    for (kind, due) in [(TimerKind::Wake, moves.wake), (TimerKind::Idle, moves.idle)] {
        if let Some(due) = due {
            state.timers.insert((due, tenant.clone(), conversation.id.clone(), kind));
        }
    }
}

impl MemoryInbox {
    fn agent_status(state: &InboxState, tenant: &TenantId, user: &UserId) -> AgentStatus {
        state
            .agents
            .get(&(tenant.clone(), user.clone()))
            .cloned()
            .unwrap_or_else(|| AgentStatus::unseen(user.clone()))
    }

    fn center_state(&self) -> Result<std::sync::MutexGuard<'_, InboxState>, CenterError> {
        self.state.lock().map_err(|_| CenterError::Unknown(anyhow::anyhow!("poisoned")))
    }
}

impl AgentStore for MemoryInbox {
    async fn set_presence(
        &self,
        tenant: &TenantId,
        user: &UserId,
        presence: Presence,
        at: Timestamp,
    ) -> Result<AgentStatus, CenterError> {
        let mut state = self.center_state()?;
        let status = state
            .agents
            .entry((tenant.clone(), user.clone()))
            .or_insert_with(|| AgentStatus::unseen(user.clone()));
        status.presence = presence;
        status.presence_at = at.as_millis();
        Ok(status.clone())
    }

    async fn set_capacity(
        &self,
        tenant: &TenantId,
        user: &UserId,
        capacity: u32,
    ) -> Result<AgentStatus, CenterError> {
        let mut state = self.center_state()?;
        let status = state
            .agents
            .entry((tenant.clone(), user.clone()))
            .or_insert_with(|| AgentStatus::unseen(user.clone()));
        status.capacity = capacity;
        Ok(status.clone())
    }

    async fn agent(&self, tenant: &TenantId, user: &UserId) -> Result<AgentStatus, CenterError> {
        Ok(Self::agent_status(&*self.center_state()?, tenant, user))
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<AgentStatus>, CenterError> {
        let state = self.center_state()?;
        let mut all: Vec<AgentStatus> =
            state.agents.iter().filter(|((t, _), _)| t == tenant).map(|(_, a)| a.clone()).collect();
        all.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        Ok(all)
    }

    async fn waiting(
        &self,
        tenant: &TenantId,
        queue: &QueueId,
        limit: u16,
    ) -> Result<Vec<Waiting>, CenterError> {
        let state = self.center_state()?;
        let mut all: Vec<Waiting> = state
            .waiting
            .iter()
            .filter(|(t, w)| t == tenant && &w.queue == queue)
            .map(|(_, w)| w.clone())
            .collect();
        // The table's order: since, then the conversation id.
        all.sort_by(|a, b| (a.since, &a.conversation_id).cmp(&(b.since, &b.conversation_id)));
        all.truncate(usize::from(limit));
        Ok(all)
    }
}
