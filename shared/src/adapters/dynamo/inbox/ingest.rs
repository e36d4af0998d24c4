//! [`IngestStore`] on the table: inbound messages, statuses and leads, each stored exactly once.

use super::*;

impl IngestStore for DynamoInbox {
    async fn store_inbound_message(
        &self,
        tenant: &TenantId,
        message: &NewInboundMessage<'_>,
        now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let at = message.sent_at;
        let (contact_id, contact, _) = self
            .resolve_contact(tenant, (message.from, ContactOrigin::Meta(Integration::WhatsApp)), at)
            .await?;
        let conversation = self.ensure_conversation(tenant, &contact_id, &contact, at, now).await?;
        let message_id = MessageId::generate(at).map_err(anyhow::Error::from)?;
        let key = keys::message(tenant, &conversation, at, &message_id);
        let mut record = wamid_item(&keys::wamid(tenant, message.wamid), message.wamid.as_str());
        record.insert(attr::MESSAGE_SK.to_owned(), s(&key.sk));
        record.insert(attr::CONVERSATION_ID.to_owned(), s(conversation.as_str()));
        let mut item = MessageRecord {
            key: &key,
            id: &message_id,
            conversation: &conversation,
            contact: &contact_id,
            direction: INBOUND,
            kind: message.kind,
            sent_at: at,
            status: MessageStatus::Received,
        }
        .into_item();
        item.insert(attr::WAMID.to_owned(), s(message.wamid.as_str()));
        item.insert(
            attr::RAW.to_owned(),
            sealed(&self.sealer(tenant, &contact_id).await?, attr::RAW, message.raw)?,
        );
        item.insert(attr::RECEIVED_AT_MS.to_owned(), n(now.as_millis()));
        let stored = self.put_message_once(record, item).await?;
        // Also on a duplicate: a previous attempt may have died before this step. It is idempotent.
        self.touch(tenant, &contact_id, &contact, at, Some(message.from)).await?;
        self.advance(tenant, &conversation, at, now, message.retention).await?;
        let sanitize_at =
            now.plus(std::time::Duration::from_secs(u64::from(message.retention.content_days) * 86_400));
        self.queue_due(DayQueue::Sanitize, tenant, &conversation, sanitize_at, i64::MIN).await?;
        Ok(stored)
    }

    async fn apply_status(
        &self,
        tenant: &TenantId,
        change: &StatusChange<'_>,
        now: Timestamp,
    ) -> Result<StatusOutcome, InboxError> {
        // Leadline's own sends: found by the callback data they carry, or by the wamid in the
        // recipient's conversation (Meta does not echo the callback data on every status).
        if let Some(target) = self.sent_message(tenant, change).await? {
            return self.record_status(&target, change).await;
        }
        if change.callback.and_then(message_of_callback).is_some() {
            // Its lookup record is written before the send, so it can only be gone since.
            return Ok(StatusOutcome::Gone);
        }
        let record_key = keys::wamid(tenant, change.wamid);
        let mut record = self
            .table
            .get(&record_key, self.now_filter())
            .await
            .map_err(|e| unknown(e, "reading a wamid"))?;
        if record.is_none() {
            // A status for a message Leadline has no record of (sent before, or by another app of
            // the same WABA): keep it, in the recipient's conversation when Meta names them.
            let mut fresh = wamid_item(&record_key, change.wamid.as_str());
            // A status never creates a contact: one for a person Leadline does not know (or no
            // longer knows: erased) is kept against its wamid alone.
            let index = self.index(tenant).await?;
            let known = self.existing_contact(tenant, &index, change.recipient).await?;
            let stored = if let Some((contact_id, contact)) = known {
                let conversation =
                    self.ensure_conversation(tenant, &contact_id, &contact, change.at, now).await?;
                let message_id = MessageId::generate(change.at).map_err(anyhow::Error::from)?;
                let key = keys::message(tenant, &conversation, change.at, &message_id);
                fresh.insert(attr::MESSAGE_SK.to_owned(), s(&key.sk));
                fresh.insert(attr::CONVERSATION_ID.to_owned(), s(conversation.as_str()));
                let mut item = MessageRecord {
                    key: &key,
                    id: &message_id,
                    conversation: &conversation,
                    contact: &contact_id,
                    direction: OUTBOUND,
                    kind: "unknown",
                    sent_at: change.at,
                    status: MessageStatus::Queued,
                }
                .into_item();
                item.insert(attr::WAMID.to_owned(), s(change.wamid.as_str()));
                let stored = self.put_message_once(fresh, item).await?;
                self.touch(tenant, &contact_id, &contact, change.at, None).await?;
                self.advance(tenant, &conversation, change.at, now, change.retention).await?;
                stored
            } else {
                fresh.insert(attr::MESSAGE_STATUS.to_owned(), s(MessageStatus::Queued.as_str()));
                fresh.insert(attr::STATUS_RANK.to_owned(), n(0));
                fresh.insert(attr::STATUSES.to_owned(), AttributeValue::M(HashMap::new()));
                match self.table.put_new(fresh, self.now_filter()).await {
                    Ok(()) => Stored::Created,
                    Err(PutNewError::AlreadyExists) => Stored::Duplicate,
                    Err(PutNewError::Unknown(e)) => return Err(unknown(e, "recording a wamid")),
                }
            };
            tracing::debug!(?stored, "Status for a wamid without a record");
            record = self
                .table
                .get(&record_key, self.now_filter())
                .await
                .map_err(|e| unknown(e, "re-reading a wamid"))?;
        }
        let record = record
            .ok_or_else(|| InboxError::Unknown(anyhow::anyhow!("wamid record missing after creation")))?;
        let target = match record.opt_string(attr::MESSAGE_SK) {
            Some(sk) => Key { pk: record_key.pk.clone(), sk: sk.to_owned() },
            None => record_key,
        };
        self.record_status(&target, change).await
    }

