//! [`LifecycleStore`] on the table: erasure, expiry, sanitizing, re-stamping, deletion after a
//! disconnect — budgeted and resumable.

use super::*;

impl LifecycleStore for DynamoInbox {
    async fn expire_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        now: Timestamp,
        budget: u32,
    ) -> Result<Expiry, InboxError> {
        let key = keys::conversation(tenant, conversation);
        let item =
            self.table.get_including_expired(&key).await.map_err(|e| unknown(e, "reading a conversation"))?;
        if item.as_ref().is_some_and(|i| !crate::adapters::dynamo::table::is_expired(i, now)) {
            return Ok(Expiry::NotDue);
        }
        // Gone or expired: its messages go too (TTL may have deleted the conversation already).
        self.remove_conversation(tenant, conversation, item.as_ref(), now, budget).await
    }

    async fn delete_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        budget: u32,
    ) -> Result<Expiry, InboxError> {
        let key = keys::conversation(tenant, conversation);
        let item =
            self.table.get_including_expired(&key).await.map_err(|e| unknown(e, "reading a conversation"))?;
        self.remove_conversation(tenant, conversation, item.as_ref(), self.now_filter(), budget).await
    }

    async fn forget_integration_contacts(
        &self,
        tenant: &TenantId,
        integration: Integration,
        before: Timestamp,
        after: Option<&str>,
    ) -> Result<(ErasureCounts, Option<String>), InboxError> {
        self.forget_integration_page(tenant, integration, before, after).await
    }

    async fn delete_lead(&self, tenant: &TenantId, id: &str) -> Result<bool, InboxError> {
        let key = keys::lead(tenant, id);
        let found =
            self.table.get_including_expired(&key).await.map_err(|e| unknown(e, "reading a lead"))?.is_some();
        if found {
            self.table.delete(&key).await.map_err(|e| unknown(e, "deleting a lead"))?;
        }
        Ok(found)
    }

    async fn sanitize_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        content_age: std::time::Duration,
        now: Timestamp,
        budget: u32,
    ) -> Result<(u64, bool), InboxError> {
        let age_ms = i64::try_from(content_age.as_millis()).unwrap_or(i64::MAX);
        let received_before = Timestamp::from_millis(now.as_millis().saturating_sub(age_ms));
        let mut oldest_remaining: Option<i64> = None;
        // Messages are ordered by when they were sent, not received: walk the conversation.
        let partition = keys::tenant_partition(tenant);
        let prefix = keys::messages_prefix(conversation);
        let mut after: Option<String> = None;
        let mut sanitized = 0u64;
        loop {
            let page = self
                .table
                .query_prefix(&partition, &prefix, now, 100, after.as_deref())
                .await
                .map_err(|e| unknown(e, "listing messages to sanitize"))?;
            for message in &page.items {
                let Some(received) = message.opt_number::<i64>(attr::RECEIVED_AT_MS).ok().flatten() else {
                    continue;
                };
                if !message.contains_key(attr::RAW) {
                    continue;
                }
                if received > received_before.as_millis() {
                    oldest_remaining = Some(oldest_remaining.map_or(received, |o| o.min(received)));
                    continue;
                }
                if sanitized >= u64::from(budget) {
                    return Ok((sanitized, true));
                }
                let Some(key) = table_key(message) else { continue };
                self.table
                    .client()
                    .update_item()
                    .table_name(self.table.name())
                    .set_key(Some(key_attributes(&key)))
                    .update_expression("REMOVE #raw SET #at = :now")
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#raw", attr::RAW)
                    .expression_attribute_names("#at", attr::SANITIZED_AT)
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_values(":now", n(now.as_millis()))
                    .send()
                    .await
                    .map_err(|e| unknown(e, "sanitizing a message"))?;
                sanitized += 1;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        if let Some(received) = oldest_remaining {
            // Not old enough yet (or the age was lengthened): come back when it is.
            let due = Timestamp::from_millis(received.saturating_add(age_ms));
            self.queue_due(DayQueue::Sanitize, tenant, conversation, due, i64::MIN).await?;
        }
        Ok((sanitized, false))
    }

    async fn restamp_conversations(
        &self,
        tenant: &TenantId,
        settings: RetentionSettings,
        after: Option<&str>,
        limit: u16,
        earliest_day: i64,
    ) -> Result<Option<String>, InboxError> {
        let page = self.list(tenant, None, keys::CONVERSATION_PREFIX, after, limit).await?;
        for item in &page.items {
            let Some(conversation) =
                item.opt_string(attr::CONVERSATION_ID).and_then(|id| ConversationId::parse(id).ok())
            else {
                continue;
            };
            let received = item
                .opt_number::<i64>(attr::LAST_RECEIVED_AT)
                .ok()
                .flatten()
                .or_else(|| item.opt_number::<i64>(attr::LAST_MESSAGE_AT).ok().flatten())
                .unwrap_or_default();
            let expires = ExpiresAt::after(Timestamp::from_millis(received), settings.conversation_ttl());
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(key_attributes(&keys::conversation(tenant, &conversation))))
                .update_expression("SET #exp = :exp")
                .expression_attribute_names("#exp", EXPIRES_AT)
                .expression_attribute_values(":exp", n(expires.epoch_secs()))
                .send()
                .await
                .map_err(|e| unknown(e, "re-stamping a conversation"))?;
            self.queue_due(DayQueue::Expiry, tenant, &conversation, expires.into(), earliest_day).await?;
            // A shorter content age takes effect at the next walk; a longer one is re-queued there.
            self.queue_due(
                DayQueue::Sanitize,
                tenant,
                &conversation,
                Timestamp::from_millis(0),
                earliest_day,
            )
            .await?;
        }
        Ok(page.next)
    }

    async fn erase_contact(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        budget: u32,
    ) -> Result<ErasureCounts, InboxError> {
        let budget = usize::try_from(budget).unwrap_or(usize::MAX).max(1);
        // First of all, and on every pass: destroy the data key. Every sealed copy — in the
        // table until this erasure finishes, in backups for their retention — is unreadable from
        // here on, and a key made meanwhile by a late write is destroyed by the next pass.
        self.keyring.shred(tenant, contact).await.map_err(|e| unknown(e, "destroying a data key"))?;
        let (plan, counts, conversations) = self.erasure_plan(tenant, contact, budget).await?;
        self.table.delete_many(&plan).await.map_err(|e| unknown(e, "erasing"))?;
        // Each conversation after its messages, with its agent's load and its waiting entry.
        for (key, item) in &conversations {
            self.delete_conversation_item(tenant, key, item).await?;
        }
        if counts.contacts > 0 {
            self.count_contacts(tenant, -i64::try_from(counts.contacts).unwrap_or(0)).await?;
        }
        Ok(counts)
    }
}

