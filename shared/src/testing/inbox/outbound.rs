//! [`OutboundStore`] in memory.

use super::*;

impl OutboundStore for MemoryInbox {
    async fn store_outbound(
        &self,
        tenant: &TenantId,
        message: &NewOutboundMessage<'_>,
        now: Timestamp,
    ) -> Result<MessageView, InboxError> {
        let mut state = self.state()?;
        if let Some((_, existing)) = state.messages.iter().find(|(t, m)| t == tenant && &m.id == message.id) {
            return Ok(existing.clone());
        }
        if !state.contacts.iter().any(|(t, c)| t == tenant && &c.id == message.contact) {
            return Err(InboxError::NoContact);
        }
        let conversation = Self::conversation(&mut state, tenant, message.contact, (message.at, now))?;
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
        state.received_at.insert((tenant.clone(), view.id.clone()), now.as_millis());
        state.messages.push((tenant.clone(), view.clone()));
        Self::touch(&mut state, tenant, message.contact, &view.conversation_id, message.at, None);
        Self::stamp_expiry(&mut state, tenant, &view.conversation_id, now, message.retention);
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
        let key = (tenant.clone(), id.clone());
        match state.send_claims.get(&key) {
            Some(&held) if held >= now.as_millis() => Ok(OutboundClaim::Held(Timestamp::from_millis(held))),
            Some(_) => Ok(OutboundClaim::Lapsed),
            None => {
                state.send_claims.insert(key, until.as_millis());
                Ok(OutboundClaim::Acquired)
            }
        }
    }

    async fn release_outbound(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        until: Timestamp,
    ) -> Result<(), InboxError> {
        let mut state = self.state()?;
        let key = (tenant.clone(), id.clone());
        if state.send_claims.get(&key) == Some(&until.as_millis()) {
            state.send_claims.remove(&key);
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
            .filter_map(|(_, m)| state.sent_at.get(&(tenant.clone(), m.id.clone())).copied())
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
        let state = &mut *state;
        let Some(index) = state.messages.iter().position(|(t, m)| t == tenant && &m.id == id) else {
            return Ok(());
        };
        state.sent_at.insert((tenant.clone(), id.clone()), at.as_millis());
        // A status that beat this call was kept on a placeholder under the wamid: merge it in.
        let early = wamid.and_then(|wamid| {
            let held = |(t, m): &(TenantId, MessageView)| {
                t == tenant && m.id != *id && m.wamid.as_deref() == Some(wamid.as_str())
            };
            if let Some(i) = state.early_statuses.iter().position(held) {
                return Some(state.early_statuses.remove(i).1);
            }
            state.messages.iter().position(held).map(|i| state.messages.remove(i).1)
        });
        let index = match &early {
            Some(_) => state.messages.iter().position(|(t, m)| t == tenant && &m.id == id).unwrap_or(index),
            None => index,
        };
        let message = &mut state.messages[index].1;
        message.wamid = wamid.map(|w| w.as_str().to_owned()).or(message.wamid.take());
        if let Some(early) = early {
            for (name, at) in &early.statuses {
                message.statuses.entry(name.clone()).or_insert(*at);
            }
            if early.status.rank() > message.status.rank() {
                message.status = early.status;
                message.error = early.error.or(message.error.take());
            }
        }
        if message.status.rank() < MessageStatus::Sent.rank() {
            message.status = MessageStatus::Sent;
        }
        Ok(())
    }

    async fn mark_unknown(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<bool, InboxError> {
        let mut state = self.state()?;
        let state = &mut *state;
        let Some((_, message)) = state.messages.iter_mut().find(|(t, m)| t == tenant && &m.id == id) else {
            return Ok(false);
        };
        if message.status != MessageStatus::Queued {
            return Ok(false);
        }
        message.status = MessageStatus::Unknown;
        message.statuses.insert(MessageStatus::Unknown.as_str().to_owned(), at.as_millis());
        state.sent_at.insert((tenant.clone(), id.clone()), at.as_millis());
        state.send_claims.remove(&(tenant.clone(), id.clone()));
        Ok(true)
    }

    async fn fail_unknown(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        unknown_before: Timestamp,
        error: &MetaError,
        _at: Timestamp,
    ) -> Result<u64, InboxError> {
        let mut state = self.state()?;
        let mut ended = 0;
        for (t, message) in &mut state.messages {
            let since = message.statuses.get(MessageStatus::Unknown.as_str()).copied();
            if t == tenant
                && &message.conversation_id == conversation
                && message.status == MessageStatus::Unknown
                && since.is_some_and(|since| since <= unknown_before.as_millis())
            {
                message.status = MessageStatus::Failed;
                message.error = Some(error.clone());
                ended += 1;
            }
        }
        Ok(ended)
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
