//! [`InboxStore`] on the single table.
//!
//! Exactly-once by construction:
//! - an inbound message is written in one transaction with its `WAMID#` record, conditional on
//!   that record not existing, so a redelivery writes nothing;
//! - contact and conversation "latest" fields move only forward (conditional updates), first-seen
//!   only backward, so replays and out-of-order arrivals end in the same state;
//! - a status moves the message's `status_rank` only upward; its history map records each status
//!   once (`if_not_exists`);
//! - consent events and leads are conditional puts keyed by their cause.

mod suggestions;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context as _;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::item::{b, item_with_key, key_attributes, n, s, Item, ItemExt};
use super::keys::{self, attr, Key, ENTITY, EXPIRES_AT, GSI1PK, GSI1SK, PK, SK};
use super::table::{PutNewError, Table};
use crate::adapters::kms::keyring::{DataKey, Need};
use crate::adapters::kms::Keyring;
use crate::domain::inbox::{
    epoch_day, ConsentChange, ConsentEventView, ConsentKind, ConsentSource, ConsentState, ContactFilter,
    ContactKey, ContactPatch, ContactProfile, ContactView, ConversationFilter, ConversationPatch,
    ConversationView, Expiry, InboxError, InboxStore, LeadFilter, LeadPatch, LeadStage, LeadView,
    MessageStatus, MessageView, NewInboundMessage, NewLead, NewManualLead, NewOutboundMessage, OutboundClaim,
    StatusChange, StatusOutcome, Stored, Unsent, SERVICE_WINDOW,
};
use crate::domain::outbound::message_of_callback;
use crate::domain::privacy::{DayQueue, ErasureCounts};
use crate::domain::tenant::RetentionSettings;
use crate::domain::whatsapp::MetaError;
use crate::domain::{
    BlindIndex, ContactId, ConversationId, ExpiresAt, MessageId, PhoneNumber, TenantId, Timestamp, UserId,
    Wamid,
};
use crate::kernel::Page;

/// [`InboxStore`] on DynamoDB.
///
/// Personal data is sealed here, below the domain (P64): contact ids and lookup entries are
/// keyed hashes under the tenant's blind index, and the attributes of [`SEALED_ATTRIBUTES`] are
/// stored as binary AES-256-GCM ciphertext under the contact's data key ([`Keyring`]). Reads
/// open them again; a field whose key was destroyed reads as absent.
#[derive(Debug, Clone)]
pub struct DynamoInbox {
    table: Table,
    keyring: Arc<Keyring>,
}

impl DynamoInbox {
    /// The inbox on `table`, sealing with `keyring`.
    #[must_use]
    pub fn new(table: Table, keyring: Arc<Keyring>) -> Self {
        Self { table, keyring }
    }
}

/// The attributes stored sealed under the contact's data key: the identifiers of a contact
/// (phone, BSUID, email, name, custom attributes), message content, a lead's answers, and what
/// AI produced from a conversation.
pub const SEALED_ATTRIBUTES: [&str; 8] = [
    attr::PHONE,
    attr::USER_ID,
    attr::EMAIL,
    attr::NAME,
    attr::ATTRIBUTES,
    attr::RAW,
    attr::LEAD,
    attr::AI_RESULT,
];

/// How many items of a page are opened at once (each may need its contact's key: a key-table
/// read and a KMS call on a cold instance).
const OPEN_CONCURRENCY: usize = 16;

/// How many items one filtered listing examines at most before answering with a short page.
const FILTER_SCAN_BUDGET: usize = 1_000;

