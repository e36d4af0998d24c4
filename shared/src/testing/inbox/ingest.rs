//! [`IngestStore`] in memory.

use super::*;

impl IngestStore for MemoryInbox {
    async fn store_inbound_message(
        &self,
        tenant: &TenantId,
        message: &NewInboundMessage<'_>,
        now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let mut state = self.state()?;
        if state
            .messages
            .iter()
            .any(|(t, m)| t == tenant && m.wamid.as_deref() == Some(message.wamid.as_str()))
        {
            return Ok(Stored::Duplicate);
        }
        let contact = Self::contact(
            &mut state,
            tenant,
            (message.from, ContactOrigin::Meta(Integration::WhatsApp)),
            message.sent_at,
        )?;
        let conversation = Self::conversation(&mut state, tenant, &contact, (message.sent_at, now))?;
        let id = MessageId::generate(message.sent_at).map_err(anyhow::Error::from)?;
        state.received_at.insert((tenant.clone(), id.clone()), now.as_millis());
        state.messages.push((
            tenant.clone(),
            MessageView {
                id,
                conversation_id: conversation.clone(),
                wamid: Some(message.wamid.as_str().to_owned()),
                direction: "inbound".into(),
                kind: message.kind.to_owned(),
                timestamp: message.sent_at.as_millis(),
                status: MessageStatus::Received,
                statuses: std::collections::BTreeMap::new(),
                error: None,
                payload: serde_json::from_str(message.raw).ok(),
                content_sanitized_at: None,
            },
        ));
        Self::touch(&mut state, tenant, &contact, &conversation, message.sent_at, Some(message.from));
        Self::stamp_expiry(&mut state, tenant, &conversation, now, message.retention);
        Ok(Stored::Created)
    }

    async fn apply_status(
        &self,
        tenant: &TenantId,
        change: &StatusChange<'_>,
        now: Timestamp,
    ) -> Result<StatusOutcome, InboxError> {
        let mut state = self.state()?;
        let state = &mut *state;
        let by_callback = change.callback.and_then(crate::domain::outbound::message_of_callback);
        let found = state.messages.iter().position(|(t, m)| {
            t == tenant
                && (m.wamid.as_deref() == Some(change.wamid.as_str()) || by_callback.as_ref() == Some(&m.id))
        });
        let message = match found {
            Some(index) => &mut state.messages[index].1,
            None if by_callback.is_some() => return Ok(StatusOutcome::Gone),
            None => {
                // A status for a message Leadline has no record of yet: kept, in the recipient's
                // conversation when Meta names them, else on a placeholder of its own.
                let early = state
                    .early_statuses
                    .iter()
                    .position(|(t, m)| t == tenant && m.wamid.as_deref() == Some(change.wamid.as_str()));
                match early {
                    Some(index) => &mut state.early_statuses[index].1,
                    None => {
                        let mut placeholder = MessageView {
                            id: MessageId::generate(change.at).map_err(anyhow::Error::from)?,
                            conversation_id: ConversationId::generate(change.at)
                                .map_err(anyhow::Error::from)?,
                            wamid: Some(change.wamid.as_str().to_owned()),
                            direction: "outbound".into(),
                            kind: "unknown".into(),
                            timestamp: change.at.as_millis(),
                            status: MessageStatus::Queued,
                            statuses: std::collections::BTreeMap::new(),
                            error: None,
                            payload: None,
                            content_sanitized_at: None,
                        };
                        // A status never creates a contact (an unknown or erased person).
                        let known = Self::existing(state, tenant, change.recipient);
                        if let Some(contact) = known {
                            let conversation = Self::conversation(state, tenant, &contact, (change.at, now))?;
                            placeholder.conversation_id = conversation.clone();
                            state.messages.push((tenant.clone(), placeholder));
                            Self::touch(state, tenant, &contact, &conversation, change.at, None);
                            Self::stamp_expiry(state, tenant, &conversation, now, change.retention);
                            &mut state.messages.last_mut().ok_or(InboxError::NoContact)?.1
                        } else {
                            state.early_statuses.push((tenant.clone(), placeholder));
                            &mut state.early_statuses.last_mut().ok_or(InboxError::NoContact)?.1
                        }
                    }
                }
            }
        };
        Ok(record_status(message, change.status, change.meta_status, change.at.as_millis(), change.error))
    }

    async fn lead_exists(&self, tenant: &TenantId, leadgen_id: &str) -> Result<bool, InboxError> {
        Ok(self.state()?.leads.iter().any(|(t, l)| t == tenant && l.id == leadgen_id))
    }

    async fn store_lead(
        &self,
        tenant: &TenantId,
        lead: &NewLead<'_>,
        now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let mut state = self.state()?;
        let contact_id = Self::contact(
            &mut state,
            tenant,
            (lead.contact, ContactOrigin::Meta(Integration::LeadAds)),
            now,
        )?;
        if state.leads.iter().any(|(t, l)| t == tenant && l.id == lead.leadgen_id) {
            return Ok(Stored::Duplicate);
        }
        if let Some((_, contact)) = state.contacts.iter_mut().find(|(t, c)| t == tenant && c.id == contact_id)
        {
            contact.last_seen_at = contact.last_seen_at.max(now.as_millis());
        }
        state.leads.push((
            tenant.clone(),
            LeadView {
                id: lead.leadgen_id.to_owned(),
                page_id: Some(lead.page_id.to_owned()),
                contact_id,
                lead: serde_json::from_str(lead.lead_json).unwrap_or_default(),
                source: serde_json::from_str(lead.change_json).unwrap_or_default(),
                origin: LeadOrigin::default(),
                stage: LeadStage::New,
                owner: None,
                received_at: now.as_millis(),
                updated_at: now.as_millis(),
            },
        ));
        Ok(Stored::Created)
    }
}

/// Adds a status to a message's history (each status once, with its own time) and moves the
/// message forward to it (statuses only move up; `failed` and `blocked` are final).
pub(super) fn record_status(
    message: &mut MessageView,
    status: MessageStatus,
    meta_status: &str,
    at: i64,
    error: Option<&MetaError>,
) -> StatusOutcome {
    message.statuses.entry(meta_status.to_owned()).or_insert(at);
    if status.rank() <= message.status.rank() {
        return StatusOutcome::Stale;
    }
    message.status = status;
    if let Some(error) = error {
        message.error = Some(error.clone());
    }
    StatusOutcome::Applied
}
