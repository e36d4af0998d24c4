//! [`OutboundStore`] on the table: an outbound message from acceptance to Meta's answer.

use super::*;

impl OutboundStore for DynamoInbox {
    async fn store_outbound(
        &self,
        tenant: &TenantId,
        message: &NewOutboundMessage<'_>,
        now: Timestamp,
    ) -> Result<MessageView, InboxError> {
        if let Some(stored) = self.outbound(tenant, message.id).await? {
            return Ok(stored);
        }
        let contact_key = keys::contact(tenant, message.contact);
        let contact = self
            .table
            .get(&contact_key, self.now_filter())
            .await
            .map_err(|e| unknown(e, "reading a contact"))?
            .ok_or(InboxError::NoContact)?;
        let at = message.at;
        let conversation = self.ensure_conversation(tenant, message.contact, &contact, at, now).await?;
        let key = keys::message(tenant, &conversation, at, message.id);
        let mut lookup = item_with_key(&keys::outbound(tenant, message.id));
        lookup.insert(ENTITY.to_owned(), s("outbound_lookup"));
        lookup.insert(attr::MESSAGE_SK.to_owned(), s(&key.sk));
        lookup.insert(attr::CONVERSATION_ID.to_owned(), s(conversation.as_str()));
        let mut item = MessageRecord {
            key: &key,
            id: message.id,
            conversation: &conversation,
            contact: message.contact,
            direction: OUTBOUND,
            kind: message.kind,
            sent_at: at,
            status: MessageStatus::Queued,
        }
        .into_item();
        item.insert(
            attr::RAW.to_owned(),
            sealed(&self.sealer(tenant, message.contact).await?, attr::RAW, message.body)?,
        );
        item.insert(attr::RECEIVED_AT_MS.to_owned(), n(now.as_millis()));
        item.insert(attr::HAS_LOOKUP.to_owned(), AttributeValue::Bool(true));
        // Only this store's key: a concurrent store of the same id may have won with another.
        if matches!(self.put_message_once(lookup, item).await?, Stored::Created) {
            self.outbound_keys.put((tenant.clone(), message.id.clone()), key.clone());
        }
        self.touch(tenant, message.contact, &contact, at, None).await?;
        self.advance(tenant, &conversation, at, now, message.retention).await?;
        let sanitize_at =
            now.plus(std::time::Duration::from_secs(u64::from(message.retention.content_days) * 86_400));
        self.queue_due(DayQueue::Sanitize, tenant, &conversation, sanitize_at, i64::MIN).await?;
        self.outbound(tenant, message.id)
            .await?
            .ok_or_else(|| InboxError::Unknown(anyhow::anyhow!("outbound message missing after storing")))
    }

    async fn outbound(&self, tenant: &TenantId, id: &MessageId) -> Result<Option<MessageView>, InboxError> {
        let Some(key) = self.outbound_key(tenant, id).await? else { return Ok(None) };
        self.read_one(tenant, &key, message_view, "reading a message").await
    }

