//! What a disconnection removes from contacts (P54): those that came only through the
//! integration are erased; the others lose what only it brought (its name, its opt-ins).

use super::*;

/// Contacts examined per page.
const PAGE: u16 = 25;

/// Items deleted per erasure call.
const ERASE_BUDGET: u32 = 200;

/// The consent sources of an integration.
fn sources_of(integration: Integration) -> &'static [&'static str] {
    match integration {
        Integration::WhatsApp => &["keyword", "meta_user_preferences"],
        Integration::LeadAds => &["lead_form"],
    }
}

impl DynamoInbox {
    /// One page of [`LifecycleStore::forget_integration_contacts`].
    pub(super) async fn forget_integration_page(
        &self,
        tenant: &TenantId,
        integration: Integration,
        before: Timestamp,
        after: Option<&str>,
    ) -> Result<(ErasureCounts, Option<String>), InboxError> {
        let origin = ContactOrigin::Meta(integration);
        let page = self.list(tenant, None, keys::CONTACT_PREFIX, after, PAGE).await?;
        let mut counts = ErasureCounts::default();
        for contact in &page.items {
            let Some(AttributeValue::Ss(origins)) = contact.get(attr::ORIGINS) else { continue };
            if !origins.iter().any(|o| o == origin.as_str()) {
                continue;
            }
            let Some(id) = contact.opt_string(attr::CONTACT_ID).and_then(|id| ContactId::parse(id).ok())
            else {
                continue;
            };
            let first_seen =
                contact.opt_number::<i64>(attr::FIRST_SEEN_AT).ok().flatten().unwrap_or(i64::MAX);
            if origins.len() == 1
                && first_seen <= before.as_millis()
                && !self.still_linked(tenant, &id).await?
            {
                loop {
                    let pass = self.erase_contact(tenant, &id, ERASE_BUDGET).await?;
                    counts.add(&pass);
                    if pass.total() == 0 {
                        break;
                    }
                }
            } else {
                counts.consent_events += self.strip_integration(tenant, &id, contact, integration).await?;
            }
        }
        Ok((counts, page.next))
    }

    /// True when the contact still has a conversation or a lead (one that came after a
    /// reconnection, or through another Page): it is not only the disconnected integration's.
    async fn still_linked(&self, tenant: &TenantId, id: &ContactId) -> Result<bool, InboxError> {
        for prefix in [keys::CONVERSATION_PREFIX, keys::LEAD_PREFIX] {
            if !self.list(tenant, Some(id), prefix, None, 1).await?.items.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Removes from a contact that also came another way what only `integration` brought: the
    /// name it gave, its opt-in events (and the state, if one of them set it), and the origin.
    /// Opt-outs stay. Returns the consent events deleted.
    async fn strip_integration(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        contact: &Item,
        integration: Integration,
    ) -> Result<u64, InboxError> {
        let origin = ContactOrigin::Meta(integration);
        let sources = sources_of(integration);
        let partition = keys::tenant_partition(tenant);
        let mut deleted = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .table
                .query_prefix(&partition, &keys::consent_prefix(id), self.now_filter(), 100, after.as_deref())
                .await
                .map_err(|e| unknown(e, "reading the consent ledger"))?;
            for event in &page.items {
                let from_it = event.opt_string(attr::SOURCE).is_some_and(|s| sources.contains(&s));
                if from_it && event.opt_string(attr::KIND) == Some(ConsentKind::OptIn.as_str()) {
                    deleted.extend(table_key(event));
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        self.table.delete_many(&deleted).await.map_err(|e| unknown(e, "deleting consent events"))?;
        let mut removes: Vec<&str> = Vec::new();
        let mut update = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::contact(tenant, id))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#o", attr::ORIGINS)
            .expression_attribute_values(":o", AttributeValue::Ss(vec![origin.as_str().to_owned()]));
        if contact.opt_string(attr::NAME_ORIGIN) == Some(origin.as_str()) {
            removes.push("#name");
            removes.push("#name_origin");
            update = update
                .expression_attribute_names("#name", attr::NAME)
                .expression_attribute_names("#name_origin", attr::NAME_ORIGIN);
        }
        let state_from_it = stored_consent(contact).is_some_and(|c| {
            c.state == ConsentKind::OptIn && sources.contains(&consent_source_name(c.source))
        });
        if state_from_it {
            removes.extend(["#state", "#source", "#at"]);
            update = update
                .expression_attribute_names("#state", attr::CONSENT_STATE)
                .expression_attribute_names("#source", attr::CONSENT_SOURCE)
                .expression_attribute_names("#at", attr::CONSENT_AT);
        }
        let expression = if removes.is_empty() {
            "DELETE #o :o".to_owned()
        } else {
            format!("REMOVE {} DELETE #o :o", removes.join(", "))
        };
        self.conditional_update(update.update_expression(expression)).await?;
        Ok(deleted.len() as u64)
    }
}
