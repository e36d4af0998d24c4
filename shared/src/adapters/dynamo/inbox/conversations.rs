//! [`ConversationStore`] on the table: conversations, their messages, and the retention clock
//! every write to a conversation moves.

use super::*;

impl ConversationStore for DynamoInbox {
    async fn conversations(
        &self,
        tenant: &TenantId,
        contact: Option<&ContactId>,
        filter: &ConversationFilter,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<ConversationView>, InboxError> {
        self.list_filtered(
            tenant,
            contact,
            keys::CONVERSATION_PREFIX,
            (after, limit),
            conversation_view,
            |c| filter.accepts(c),
        )
        .await
    }

    async fn update_conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        patch: &ConversationPatch,
        at: Timestamp,
    ) -> Result<ConversationView, UpdateConversationError> {
        self.update_atomically(tenant, id, patch, at).await
    }

    async fn note_agent_reply(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        at: Timestamp,
    ) -> Result<Option<ConversationView>, InboxError> {
        // Conditional on no first reply in this cycle yet: of concurrent replies, one passes.
        let result = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::conversation(tenant, id))))
            .update_expression("SET #first = :at")
            .condition_expression(
                "attribute_exists(#pk) AND attribute_not_exists(#first) \
                 AND (attribute_not_exists(#exp) OR #exp > :now)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#first", attr::FIRST_REPLY_AT)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":at", n(at.as_millis()))
            .expression_attribute_values(":now", n(self.now_filter().as_secs()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => conversation_view(&output.attributes.unwrap_or_default())
                .map(Some)
                .map_err(|e| unknown(e, "mapping a conversation")),
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(None),
                other => Err(unknown(other, "noting an agent's reply")),
            },
        }
    }

    async fn conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, InboxError> {
        self.read_one(tenant, &keys::conversation(tenant, id), conversation_view, "reading a conversation")
            .await
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<MessageView>, InboxError> {
        let prefix = keys::messages_prefix(conversation);
        let after = checked(after, &[&prefix])?;
        let page = self
            .table
            .query_prefix(
                &keys::tenant_partition(tenant),
                &prefix,
                self.now_filter(),
                i32::from(limit),
                after,
            )
            .await
            .map_err(|e| unknown(e, "listing messages"))?;
        self.page_of(tenant, page, message_view).await
    }

    async fn messages_before(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        before: Option<i64>,
        limit: u16,
    ) -> Result<Vec<MessageView>, InboxError> {
        let prefix = keys::messages_prefix(conversation);
        // Message sort keys are `<prefix><13-digit ms>#<id>`: starting a descending query at
        // `<prefix><before>` reads exactly the messages sent before it.
        let start = before.map(|at| keys::messages_before(conversation, at));
        let page = self
            .table
            .query_prefix_ordered(
                &keys::tenant_partition(tenant),
                &prefix,
                self.now_filter(),
                i32::from(limit.max(1)),
                start.as_deref(),
                false,
            )
            .await
            .map_err(|e| unknown(e, "reading a conversation's messages backwards"))?;
        self.open_all(tenant, page.items)
            .await?
            .iter()
            .map(|item| message_view(item).map_err(|e| unknown(e, "mapping messages")))
            .collect()
    }

    async fn latest_messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        limit: u16,
    ) -> Result<Vec<MessageView>, InboxError> {
        let page = self
            .table
            .query_prefix_ordered(
                &keys::tenant_partition(tenant),
                &keys::messages_prefix(conversation),
                self.now_filter(),
                i32::from(limit.max(1)),
                None,
                false,
            )
            .await
            .map_err(|e| unknown(e, "reading a conversation's latest messages"))?;
        let mut items = page.items;
        items.reverse();
        self.open_all(tenant, items)
            .await?
            .iter()
            .map(|item| message_view(item).map_err(|e| unknown(e, "mapping messages")))
            .collect()
    }
}