impl DynamoInbox {
    /// Deletes up to `budget` of a conversation's messages, then (once none is left) the
    /// conversation itself (`item`, if it still exists) and its contact's link to it.
    pub(super) async fn remove_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        item: Option<&Item>,
        now: Timestamp,
        budget: u32,
    ) -> Result<Expiry, InboxError> {
        let key = keys::conversation(tenant, conversation);
        let contact =
            item.and_then(|i| i.opt_string(attr::CONTACT_ID)).and_then(|id| ContactId::parse(id).ok());
        let partition = keys::tenant_partition(tenant);
        let budget = i32::try_from(budget).unwrap_or(i32::MAX).max(1);
        let page = self
            .table
            .query_prefix(&partition, &keys::messages_prefix(conversation), now, budget, None)
            .await
            .map_err(|e| unknown(e, "listing a conversation's messages"))?;
        let mut plan = Vec::with_capacity(page.items.len() * 2 + 1);
        let mut counts = ErasureCounts::default();
        for message in &page.items {
            plan_message(tenant, message, &mut plan, &mut counts);
        }
        let mut finished = page.next.is_none();
        if finished {
            // Then what was derived from them: the AI suggestion requests.
            let suggestions = self
                .table
                .query_prefix(&partition, &keys::suggestions_prefix(conversation), now, budget, None)
                .await
                .map_err(|e| unknown(e, "listing a conversation's suggestions"))?;
            plan_all(&suggestions.items, &mut plan, &mut counts.ai_suggestions, usize::MAX);
            finished = suggestions.next.is_none();
        }
        self.table.delete_many(&plan).await.map_err(|e| unknown(e, "deleting a conversation"))?;
        if !finished {
            return Ok(Expiry::Partial(counts));
        }
        if let Some(item) = item {
            // Last the conversation, with its agent's load and its waiting entry.
            self.delete_conversation_item(tenant, &key, item).await?;
            counts.conversations += 1;
        }
        if let Some(contact) = contact {
            // The contact stays (P02); its next message opens a new conversation.
            self.conditional_update(
                self.table
                    .client()
                    .update_item()
                    .table_name(self.table.name())
                    .set_key(Some(key_attributes(&keys::contact(tenant, &contact))))
                    .update_expression("REMOVE #cv")
                    .condition_expression("#cv = :cv")
                    .expression_attribute_names("#cv", attr::CONVERSATION_ID)
                    .expression_attribute_values(":cv", s(conversation.as_str())),
            )
            .await?;
        }
        Ok(Expiry::Deleted(counts))
    }

    /// Everything of a contact to delete, children first, at most `budget` keys, by kind; and
    /// the conversations to delete once the plan is (each in one write with what it moves in
    /// the contact center).
    pub(super) async fn erasure_plan(
        &self,
        tenant: &TenantId,
        contact_id: &ContactId,
        budget: usize,
    ) -> Result<(Vec<Key>, ErasureCounts, Vec<(Key, Item)>), InboxError> {
        let now = self.now_filter();
        let partition = keys::tenant_partition(tenant);
        let index = keys::contact_index_partition(tenant, contact_id);
        let mut plan: Vec<Key> = Vec::new();
        let mut counts = ErasureCounts::default();
        let mut finals: Vec<(Key, Item)> = Vec::new();
        let full = |plan: &Vec<Key>, finals: &Vec<(Key, Item)>| plan.len() + finals.len() >= budget;
        let fail = |e| unknown(e, "planning an erasure");

        let conversations = self
            .table
            .query_gsi1_prefix(&partition, &index, keys::CONVERSATION_PREFIX, now, 100, None)
            .await
            .map_err(fail)?;
        for conversation in &conversations.items {
            let Some(id) =
                conversation.opt_string(attr::CONVERSATION_ID).and_then(|id| ConversationId::parse(id).ok())
            else {
                continue;
            };
            let prefix = keys::messages_prefix(&id);
            let messages =
                self.table.query_prefix(&partition, &prefix, now, 100, None).await.map_err(fail)?;
            for message in &messages.items {
                if full(&plan, &finals) {
                    return Ok((plan, counts, finals));
                }
                plan_message(tenant, message, &mut plan, &mut counts);
            }
            if messages.next.is_some() || full(&plan, &finals) {
                return Ok((plan, counts, finals));
            }
            let suggestions = self
                .table
                .query_prefix(&partition, &keys::suggestions_prefix(&id), now, 100, None)
                .await
                .map_err(fail)?;
            if !plan_all(&suggestions.items, &mut plan, &mut counts.ai_suggestions, budget)
                || suggestions.next.is_some()
                || full(&plan, &finals)
            {
                return Ok((plan, counts, finals));
            }
            if let Some(key) = table_key(conversation) {
                // GSI1 projects every attribute: the item as the table holds it.
                finals.push((key, conversation.clone()));
                counts.conversations += 1;
            }
        }
        let leads = self
            .table
            .query_gsi1_prefix(&partition, &index, keys::LEAD_PREFIX, now, 100, None)
            .await
            .map_err(fail)?;
        if !plan_all(&leads.items, &mut plan, &mut counts.leads, budget) {
            return Ok((plan, counts, finals));
        }
        let consent = self
            .table
            .query_prefix(&partition, &keys::consent_prefix(contact_id), now, 100, None)
            .await
            .map_err(fail)?;
        if !plan_all(&consent.items, &mut plan, &mut counts.consent_events, budget) {
            return Ok((plan, counts, finals));
        }
        let records = self
            .table
            .query_prefix(&partition, &keys::crm_prefix(contact_id), now, 100, None)
            .await
            .map_err(fail)?;
        if !plan_all(&records.items, &mut plan, &mut counts.records, budget) {
            return Ok((plan, counts, finals));
        }
        if conversations.next.is_some()
            || leads.next.is_some()
            || consent.next.is_some()
            || records.next.is_some()
            || full(&plan, &finals)
        {
            return Ok((plan, counts, finals));
        }
        // Last, the contact and its aliases: only once nothing else of it is left to find. The
        // contact lists its aliases' keys, so nothing sealed needs opening here.
        let contact_key = keys::contact(tenant, contact_id);
        if let Some(contact) = self.table.get(&contact_key, now).await.map_err(fail)? {
            let aliases = match contact.get(attr::ALIAS_KEYS) {
                Some(AttributeValue::Ss(aliases)) => aliases.clone(),
                _ => Vec::new(),
            };
            for sk in aliases {
                let alias = Key { pk: partition.clone(), sk };
                let points_here = self
                    .table
                    .get(&alias, now)
                    .await
                    .map_err(fail)?
                    .is_some_and(|a| a.opt_string(attr::CONTACT_ID) == Some(contact_id.as_str()));
                if points_here {
                    if let Some(suppression) = keys::suppression_of_alias(tenant, &alias.sk) {
                        self.keep_opt_out(suppression, &contact, &mut plan).await?;
                    }
                    plan.push(alias);
                    counts.contact_aliases += 1;
                }
            }
            plan.push(contact_key);
            counts.contacts += 1;
        }
        Ok((plan, counts, finals))
    }
}

