//! [`OutboundStore`] in memory.

#[allow(clippy::wildcard_imports)]
use super::*;

impl OutboundStore for MemoryInbox {
    async fn store_outbound(
        &self,
        tenant: &TenantId,
        message: &NewOutboundMessage<'_>,
        _now: Timestamp,
    ) -> Result<MessageView, InboxError> {
        let mut state = self.state()?;
        if let Some((_, existing)) = state.messages.iter().find(|(t, m)| t == tenant && &m.id == message.id) {
            return Ok(existing.clone());
        }
        if !state.contacts.iter().any(|(t, c)| t == tenant && &c.id == message.contact) {
            return Err(InboxError::NoContact);
        }
        let conversation = Self::conversation(&mut state, tenant, message.contact, message.at)?;
        let view = MessageView {
            id: message.id.clone(),
            conversation_id: conversation,
            wamid: None,
            direction: "outbound".into(),
            kind: message.kind.to_owned(),
            timestamp: message.at.as_millis(),
            status: MessageStatus::Queued,
            statuses: std::collections::BTreeMap::new(),
            error: None,
            payload: serde_json::from_str(message.body).ok(),
            content_sanitized_at: None,
        };
        state.messages.push((tenant.clone(), view.clone()));
        Ok(view)
    }

    async fn outbound(&self, tenant: &TenantId, id: &MessageId) -> Result<Option<MessageView>, InboxError> {
        Ok(self.state()?.messages.iter().find(|(t, m)| t == tenant && &m.id == id).map(|(_, m)| m.clone()))
    }

    async fn claim_outbound(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<OutboundClaim, InboxError> {
        let mut state = self.state()?;
        let Some((_, message)) = state.messages.iter().find(|(t, m)| t == tenant && &m.id == id) else {
            return Ok(OutboundClaim::Missing);
        };
        if message.status != MessageStatus::Queued {
            return Ok(OutboundClaim::Handled);
        }
        match state.send_claims.get(id) {
            Some(&held) if held >= now.as_millis() => Ok(OutboundClaim::Held(Timestamp::from_millis(held))),
            _ => {
                state.send_claims.insert(id.clone(), until.as_millis());
                Ok(OutboundClaim::Acquired)
            }
        }
    }

    async fn release_outbound(
        &self,
        _tenant: &TenantId,
        id: &MessageId,
        until: Timestamp,
    ) -> Result<(), InboxError> {
        let mut state = self.state()?;
        if state.send_claims.get(id) == Some(&until.as_millis()) {
            state.send_claims.remove(id);
        }
        Ok(())
    }

    async fn previous_send(
        &self,
        tenant: &TenantId,
        id: &MessageId,
    ) -> Result<Option<Timestamp>, InboxError> {
        let state = self.state()?;
        let Some((_, message)) = state.messages.iter().find(|(t, m)| t == tenant && &m.id == id) else {
            return Ok(None);
        };
        Ok(state
            .messages
            .iter()
            .filter(|(t, m)| {
                t == tenant
                    && m.conversation_id == message.conversation_id
                    && m.id != *id
                    && m.timestamp <= message.timestamp
            })
            .filter_map(|(_, m)| state.sent_at.get(&m.id).copied())
            .max()
            .map(Timestamp::from_millis))
    }

    async fn mark_sent(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        wamid: Option<&Wamid>,
        at: Timestamp,
    ) -> Result<(), InboxError> {
        let mut state = self.state()?;
        state.sent_at.insert(id.clone(), at.as_millis());
        if let Some((_, message)) = state.messages.iter_mut().find(|(t, m)| t == tenant && &m.id == id) {
            message.wamid = wamid.map(|w| w.as_str().to_owned()).or(message.wamid.take());
            if message.status.rank() < MessageStatus::Sent.rank() {
                message.status = MessageStatus::Sent;
                message.statuses.insert("sent".into(), at.as_millis());
            }
        }
        Ok(())
    }

    async fn mark_unsent(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        how: Unsent,
        error: &MetaError,
        _at: Timestamp,
    ) -> Result<(), InboxError> {
        let mut state = self.state()?;
        if let Some((_, message)) = state.messages.iter_mut().find(|(t, m)| t == tenant && &m.id == id) {
            let status = match how {
                Unsent::Blocked => MessageStatus::Blocked,
                Unsent::Failed => MessageStatus::Failed,
            };
            if message.status.rank() < status.rank() {
                message.status = status;
                message.error = Some(error.clone());
            }
        }
        Ok(())
    }
}
