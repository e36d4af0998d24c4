//! [`LifecycleStore`] in memory.

#[allow(clippy::wildcard_imports)]
use super::*;

impl LifecycleStore for MemoryInbox {
    async fn delete_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        _budget: u32,
    ) -> Result<Expiry, InboxError> {
        let mut state = self.state()?;
        let mut counts = ErasureCounts::default();
        let before = state.messages.len();
        state.messages.retain(|(t, m)| !(t == tenant && &m.conversation_id == conversation));
        counts.messages = (before - state.messages.len()) as u64;
        let before = state.conversations.len();
        state.conversations.retain(|(t, c)| !(t == tenant && &c.id == conversation));
        counts.conversations = (before - state.conversations.len()) as u64;
        for (t, contact) in &mut state.contacts {
            if t == tenant && contact.conversation_id.as_ref() == Some(conversation) {
                contact.conversation_id = None;
            }
        }
        Ok(Expiry::Deleted(counts))
    }

    async fn delete_lead(&self, tenant: &TenantId, id: &str) -> Result<bool, InboxError> {
        let mut state = self.state()?;
        let before = state.leads.len();
        state.leads.retain(|(t, l)| !(t == tenant && l.id == id));
        Ok(state.leads.len() < before)
    }

    /// Conversations in memory do not expire: the fake keeps no retention clock.
    async fn expire_conversation(
        &self,
        _tenant: &TenantId,
        _conversation: &ConversationId,
        _now: Timestamp,
        _budget: u32,
    ) -> Result<Expiry, InboxError> {
        Ok(Expiry::NotDue)
    }

    async fn sanitize_conversation(
        &self,
        _tenant: &TenantId,
        _conversation: &ConversationId,
        _content_age: std::time::Duration,
        _now: Timestamp,
        _budget: u32,
    ) -> Result<(u64, bool), InboxError> {
        Ok((0, false))
    }

    async fn restamp_conversations(
        &self,
        _tenant: &TenantId,
        _settings: RetentionSettings,
        _after: Option<&str>,
        _limit: u16,
        _earliest_day: i64,
    ) -> Result<Option<String>, InboxError> {
        Ok(None)
    }

    async fn erase_contact(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        _budget: u32,
    ) -> Result<ErasureCounts, InboxError> {
        let mut state = self.state()?;
        let mut counts = ErasureCounts::default();
        let conversations: Vec<ConversationId> = state
            .conversations
            .iter()
            .filter(|(t, c)| t == tenant && &c.contact_id == contact)
            .map(|(_, c)| c.id.clone())
            .collect();
        let before = state.messages.len();
        state.messages.retain(|(t, m)| !(t == tenant && conversations.contains(&m.conversation_id)));
        counts.messages = (before - state.messages.len()) as u64;
        counts.message_id_records = counts.messages;
        let before = state.conversations.len();
        state.conversations.retain(|(t, c)| !(t == tenant && &c.contact_id == contact));
        counts.conversations = (before - state.conversations.len()) as u64;
        let before = state.leads.len();
        state.leads.retain(|(t, l)| !(t == tenant && &l.contact_id == contact));
        counts.leads = (before - state.leads.len()) as u64;
        let before = state.consent.len();
        state.consent.retain(|(t, c, _, _)| !(t == tenant && c == contact));
        counts.consent_events = (before - state.consent.len()) as u64;
        let before = state.contacts.len();
        state.contacts.retain(|(t, c)| !(t == tenant && &c.id == contact));
        counts.contacts = (before - state.contacts.len()) as u64;
        Ok(counts)
    }
}