    async fn claim_outbound(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<OutboundClaim, InboxError> {
        let Some(key) = self.outbound_key(tenant, id).await? else { return Ok(OutboundClaim::Missing) };
        let claimed = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&key)))
            .update_expression("SET #until = :until")
            .condition_expression(
                "attribute_exists(#pk) AND #status = :queued AND attribute_not_exists(#until)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#status", attr::MESSAGE_STATUS)
            .expression_attribute_names("#until", attr::SENDING_UNTIL)
            .expression_attribute_values(":queued", s(MessageStatus::Queued.as_str()))
            .expression_attribute_values(":until", n(until.as_millis()))
            .send()
            .await;
        match claimed {
            Ok(_) => Ok(OutboundClaim::Acquired),
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => {
                    // Why: read it (strongly) rather than rely on the old item in the error.
                    let current = self
                        .table
                        .get_including_expired(&key)
                        .await
                        .map_err(|e| unknown(e, "reading a claim"))?;
                    Ok(match current {
                        None => OutboundClaim::Missing,
                        Some(item)
                            if item.opt_string(attr::MESSAGE_STATUS)
                                != Some(MessageStatus::Queued.as_str()) =>
                        {
                            OutboundClaim::Handled
                        }
                        Some(item) => {
                            let held =
                                item.opt_number::<i64>(attr::SENDING_UNTIL).ok().flatten().unwrap_or(0);
                            if held < now.as_millis() {
                                OutboundClaim::Lapsed
                            } else {
                                OutboundClaim::Held(Timestamp::from_millis(held))
                            }
                        }
                    })
                }
                other => Err(unknown(other, "claiming an outbound message")),
            },
        }
    }

    async fn release_outbound(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        until: Timestamp,
    ) -> Result<(), InboxError> {
        let Some(key) = self.outbound_key(tenant, id).await? else { return Ok(()) };
        self.conditional_update(
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(key_attributes(&key)))
                .update_expression("REMOVE #until")
                .condition_expression("#until = :until")
                .expression_attribute_names("#until", attr::SENDING_UNTIL)
                .expression_attribute_values(":until", n(until.as_millis())),
        )
        .await?;
        Ok(())
    }

    async fn previous_send(
        &self,
        tenant: &TenantId,
        id: &MessageId,
    ) -> Result<Option<Timestamp>, InboxError> {
        let Some(key) = self.outbound_key(tenant, id).await? else { return Ok(None) };
        let Some(prefix) = keys::messages_prefix_of(&key.sk) else {
            return Err(InboxError::Unknown(anyhow::anyhow!("malformed message key")));
        };
        // Newest first from this message back; a few pages at most (the previous send is near).
        let scan = NewestFirst { pk: &key.pk, from: &prefix, to: Some(&key.sk), pages: 3, page_size: 25 };
        let filter = ("attribute_exists(#a)", attr::SENT_MS, None);
        self.newest_message(scan, filter, |item| {
            (item.opt_string(SK) != Some(key.sk.as_str()))
                .then(|| item.opt_number::<i64>(attr::SENT_MS).ok().flatten().map(Timestamp::from_millis))
                .flatten()
        })
        .await
    }

    async fn mark_sent(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        wamid: Option<&Wamid>,
        at: Timestamp,
    ) -> Result<(), InboxError> {
        let key = self
            .outbound_key(tenant, id)
            .await?
            .ok_or_else(|| InboxError::Unknown(anyhow::anyhow!("marking an unknown outbound message")))?;
        if let Some(wamid) = wamid {
            // A status without callback data that beat this call left a placeholder under the
            // wamid: fold it in (rare; a read otherwise).
            let record_key = keys::wamid(tenant, wamid);
            let placeholder = self
                .table
                .get(&record_key, self.now_filter())
                .await
                .map_err(|e| unknown(e, "reading a wamid"))?;
            if placeholder.is_some() {
                let mut record = wamid_item(&record_key, wamid.as_str());
                record.insert(attr::MESSAGE_SK.to_owned(), s(&key.sk));
                self.adopt_early_statuses(&record_key, &key, record).await?;
            }
        }
        // One write in the usual case: the wamid, `sent` and the time of sending together; only
        // when a later status is already known does the rest go on its own.
        let sent = MessageStatus::Sent;
        let mut together = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&key)))
            .condition_expression("#rank < :rank")
            .expression_attribute_names("#status", attr::MESSAGE_STATUS)
            .expression_attribute_names("#rank", attr::STATUS_RANK)
            .expression_attribute_names("#at", attr::STATUS_AT)
            .expression_attribute_names("#sent", attr::SENT_MS)
            .expression_attribute_values(":status", s(sent.as_str()))
            .expression_attribute_values(":rank", n(sent.rank()))
            .expression_attribute_values(":at", n(at.as_millis()));
        // Never an upsert: a message erased meanwhile stays erased.
        let mut alone = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&key)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sent", attr::SENT_MS)
            .expression_attribute_values(":at", n(at.as_millis()));
        let (mut both, mut rest) =
            ("SET #status = :status, #rank = :rank, #at = :at, #sent = :at", "SET #sent = :at");
        if let Some(wamid) = wamid {
            together = together
                .expression_attribute_names("#w", attr::WAMID)
                .expression_attribute_values(":w", s(wamid.as_str()));
            alone = alone
                .expression_attribute_names("#w", attr::WAMID)
                .expression_attribute_values(":w", s(wamid.as_str()));
            (both, rest) = (
                "SET #w = :w, #status = :status, #rank = :rank, #at = :at, #sent = :at",
                "SET #w = :w, #sent = :at",
            );
        }
        if !self.conditional_update(together.update_expression(both)).await? {
            self.conditional_update(alone.update_expression(rest)).await?;
        }
        Ok(())
    }

    async fn mark_unknown(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<bool, InboxError> {
        let lookup = self
            .table
            .get(&keys::outbound(tenant, id), self.now_filter())
            .await
            .map_err(|e| unknown(e, "reading an outbound lookup"))?;
        let Some(lookup) = lookup else { return Ok(false) };
        let (Some(sk), Some(conversation)) = (
            lookup.opt_string(attr::MESSAGE_SK),
            lookup.opt_string(attr::CONVERSATION_ID).and_then(|c| ConversationId::parse(c).ok()),
        ) else {
            return Err(InboxError::Unknown(anyhow::anyhow!("malformed outbound lookup")));
        };
        let key = Key { pk: keys::tenant_partition(tenant), sk: sk.to_owned() };
        // Queued before the move: no unknown message is left without its reconciliation.
        let settle_at = at.plus(crate::domain::outbound::UNKNOWN_SETTLE_DEADLINE);
        self.queue_due(DayQueue::Settle, tenant, &conversation, settle_at, i64::MIN).await?;
        let unknown = MessageStatus::Unknown;
        self.conditional_update(
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(key_attributes(&key)))
                .update_expression(
                    "SET #status = :status, #rank = :rank, #at = :at, #sent = :at, #h.#u = :at REMOVE #until",
                )
                .condition_expression("#status = :queued")
                .expression_attribute_names("#h", attr::STATUSES)
                .expression_attribute_names("#u", unknown.as_str())
                .expression_attribute_names("#status", attr::MESSAGE_STATUS)
                .expression_attribute_names("#rank", attr::STATUS_RANK)
                .expression_attribute_names("#at", attr::STATUS_AT)
                .expression_attribute_names("#sent", attr::SENT_MS)
                .expression_attribute_names("#until", attr::SENDING_UNTIL)
                .expression_attribute_values(":status", s(unknown.as_str()))
                .expression_attribute_values(":queued", s(MessageStatus::Queued.as_str()))
                .expression_attribute_values(":rank", n(unknown.rank()))
                .expression_attribute_values(":at", n(at.as_millis())),
        )
        .await
    }

    async fn fail_unknown(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        unknown_before: Timestamp,
        error: &MetaError,
        at: Timestamp,
    ) -> Result<u64, InboxError> {
        let partition = keys::tenant_partition(tenant);
        let prefix = keys::messages_prefix(conversation);
        let mut after: Option<String> = None;
        let mut ended = 0u64;
        loop {
            let page = self
                .table
                .query_prefix(&partition, &prefix, at, 100, after.as_deref())
                .await
                .map_err(|e| unknown(e, "listing messages to settle"))?;
            for message in &page.items {
                if message.opt_string(attr::MESSAGE_STATUS) != Some(MessageStatus::Unknown.as_str()) {
                    continue;
                }
                let since = match message.get(attr::STATUSES) {
                    Some(AttributeValue::M(history)) => history
                        .get(MessageStatus::Unknown.as_str())
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse::<i64>().ok()),
                    _ => None,
                };
                if since.is_none_or(|since| since > unknown_before.as_millis()) {
                    continue;
                }
                let Some(key) = table_key(message) else { continue };
                // Only forward: a status that settled it meanwhile wins.
                if self.move_status(&key, MessageStatus::Failed, at, Some(error)).await? {
                    ended += 1;
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(ended),
            }
        }
    }

    async fn mark_unsent(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        how: Unsent,
        error: &MetaError,
        at: Timestamp,
    ) -> Result<(), InboxError> {
        let key = self
            .outbound_key(tenant, id)
            .await?
            .ok_or_else(|| InboxError::Unknown(anyhow::anyhow!("marking an unknown outbound message")))?;
        let status = match how {
            Unsent::Blocked => MessageStatus::Blocked,
            Unsent::Failed => MessageStatus::Failed,
        };
        self.move_status(&key, status, at, Some(error)).await?;
        Ok(())
    }
}

