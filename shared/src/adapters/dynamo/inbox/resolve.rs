//! How identifiers find their contact, and how a new contact is written: whole, in one
//! transaction.
//!
//! Contact ids are random. A person is found through lookup entries (`ALIAS#<kind>#<hash>`, the
//! identifier's keyed hash under the tenant's blind index) that point at the id, so no id can be
//! recomputed from a phone number or email, and a person who returns after an erasure (which
//! deletes the entries) gets a new id and a new data key: nothing that named the old id re-attaches
//! to them, and no instance's cached old key is ever used for their new data.
//!
//! A new contact is one `TransactWriteItems`: the contact with its sealed identity fields, its
//! lookup entries (each conditional on being absent: the first writer wins, a loser finds the
//! winner's contact), the tenant's contact count, what the creating event brings along (a lead)
//! and, for a person erased while opted out, that opt-out (from the erasure's suppression entry).
//! Nothing can read the contact before its fields are there.

use aws_sdk_dynamodb::types::Update as TransactUpdate;

use super::*;

/// Items written in the transaction that creates a contact (a lead that introduced the person),
/// built once its id and data key are known.
pub(super) type Companions<'a> =
    &'a (dyn Fn(&ContactId, &DataKey) -> Result<Vec<Item>, InboxError> + Send + Sync);

/// How often a creation that lost a race to another writer looks again before giving up.
const CREATE_ATTEMPTS: usize = 3;

impl DynamoInbox {
    /// The id a key's lookup entry points at, if any.
    pub(super) async fn alias_target(
        &self,
        tenant: &TenantId,
        index: &BlindIndex,
        key: &ContactKey,
    ) -> Result<Option<ContactId>, InboxError> {
        let (kind, hash) = index.hash_key(key);
        let alias = self
            .table
            .get(&keys::contact_alias(tenant, kind, &hash), self.now_filter())
            .await
            .map_err(|e| unknown(e, "reading a contact alias"))?;
        Ok(alias
            .as_ref()
            .and_then(|a| a.opt_string(attr::CONTACT_ID))
            .and_then(|id| ContactId::parse(id).ok()))
    }

    /// The live contact `profile` leads to, sealed as stored: by its phone number when it has
    /// one (a number is a WhatsApp identity of its own), else by its first BSUID or email that
    /// has a lookup entry. Never creates anything.
    pub(super) async fn existing_contact(
        &self,
        tenant: &TenantId,
        index: &BlindIndex,
        profile: &ContactProfile,
    ) -> Result<Option<(ContactId, Item)>, InboxError> {
        let keys = profile.keys();
        let candidates = match keys.first() {
            Some(ContactKey::Phone(_)) => &keys[..1],
            _ => &keys[..],
        };
        for key in candidates {
            let Some(id) = self.alias_target(tenant, index, key).await? else { continue };
            let item = self
                .table
                .get(&keys::contact(tenant, &id), self.now_filter())
                .await
                .map_err(|e| unknown(e, "reading a contact"))?;
            if let Some(item) = item {
                return Ok(Some((id, item)));
            }
        }
        Ok(None)
    }

    /// Finds (or creates) the contact an event names, and completes its identity fields.
    pub(super) async fn resolve_contact(
        &self,
        tenant: &TenantId,
        (profile, origin): (&ContactProfile, ContactOrigin),
        at: Timestamp,
    ) -> Result<(ContactId, Item, Stored), InboxError> {
        self.resolve_contact_with(tenant, (profile, origin), at, &|_, _| Ok(Vec::new())).await
    }

    /// As [`DynamoInbox::resolve_contact`]; when the contact is new, `companions` are written in
    /// its creating transaction (`Stored::Created`), otherwise not at all (the caller writes them).
    pub(super) async fn resolve_contact_with(
        &self,
        tenant: &TenantId,
        (profile, origin): (&ContactProfile, ContactOrigin),
        at: Timestamp,
        companions: Companions<'_>,
    ) -> Result<(ContactId, Item, Stored), InboxError> {
        if profile.keys().is_empty() {
            return Err(InboxError::NoContact);
        }
        let index = self.index(tenant).await?;
        for _ in 0..CREATE_ATTEMPTS {
            if let Some((id, mut item)) = self.existing_contact(tenant, &index, profile).await? {
                self.complete_identity(tenant, &id, &mut item, (profile, origin), &index).await?;
                return Ok((id, item, Stored::Duplicate));
            }
            if let Some((id, item)) =
                self.create_whole(tenant, &index, (profile, origin), at, companions).await?
            {
                return Ok((id, item, Stored::Created));
            }
            // Another writer created this person's contact meanwhile: use theirs.
        }
        Err(InboxError::Unknown(anyhow::anyhow!("creating a contact kept losing to concurrent writers")))
    }

