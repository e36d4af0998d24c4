//! [`ContactStore`] on the table: contacts, their aliases under the blind index, the consent ledger.

use super::*;

impl ContactStore for DynamoInbox {
    async fn record_consent(
        &self,
        tenant: &TenantId,
        change: &ConsentChange<'_>,
        _now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let (contact_id, _, _) = self.resolve_contact(tenant, change.contact, change.at).await?;
        let kind = change.kind.as_str();
        let source = consent_source_name(change.source);
        let cause = format!("{kind}:{}", change.cause);
        let mut event = item_with_key(&keys::consent_event(tenant, &contact_id, change.at, &cause));
        event.insert(ENTITY.to_owned(), s("consent_event"));
        event.insert(attr::CONTACT_ID.to_owned(), s(contact_id.as_str()));
        event.insert(attr::KIND.to_owned(), s(kind));
        event.insert(attr::SOURCE.to_owned(), s(source));
        event.insert(attr::AT.to_owned(), n(change.at.as_millis()));
        match self.table.put_new(event, self.now_filter()).await {
            Ok(()) => {}
            Err(PutNewError::AlreadyExists) => return Ok(Stored::Duplicate),
            Err(PutNewError::Unknown(e)) => return Err(unknown(e, "recording consent")),
        }
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
            return Ok(Stored::Created);
        }
        self.conditional_update(
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(key_attributes(&keys::contact(tenant, &contact_id))))
                .update_expression("SET #state = :state, #source = :source, #at = :at")
                .condition_expression("attribute_not_exists(#at) OR #at <= :at")
                .expression_attribute_names("#state", attr::CONSENT_STATE)
                .expression_attribute_names("#source", attr::CONSENT_SOURCE)
                .expression_attribute_names("#at", attr::CONSENT_AT)
                .expression_attribute_values(":state", s(kind))
                .expression_attribute_values(":source", s(source))
                .expression_attribute_values(":at", n(change.at.as_millis())),
        )
        .await?;
        if change.kind == ConsentKind::OptOut {
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
        Ok(Stored::Created)
    }

    async fn contact_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<ContactView>, InboxError> {
        let id = self
            .index(tenant)
            .await?
            .contact_id(&ContactKey::Phone(phone.clone()))
            .map_err(anyhow::Error::from)?;
        let key = keys::contact(tenant, &id);
        self.read_one(tenant, &key, contact_view, "reading a contact").await
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
        let hash = self.index(tenant).await?.hash("email", email);
        let alias = self
            .table
            .get(&keys::contact_alias(tenant, "email", &hash), self.now_filter())
            .await
            .map_err(|e| unknown(e, "reading a contact alias"))?;
        match alias
            .as_ref()
            .and_then(|a| a.opt_string(attr::CONTACT_ID))
            .and_then(|id| ContactId::parse(id).ok())
        {
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
        let (_, item, stored) = self.resolve_contact(tenant, profile, at).await?;
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
        let now = self.now_filter();
        let index = self.index(tenant).await?;
        let mut ids = vec![index.contact_id(key).map_err(anyhow::Error::from)?];
        let alias = match key {
            ContactKey::Phone(_) => None,
            ContactKey::UserId(_) | ContactKey::Email(_) => {
                let (kind, hash) = index.hash_key(key);
                Some(keys::contact_alias(tenant, kind, &hash))
            }
        };
        if let Some(alias) = alias {
            let item =
                self.table.get(&alias, now).await.map_err(|e| unknown(e, "reading a contact alias"))?;
            if let Some(id) = item
                .as_ref()
                .and_then(|a| a.opt_string(attr::CONTACT_ID))
                .and_then(|id| ContactId::parse(id).ok())
            {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        let mut contacts = Vec::new();
        for id in ids {
            let item = self
                .table
                .get(&keys::contact(tenant, &id), now)
                .await
                .map_err(|e| unknown(e, "reading a contact"))?;
            if let Some(item) = item {
                let item = self.open(tenant, item).await?;
                contacts.push(contact_view(&item).map_err(|e| unknown(e, "mapping a contact"))?);
            }
        }
        Ok(contacts)
    }

    async fn contact_id_of(&self, tenant: &TenantId, key: &ContactKey) -> Result<ContactId, InboxError> {
        self.index(tenant).await?.contact_id(key).map_err(|e| anyhow::Error::from(e).into())
    }
}

impl DynamoInbox {
    /// Finds (or creates) the contact an event names, and completes its identity fields.
    pub(super) async fn resolve_contact(
        &self,
        tenant: &TenantId,
        profile: &ContactProfile,
        at: Timestamp,
    ) -> Result<(ContactId, Item, Stored), InboxError> {
        let keys = profile.keys();
        let first = keys.first().ok_or(InboxError::NoContact)?;
        let index = self.index(tenant).await?;
        let mut contact_id = index.contact_id(first).map_err(anyhow::Error::from)?;
        if !matches!(first, ContactKey::Phone(_)) {
            // Without a phone number, an alias may lead to a contact first seen another way.
            for key in keys.iter().filter(|key| !matches!(key, ContactKey::Phone(_))) {
                let (kind, hash) = index.hash_key(key);
                let alias = self
                    .table
                    .get(&keys::contact_alias(tenant, kind, &hash), self.now_filter())
                    .await
                    .map_err(|e| unknown(e, "reading a contact alias"))?;
                if let Some(found) = alias
                    .as_ref()
                    .and_then(|a| a.opt_string(attr::CONTACT_ID))
                    .and_then(|id| ContactId::parse(id).ok())
                {
                    contact_id = found;
                    break;
                }
            }
        }
        let key = keys::contact(tenant, &contact_id);
        let mut stored = Stored::Duplicate;
        let mut item = match self
            .table
            .get(&key, self.now_filter())
            .await
            .map_err(|e| unknown(e, "reading a contact"))?
        {
            Some(item) => item,
            None => {
                let mut fresh = item_with_key(&key);
                fresh.insert(ENTITY.to_owned(), s("contact"));
                fresh.insert(attr::CONTACT_ID.to_owned(), s(contact_id.as_str()));
                fresh.insert(attr::FIRST_SEEN_AT.to_owned(), n(at.as_millis()));
                fresh.insert(attr::LAST_SEEN_AT.to_owned(), n(at.as_millis()));
                match self.table.put_new(fresh.clone(), self.now_filter()).await {
                    Ok(()) => {
                        stored = Stored::Created;
                        // A new record may follow an erasure: never seal under a destroyed key
                        // still cached here.
                        self.keyring.forget(tenant, &contact_id);
                        self.count_contacts(tenant, 1).await?;
                        fresh
                    }
                    Err(PutNewError::AlreadyExists) => self
                        .table
                        .get(&key, self.now_filter())
                        .await
                        .map_err(|e| unknown(e, "re-reading a contact"))?
                        .ok_or_else(|| {
                            InboxError::Unknown(anyhow::anyhow!("contact vanished while being created"))
                        })?,
                    Err(PutNewError::Unknown(e)) => return Err(unknown(e, "creating a contact")),
                }
            }
        };
        self.complete_identity(tenant, &contact_id, &mut item, profile, &index).await?;
        Ok((contact_id, item, stored))
    }

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

    /// Adds identity fields the contact lacks (phone, BSUID, email, name), sealed, and their
    /// aliases. `item` is the stored (sealed) contact; what is added is added to it sealed too.
    pub(super) async fn complete_identity(
        &self,
        tenant: &TenantId,
        contact_id: &ContactId,
        item: &mut Item,
        profile: &ContactProfile,
        index: &BlindIndex,
    ) -> Result<(), InboxError> {
        let mut missing: Vec<(&str, String)> = Vec::new();
        let mut aliases: Vec<String> = Vec::new();
        if let Some(phone) = &profile.phone {
            if !item.contains_key(attr::PHONE) {
                missing.push((attr::PHONE, phone.as_digits().to_owned()));
            }
        }
        for (name, value, key) in [
            (attr::USER_ID, &profile.user_id, profile.user_id.clone().map(ContactKey::UserId)),
            (attr::EMAIL, &profile.email, profile.email.clone().map(ContactKey::Email)),
        ] {
            let (Some(value), Some(key)) = (value.as_ref().filter(|v| !v.is_empty()), key) else { continue };
            if item.contains_key(name) {
                continue;
            }
            missing.push((name, value.clone()));
            let (kind, hash) = index.hash_key(&key);
            let alias_key = keys::contact_alias(tenant, kind, &hash);
            let mut alias = item_with_key(&alias_key);
            alias.insert(ENTITY.to_owned(), s("contact_alias"));
            alias.insert(attr::CONTACT_ID.to_owned(), s(contact_id.as_str()));
            match self.table.put_new(alias, self.now_filter()).await {
                // An alias already pointing elsewhere stays: the first contact keeps it. Listed
                // either way (it may be ours from an earlier attempt); erasure checks the owner.
                Ok(()) | Err(PutNewError::AlreadyExists) => aliases.push(alias_key.sk),
                Err(PutNewError::Unknown(e)) => return Err(unknown(e, "writing a contact alias")),
            }
        }
        if let Some(name) = profile.name.as_ref().filter(|n| !n.is_empty()) {
            if !item.contains_key(attr::NAME) {
                missing.push((attr::NAME, name.clone()));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let data_key = self.sealer(tenant, contact_id).await?;
        let key = keys::contact(tenant, contact_id);
        let mut update = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&key)));
        let mut sets = Vec::new();
        for (i, (name, value)) in missing.iter().enumerate() {
            let value = sealed(&data_key, name, value)?;
            sets.push(format!("#a{i} = if_not_exists(#a{i}, :v{i})"));
            update = update
                .expression_attribute_names(format!("#a{i}"), *name)
                .expression_attribute_values(format!(":v{i}"), value.clone());
            item.insert((*name).to_owned(), value);
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !aliases.is_empty() {
            expression.push_str(" ADD #aliases :aliases");
            update = update
                .expression_attribute_names("#aliases", attr::ALIAS_KEYS)
                .expression_attribute_values(":aliases", AttributeValue::Ss(aliases));
        }
        update.update_expression(expression).send().await.map_err(|e| unknown(e, "completing a contact"))?;
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
