//! [`LeadStore`] in memory.

use super::*;

impl LeadStore for MemoryInbox {
    async fn create_lead(&self, tenant: &TenantId, lead: &NewManualLead<'_>) -> Result<LeadView, InboxError> {
        let mut state = self.state()?;
        let contact_id = Self::contact(&mut state, tenant, (lead.contact, ContactOrigin::Business), lead.at)?;
        let view = LeadView {
            id: lead.id.to_owned(),
            page_id: None,
            contact_id,
            lead: serde_json::json!({
                "name": lead.contact.name,
                "email": lead.contact.email,
                "phone": lead.contact.phone.as_ref().map(PhoneNumber::as_digits),
            }),
            source: serde_json::json!({}),
            origin: lead.origin.clone(),
            stage: lead.stage,
            owner: lead.owner.cloned(),
            received_at: lead.at.as_millis(),
            updated_at: lead.at.as_millis(),
        };
        state.leads.push((tenant.clone(), view.clone()));
        Ok(view)
    }

    async fn lead(&self, tenant: &TenantId, id: &str) -> Result<Option<LeadView>, InboxError> {
        Ok(self.state()?.leads.iter().find(|(t, l)| t == tenant && l.id == id).map(|(_, l)| l.clone()))
    }

    async fn update_lead(
        &self,
        tenant: &TenantId,
        id: &str,
        patch: &LeadPatch,
        at: Timestamp,
    ) -> Result<Option<LeadView>, InboxError> {
        let mut state = self.state()?;
        let Some((_, lead)) = state.leads.iter_mut().find(|(t, l)| t == tenant && l.id == id) else {
            return Ok(None);
        };
        if let Some(stage) = patch.stage {
            lead.stage = stage;
        }
        if let Some(owner) = &patch.owner {
            lead.owner.clone_from(owner);
        }
        if let Some(origin) = &patch.origin {
            lead.origin = origin.clone();
        }
        lead.updated_at = at.as_millis();
        Ok(Some(lead.clone()))
    }

    async fn leads(
        &self,
        tenant: &TenantId,
        filter: &LeadFilter,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<LeadView>, InboxError> {
        let all = self
            .state()?
            .leads
            .iter()
            .filter(|(t, l)| t == tenant && filter.accepts(l))
            .map(|(_, l)| l.clone())
            .collect();
        paginate(all, after, limit)
    }
}