impl DynamoInbox {
    /// The message Leadline sent that a status is about: by the callback data the send set, or
    /// by its wamid among the recent messages of the recipient's current conversation. `None`
    /// for a message Leadline has no record of yet (reads only).
    pub(super) async fn sent_message(
        &self,
        tenant: &TenantId,
        change: &StatusChange<'_>,
    ) -> Result<Option<Key>, InboxError> {
        if let Some(id) = change.callback.and_then(message_of_callback) {
            if let Some(key) = self.outbound_key(tenant, &id).await? {
                return Ok(Some(key));
            }
        }
        if change.recipient.keys().is_empty() {
            return Ok(None);
        }
        let index = self.index(tenant).await?;
        let contact = self.existing_contact(tenant, &index, change.recipient).await?;
        let Some(conversation) = contact
            .as_ref()
            .and_then(|(_, c)| c.opt_string(attr::CONVERSATION_ID))
            .and_then(|id| ConversationId::parse(id).ok())
        else {
            return Ok(None);
        };
        let pk = keys::tenant_partition(tenant);
        let prefix = keys::messages_prefix(&conversation);
        // Statuses follow their message within seconds to days: the newest pages suffice.
        let scan = NewestFirst { pk: &pk, from: &prefix, to: None, pages: 4, page_size: 100 };
        let filter = ("#a = :v", attr::WAMID, Some(s(change.wamid.as_str())));
        self.newest_message(scan, filter, |item| {
            item.opt_string(SK).map(|sk| Key { pk: pk.clone(), sk: sk.to_owned() })
        })
        .await
    }