    async fn lead_exists(&self, tenant: &TenantId, leadgen_id: &str) -> Result<bool, InboxError> {
        let item = self
            .table
            .get(&keys::lead(tenant, leadgen_id), self.now_filter())
            .await
            .map_err(|e| unknown(e, "reading a lead"))?;
        Ok(item.is_some())
    }

    async fn store_lead(
        &self,
        tenant: &TenantId,
        lead: &NewLead<'_>,
        now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let lead_item = |contact_id: &ContactId, data_key: &DataKey| -> Result<Vec<Item>, InboxError> {
            let mut item = item_with_key(&keys::lead(tenant, lead.leadgen_id));
            item.insert(ENTITY.to_owned(), s("lead"));
            item.insert(attr::LEADGEN_ID.to_owned(), s(lead.leadgen_id));
            item.insert(attr::PAGE_ID.to_owned(), s(lead.page_id));
            item.insert(attr::CONTACT_ID.to_owned(), s(contact_id.as_str()));
            item.insert(attr::LEAD.to_owned(), sealed(data_key, attr::LEAD, lead.lead_json)?);
            item.insert(attr::LEAD_SOURCE.to_owned(), s(lead.change_json));
            item.insert(attr::RECEIVED_AT.to_owned(), n(now.as_millis()));
            item.insert(GSI1PK.to_owned(), s(keys::contact_index_partition(tenant, contact_id)));
            item.insert(GSI1SK.to_owned(), s(keys::contact_index_lead(now, lead.leadgen_id)));
            Ok(vec![item])
        };
        // A person the lead introduces is written with it, in one transaction (#14).
        let (contact_id, contact, created) = self
            .resolve_contact_with(
                tenant,
                (lead.contact, ContactOrigin::Meta(Integration::LeadAds)),
                now,
                &lead_item,
            )
            .await?;
        if created == Stored::Created {
            return Ok(Stored::Created);
        }
        let [item] = <[Item; 1]>::try_from(lead_item(&contact_id, &self.sealer(tenant, &contact_id).await?)?)
            .map_err(|_| InboxError::Unknown(anyhow::anyhow!("one lead item expected")))?;
        let stored = match self.table.put_new(item, self.now_filter()).await {
            Ok(()) => Stored::Created,
            Err(PutNewError::AlreadyExists) => Stored::Duplicate,
            Err(PutNewError::Unknown(e)) => return Err(unknown(e, "storing a lead")),
        };
        if stored == Stored::Created {
            let seen = contact.opt_number::<i64>(attr::LAST_SEEN_AT).ok().flatten().unwrap_or_default();
            if now.as_millis() > seen {
                self.conditional_update(
                    self.table
                        .client()
                        .update_item()
                        .table_name(self.table.name())
                        .set_key(Some(key_attributes(&keys::contact(tenant, &contact_id))))
                        .update_expression("SET #seen = :at")
                        .condition_expression("#seen < :at")
                        .expression_attribute_names("#seen", attr::LAST_SEEN_AT)
                        .expression_attribute_values(":at", n(now.as_millis())),
                )
                .await?;
            }
        }
        Ok(stored)
    }
}