/// The attribute assignments of one update: `Some` sets, `None` removes. Always sets at least
/// one attribute (`updated_at`), so the expression is never empty.
#[derive(Default)]
struct Assignments(Vec<(&'static str, Option<AttributeValue>)>);

impl Assignments {
    fn set(&mut self, name: &'static str, value: AttributeValue) {
        self.0.push((name, Some(value)));
    }

    fn set_or_remove(&mut self, name: &'static str, value: Option<AttributeValue>) {
        self.0.push((name, value));
    }
}

const INBOUND: &str = "inbound";
const OUTBOUND: &str = "outbound";

fn consent_kind(name: &str) -> Option<ConsentKind> {
    match name {
        "opt_in" => Some(ConsentKind::OptIn),
        "opt_out" => Some(ConsentKind::OptOut),
        "restrict" => Some(ConsentKind::Restrict),
        "lift_restriction" => Some(ConsentKind::LiftRestriction),
        _ => None,
    }
}

fn consent_source_name(source: ConsentSource) -> &'static str {
    match source {
        ConsentSource::Keyword => "keyword",
        ConsentSource::MetaUserPreferences => "meta_user_preferences",
        ConsentSource::LeadForm => "lead_form",
        ConsentSource::Import => "import",
        ConsentSource::Agent => "agent",
        ConsentSource::Api => "api",
    }
}

fn consent_source(name: &str) -> Option<ConsentSource> {
    match name {
        "keyword" => Some(ConsentSource::Keyword),
        "meta_user_preferences" => Some(ConsentSource::MetaUserPreferences),
        "lead_form" => Some(ConsentSource::LeadForm),
        "import" => Some(ConsentSource::Import),
        "agent" => Some(ConsentSource::Agent),
        "api" => Some(ConsentSource::Api),
        _ => None,
    }
}

/// True when a transaction was cancelled because its first item's condition failed.
fn first_condition_failed(error: &TransactWriteItemsError) -> bool {
    matches!(error, TransactWriteItemsError::TransactionCanceledException(e)
        if e.cancellation_reasons().first().and_then(|r| r.code()) == Some("ConditionalCheckFailed"))
}

fn unknown(error: impl Into<anyhow::Error>, what: &'static str) -> InboxError {
    InboxError::Unknown(error.into().context(what))
}

/// `value` sealed for `attribute` under `key`, as a binary attribute.
fn sealed(key: &DataKey, attribute: &str, value: &str) -> Result<AttributeValue, InboxError> {
    Ok(b(key.seal(attribute, value.as_bytes()).map_err(|e| unknown(e, "sealing a field"))?))
}

fn optional_string(item: &Item, name: &str) -> Option<String> {
    item.opt_string(name).map(str::to_owned)
}

/// A newest-first walk over a conversation's messages: partition, sort keys from `from` (a
/// prefix, or the lower bound when `to` is given) up to `to`, at most `pages` pages.
struct NewestFirst<'a> {
    pk: &'a str,
    from: &'a str,
    to: Option<&'a str>,
    pages: u8,
    page_size: i32,
}

impl DynamoInbox {
    fn now_filter() -> Timestamp {
        use crate::domain::Clock as _;
        crate::domain::SystemClock.now()
    }

    /// The tenant's blind index (cached; made on first need).
    async fn index(&self, tenant: &TenantId) -> Result<BlindIndex, InboxError> {
        self.keyring.blind_index(tenant).await.map_err(|e| unknown(e, "reading the tenant's blind index"))
    }

    /// The contact's data key for sealing (cached; made on first need).
    async fn sealer(&self, tenant: &TenantId, contact: &ContactId) -> Result<DataKey, InboxError> {
        self.keyring
            .data_key(tenant, contact, Need::Seal)
            .await
            .map_err(|e| unknown(e, "reading a contact's data key"))?
            .ok_or_else(|| InboxError::Unknown(anyhow::anyhow!("no data key to seal with")))
    }

    /// Opens the sealed attributes of an item read from the table. A field whose key was
    /// destroyed (the contact was erased) is dropped: it can never be read again.
    async fn open(&self, tenant: &TenantId, mut item: Item) -> Result<Item, InboxError> {
        if !SEALED_ATTRIBUTES.iter().any(|a| matches!(item.get(*a), Some(AttributeValue::B(_)))) {
            return Ok(item);
        }
        let contact = item
            .opt_string(attr::CONTACT_ID)
            .and_then(|id| ContactId::parse(id).ok())
            .ok_or_else(|| InboxError::Unknown(anyhow::anyhow!("a sealed item names no contact")))?;
        let key = self
            .keyring
            .data_key(tenant, &contact, Need::Open)
            .await
            .map_err(|e| unknown(e, "reading a contact's data key"))?;
        for attribute in SEALED_ATTRIBUTES {
            let Some(AttributeValue::B(sealed)) = item.get(attribute) else { continue };
            let opened = key.as_ref().and_then(|key| key.open(attribute, sealed.as_ref()));
            match opened.map(|plain| String::from_utf8(plain.expose().to_vec())) {
                Some(Ok(text)) => {
                    item.insert(attribute.to_owned(), s(text));
                }
                _ => {
                    // Sealed under a key that no longer exists (erased, then written to again).
                    tracing::warn!(attribute, "A sealed field no longer opens; it reads as absent");
                    item.remove(attribute);
                }
            }
        }
        Ok(item)
    }

    /// Opens a page of items, up to [`OPEN_CONCURRENCY`] at once (a cold page of contacts
    /// waits for one round of key reads, not one per contact), in order.
    async fn open_all(&self, tenant: &TenantId, items: Vec<Item>) -> Result<Vec<Item>, InboxError> {
        use futures::{StreamExt as _, TryStreamExt as _};
        futures::stream::iter(items.into_iter().map(|item| self.open(tenant, item)))
            .buffered(OPEN_CONCURRENCY)
            .try_collect()
            .await
    }

