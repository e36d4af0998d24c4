//! [`ConversationStore`] in memory.

use super::center::move_center;
use super::*;
use crate::domain::center::{AgentStatus, Presence};
use crate::domain::inbox::{CenterMoves, UpdateConversationError};

impl ConversationStore for MemoryInbox {
    async fn conversations(
        &self,
        tenant: &TenantId,
        contact: Option<&ContactId>,
        filter: &ConversationFilter,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<ConversationView>, InboxError> {
        let all = self
            .state()?
            .conversations
            .iter()
            .filter(|(t, c)| t == tenant && contact.is_none_or(|id| &c.contact_id == id) && filter.accepts(c))
            .map(|(_, c)| c.clone())
            .collect();
        paginate(all, after, limit)
    }

    async fn update_conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        patch: &ConversationPatch,
        at: Timestamp,
    ) -> Result<ConversationView, UpdateConversationError> {
        // Check and write under one lock: the table's one transaction, in memory.
        let mut guard = self.state()?;
        let state = &mut *guard;
        let Some((_, current)) = state.conversations.iter().find(|(t, c)| t == tenant && &c.id == id) else {
            return Err(UpdateConversationError::NotFound);
        };
        let current = current.clone();
        patch.check(&current)?;
        let next = patch.apply(&current, at);
        let moves = CenterMoves::between(&current, &next);
        if let Some(agent) = moves.take {
            let status = state
                .agents
                .get(&(tenant.clone(), agent.clone()))
                .cloned()
                .unwrap_or_else(|| AgentStatus::unseen(agent.clone()));
            if status.load >= status.capacity || (patch.require_online && status.presence != Presence::Online)
            {
                return Err(UpdateConversationError::AgentUnavailable { agent: agent.clone() });
            }
        }
        move_center(state, tenant, &next, &moves, at);
        if let Some((_, conversation)) =
            state.conversations.iter_mut().find(|(t, c)| t == tenant && &c.id == id)
        {
            *conversation = next.clone();
        }
        Ok(next)
    }

    async fn note_agent_reply(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        at: Timestamp,
    ) -> Result<Option<ConversationView>, InboxError> {
        let mut state = self.state()?;
        let Some((_, conversation)) =
            state.conversations.iter_mut().find(|(t, c)| t == tenant && &c.id == id)
        else {
            return Ok(None);
        };
        if conversation.first_reply_at.is_some() {
            return Ok(None);
        }
        conversation.first_reply_at = Some(at.as_millis());
        Ok(Some(conversation.clone()))
    }

    async fn conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, InboxError> {
        Ok(self
            .state()?
            .conversations
            .iter()
            .find(|(t, c)| t == tenant && &c.id == id)
            .map(|(_, c)| c.clone()))
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<MessageView>, InboxError> {
        let mut all: Vec<MessageView> = self
            .state()?
            .messages
            .iter()
            .filter(|(t, m)| t == tenant && &m.conversation_id == conversation)
            .map(|(_, m)| m.clone())
            .collect();
        all.sort_by_key(|m| m.timestamp);
        paginate(all, after, limit)
    }

    async fn messages_before(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        before: Option<i64>,
        limit: u16,
    ) -> Result<Vec<MessageView>, InboxError> {
        let mut all: Vec<MessageView> = self
            .state()?
            .messages
            .iter()
            .filter(|(t, m)| t == tenant && &m.conversation_id == conversation)
            .filter(|(_, m)| before.is_none_or(|b| m.timestamp < b))
            .map(|(_, m)| m.clone())
            .collect();
        all.sort_by(|a, b| (b.timestamp, &b.id).cmp(&(a.timestamp, &a.id)));
        all.truncate(usize::from(limit.max(1)));
        Ok(all)
    }

    async fn latest_messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        limit: u16,
    ) -> Result<Vec<MessageView>, InboxError> {
        let all = self.messages(tenant, conversation, None, u16::MAX).await?.items;
        Ok(all[all.len().saturating_sub(usize::from(limit))..].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryInbox;
    use crate::testing::contract::conversation_state;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn several_claims_of_one_conversation_have_one_winner() {
        conversation_state::several_claims_of_one_conversation_have_one_winner(MemoryInbox::default()).await;
    }

    #[tokio::test]
    async fn an_illegal_transition_is_refused_and_changes_nothing() {
        conversation_state::an_illegal_transition_is_refused_and_changes_nothing(MemoryInbox::default())
            .await;
    }
}
