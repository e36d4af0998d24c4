//! [`ContactStore`] on the table: contacts, their aliases under the blind index, the consent ledger.

use super::*;

impl ContactStore for DynamoInbox {
    async fn record_consent(
        &self,
        tenant: &TenantId,
        change: &ConsentChange<'_>,
        _now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let (contact_id, contact, _) = self
            .resolve_contact(tenant, (change.contact, ContactOrigin::of_consent(change.source)), change.at)
            .await?;
        let kind = change.kind.as_str();
        let source = consent_source_name(change.source);
        let cause = format!("{kind}:{}", change.cause);
        let event_key = keys::consent_event(tenant, &contact_id, change.at, &cause);
        let refused = consent_change_refused(stored_consent(&contact).as_ref(), change.kind, change.source);
        let mut event = item_with_key(&event_key);
        event.insert(ENTITY.to_owned(), s("consent_event"));
        event.insert(attr::CONTACT_ID.to_owned(), s(contact_id.as_str()));
        event.insert(attr::KIND.to_owned(), s(kind));
        event.insert(attr::SOURCE.to_owned(), s(source));
        event.insert(attr::AT.to_owned(), n(change.at.as_millis()));
        if let Some(refusal) = refused {
            event.insert(attr::REFUSED.to_owned(), s(refusal.as_str()));
        }
        let stored = match self.table.put_new(event, self.now_filter()).await {
            Ok(()) => Stored::Created,
            Err(PutNewError::AlreadyExists) => Stored::Duplicate,
            Err(PutNewError::Unknown(e)) => return Err(unknown(e, "recording consent")),
        };
        if refused.is_some() {
            // Only the person lifts their own opt-out: the ledger keeps the attempt, nothing else moves.
            tracing::info!(source, "An opt-in over the person's opt-out was refused");
            return Err(InboxError::OptedOutByPerson);
        }
        // Also for a duplicate: an earlier attempt may have died between the event and the state.
        // Both updates below are conditional on time, so applying one again changes nothing.
        if change.kind.is_restriction() {
            // The latest restriction event decides, whatever the arrival order.
            let expression = if change.kind == ConsentKind::Restrict {
                "SET #restricted = :at, #event_at = :at"
            } else {
                "REMOVE #restricted SET #event_at = :at"
            };
            self.conditional_update(
                self.table
                    .client()
                    .update_item()
                    .table_name(self.table.name())
                    .set_key(Some(key_attributes(&keys::contact(tenant, &contact_id))))
                    .update_expression(expression)
                    .condition_expression("attribute_not_exists(#event_at) OR #event_at <= :at")
                    .expression_attribute_names("#restricted", attr::RESTRICTED_AT)
                    .expression_attribute_names("#event_at", attr::RESTRICTION_EVENT_AT)
                    .expression_attribute_values(":at", n(change.at.as_millis())),
            )
            .await?;
            return Ok(stored);
        }
        let mut update = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::contact(tenant, &contact_id))))
            .update_expression("SET #state = :state, #source = :source, #at = :at")
            .expression_attribute_names("#state", attr::CONSENT_STATE)
            .expression_attribute_names("#source", attr::CONSENT_SOURCE)
            .expression_attribute_names("#at", attr::CONSENT_AT)
            .expression_attribute_values(":state", s(kind))
            .expression_attribute_values(":source", s(source))
            .expression_attribute_values(":at", n(change.at.as_millis()));
        let guarded = change.kind == ConsentKind::OptIn && !change.source.is_the_persons_own();
        update = if guarded {
            // An opt-out that lands between the read above and this write still wins.
            update
                .condition_expression(
                    "(attribute_not_exists(#at) OR #at <= :at) AND (attribute_not_exists(#state) OR #state <> :out)",
                )
                .expression_attribute_values(":out", s(ConsentKind::OptOut.as_str()))
        } else {
            update.condition_expression("attribute_not_exists(#at) OR #at <= :at")
        };
        if !self.conditional_update(update).await? && guarded && stored == Stored::Created {
            let now = self.table.get(&keys::contact(tenant, &contact_id), self.now_filter()).await;
            let now = now.map_err(|e| unknown(e, "re-reading a contact"))?;
            let current = now.as_ref().and_then(stored_consent);
            if let Some(refusal) = consent_change_refused(current.as_ref(), change.kind, change.source) {
                self.conditional_update(
                    self.table
                        .client()
                        .update_item()
                        .table_name(self.table.name())
                        .set_key(Some(key_attributes(&event_key)))
                        .update_expression("SET #refused = :refused")
                        .condition_expression("attribute_exists(#pk)")
                        .expression_attribute_names("#refused", attr::REFUSED)
                        .expression_attribute_names("#pk", PK)
                        .expression_attribute_values(":refused", s(refusal.as_str())),
                )
                .await?;
                return Err(InboxError::OptedOutByPerson);
            }
        }
        if change.kind == ConsentKind::OptOut && stored == Stored::Created {
            // Opt-outs are a sending-quality signal (P24): counted by month and source.
            let month = self.now_filter().utc_month();
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(key_attributes(&keys::quality(tenant, &month, &format!("opt_out.{source}")))))
                .update_expression("ADD #c :one")
                .expression_attribute_names("#c", keys::COUNT)
                .expression_attribute_values(":one", n(1))
                .send()
                .await
                .map_err(|e| unknown(e, "counting an opt-out"))?;
        }
        Ok(stored)
    }

    async fn contact_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<ContactView>, InboxError> {
        let index = self.index(tenant).await?;
        match self.alias_target(tenant, &index, &ContactKey::Phone(phone.clone())).await? {
            Some(id) => self.contact(tenant, &id).await,
            None => Ok(None),
        }
    }

    async fn contacts(
        &self,
        tenant: &TenantId,
        filter: &ContactFilter,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<ContactView>, InboxError> {
        self.list_filtered(tenant, None, keys::CONTACT_PREFIX, (after, limit), contact_view, |contact| {
            filter.tag.as_ref().is_none_or(|tag| contact.tags.contains(tag))
        })
        .await
    }

    async fn contact_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<ContactView>, InboxError> {
        let index = self.index(tenant).await?;
        match self.alias_target(tenant, &index, &ContactKey::Email(email.to_owned())).await? {
            Some(id) => self.contact(tenant, &id).await,
            None => Ok(None),
        }
    }

    async fn contact(&self, tenant: &TenantId, id: &ContactId) -> Result<Option<ContactView>, InboxError> {
        self.read_one(tenant, &keys::contact(tenant, id), contact_view, "reading a contact").await
    }

    async fn create_contact(
        &self,
        tenant: &TenantId,
        profile: &ContactProfile,
        at: Timestamp,
    ) -> Result<(ContactView, Stored), InboxError> {
        let (_, item, stored) = self.resolve_contact(tenant, (profile, ContactOrigin::Business), at).await?;
        let item = self.open(tenant, item).await?;
        Ok((contact_view(&item).map_err(|e| unknown(e, "mapping a contact"))?, stored))
    }

    async fn update_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        patch: &ContactPatch,
        at: Timestamp,
    ) -> Result<Option<ContactView>, InboxError> {
        patch.within_caps()?;
        let Some(current) = self.contact(tenant, id).await? else { return Ok(None) };
        let mut aliases_added = Vec::new();
        let mut aliases_removed = Vec::new();
        if let Some(email) = &patch.email {
            if *email != current.email {
                let index = self.index(tenant).await?;
                if let Some(new) = email {
                    let alias_key = keys::contact_alias(tenant, "email", &index.hash("email", new));
                    let mut alias = item_with_key(&alias_key);
                    alias.insert(ENTITY.to_owned(), s("contact_alias"));
                    alias.insert(attr::CONTACT_ID.to_owned(), s(id.as_str()));
                    match self.table.put_new(alias, self.now_filter()).await {
                        Ok(()) => aliases_added.push(alias_key.sk),
                        Err(PutNewError::AlreadyExists) => return Err(InboxError::EmailTaken),
                        Err(PutNewError::Unknown(e)) => return Err(unknown(e, "claiming an email")),
                    }
                }
                if let Some(old) = &current.email {
                    let alias_key = keys::contact_alias(tenant, "email", &index.hash("email", old));
                    self.table.delete(&alias_key).await.map_err(|e| unknown(e, "releasing an email"))?;
                    aliases_removed.push(alias_key.sk);
                }
            }
        }
        let mut update = Assignments::default();
        update.set(attr::UPDATED_AT, n(at.as_millis()));
        let personal = patch.name.is_some() || patch.email.is_some() || patch.attributes.is_some();
        let data_key = if personal { Some(self.sealer(tenant, id).await?) } else { None };
        let seal = |name: &str, value: &str| match &data_key {
            Some(key) => sealed(key, name, value),
            None => Err(InboxError::Unknown(anyhow::anyhow!("no data key to seal with"))),
        };
        if let Some(name) = &patch.name {
            update.set_or_remove(attr::NAME, name.as_deref().map(|v| seal(attr::NAME, v)).transpose()?);
            update
                .set_or_remove(attr::NAME_ORIGIN, name.as_ref().map(|_| s(ContactOrigin::Business.as_str())));
        }
        if let Some(email) = &patch.email {
            update.set_or_remove(attr::EMAIL, email.as_deref().map(|v| seal(attr::EMAIL, v)).transpose()?);
        }
        if let Some(tags) = &patch.tags {
            update.set_or_remove(attr::TAGS, (!tags.is_empty()).then(|| AttributeValue::Ss(tags.clone())));
        }
        if let Some(attributes) = &patch.attributes {
            let json = serde_json::to_string(attributes).context("serializing attributes")?;
            update.set_or_remove(
                attr::ATTRIBUTES,
                (!attributes.is_empty()).then(|| seal(attr::ATTRIBUTES, &json)).transpose()?,
            );
        }
        let item = self.apply(&keys::contact(tenant, id), update).await?;
        self.move_aliases(tenant, id, aliases_added, aliases_removed).await?;
        match item {
            Some(item) => {
                let item = self.open(tenant, item).await?;
                contact_view(&item).map(Some).map_err(|e| unknown(e, "mapping a contact"))
            }
            None => Ok(None),
        }
    }

    async fn contact_count(&self, tenant: &TenantId) -> Result<u64, InboxError> {
        let usage = self
            .table
            .get(&keys::usage(tenant), self.now_filter())
            .await
            .map_err(|e| unknown(e, "reading usage"))?;
        let count: i64 = usage
            .map(|u| u.opt_number(keys::CONTACT_COUNT))
            .transpose()
            .map_err(|e| unknown(e, "reading usage"))?
            .flatten()
            .unwrap_or(0);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn consent_ledger(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> Result<Vec<ConsentEventView>, InboxError> {
        let mut events = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .table
                .query_prefix(
                    &keys::tenant_partition(tenant),
                    &keys::consent_prefix(contact),
                    self.now_filter(),
                    100,
                    after.as_deref(),
                )
                .await
                .map_err(|e| unknown(e, "reading the consent ledger"))?;
            for item in &page.items {
                let event = (|| -> anyhow::Result<ConsentEventView> {
                    Ok(ConsentEventView {
                        kind: consent_kind(item.string(attr::KIND)?).context("unknown consent kind")?,
                        source: consent_source(item.string(attr::SOURCE)?)
                            .context("unknown consent source")?,
                        at: item.number(attr::AT)?,
                        refused: item.opt_string(attr::REFUSED).map(|_| ConsentRefusal::OptedOutByPerson),
                    })
                })()
                .map_err(|e| unknown(e, "mapping a consent event"))?;
                events.push(event);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(events),
            }
        }
    }

    async fn find_contacts(
        &self,
        tenant: &TenantId,
        key: &ContactKey,
    ) -> Result<Vec<ContactView>, InboxError> {
        let index = self.index(tenant).await?;
        match self.alias_target(tenant, &index, key).await? {
            Some(id) => Ok(self.contact(tenant, &id).await?.into_iter().collect()),
            None => Ok(Vec::new()),
        }
    }

    async fn contact_id_of(
        &self,
        tenant: &TenantId,
        key: &ContactKey,
    ) -> Result<Option<ContactId>, InboxError> {
        let index = self.index(tenant).await?;
        self.alias_target(tenant, &index, key).await
    }
}

