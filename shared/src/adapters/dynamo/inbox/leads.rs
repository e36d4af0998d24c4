//! [`LeadStore`] on the table: leads as the team works them.

use super::*;

impl LeadStore for DynamoInbox {
    async fn create_lead(&self, tenant: &TenantId, lead: &NewManualLead<'_>) -> Result<LeadView, InboxError> {
        let (contact_id, _, _) =
            self.resolve_contact(tenant, (lead.contact, ContactOrigin::Business), lead.at).await?;
        let fields = serde_json::json!({
            "name": lead.contact.name,
            "email": lead.contact.email,
            "phone": lead.contact.phone.as_ref().map(PhoneNumber::as_digits),
        });
        let mut item = item_with_key(&keys::lead(tenant, lead.id));
        item.insert(ENTITY.to_owned(), s("lead"));
        item.insert(attr::LEADGEN_ID.to_owned(), s(lead.id));
        item.insert(attr::CONTACT_ID.to_owned(), s(contact_id.as_str()));
        item.insert(attr::LEAD.to_owned(), s(fields.to_string()));
        item.insert(attr::LEAD_SOURCE.to_owned(), s("{}"));
        item.insert(
            attr::ORIGIN.to_owned(),
            s(serde_json::to_string(lead.origin).context("serializing an origin")?),
        );
        item.insert(attr::STAGE.to_owned(), s(lead.stage.as_str()));
        if let Some(owner) = lead.owner {
            item.insert(attr::OWNER.to_owned(), s(owner.as_str()));
        }
        item.insert(attr::RECEIVED_AT.to_owned(), n(lead.at.as_millis()));
        item.insert(attr::UPDATED_AT.to_owned(), n(lead.at.as_millis()));
        item.insert(GSI1PK.to_owned(), s(keys::contact_index_partition(tenant, &contact_id)));
        item.insert(GSI1SK.to_owned(), s(keys::contact_index_lead(lead.at, lead.id)));
        let view = lead_view(&item).map_err(|e| unknown(e, "mapping a lead"))?;
        item.insert(
            attr::LEAD.to_owned(),
            sealed(&self.sealer(tenant, &contact_id).await?, attr::LEAD, &fields.to_string())?,
        );
        self.table.put_new(item, self.now_filter()).await.map_err(|e| unknown(e, "storing a lead"))?;
        Ok(view)
    }

    async fn lead(&self, tenant: &TenantId, id: &str) -> Result<Option<LeadView>, InboxError> {
        self.read_one(tenant, &keys::lead(tenant, id), lead_view, "reading a lead").await
    }

    async fn update_lead(
        &self,
        tenant: &TenantId,
        id: &str,
        patch: &LeadPatch,
        at: Timestamp,
    ) -> Result<Option<LeadView>, InboxError> {
        if self.lead(tenant, id).await?.is_none() {
            return Ok(None);
        }
        let mut update = Assignments::default();
        update.set(attr::UPDATED_AT, n(at.as_millis()));
        if let Some(stage) = patch.stage {
            update.set(attr::STAGE, s(stage.as_str()));
        }
        if let Some(owner) = &patch.owner {
            update.set_or_remove(attr::OWNER, owner.as_ref().map(|o| s(o.as_str())));
        }
        if let Some(origin) = &patch.origin {
            update.set(attr::ORIGIN, s(serde_json::to_string(origin).context("serializing an origin")?));
        }
        match self.apply(&keys::lead(tenant, id), update).await? {
            Some(item) => {
                lead_view(&self.open(tenant, item).await?).map(Some).map_err(|e| unknown(e, "mapping a lead"))
            }
            None => Ok(None),
        }
    }

    async fn leads(
        &self,
        tenant: &TenantId,
        filter: &LeadFilter,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<LeadView>, InboxError> {
        self.list_filtered(
            tenant,
            filter.contact.as_ref(),
            keys::LEAD_PREFIX,
            (after, limit),
            lead_view,
            |lead| filter.accepts(lead),
        )
        .await
    }
}
