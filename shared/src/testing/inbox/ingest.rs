//! [`IngestStore`] in memory.

#[allow(clippy::wildcard_imports)]
use super::*;

impl IngestStore for MemoryInbox {
    async fn store_inbound_message(
        &self,
        tenant: &TenantId,
        message: &NewInboundMessage<'_>,
        _now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let mut state = self.state()?;
        if state
            .messages
            .iter()
            .any(|(t, m)| t == tenant && m.wamid.as_deref() == Some(message.wamid.as_str()))
        {
            return Ok(Stored::Duplicate);
        }
        let contact = Self::contact(&mut state, tenant, message.from, message.sent_at)?;
        if let Some((_, view)) = state.contacts.iter_mut().find(|(t, c)| t == tenant && c.id == contact) {
            // The 24 h customer-service window, as the DynamoDB inbox keeps it.
            let at = message.sent_at.as_millis();
            if view.last_inbound_at.is_none_or(|last| last < at) {
                view.last_inbound_at = Some(at);
                view.service_window_until = Some(at + 24 * 3_600_000);
            }
        }
        let conversation = Self::conversation(&mut state, tenant, &contact, message.sent_at)?;
        state.messages.push((
            tenant.clone(),
            MessageView {
                id: MessageId::generate(message.sent_at).map_err(anyhow::Error::from)?,
                conversation_id: conversation,
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
        Ok(Stored::Created)
    }

    async fn apply_status(
        &self,
        tenant: &TenantId,
        change: &StatusChange<'_>,
        _now: Timestamp,
    ) -> Result<StatusOutcome, InboxError> {
        let mut state = self.state()?;
        let by_callback = change.callback.and_then(crate::domain::outbound::message_of_callback);
        let Some((_, message)) = state.messages.iter_mut().find(|(t, m)| {
            t == tenant
                && (m.wamid.as_deref() == Some(change.wamid.as_str()) || by_callback.as_ref() == Some(&m.id))
        }) else {
            return Ok(if by_callback.is_some() { StatusOutcome::Gone } else { StatusOutcome::Stale });
        };
        message.statuses.entry(change.meta_status.to_owned()).or_insert(change.at.as_millis());
        if change.status.rank() <= message.status.rank() {
            return Ok(StatusOutcome::Stale);
        }
        message.status = change.status;
        message.error = change.error.cloned();
        Ok(StatusOutcome::Applied)
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
        if state.leads.iter().any(|(t, l)| t == tenant && l.id == lead.leadgen_id) {
            return Ok(Stored::Duplicate);
        }
        let contact_id = Self::contact(&mut state, tenant, lead.contact, now)?;
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