    /// Writes a new contact in one transaction; `None` when another writer claimed one of its
    /// lookup entries first (nothing of this attempt is left: its data key is destroyed again).
    async fn create_whole(
        &self,
        tenant: &TenantId,
        index: &BlindIndex,
        (profile, origin): (&ContactProfile, ContactOrigin),
        at: Timestamp,
        companions: Companions<'_>,
    ) -> Result<Option<(ContactId, Item)>, InboxError> {
        let now = self.now_filter();
        let id = ContactId::generate(at).map_err(anyhow::Error::from)?;
        let data_key = self.sealer(tenant, &id).await?;
        let key = keys::contact(tenant, &id);
        let mut contact = item_with_key(&key);
        contact.insert(ENTITY.to_owned(), s("contact"));
        contact.insert(attr::CONTACT_ID.to_owned(), s(id.as_str()));
        contact.insert(attr::FIRST_SEEN_AT.to_owned(), n(at.as_millis()));
        contact.insert(attr::LAST_SEEN_AT.to_owned(), n(at.as_millis()));
        contact.insert(attr::ORIGINS.to_owned(), AttributeValue::Ss(vec![origin.as_str().to_owned()]));
        let mut writes = Vec::new();
        let mut aliases = Vec::new();
        let mut suppressed: Option<(String, i64)> = None;
        for (position, contact_key) in profile.keys().iter().enumerate() {
            let (kind, hash) = index.hash_key(contact_key);
            let alias_key = keys::contact_alias(tenant, kind, &hash);
            // The first identifier's entry is this contact's by definition; a later one already
            // pointing elsewhere stays with the contact that claimed it first.
            let claimed = position > 0
                && self
                    .table
                    .get(&alias_key, now)
                    .await
                    .map_err(|e| unknown(e, "reading a contact alias"))?
                    .is_some();
            if !claimed {
                let mut alias = item_with_key(&alias_key);
                alias.insert(ENTITY.to_owned(), s("contact_alias"));
                alias.insert(attr::CONTACT_ID.to_owned(), s(id.as_str()));
                writes.push(TransactWriteItem::builder().put(self.table.put_if_absent(alias)?).build());
                aliases.push(alias_key.sk);
            }
            if suppressed.is_none() {
                suppressed = self.suppression(&keys::suppression(tenant, kind, &hash)).await?;
            }
        }
        for (name, value) in identity_fields(profile) {
            contact.insert(name.to_owned(), sealed(&data_key, name, &value)?);
            if name == attr::NAME {
                contact.insert(attr::NAME_ORIGIN.to_owned(), s(origin.as_str()));
            }
        }
        if !aliases.is_empty() {
            contact.insert(attr::ALIAS_KEYS.to_owned(), AttributeValue::Ss(aliases));
        }
        if let Some((source, opted_out_at)) = &suppressed {
            // Erased while opted out: they come back opted out, the reason in their ledger.
            contact.insert(attr::CONSENT_STATE.to_owned(), s(ConsentKind::OptOut.as_str()));
            contact.insert(attr::CONSENT_SOURCE.to_owned(), s(source));
            contact.insert(attr::CONSENT_AT.to_owned(), n(*opted_out_at));
            let at = Timestamp::from_millis(*opted_out_at);
            let mut event = item_with_key(&keys::consent_event(tenant, &id, at, "suppression"));
            event.insert(ENTITY.to_owned(), s("consent_event"));
            event.insert(attr::CONTACT_ID.to_owned(), s(id.as_str()));
            event.insert(attr::KIND.to_owned(), s(ConsentKind::OptOut.as_str()));
            event.insert(attr::SOURCE.to_owned(), s(source));
            event.insert(attr::AT.to_owned(), n(*opted_out_at));
            writes.push(TransactWriteItem::builder().put(self.table.put_if_absent(event)?).build());
        }
        for item in companions(&id, &data_key)? {
            writes.push(TransactWriteItem::builder().put(self.table.put_if_absent(item)?).build());
        }
        let count = TransactUpdate::builder()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::usage(tenant))))
            .update_expression("ADD #c :d SET #e = :e")
            .expression_attribute_names("#c", keys::CONTACT_COUNT)
            .expression_attribute_names("#e", ENTITY)
            .expression_attribute_values(":d", n(1))
            .expression_attribute_values(":e", s("usage"))
            .build()
            .context("building the contact count")?;
        writes.push(TransactWriteItem::builder().update(count).build());
        writes
            .insert(0, TransactWriteItem::builder().put(self.table.put_if_absent(contact.clone())?).build());
        let result = self.table.client().transact_write_items().set_transact_items(Some(writes)).send().await;
        match result {
            Ok(_) => Ok(Some((id, contact))),
            Err(e) => {
                // Nothing of this attempt was written: its data key goes too.
                let e = e.into_service_error();
                self.keyring
                    .shred(tenant, &id)
                    .await
                    .map_err(|e| unknown(e, "dropping an unused data key"))?;
                if any_condition_failed(&e) {
                    Ok(None)
                } else {
                    Err(unknown(e, "creating a contact"))
                }
            }
        }
    }

    /// The opt-out a suppression entry keeps (source name, time), if there is one.
    async fn suppression(&self, key: &Key) -> Result<Option<(String, i64)>, InboxError> {
        let item = self
            .table
            .get(key, self.now_filter())
            .await
            .map_err(|e| unknown(e, "reading a suppression entry"))?;
        Ok(item.and_then(|item| {
            let source = item.opt_string(attr::CONSENT_SOURCE)?.to_owned();
            let at = item.opt_number::<i64>(attr::CONSENT_AT).ok().flatten()?;
            Some((source, at))
        }))
    }

    /// Adds identity fields the contact lacks (phone, BSUID, email, name), sealed, and their
    /// lookup entries. `item` is the stored (sealed) contact; what is added is added to it sealed.
    pub(super) async fn complete_identity(
        &self,
        tenant: &TenantId,
        contact_id: &ContactId,
        item: &mut Item,
        (profile, origin): (&ContactProfile, ContactOrigin),
        index: &BlindIndex,
    ) -> Result<(), InboxError> {
        let missing: Vec<(&str, String)> =
            identity_fields(profile).into_iter().filter(|(name, _)| !item.contains_key(*name)).collect();
        let known_origin = match item.get(attr::ORIGINS) {
            Some(AttributeValue::Ss(origins)) => origins.iter().any(|o| o == origin.as_str()),
            // Stored before origins were recorded: left as it is (P54 leaves such contacts alone).
            _ => true,
        };
        if !known_origin {
            let key = keys::contact(tenant, contact_id);
            self.table
                .client()
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(key_attributes(&key)))
                .update_expression("ADD #o :o")
                .expression_attribute_names("#o", attr::ORIGINS)
                .expression_attribute_values(":o", AttributeValue::Ss(vec![origin.as_str().to_owned()]))
                .send()
                .await
                .map_err(|e| unknown(e, "recording a contact's origin"))?;
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut aliases: Vec<String> = Vec::new();
        for key in profile.keys() {
            let field = match key {
                ContactKey::Phone(_) => attr::PHONE,
                ContactKey::UserId(_) => attr::USER_ID,
                ContactKey::Email(_) => attr::EMAIL,
            };
            if !missing.iter().any(|(name, _)| *name == field) {
                continue;
            }
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
        if missing.iter().any(|(name, _)| *name == attr::NAME) {
            sets.push("#no = if_not_exists(#no, :no)".to_owned());
            update = update
                .expression_attribute_names("#no", attr::NAME_ORIGIN)
                .expression_attribute_values(":no", s(origin.as_str()));
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
}

/// The identity fields a profile gives (attribute, value), empty values left out.
fn identity_fields(profile: &ContactProfile) -> Vec<(&'static str, String)> {
    let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    [
        (attr::PHONE, profile.phone.as_ref().map(|p| p.as_digits().to_owned())),
        (attr::USER_ID, non_empty(&profile.user_id)),
        (attr::EMAIL, non_empty(&profile.email)),
        (attr::NAME, non_empty(&profile.name)),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| (name, v)))
    .collect()
}

/// True when a transaction was cancelled because one of its conditions failed.
fn any_condition_failed(error: &TransactWriteItemsError) -> bool {
    matches!(error, TransactWriteItemsError::TransactionCanceledException(e)
        if e.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed")))
}