    /// An update that is allowed to find its condition false (a "move only forward" write).
    async fn conditional_update(
        &self,
        update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
    ) -> Result<bool, InboxError> {
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(unknown(other, "conditional update failed")),
            },
        }
    }

    /// Finds (or creates) the contact an event names, and completes its identity fields.
    async fn resolve_contact(
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
                    .get(&keys::contact_alias(tenant, kind, &hash), Self::now_filter())
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
            .get(&key, Self::now_filter())
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
                match self.table.put_new(fresh.clone(), Self::now_filter()).await {
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
                        .get(&key, Self::now_filter())
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
    async fn count_contacts(&self, tenant: &TenantId, delta: i64) -> Result<(), InboxError> {
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
    async fn complete_identity(
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
            match self.table.put_new(alias, Self::now_filter()).await {
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

    /// The contact's open conversation, created on first need.
    async fn ensure_conversation(
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
                .get(&keys::conversation(tenant, id), Self::now_filter())
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
        conversation.insert(attr::STATE.to_owned(), s("open"));
        conversation.insert(attr::STARTED_AT.to_owned(), n(at.as_millis()));
        conversation.insert(attr::LAST_MESSAGE_AT.to_owned(), n(at.as_millis()));
        conversation.insert(GSI1PK.to_owned(), s(keys::contact_index_partition(tenant, contact_id)));
        conversation.insert(GSI1SK.to_owned(), s(keys::contact_index_conversation(at, &conversation_id)));
        let put = self.table.put_if_absent(conversation)?;
        let result = self
            .table
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(link).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
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
                    .get(&contact_key, Self::now_filter())
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

    /// Moves the contact's and the conversation's "latest" fields forward to `at`.
    async fn touch(
        &self,
        tenant: &TenantId,
        contact_id: &ContactId,
        contact: &Item,
        conversation: &ConversationId,
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
        self.conditional_update(
            client
                .update_item()
                .table_name(self.table.name())
                .set_key(Some(key_attributes(&keys::conversation(tenant, conversation))))
                .update_expression("SET #last = :at")
                .condition_expression("attribute_exists(#pk) AND #last < :at")
                .expression_attribute_names("#last", attr::LAST_MESSAGE_AT)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":at", n(at.as_millis())),
        )
        .await?;
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
    async fn queue_due(
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

    /// Writes a message and its `WAMID#` record together, once. `Duplicate` when the record exists.
    /// Moves a message's current status to `status` if that is forward (statuses only move up;
    /// `failed` and `blocked` are final); `false` when it was not.
    async fn move_status(
        &self,
        key: &Key,
        status: MessageStatus,
        at: Timestamp,
        error: Option<&MetaError>,
    ) -> Result<bool, InboxError> {
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
        self.conditional_update(update.update_expression(expression)).await
    }

    /// Adds a status to a message's history (each status once, with its own time) and moves the
    /// message forward to it.
    async fn record_status(
        &self,
        target: &Key,
        change: &StatusChange<'_>,
    ) -> Result<StatusOutcome, InboxError> {
        self.table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(target)))
            .update_expression("SET #h.#name = if_not_exists(#h.#name, :at)")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#h", attr::STATUSES)
            .expression_attribute_names("#name", change.meta_status)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":at", n(change.at.as_millis()))
            .send()
            .await
            .map_err(|e| unknown(e, "recording status history"))?;
        let applied = self.move_status(target, change.status, change.at, change.error).await?;
        Ok(if applied { StatusOutcome::Applied } else { StatusOutcome::Stale })
    }

    /// The message Leadline sent that a status is about: by the callback data the send set, or
    /// by its wamid among the recent messages of the recipient's current conversation. `None`
    /// for a message Leadline has no record of yet (reads only).
    async fn sent_message(
        &self,
        tenant: &TenantId,
        change: &StatusChange<'_>,
    ) -> Result<Option<Key>, InboxError> {
        if let Some(id) = change.callback.and_then(message_of_callback) {
            if let Some(key) = self.outbound_key(tenant, &id).await? {
                return Ok(Some(key));
            }
        }
        let Some(first) = change.recipient.keys().into_iter().next() else { return Ok(None) };
        let contact_id = self.index(tenant).await?.contact_id(&first).map_err(anyhow::Error::from)?;
        let contact = self
            .table
            .get(&keys::contact(tenant, &contact_id), Self::now_filter())
            .await
            .map_err(|e| unknown(e, "reading a contact"))?;
        let Some(conversation) = contact
            .as_ref()
            .and_then(|c| c.opt_string(attr::CONVERSATION_ID))
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

    /// The first of a conversation's messages, walked newest first within `scan` and kept by
    /// `filter` (expression, the attribute `#a` it names, the value `:v` if it uses one), that
    /// `pick` maps.
    async fn newest_message<T>(
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

    /// The live item at `key`, mapped; `None` when absent or expired.
    async fn read_one<T>(
        &self,
        tenant: &TenantId,
        key: &Key,
        map: fn(&Item) -> anyhow::Result<T>,
        what: &'static str,
    ) -> Result<Option<T>, InboxError> {
        match self.table.get(key, Self::now_filter()).await.map_err(|e| unknown(e, what))? {
            Some(item) => map(&self.open(tenant, item).await?).map(Some).map_err(|e| unknown(e, what)),
            None => Ok(None),
        }
    }

    /// Opens and maps a page of items.
    async fn page_of<T>(
        &self,
        tenant: &TenantId,
        page: super::table::Page,
        map: fn(&Item) -> anyhow::Result<T>,
    ) -> Result<Page<T>, InboxError> {
        let items = self
            .open_all(tenant, page.items)
            .await?
            .iter()
            .map(map)
            .collect::<anyhow::Result<Vec<T>>>()
            .map_err(|e| unknown(e, "mapping items"))?;
        Ok(Page { items, next: page.next })
    }

    /// Where an outbound message is, from its lookup record.
    async fn outbound_key(&self, tenant: &TenantId, id: &MessageId) -> Result<Option<Key>, InboxError> {
        let lookup = self
            .table
            .get(&keys::outbound(tenant, id), Self::now_filter())
            .await
            .map_err(|e| unknown(e, "reading an outbound lookup"))?;
        Ok(lookup
            .as_ref()
            .and_then(|l| l.opt_string(attr::MESSAGE_SK))
            .map(|sk| Key { pk: keys::tenant_partition(tenant), sk: sk.to_owned() }))
    }

    /// A status webhook came before `mark_sent` and made a placeholder message for the wamid:
    /// its statuses move to the real message, the placeholder goes, and the wamid record points
    /// at the real message.
    async fn adopt_early_statuses(
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

    async fn put_message_once(&self, wamid_record: Item, message: Item) -> Result<Stored, InboxError> {
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

/// The fields of a new message record.
struct MessageRecord<'a> {
    key: &'a Key,
    id: &'a MessageId,
    conversation: &'a ConversationId,
    contact: &'a ContactId,
    direction: &'static str,
    kind: &'a str,
    sent_at: Timestamp,
    status: MessageStatus,
}

impl MessageRecord<'_> {
    fn into_item(self) -> Item {
        let mut item = item_with_key(self.key);
        item.insert(ENTITY.to_owned(), s("message"));
        item.insert(attr::MESSAGE_ID.to_owned(), s(self.id.as_str()));
        item.insert(attr::CONVERSATION_ID.to_owned(), s(self.conversation.as_str()));
        item.insert(attr::CONTACT_ID.to_owned(), s(self.contact.as_str()));
        item.insert(attr::DIRECTION.to_owned(), s(self.direction));
        item.insert(attr::MESSAGE_TYPE.to_owned(), s(self.kind));
        item.insert(attr::SENT_AT.to_owned(), n(self.sent_at.as_millis()));
        item.insert(attr::MESSAGE_STATUS.to_owned(), s(self.status.as_str()));
        item.insert(attr::STATUS_RANK.to_owned(), n(self.status.rank()));
        item.insert(attr::STATUS_AT.to_owned(), n(self.sent_at.as_millis()));
        item.insert(attr::STATUSES.to_owned(), AttributeValue::M(HashMap::new()));
        item
    }
}

fn wamid_item(key: &Key, wamid: &str) -> Item {
    let mut item = item_with_key(key);
    item.insert(ENTITY.to_owned(), s("wamid"));
    item.insert(attr::WAMID.to_owned(), s(wamid));
    item
}

fn contact_view(item: &Item) -> anyhow::Result<ContactView> {
    let consent = match (item.opt_string(attr::CONSENT_STATE), item.opt_string(attr::CONSENT_SOURCE)) {
        (Some(state), Some(source)) => Some(ConsentState {
            state: consent_kind(state).context("unknown consent state")?,
            source: consent_source(source).context("unknown consent source")?,
            at: item.number(attr::CONSENT_AT)?,
        }),
        _ => None,
    };
    Ok(ContactView {
        id: ContactId::parse(item.string(attr::CONTACT_ID)?)?,
        phone: optional_string(item, attr::PHONE),
        user_id: optional_string(item, attr::USER_ID),
        email: optional_string(item, attr::EMAIL),
        name: optional_string(item, attr::NAME),
        first_seen_at: item.number(attr::FIRST_SEEN_AT)?,
        last_seen_at: item.number(attr::LAST_SEEN_AT)?,
        last_inbound_at: item.opt_number(attr::LAST_INBOUND_AT)?,
        service_window_until: item.opt_number(attr::WINDOW_UNTIL)?,
        consent,
        restricted_at: item.opt_number(attr::RESTRICTED_AT)?,
        conversation_id: item.opt_string(attr::CONVERSATION_ID).map(ConversationId::parse).transpose()?,
        tags: match item.get(attr::TAGS) {
            Some(AttributeValue::Ss(tags)) => {
                let mut tags = tags.clone();
                tags.sort();
                tags
            }
            _ => Vec::new(),
        },
        attributes: item
            .opt_string(attr::ATTRIBUTES)
            .map(serde_json::from_str)
            .transpose()?
            .unwrap_or_default(),
        updated_at: item.opt_number(attr::UPDATED_AT)?,
    })
}

fn conversation_view(item: &Item) -> anyhow::Result<ConversationView> {
    Ok(ConversationView {
        id: ConversationId::parse(item.string(attr::CONVERSATION_ID)?)?,
        contact_id: ContactId::parse(item.string(attr::CONTACT_ID)?)?,
        state: item.string(attr::STATE)?.to_owned(),
        started_at: item.number(attr::STARTED_AT)?,
        last_message_at: item.number(attr::LAST_MESSAGE_AT)?,
        assignee: item.opt_string(attr::ASSIGNEE).map(UserId::parse).transpose()?,
        queue: optional_string(item, attr::QUEUE),
        updated_at: item
            .opt_number::<i64>(attr::UPDATED_AT)?
            .unwrap_or_default()
            .max(item.number(attr::LAST_MESSAGE_AT)?),
    })
}

fn message_view(item: &Item) -> anyhow::Result<MessageView> {
    let statuses: BTreeMap<String, i64> = match item.get(attr::STATUSES) {
        Some(AttributeValue::M(map)) => map
            .iter()
            .filter_map(|(k, v)| match v {
                AttributeValue::N(at) => at.parse().ok().map(|at| (k.clone(), at)),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    Ok(MessageView {
        id: MessageId::parse(item.string(attr::MESSAGE_ID)?)?,
        conversation_id: ConversationId::parse(item.string(attr::CONVERSATION_ID)?)?,
        wamid: optional_string(item, attr::WAMID),
        direction: item.string(attr::DIRECTION)?.to_owned(),
        kind: item.string(attr::MESSAGE_TYPE)?.to_owned(),
        timestamp: item.number(attr::SENT_AT)?,
        status: MessageStatus::parse(item.string(attr::MESSAGE_STATUS)?).context("unknown message status")?,
        statuses,
        error: item.opt_string(attr::ERROR).map(serde_json::from_str::<MetaError>).transpose()?,
        payload: item.opt_string(attr::RAW).map(serde_json::from_str).transpose()?,
        content_sanitized_at: item.opt_number(attr::SANITIZED_AT)?,
    })
}

fn lead_view(item: &Item) -> anyhow::Result<LeadView> {
    let received_at = item.number(attr::RECEIVED_AT)?;
    Ok(LeadView {
        id: item.string(attr::LEADGEN_ID)?.to_owned(),
        page_id: optional_string(item, attr::PAGE_ID),
        contact_id: ContactId::parse(item.string(attr::CONTACT_ID)?)?,
        lead: serde_json::from_str(item.string(attr::LEAD)?)?,
        source: serde_json::from_str(item.string(attr::LEAD_SOURCE)?)?,
        origin: item.opt_string(attr::ORIGIN).map(serde_json::from_str).transpose()?.unwrap_or_default(),
        stage: match item.opt_string(attr::STAGE) {
            Some(stage) => LeadStage::parse(stage).context("unknown lead stage")?,
            None => LeadStage::New,
        },
        owner: item.opt_string(attr::OWNER).map(UserId::parse).transpose()?,
        received_at,
        updated_at: item.opt_number(attr::UPDATED_AT)?.unwrap_or(received_at),
    })
}

/// Refuses a cursor that this listing did not produce (the partition is always the caller's;
/// this keeps a cursor from jumping into another kind of item).
fn checked<'a>(after: Option<&'a str>, prefixes: &[&str]) -> Result<Option<&'a str>, InboxError> {
    match after {
        None => Ok(None),
        Some(cursor) => {
            let mut parts = cursor.split('\n');
            let ok = prefixes.iter().all(|prefix| parts.next().is_some_and(|part| part.starts_with(prefix)))
                && parts.next().is_none();
            if ok {
                Ok(Some(cursor))
            } else {
                Err(InboxError::InvalidCursor)
            }
        }
    }
}

impl InboxStore for DynamoInbox {
    async fn store_inbound_message(
        &self,
        tenant: &TenantId,
        message: &NewInboundMessage<'_>,
        now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let at = message.sent_at;
        let (contact_id, contact, _) = self.resolve_contact(tenant, message.from, at).await?;
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
        self.touch(tenant, &contact_id, &contact, &conversation, at, Some(message.from)).await?;
        self.stamp_expiry(tenant, &conversation, now, message.retention).await?;
        let sanitize_at =
            now.plus(std::time::Duration::from_secs(u64::from(message.retention.content_days) * 86_400));
        self.queue_due(DayQueue::Sanitize, tenant, &conversation, sanitize_at, i64::MIN).await?;
        Ok(stored)
    }

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
            .get(&contact_key, Self::now_filter())
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
        self.put_message_once(lookup, item).await?;
        self.touch(tenant, message.contact, &contact, &conversation, at, None).await?;
        self.stamp_expiry(tenant, &conversation, now, message.retention).await?;
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
                "attribute_exists(#pk) AND #status = :queued AND (attribute_not_exists(#until) OR #until < :now)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#status", attr::MESSAGE_STATUS)
            .expression_attribute_names("#until", attr::SENDING_UNTIL)
            .expression_attribute_values(":queued", s(MessageStatus::Queued.as_str()))
            .expression_attribute_values(":until", n(until.as_millis()))
            .expression_attribute_values(":now", n(now.as_millis()))
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
                        Some(item) => OutboundClaim::Held(Timestamp::from_millis(
                            item.opt_number::<i64>(attr::SENDING_UNTIL).ok().flatten().unwrap_or(0),
                        )),
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
                .get(&record_key, Self::now_filter())
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
            .get(&record_key, Self::now_filter())
            .await
            .map_err(|e| unknown(e, "reading a wamid"))?;
        if record.is_none() {
            // A status for a message Leadline has no record of (sent before, or by another app of
            // the same WABA): keep it, in the recipient's conversation when Meta names them.
            let mut fresh = wamid_item(&record_key, change.wamid.as_str());
            let stored = if change.recipient.keys().is_empty() {
                fresh.insert(attr::MESSAGE_STATUS.to_owned(), s(MessageStatus::Queued.as_str()));
                fresh.insert(attr::STATUS_RANK.to_owned(), n(0));
                fresh.insert(attr::STATUSES.to_owned(), AttributeValue::M(HashMap::new()));
                match self.table.put_new(fresh, Self::now_filter()).await {
                    Ok(()) => Stored::Created,
                    Err(PutNewError::AlreadyExists) => Stored::Duplicate,
                    Err(PutNewError::Unknown(e)) => return Err(unknown(e, "recording a wamid")),
                }
            } else {
                let (contact_id, contact, _) =
                    self.resolve_contact(tenant, change.recipient, change.at).await?;
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
                self.touch(tenant, &contact_id, &contact, &conversation, change.at, None).await?;
                self.stamp_expiry(tenant, &conversation, now, change.retention).await?;
                stored
            };
            tracing::debug!(?stored, "Status for a wamid without a record");
            record = self
                .table
                .get(&record_key, Self::now_filter())
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
        match self.table.put_new(event, Self::now_filter()).await {
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
            let month = Self::now_filter().utc_month();
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

    async fn lead_exists(&self, tenant: &TenantId, leadgen_id: &str) -> Result<bool, InboxError> {
        let item = self
            .table
            .get(&keys::lead(tenant, leadgen_id), Self::now_filter())
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
        let (contact_id, contact, _) = self.resolve_contact(tenant, lead.contact, now).await?;
        let mut item = item_with_key(&keys::lead(tenant, lead.leadgen_id));
        item.insert(ENTITY.to_owned(), s("lead"));
        item.insert(attr::LEADGEN_ID.to_owned(), s(lead.leadgen_id));
        item.insert(attr::PAGE_ID.to_owned(), s(lead.page_id));
        item.insert(attr::CONTACT_ID.to_owned(), s(contact_id.as_str()));
        item.insert(
            attr::LEAD.to_owned(),
            sealed(&self.sealer(tenant, &contact_id).await?, attr::LEAD, lead.lead_json)?,
        );
        item.insert(attr::LEAD_SOURCE.to_owned(), s(lead.change_json));
        item.insert(attr::RECEIVED_AT.to_owned(), n(now.as_millis()));
        item.insert(GSI1PK.to_owned(), s(keys::contact_index_partition(tenant, &contact_id)));
        item.insert(GSI1SK.to_owned(), s(keys::contact_index_lead(now, lead.leadgen_id)));
        let stored = match self.table.put_new(item, Self::now_filter()).await {
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

    async fn contact_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<ContactView>, InboxError> {
        let hash = self.index(tenant).await?.hash("email", email);
        let alias = self
            .table
            .get(&keys::contact_alias(tenant, "email", &hash), Self::now_filter())
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
                    match self.table.put_new(alias, Self::now_filter()).await {
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
            .get(&keys::usage(tenant), Self::now_filter())
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

    async fn update_conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        patch: &ConversationPatch,
        at: Timestamp,
    ) -> Result<Option<ConversationView>, InboxError> {
        if self.conversation(tenant, id).await?.is_none() {
            return Ok(None);
        }
        let mut update = Assignments::default();
        update.set(attr::UPDATED_AT, n(at.as_millis()));
        if let Some(state) = &patch.state {
            update.set(attr::STATE, s(state));
        }
        if let Some(assignee) = &patch.assignee {
            update.set_or_remove(attr::ASSIGNEE, assignee.as_ref().map(|a| s(a.as_str())));
        }
        if let Some(queue) = &patch.queue {
            update.set_or_remove(attr::QUEUE, queue.as_ref().map(s));
        }
        let item = self.apply(&keys::conversation(tenant, id), update).await?;
        item.map(|i| conversation_view(&i)).transpose().map_err(|e| unknown(e, "mapping a conversation"))
    }

    async fn create_lead(&self, tenant: &TenantId, lead: &NewManualLead<'_>) -> Result<LeadView, InboxError> {
        let (contact_id, _, _) = self.resolve_contact(tenant, lead.contact, lead.at).await?;
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
        self.table.put_new(item, Self::now_filter()).await.map_err(|e| unknown(e, "storing a lead"))?;
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
                Self::now_filter(),
                i32::from(limit),
                after,
            )
            .await
            .map_err(|e| unknown(e, "listing messages"))?;
        self.page_of(tenant, page, message_view).await
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
                Self::now_filter(),
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
                    Self::now_filter(),
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
        let now = Self::now_filter();
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
        if item.as_ref().is_some_and(|i| !super::table::is_expired(i, now)) {
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
        self.remove_conversation(tenant, conversation, item.as_ref(), Self::now_filter(), budget).await
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
        let (plan, counts) = self.erasure_plan(tenant, contact, budget).await?;
        self.table.delete_many(&plan).await.map_err(|e| unknown(e, "erasing"))?;
        if counts.contacts > 0 {
            self.count_contacts(tenant, -i64::try_from(counts.contacts).unwrap_or(0)).await?;
        }
        Ok(counts)
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

/// The table key an index item belongs to (GSI1 projects every attribute, keys included).
fn table_key(item: &Item) -> Option<Key> {
    Some(Key { pk: item.opt_string(PK)?.to_owned(), sk: item.opt_string(SK)?.to_owned() })
}

impl DynamoInbox {
    /// Deletes up to `budget` of a conversation's messages, then (once none is left) the
    /// conversation itself (`item`, if it still exists) and its contact's link to it.
    async fn remove_conversation(
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
        if finished && item.is_some() {
            plan.push(key);
            counts.conversations += 1;
        }
        self.table.delete_many(&plan).await.map_err(|e| unknown(e, "deleting a conversation"))?;
        if !finished {
            return Ok(Expiry::Partial(counts));
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

    /// Everything of a contact to delete, children first, at most `budget` keys, by kind.
    async fn erasure_plan(
        &self,
        tenant: &TenantId,
        contact_id: &ContactId,
        budget: usize,
    ) -> Result<(Vec<Key>, ErasureCounts), InboxError> {
        let now = Self::now_filter();
        let partition = keys::tenant_partition(tenant);
        let index = keys::contact_index_partition(tenant, contact_id);
        let mut plan: Vec<Key> = Vec::new();
        let mut counts = ErasureCounts::default();
        let full = |plan: &Vec<Key>| plan.len() >= budget;
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
                if full(&plan) {
                    return Ok((plan, counts));
                }
                plan_message(tenant, message, &mut plan, &mut counts);
            }
            if messages.next.is_some() || full(&plan) {
                return Ok((plan, counts));
            }
            let suggestions = self
                .table
                .query_prefix(&partition, &keys::suggestions_prefix(&id), now, 100, None)
                .await
                .map_err(fail)?;
            if !plan_all(&suggestions.items, &mut plan, &mut counts.ai_suggestions, budget)
                || suggestions.next.is_some()
                || full(&plan)
            {
                return Ok((plan, counts));
            }
            if let Some(key) = table_key(conversation) {
                plan.push(key);
                counts.conversations += 1;
            }
        }
        let leads = self
            .table
            .query_gsi1_prefix(&partition, &index, keys::LEAD_PREFIX, now, 100, None)
            .await
            .map_err(fail)?;
        if !plan_all(&leads.items, &mut plan, &mut counts.leads, budget) {
            return Ok((plan, counts));
        }
        let consent = self
            .table
            .query_prefix(&partition, &keys::consent_prefix(contact_id), now, 100, None)
            .await
            .map_err(fail)?;
        if !plan_all(&consent.items, &mut plan, &mut counts.consent_events, budget) {
            return Ok((plan, counts));
        }
        let records = self
            .table
            .query_prefix(&partition, &keys::crm_prefix(contact_id), now, 100, None)
            .await
            .map_err(fail)?;
        if !plan_all(&records.items, &mut plan, &mut counts.records, budget) {
            return Ok((plan, counts));
        }
        if conversations.next.is_some()
            || leads.next.is_some()
            || consent.next.is_some()
            || records.next.is_some()
            || full(&plan)
        {
            return Ok((plan, counts));
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
                    plan.push(alias);
                    counts.contact_aliases += 1;
                }
            }
            plan.push(contact_key);
            counts.contacts += 1;
        }
        Ok((plan, counts))
    }

    /// As [`DynamoInbox::list`], keeping only what `keep` accepts: reads on (asking for no more
    /// than is still missing, so a page never overshoots its cursor) until the page is full, the
    /// family is exhausted or [`FILTER_SCAN_BUDGET`] items were examined (then the page is short
    /// and `next` continues the scan).
    async fn list_filtered<T>(
        &self,
        tenant: &TenantId,
        contact: Option<&ContactId>,
        prefix: &str,
        (after, limit): (Option<&str>, u16),
        map: fn(&Item) -> anyhow::Result<T>,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Page<T>, InboxError> {
        let mut items = Vec::new();
        let mut cursor = after.map(str::to_owned);
        let mut examined = 0;
        loop {
            let missing = limit.saturating_sub(u16::try_from(items.len()).unwrap_or(u16::MAX)).max(1);
            let page = self.list(tenant, contact, prefix, cursor.as_deref(), missing).await?;
            examined += page.items.len().max(1);
            for item in &self.open_all(tenant, page.items).await? {
                let value = map(item).map_err(|e| unknown(e, "mapping items"))?;
                if keep(&value) {
                    items.push(value);
                }
            }
            cursor = page.next;
            if cursor.is_none() || items.len() >= usize::from(limit) || examined >= FILTER_SCAN_BUDGET {
                return Ok(Page { items, next: cursor });
            }
        }
    }

    /// Keeps a contact's list of its lookup entries (what erasure deletes) in step with them.
    async fn move_aliases(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        added: Vec<String>,
        removed: Vec<String>,
    ) -> Result<(), InboxError> {
        let mut update = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::contact(tenant, contact))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#aliases", attr::ALIAS_KEYS);
        let mut clauses = Vec::new();
        if !added.is_empty() {
            clauses.push("ADD #aliases :added");
            update = update.expression_attribute_values(":added", AttributeValue::Ss(added));
        }
        if !removed.is_empty() {
            clauses.push("DELETE #aliases :removed");
            update = update.expression_attribute_values(":removed", AttributeValue::Ss(removed));
        }
        if clauses.is_empty() {
            return Ok(());
        }
        self.conditional_update(update.update_expression(clauses.join(" "))).await.map(|_| ())
    }

    /// Applies `update` to the live item at `key`, returning it as it is now; `None` when there
    /// is no such item.
    async fn apply(&self, key: &Key, update: Assignments) -> Result<Option<Item>, InboxError> {
        let mut request = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(key)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        for (i, (name, value)) in update.0.into_iter().enumerate() {
            request = request.expression_attribute_names(format!("#a{i}"), name);
            match value {
                Some(value) => {
                    sets.push(format!("#a{i} = :v{i}"));
                    request = request.expression_attribute_values(format!(":v{i}"), value);
                }
                None => removes.push(format!("#a{i}")),
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        match request.update_expression(expression).send().await {
            Ok(output) => Ok(output.attributes),
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(None),
                other => Err(unknown(other, "updating an item")),
            },
        }
    }

    /// A page of one item family (`prefix`): the whole tenant's from the table, or one
    /// contact's from its GSI1 partition.
    async fn list(
        &self,
        tenant: &TenantId,
        contact: Option<&ContactId>,
        prefix: &str,
        after: Option<&str>,
        limit: u16,
    ) -> Result<super::table::Page, InboxError> {
        let partition = keys::tenant_partition(tenant);
        let now = Self::now_filter();
        let limit = i32::from(limit);
        match contact {
            None => {
                let after = checked(after, &[prefix])?;
                self.table.query_prefix(&partition, prefix, now, limit, after).await
            }
            Some(contact) => {
                let after = checked(after, &[prefix, prefix])?;
                let index = keys::contact_index_partition(tenant, contact);
                self.table.query_gsi1_prefix(&partition, &index, prefix, now, limit, after).await
            }
        }
        .map_err(|e| unknown(e, "listing"))
    }
}