    /// Where an outbound message is, from its lookup record.
    pub(super) async fn outbound_key(
        &self,
        tenant: &TenantId,
        id: &MessageId,
    ) -> Result<Option<Key>, InboxError> {
        let cache_key = (tenant.clone(), id.clone());
        if let Some(key) = self.outbound_keys.get(&cache_key) {
            return Ok(Some(key));
        }
        let lookup = self
            .table
            .get(&keys::outbound(tenant, id), self.now_filter())
            .await
            .map_err(|e| unknown(e, "reading an outbound lookup"))?;
        let key = lookup
            .as_ref()
            .and_then(|l| l.opt_string(attr::MESSAGE_SK))
            .map(|sk| Key { pk: keys::tenant_partition(tenant), sk: sk.to_owned() });
        if let Some(key) = &key {
            self.outbound_keys.put(cache_key, key.clone());
        }
        Ok(key)
    }

    /// A status webhook came before `mark_sent` and made a placeholder message for the wamid:
    /// its statuses move to the real message, the placeholder goes, and the wamid record points
    /// at the real message.
    pub(super) async fn adopt_early_statuses(
        &self,
        record_key: &Key,
        message: &Key,
        record: Item,
    ) -> Result<(), InboxError> {
        let existing = self
            .table
            .get_including_expired(record_key)
            .await
            .map_err(|e| unknown(e, "reading a wamid"))?
            .unwrap_or_default();
        let placeholder = existing.opt_string(attr::MESSAGE_SK).map(str::to_owned);
        if placeholder.as_deref() == Some(message.sk.as_str()) {
            return Ok(()); // This message's own record: a retry of mark_sent.
        }
        let source = match &placeholder {
            Some(sk) => Key { pk: record_key.pk.clone(), sk: sk.clone() },
            None => record_key.clone(),
        };
        let early = self
            .table
            .get_including_expired(&source)
            .await
            .map_err(|e| unknown(e, "reading early statuses"))?;
        if let Some(early) = early {
            if let Some(AttributeValue::M(history)) = early.get(attr::STATUSES) {
                for (name, at) in history {
                    self.table
                        .client()
                        .update_item()
                        .table_name(self.table.name())
                        .set_key(Some(key_attributes(message)))
                        .update_expression("SET #h.#name = if_not_exists(#h.#name, :at)")
                        .expression_attribute_names("#h", attr::STATUSES)
                        .expression_attribute_names("#name", name)
                        .expression_attribute_values(":at", at.clone())
                        .send()
                        .await
                        .map_err(|e| unknown(e, "moving early statuses"))?;
                }
            }
            let status = early.opt_string(attr::MESSAGE_STATUS).and_then(MessageStatus::parse);
            let at = early.opt_number::<i64>(attr::STATUS_AT).ok().flatten().map(Timestamp::from_millis);
            if let (Some(status), Some(at)) = (status, at) {
                let error =
                    early.opt_string(attr::ERROR).and_then(|e| serde_json::from_str::<MetaError>(e).ok());
                self.move_status(message, status, at, error.as_ref()).await?;
            }
            if placeholder.is_some() {
                self.table.delete(&source).await.map_err(|e| unknown(e, "removing a placeholder message"))?;
            }
        }
        self.table.put(record).await.map_err(|e| unknown(e, "re-pointing a wamid"))?;
        Ok(())
    }
}
