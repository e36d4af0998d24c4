//! The inbox's ports on the single table, one file per port ([`contacts`], [`conversations`],
//! [`ingest`], [`outbound`], [`leads`], [`lifecycle`]); this module holds what they share:
//! sealing, conditional writes, paging.
//!
//! Exactly-once by construction:
//! - an inbound message is written in one transaction with its `WAMID#` record, conditional on
//!   that record not existing, so a redelivery writes nothing;
//! - contact and conversation "latest" fields move only forward (conditional updates), first-seen
//!   only backward, so replays and out-of-order arrivals end in the same state;
//! - a status moves the message's `status_rank` only upward; its history map records each status
//!   once (`if_not_exists`);
//! - consent events and leads are conditional puts keyed by their cause.

mod center;
mod contacts;
mod conversations;
mod disconnect;
mod ingest;
mod leads;
mod lifecycle;
mod outbound;
mod resolve;
mod suggestions;
mod timers;
mod views;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context as _;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::item::{b, item_with_key, key_attributes, n, s, Item, ItemExt};
use super::keys::{self, attr, Key, ENTITY, EXPIRES_AT, GSI1PK, GSI1SK, PK, SK, VERSION};
use super::table::{PutNewError, Table};
use crate::adapters::kms::keyring::{DataKey, Need};
use crate::adapters::kms::Keyring;
use crate::domain::inbox::{
    consent_change_refused, epoch_day, ConsentChange, ConsentEventView, ConsentKind, ConsentRefusal,
    ConsentSource, ConsentState, ContactFilter, ContactKey, ContactOrigin, ContactPatch, ContactProfile,
    ContactView, ConversationFilter, ConversationPatch, ConversationState, ConversationView, Expiry,
    InboxError, LeadFilter, LeadPatch, LeadStage, LeadView, MessageStatus, MessageView, NewInboundMessage,
    NewLead, NewManualLead, NewOutboundMessage, OutboundClaim, StatusChange, StatusOutcome, Stored, Unsent,
    UpdateConversationError, SERVICE_WINDOW,
};

use crate::domain::inbox::{
    ContactStore, ConversationStore, IngestStore, LeadStore, LifecycleStore, OutboundStore,
};
use crate::domain::outbound::message_of_callback;
use crate::kernel::Page;
use views::{contact_view, conversation_view, lead_view, message_view, wamid_item, MessageRecord};

use crate::domain::privacy::{DayQueue, ErasureCounts, Integration};
use crate::domain::tenant::RetentionSettings;
use crate::domain::whatsapp::MetaError;
use crate::domain::{
    BlindIndex, ContactId, ConversationId, ExpiresAt, MessageId, PhoneNumber, QueueId, TenantId, Timestamp,
    UserId, Wamid,
};

/// The inbox's ports ([`ContactStore`], [`ConversationStore`], [`IngestStore`], [`OutboundStore`],
/// [`LeadStore`], [`LifecycleStore`]) on DynamoDB.
///
/// Personal data is sealed here, below the domain (P64): contact ids and lookup entries are
/// keyed hashes under the tenant's blind index, and the attributes of [`SEALED_ATTRIBUTES`] are
/// stored as binary AES-256-GCM ciphertext under the contact's data key ([`Keyring`]). Reads
/// open them again; a field whose key was destroyed reads as absent.
#[derive(Debug, Clone)]
pub struct DynamoInbox {
    table: Table,
    keyring: Arc<Keyring>,
    /// Where an outbound message id's message is (its key), as this instance last found or
    /// stored it: the mapping never changes (a message id is never reused), so an entry can only
    /// go stale by the message's deletion, which every read and conditional write then finds.
    /// Keyed by tenant and id; only found keys are kept (issue #19: one lookup per message per
    /// instance instead of one per operation).
    outbound_keys: Arc<crate::kernel::TtlCache<(TenantId, MessageId), Key>>,
}

/// How long an outbound message's key is kept, and how many (the operations on one message
/// follow each other within seconds).
const OUTBOUND_KEYS: (std::time::Duration, usize) = (std::time::Duration::from_secs(60), 4096);

impl DynamoInbox {
    /// The inbox on `table`, sealing with `keyring`.
    #[must_use]
    pub fn new(table: Table, keyring: Arc<Keyring>) -> Self {
        let outbound_keys = Arc::new(crate::kernel::TtlCache::new(OUTBOUND_KEYS.0, OUTBOUND_KEYS.1));
        Self { table, keyring, outbound_keys }
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

/// The contact's current consent state as stored on it (sealed or opened: it is never sealed).
fn stored_consent(contact: &Item) -> Option<ConsentState> {
    Some(ConsentState {
        state: consent_kind(contact.opt_string(attr::CONSENT_STATE)?)?,
        source: consent_source(contact.opt_string(attr::CONSENT_SOURCE)?)?,
        at: contact.opt_number::<i64>(attr::CONSENT_AT).ok().flatten()?,
    })
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
    /// The instant expiry filters and time stamps use: the table's clock.
    fn now_filter(&self) -> Timestamp {
        self.table.now()
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

    /// The live item at `key`, mapped; `None` when absent or expired.
    async fn read_one<T>(
        &self,
        tenant: &TenantId,
        key: &Key,
        map: fn(&Item) -> anyhow::Result<T>,
        what: &'static str,
    ) -> Result<Option<T>, InboxError> {
        match self.table.get(key, self.now_filter()).await.map_err(|e| unknown(e, what))? {
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

/// The table key an index item belongs to (GSI1 projects every attribute, keys included).
fn table_key(item: &Item) -> Option<Key> {
    Some(Key { pk: item.opt_string(PK)?.to_owned(), sk: item.opt_string(SK)?.to_owned() })
}

impl DynamoInbox {
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
            // DynamoDB's `Limit` counts the items a query evaluates, before the expiry filter
            // drops expired ones: a page cut short by the limit evaluated all `missing` of them,
            // however few it returns (expired items that TTL has not removed yet cost work too).
            examined += if page.next.is_some() { usize::from(missing) } else { page.items.len().max(1) };
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
        let now = self.now_filter();
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