impl DynamoInbox {
    /// Moves the tenant's contact counter (the plan limit's count, P25) by `delta`.
    pub(super) async fn count_contacts(&self, tenant: &TenantId, delta: i64) -> Result<(), InboxError> {
        self.table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::usage(tenant))))
            .update_expression("ADD #c :d SET #e = :e")
            .expression_attribute_names("#c", keys::CONTACT_COUNT)
            .expression_attribute_names("#e", ENTITY)
            .expression_attribute_values(":d", n(delta))
            .expression_attribute_values(":e", s("usage"))
            .send()
            .await
            .map_err(|e| unknown(e, "counting contacts"))?;
        Ok(())
    }

    /// Keeps a contact's list of its lookup entries (what erasure deletes) in step with them.
    /// Additions and removals go in two updates: one expression may not both `ADD` to and
    /// `DELETE` from the same set (DynamoDB refuses overlapping paths).
    pub(super) async fn move_aliases(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        added: Vec<String>,
        removed: Vec<String>,
    ) -> Result<(), InboxError> {
        for (clause, aliases) in [("ADD #aliases :aliases", added), ("DELETE #aliases :aliases", removed)] {
            if aliases.is_empty() {
                continue;
            }
            let update = self
                .table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(key_attributes(&keys::contact(tenant, contact))))
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#aliases", attr::ALIAS_KEYS)
                .expression_attribute_values(":aliases", AttributeValue::Ss(aliases))
                .update_expression(clause);
            self.conditional_update(update).await?;
        }
        Ok(())
    }
}