impl DynamoInbox {
    /// Moves a message's current status to `status` if that is forward (statuses only move up;
    /// `failed` and `blocked` are final); `false` when it was not.
    pub(super) async fn move_status(
        &self,
        key: &Key,
        status: MessageStatus,
        at: Timestamp,
        error: Option<&MetaError>,
    ) -> Result<bool, InboxError> {
        let (update, expression) = self.status_move(key, status, at, error)?;
        self.conditional_update(update.update_expression(expression)).await
    }

    /// The conditional update of [`Self::move_status`], and its update expression so far.
    fn status_move(
        &self,
        key: &Key,
        status: MessageStatus,
        at: Timestamp,
        error: Option<&MetaError>,
    ) -> Result<
        (aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder, String),
        InboxError,
    > {
        let mut update = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(key)))
            .condition_expression("#rank < :rank")
            .expression_attribute_names("#status", attr::MESSAGE_STATUS)
            .expression_attribute_names("#rank", attr::STATUS_RANK)
            .expression_attribute_names("#at", attr::STATUS_AT)
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":rank", n(status.rank()))
            .expression_attribute_values(":at", n(at.as_millis()));
        let mut expression = "SET #status = :status, #rank = :rank, #at = :at".to_owned();
        if let Some(error) = error {
            expression.push_str(", #error = :error");
            update = update.expression_attribute_names("#error", attr::ERROR).expression_attribute_values(
                ":error",
                s(serde_json::to_string(error).context("serializing an error")?),
            );
        }
        Ok((update, expression))
    }

    /// Adds a status to a message's history (each status once, with its own time) and moves the
    /// message forward to it.
    pub(super) async fn record_status(
        &self,
        target: &Key,
        change: &StatusChange<'_>,
    ) -> Result<StatusOutcome, InboxError> {
        // Statuses mostly arrive in order: the move and the history in one write. (`#h.#name`:
        // a status seen before keeps its first time.)
        let (update, mut expression) = self.status_move(target, change.status, change.at, change.error)?;
        expression.push_str(", #h.#name = if_not_exists(#h.#name, :at)");
        let moved = update
            .expression_attribute_names("#h", attr::STATUSES)
            .expression_attribute_names("#name", change.meta_status)
            .update_expression(expression);
        if self.conditional_update(moved).await? {
            return Ok(StatusOutcome::Applied);
        }
        // Not forward (late, repeated, or after a final status), or the message is gone: the
        // history alone, where the message still is.
        let history = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(target)))
            .update_expression("SET #h.#name = if_not_exists(#h.#name, :at)")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#h", attr::STATUSES)
            .expression_attribute_names("#name", change.meta_status)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":at", n(change.at.as_millis()));
        if self.conditional_update(history).await? {
            Ok(StatusOutcome::Stale)
        } else {
            // Erased or expired since its key was found (the key may come from this instance's
            // cache of message keys): nothing of the status is kept.
            Ok(StatusOutcome::Gone)
        }
    }

    /// Writes a message and its `WAMID#` record together, once. `Duplicate` when the record exists.
    pub(super) async fn put_message_once(
        &self,
        wamid_record: Item,
        message: Item,
    ) -> Result<Stored, InboxError> {
        let result = self
            .table
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(self.table.put_if_absent(wamid_record)?).build())
            .transact_items(TransactWriteItem::builder().put(self.table.put_if_absent(message)?).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Stored::Created),
            Err(e) => {
                let e = e.into_service_error();
                if first_condition_failed(&e) {
                    Ok(Stored::Duplicate)
                } else {
                    Err(unknown(e, "storing a message"))
                }
            }
        }
    }
}