impl DynamoInbox {
    /// Before a contact's lookup entry goes: a person erased while opted out stays unmarketable
    /// (P21, P62), so the entry's keyed hash keeps their opt-out (source and time, nothing that
    /// identifies them); one erased otherwise has any older suppression entry deleted with it.
    async fn keep_opt_out(
        &self,
        suppression: Key,
        contact: &Item,
        plan: &mut Vec<Key>,
    ) -> Result<(), InboxError> {
        match stored_consent(contact).filter(|c| c.state == ConsentKind::OptOut) {
            Some(opt_out) => {
                let mut item = item_with_key(&suppression);
                item.insert(ENTITY.to_owned(), s("suppression"));
                item.insert(attr::CONSENT_SOURCE.to_owned(), s(consent_source_name(opt_out.source)));
                item.insert(attr::CONSENT_AT.to_owned(), n(opt_out.at));
                self.table.put(item).await.map_err(|e| unknown(e, "keeping an erased person's opt-out"))?;
            }
            None => plan.push(suppression),
        }
        Ok(())
    }
}

/// Adds the items' keys to a deletion plan, counting them, while it holds fewer than `budget`;
/// `false` when it filled up first.
fn plan_all(items: &[Item], plan: &mut Vec<Key>, count: &mut u64, budget: usize) -> bool {
    for key in items.iter().filter_map(table_key) {
        if plan.len() >= budget {
            return false;
        }
        plan.push(key);
        *count += 1;
    }
    true
}

/// Adds a message and its records (wamid, outbound lookup) to a deletion plan.
fn plan_message(tenant: &TenantId, message: &Item, plan: &mut Vec<Key>, counts: &mut ErasureCounts) {
    if let Some(wamid) = message.opt_string(attr::WAMID).and_then(|w| Wamid::parse(w).ok()) {
        plan.push(keys::wamid(tenant, &wamid));
        counts.message_id_records += 1;
    }
    if matches!(message.get(attr::HAS_LOOKUP), Some(AttributeValue::Bool(true))) {
        if let Some(id) = message.opt_string(attr::MESSAGE_ID).and_then(|id| MessageId::parse(id).ok()) {
            plan.push(keys::outbound(tenant, &id));
            counts.message_id_records += 1;
        }
    }
    if let Some(key) = table_key(message) {
        plan.push(key);
        counts.messages += 1;
    }
}