impl DynamoInbox {
    /// The contact's open conversation, created on first need.
    pub(super) async fn ensure_conversation(
        &self,
        tenant: &TenantId,
        contact_id: &ContactId,
        contact: &Item,
        at: Timestamp,
        now: Timestamp,
    ) -> Result<ConversationId, InboxError> {
        let linked = contact.opt_string(attr::CONVERSATION_ID).and_then(|id| ConversationId::parse(id).ok());
        if let Some(id) = &linked {
            // Only a live conversation continues: one past its retention starts anew (P50).
            let live = self
                .table
                .get(&keys::conversation(tenant, id), self.now_filter())
                .await
                .map_err(|e| unknown(e, "reading a conversation"))?;
            if live.is_some() {
                return Ok(id.clone());
            }
        }
        let conversation_id = ConversationId::generate(now).map_err(anyhow::Error::from)?;
        let contact_key = keys::contact(tenant, contact_id);
        let link = Update::builder()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&contact_key)))
            .update_expression("SET #cv = :cv")
            .expression_attribute_names("#cv", attr::CONVERSATION_ID)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":cv", s(conversation_id.as_str()));
        let link = match &linked {
            None => link.condition_expression("attribute_exists(#pk) AND attribute_not_exists(#cv)"),
            Some(old) => link
                .condition_expression("attribute_exists(#pk) AND #cv = :old")
                .expression_attribute_values(":old", s(old.as_str())),
        }
        .build()
        .context("building the conversation link")?;
        let mut conversation = item_with_key(&keys::conversation(tenant, &conversation_id));
        conversation.insert(ENTITY.to_owned(), s("conversation"));
        conversation.insert(attr::CONVERSATION_ID.to_owned(), s(conversation_id.as_str()));
        conversation.insert(attr::CONTACT_ID.to_owned(), s(contact_id.as_str()));
        conversation.insert(attr::STATE.to_owned(), s(ConversationState::Open.as_str()));
        conversation.insert(attr::STARTED_AT.to_owned(), n(at.as_millis()));
        conversation.insert(attr::CYCLE_STARTED_AT.to_owned(), n(at.as_millis()));
        conversation.insert(attr::LAST_MESSAGE_AT.to_owned(), n(at.as_millis()));
        conversation.insert(GSI1PK.to_owned(), s(keys::contact_index_partition(tenant, contact_id)));
        conversation.insert(GSI1SK.to_owned(), s(keys::contact_index_conversation(at, &conversation_id)));
        let put = self.table.put_if_absent(conversation)?;
        // A new conversation is worked (`open`): its first silence check is armed with it.
        let idle = crate::domain::center::Timer {
            tenant: tenant.clone(),
            conversation_id: conversation_id.clone(),
            kind: crate::domain::center::TimerKind::Idle,
            due: now.as_millis().max(at.as_millis()) + crate::domain::inbox::IDLE_CHECK_AFTER_MS,
        };
        let result = self
            .table
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(link).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(self.timer_put(&idle)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(conversation_id),
            Err(e) => {
                let e = e.into_service_error();
                if !first_condition_failed(&e) {
                    return Err(unknown(e, "opening a conversation"));
                }
                // Another event opened it first: use theirs.
                let contact = self
                    .table
                    .get(&contact_key, self.now_filter())
                    .await
                    .map_err(|e| unknown(e, "re-reading a contact"))?
                    .unwrap_or_default();
                contact
                    .opt_string(attr::CONVERSATION_ID)
                    .and_then(|id| ConversationId::parse(id).ok())
                    .ok_or_else(|| {
                        InboxError::Unknown(anyhow::anyhow!("conversation link missing after a conflict"))
                    })
            }
        }
    }

    /// Moves the contact's "latest" fields forward to `at` (the conversation's move with
    /// [`Self::advance`]).
    pub(super) async fn touch(
        &self,
        tenant: &TenantId,
        contact_id: &ContactId,
        contact: &Item,
        at: Timestamp,
        inbound: Option<&ContactProfile>,
    ) -> Result<(), InboxError> {
        let contact_key = keys::contact(tenant, contact_id);
        let client = self.table.client();
        let first_seen: Option<i64> = contact.opt_number(attr::FIRST_SEEN_AT).ok().flatten();
        if first_seen.is_some_and(|first| at.as_millis() < first) {
            self.conditional_update(
                client
                    .update_item()
                    .table_name(self.table.name())
                    .set_key(Some(key_attributes(&contact_key)))
                    .update_expression("SET #f = :at")
                    .condition_expression("#f > :at")
                    .expression_attribute_names("#f", attr::FIRST_SEEN_AT)
                    .expression_attribute_values(":at", n(at.as_millis())),
            )
            .await?;
        }
        let mut update = client
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&contact_key)))
            .expression_attribute_names("#seen", attr::LAST_SEEN_AT)
            .expression_attribute_values(":at", n(at.as_millis()));
        update = match inbound {
            Some(profile) => {
                let window = at.plus(SERVICE_WINDOW);
                let mut expression = "SET #seen = :at, #inb = :at, #win = :win".to_owned();
                update = update
                    .expression_attribute_names("#inb", attr::LAST_INBOUND_AT)
                    .expression_attribute_names("#win", attr::WINDOW_UNTIL)
                    .expression_attribute_values(":win", n(window.as_millis()));
                if let Some(name) = profile.name.as_ref().filter(|n| !n.is_empty()) {
                    // The latest profile name wins.
                    let name = sealed(&self.sealer(tenant, contact_id).await?, attr::NAME, name)?;
                    expression.push_str(", #name = :name");
                    update = update
                        .expression_attribute_names("#name", attr::NAME)
                        .expression_attribute_values(":name", name);
                }
                update
                    .update_expression(expression)
                    .condition_expression("attribute_not_exists(#inb) OR #inb < :at")
            }
            None => update.update_expression("SET #seen = :at").condition_expression("#seen < :at"),
        };
        self.conditional_update(update).await?;
        Ok(())
    }

    /// Moves a conversation forward for a message of `at` that Leadline got at `received`: its
    /// latest message to `at`, its retention clock to `received` and its expiry to
    /// `received + conversation_days` (queueing the expiry day for the run), each only forward.
    /// A new message moves all of them: one write. Otherwise (a redelivery, a message older
    /// than the latest, the first message written with its conversation) the failed write
    /// returns the item, and each that still moves is written on its own.
    pub(super) async fn advance(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        at: Timestamp,
        received: Timestamp,
        settings: RetentionSettings,
    ) -> Result<(), InboxError> {
        let key = keys::conversation(tenant, conversation);
        let expires = ExpiresAt::after(received, settings.conversation_ttl());
        let both = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&key)))
            .update_expression("SET #last = :at, #recv = :recv, #exp = :exp")
            .condition_expression(
                "attribute_exists(#pk) AND #last < :at AND (attribute_not_exists(#recv) OR #recv < :recv)",
            )
            .expression_attribute_names("#last", attr::LAST_MESSAGE_AT)
            .expression_attribute_names("#recv", attr::LAST_RECEIVED_AT)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":at", n(at.as_millis()))
            .expression_attribute_values(":recv", n(received.as_millis()))
            .expression_attribute_values(":exp", n(expires.epoch_secs()))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            );
        let old = match both.send().await {
            Ok(_) => {
                return self
                    .queue_due(DayQueue::Expiry, tenant, conversation, expires.into(), i64::MIN)
                    .await;
            }
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => failed.item,
                other => return Err(unknown(other, "moving a conversation forward")),
            },
        };
        // Gone (erased, expired): nothing to move.
        let Some(old) = old else { return Ok(()) };
        let number = |name: &str| old.opt_number::<i64>(name).ok().flatten();
        if number(attr::LAST_MESSAGE_AT).is_some_and(|last| last < at.as_millis()) {
            self.conditional_update(
                self.table
                    .client()
                    .update_item()
                    .table_name(self.table.name())
                    .set_key(Some(key_attributes(&key)))
                    .update_expression("SET #last = :at")
                    .condition_expression("attribute_exists(#pk) AND #last < :at")
                    .expression_attribute_names("#last", attr::LAST_MESSAGE_AT)
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_values(":at", n(at.as_millis())),
            )
            .await?;
        }
        if number(attr::LAST_RECEIVED_AT).is_none_or(|last| last < received.as_millis()) {
            self.stamp_expiry(tenant, conversation, received, settings).await?;
        }
        Ok(())
    }

    /// Moves the conversation's retention clock to `received` (when Leadline got the data) and
    /// its expiry to `received + conversation_days`, queueing the expiry day for the run.
    async fn stamp_expiry(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        received: Timestamp,
        settings: RetentionSettings,
    ) -> Result<(), InboxError> {
        let expires = ExpiresAt::after(received, settings.conversation_ttl());
        let moved = self
            .conditional_update(
                self.table
                    .client()
                    .update_item()
                    .table_name(self.table.name())
                    .set_key(Some(key_attributes(&keys::conversation(tenant, conversation))))
                    .update_expression("SET #recv = :recv, #exp = :exp")
                    .condition_expression(
                        "attribute_exists(#pk) AND (attribute_not_exists(#recv) OR #recv < :recv)",
                    )
                    .expression_attribute_names("#recv", attr::LAST_RECEIVED_AT)
                    .expression_attribute_names("#exp", EXPIRES_AT)
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_values(":recv", n(received.as_millis()))
                    .expression_attribute_values(":exp", n(expires.epoch_secs())),
            )
            .await?;
        if moved {
            self.queue_due(DayQueue::Expiry, tenant, conversation, expires.into(), i64::MIN).await?;
        }
        Ok(())
    }

    /// Queues a conversation in a retention day queue for the day of `due` (or `earliest_day`).
    pub(super) async fn queue_due(
        &self,
        queue: DayQueue,
        tenant: &TenantId,
        conversation: &ConversationId,
        due: Timestamp,
        earliest_day: i64,
    ) -> Result<(), InboxError> {
        let day = epoch_day(due).max(earliest_day);
        let mut entry = item_with_key(&keys::due_day(queue, day, tenant, conversation));
        entry.insert(ENTITY.to_owned(), s("due_expiry"));
        entry.insert(attr::TENANT_ID.to_owned(), s(tenant.as_str()));
        entry.insert(attr::CONVERSATION_ID.to_owned(), s(conversation.as_str()));
        entry.insert(attr::DAY.to_owned(), n(day));
        self.table.put(entry).await.map_err(|e| unknown(e, "queueing retention work"))?;
        Ok(())
    }

    /// The first of a conversation's messages, walked newest first within `scan` and kept by
    /// `filter` (expression, the attribute `#a` it names, the value `:v` if it uses one), that
    /// `pick` maps.
    pub(super) async fn newest_message<T>(
        &self,
        scan: NewestFirst<'_>,
        (expression, attribute, value): (&str, &str, Option<AttributeValue>),
        pick: impl Fn(&Item) -> Option<T>,
    ) -> Result<Option<T>, InboxError> {
        let (condition, upper) = match scan.to {
            Some(to) => ("#pk = :pk AND #sk BETWEEN :from AND :to", Some(s(to))),
            None => ("#pk = :pk AND begins_with(#sk, :from)", None),
        };
        let mut start = None;
        for _ in 0..scan.pages {
            let page = self
                .table
                .client()
                .query()
                .table_name(self.table.name())
                .key_condition_expression(condition)
                .filter_expression(expression)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_names("#a", attribute)
                .set_expression_attribute_values(Some(
                    [(":pk".to_owned(), s(scan.pk)), (":from".to_owned(), s(scan.from))]
                        .into_iter()
                        .chain(value.clone().map(|v| (":v".to_owned(), v)))
                        .chain(upper.clone().map(|to| (":to".to_owned(), to)))
                        .collect(),
                ))
                .scan_index_forward(false)
                .limit(scan.page_size)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unknown(e, "walking a conversation"))?;
            if let Some(found) = page.items().iter().find_map(&pick) {
                return Ok(Some(found));
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(None)
    }
}
