//! Document repositories: users, sessions, login counters, audit entries, contact records and
//! activities, request counters, contact-center queues. Each is stored as one item holding its JSON (`doc`), with the
//! key from [`keys`] and a version for optimistic updates.
//!
//! The repositories are written once, over the small [`DocTable`] interface, which DynamoDB's
//! [`Table`] implements here and an in-memory table implements in `crate::testing`. Unit tests
//! therefore run the very code that production runs (the same keys, conditions and paging), and
//! only the storage underneath differs; the integration tests run it against DynamoDB (moto).

use std::future::Future;

use anyhow::Context as _;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, ReturnValue, TransactWriteItem};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::dynamo::item::{item_with_key, key_attributes, n, s, Item, ItemExt};
use super::dynamo::keys::{self, Key, DOC, ENTITY, EXPIRES_AT, PK, VERSION};
use super::dynamo::Table;
use crate::domain::audit::{
    AuditEntry, AuditError, AuditFilter, AuditLog, ANONYMIZED, AUDIT_RETENTION_DAYS, PERSON_TARGET_DAYS,
    PERSON_TARGET_KINDS,
};
use crate::domain::crm::{Activity, ContactRecord, RecordError, RecordKind, RecordStore};
use crate::domain::identity::{
    login_window, CreateUserError, Directory, DirectoryError, LoginClaim, Session, UpdateError, User,
    UserStatus, Versioned, LOGIN_ATTEMPTS_ALLOWED,
};
use crate::domain::outbound::{QualityError, QualityMeter, Template, TemplateError, TemplateStore};
use crate::domain::ports::{Admission, RateLimitError, RateLimiter};
use crate::domain::{AuditId, ContactId, ExpiresAt, RecordId, SessionId, TenantId, Timestamp, UserId};
use crate::kernel::Page;

mod audit;
mod canned;
mod directory;
mod events;
mod flows;
mod imports;
mod limits;
mod live;
mod queues;
mod records;
mod sending;
pub use audit::DocAuditLog;
pub use canned::{DocCanned, DocReadMarks};
pub use directory::DocDirectory;
pub use events::DocEventLog;
pub use flows::DocFlows;
pub use imports::DocImports;
pub use limits::DocRateLimiter;
pub use live::DocLiveConnections;
pub use queues::DocQueues;
pub use records::DocRecords;
pub use sending::{DocQuality, DocTemplates};

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDoc {
    /// Its sort key (the cursor of a listing).
    pub sk: String,
    /// Its JSON.
    pub body: String,
    /// Its version.
    pub version: u64,
}

/// What must hold for a write to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Nothing.
    None,
    /// No item has the key.
    Absent,
    /// No live item has the key: an expired one that TTL has not removed yet is replaced.
    AbsentOrExpired,
    /// The item exists at this version.
    Version(u64),
}

/// One write of an atomic group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocWrite {
    /// Store `body` at `key` (version: the expected one + 1, or 1).
    Put {
        /// Where.
        key: Key,
        /// The kind of item, for exports and debugging.
        entity: &'static str,
        /// The JSON.
        body: String,
        /// When storage may delete it.
        expires_at: Option<ExpiresAt>,
        /// What must hold.
        precondition: Precondition,
    },
    /// Remove the item at `key`.
    Delete {
        /// Where.
        key: Key,
        /// What must hold.
        precondition: Precondition,
    },
}

/// Errors of [`DocTable::write_docs`].
#[derive(Debug, thiserror::Error)]
pub enum DocWriteError {
    /// The precondition of the write at `index` did not hold; nothing was written.
    #[error("precondition of write {index} failed")]
    Conflict {
        /// Which write.
        index: usize,
    },
    /// The store failed; nothing was written.
    #[error("document write failed")]
    Unknown(#[from] anyhow::Error),
}

/// The storage the document repositories need.
pub trait DocTable: Clone + Send + Sync {
    /// The current instant by the store's clock (handed in at construction): what the
    /// repositories filter expired documents by.
    fn now(&self) -> Timestamp;

    /// The live document at `key`.
    ///
    /// # Errors
    /// When the store fails or holds something that is not a document.
    fn get_doc(
        &self,
        key: &Key,
        now: Timestamp,
    ) -> impl Future<Output = anyhow::Result<Option<StoredDoc>>> + Send;

    /// Live documents of partition `pk` whose sort key starts with `prefix`, `limit` at most,
    /// strictly after the sort key `after` in the direction of the listing (`forward`:
    /// ascending). Returns the page and the sort key to continue after, when there may be more.
    ///
    /// # Errors
    /// When the store fails.
    fn query_docs(
        &self,
        pk: &str,
        prefix: &str,
        after: Option<&str>,
        order: (u16, bool),
        now: Timestamp,
    ) -> impl Future<Output = anyhow::Result<(Vec<StoredDoc>, Option<String>)>> + Send;

    /// Applies every write or none.
    ///
    /// # Errors
    /// [`DocWriteError::Conflict`] naming the first failed precondition; [`DocWriteError::Unknown`].
    fn write_docs(
        &self,
        writes: Vec<DocWrite>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), DocWriteError>> + Send;

    /// Adds one to the counter at `key` (created at zero, expiring at `expires_at`) and returns
    /// the new count.
    ///
    /// # Errors
    /// When the store fails.
    fn increment(&self, key: &Key, expires_at: ExpiresAt)
        -> impl Future<Output = anyhow::Result<u64>> + Send;

    /// As [`DocTable::increment`], but only while the count is below `limit`: `None` (and no
    /// change) at the limit.
    ///
    /// # Errors
    /// When the store fails.
    fn increment_within(
        &self,
        key: &Key,
        limit: u64,
        expires_at: ExpiresAt,
    ) -> impl Future<Output = anyhow::Result<Option<u64>>> + Send;

    /// The live counters of partition `pk` whose sort key starts with `prefix`, by sort key.
    ///
    /// # Errors
    /// When the store fails.
    fn counters(
        &self,
        pk: &str,
        prefix: &str,
        now: Timestamp,
    ) -> impl Future<Output = anyhow::Result<Vec<(String, u64)>>> + Send;

    /// The counter at `key` (zero when absent or expired).
    ///
    /// # Errors
    /// When the store fails.
    fn counter(&self, key: &Key, now: Timestamp) -> impl Future<Output = anyhow::Result<u64>> + Send;
}

fn doc_of(item: &Item) -> anyhow::Result<StoredDoc> {
    Ok(StoredDoc {
        sk: item.string(keys::SK)?.to_owned(),
        body: item.string(DOC)?.to_owned(),
        version: item.opt_number(VERSION)?.unwrap_or(0),
    })
}

impl Table {
    fn doc_put(
        &self,
        key: &Key,
        entity: &str,
        body: &str,
        expires_at: Option<ExpiresAt>,
        (precondition, now): (Precondition, Timestamp),
    ) -> anyhow::Result<Put> {
        let mut item = item_with_key(key);
        item.insert(ENTITY.to_owned(), s(entity));
        item.insert(DOC.to_owned(), s(body));
        let version = match precondition {
            Precondition::Version(v) => v + 1,
            Precondition::None | Precondition::Absent | Precondition::AbsentOrExpired => 1,
        };
        item.insert(VERSION.to_owned(), n(version));
        if let Some(expires_at) = expires_at {
            item.insert(EXPIRES_AT.to_owned(), n(expires_at.epoch_secs()));
        }
        let (condition, names, values) = condition(precondition, now);
        Put::builder()
            .table_name(self.name())
            .set_item(Some(item))
            .set_condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .build()
            .context("building a document put")
    }

    fn doc_delete(&self, key: &Key, precondition: Precondition, now: Timestamp) -> anyhow::Result<Delete> {
        let (condition, names, values) = condition(precondition, now);
        Delete::builder()
            .table_name(self.name())
            .set_key(Some(key_attributes(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .build()
            .context("building a document delete")
    }
}

/// The condition expression of a precondition, with its attribute names and values.
type Condition = (Option<String>, Option<std::collections::HashMap<String, String>>, Option<Item>);

fn condition(precondition: Precondition, now: Timestamp) -> Condition {
    use std::collections::HashMap;
    match precondition {
        Precondition::None => (None, None, None),
        Precondition::AbsentOrExpired => (
            Some("attribute_not_exists(#pk) OR #exp <= :now".to_owned()),
            Some(HashMap::from([
                ("#pk".to_owned(), PK.to_owned()),
                ("#exp".to_owned(), EXPIRES_AT.to_owned()),
            ])),
            Some(HashMap::from([(":now".to_owned(), n(now.as_secs()))])),
        ),
        Precondition::Absent => (
            Some("attribute_not_exists(#pk)".to_owned()),
            Some(HashMap::from([("#pk".to_owned(), PK.to_owned())])),
            None,
        ),
        Precondition::Version(v) => (
            Some("#v = :v".to_owned()),
            Some(HashMap::from([("#v".to_owned(), VERSION.to_owned())])),
            Some(HashMap::from([(":v".to_owned(), n(v))])),
        ),
    }
}

/// Every live document of partition `pk` whose sort key starts with `prefix`, in sort-key order,
/// read page by page (for the small per-tenant sets: queues, templates, flows).
///
/// # Errors
/// When the store fails.
pub async fn all_docs<T: DocTable>(table: &T, pk: &str, prefix: &str) -> anyhow::Result<Vec<StoredDoc>> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (docs, next) = table.query_docs(pk, prefix, after.as_deref(), (100, true), table.now()).await?;
        all.extend(docs);
        match next {
            Some(next) => after = Some(next),
            None => return Ok(all),
        }
    }
}

impl DocTable for Table {
    fn now(&self) -> Timestamp {
        Table::now(self)
    }

    async fn get_doc(&self, key: &Key, now: Timestamp) -> anyhow::Result<Option<StoredDoc>> {
        self.get(key, now).await?.as_ref().map(doc_of).transpose()
    }

    async fn query_docs(
        &self,
        pk: &str,
        prefix: &str,
        after: Option<&str>,
        (limit, forward): (u16, bool),
        now: Timestamp,
    ) -> anyhow::Result<(Vec<StoredDoc>, Option<String>)> {
        let page = self.query_prefix_ordered(pk, prefix, now, i32::from(limit), after, forward).await?;
        let docs = page.items.iter().map(doc_of).collect::<anyhow::Result<Vec<_>>>()?;
        Ok((docs, page.next))
    }

    async fn write_docs(&self, writes: Vec<DocWrite>, now: Timestamp) -> Result<(), DocWriteError> {
        // One write goes alone (half the cost of a transaction); more go as one transaction.
        if let [single] = writes.as_slice() {
            let result = match single {
                DocWrite::Put { key, entity, body, expires_at, precondition } => {
                    let put = self.doc_put(key, entity, body, *expires_at, (*precondition, now))?;
                    self.client()
                        .put_item()
                        .table_name(self.name())
                        .set_item(Some(put.item))
                        .set_condition_expression(put.condition_expression)
                        .set_expression_attribute_names(put.expression_attribute_names)
                        .set_expression_attribute_values(put.expression_attribute_values)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| match e.into_service_error() {
                            PutItemError::ConditionalCheckFailedException(_) => {
                                DocWriteError::Conflict { index: 0 }
                            }
                            other => {
                                DocWriteError::Unknown(anyhow::Error::new(other).context("PutItem failed"))
                            }
                        })
                }
                DocWrite::Delete { key, precondition } => {
                    let delete = self.doc_delete(key, *precondition, now)?;
                    self.client()
                        .delete_item()
                        .table_name(self.name())
                        .set_key(Some(delete.key))
                        .set_condition_expression(delete.condition_expression)
                        .set_expression_attribute_names(delete.expression_attribute_names)
                        .set_expression_attribute_values(delete.expression_attribute_values)
                        .return_values(ReturnValue::None)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| match e.into_service_error() {
                            DeleteItemError::ConditionalCheckFailedException(_) => {
                                DocWriteError::Conflict { index: 0 }
                            }
                            other => {
                                DocWriteError::Unknown(anyhow::Error::new(other).context("DeleteItem failed"))
                            }
                        })
                }
            };
            return result;
        }
        let mut transaction = self.client().transact_write_items();
        for write in &writes {
            let item = match write {
                DocWrite::Put { key, entity, body, expires_at, precondition } => TransactWriteItem::builder()
                    .put(self.doc_put(key, entity, body, *expires_at, (*precondition, now))?),
                DocWrite::Delete { key, precondition } => {
                    TransactWriteItem::builder().delete(self.doc_delete(key, *precondition, now)?)
                }
            };
            transaction = transaction.transact_items(item.build());
        }
        transaction.send().await.map(|_| ()).map_err(|e| {
            let e = e.into_service_error();
            let failed = match &e {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => cancelled
                    .cancellation_reasons()
                    .iter()
                    .position(|r| r.code() == Some("ConditionalCheckFailed")),
                _ => None,
            };
            match failed {
                Some(index) => DocWriteError::Conflict { index },
                None => DocWriteError::Unknown(anyhow::Error::new(e).context("TransactWriteItems failed")),
            }
        })
    }

    async fn increment(&self, key: &Key, expires_at: ExpiresAt) -> anyhow::Result<u64> {
        let output = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(key_attributes(key)))
            .update_expression("ADD #c :one SET #exp = if_not_exists(#exp, :exp)")
            .expression_attribute_names("#c", keys::COUNT)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n(expires_at.epoch_secs()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .context("UpdateItem (counter) failed")?;
        Ok(output.attributes.unwrap_or_default().opt_number(keys::COUNT)?.unwrap_or(0))
    }

    async fn increment_within(
        &self,
        key: &Key,
        limit: u64,
        expires_at: ExpiresAt,
    ) -> anyhow::Result<Option<u64>> {
        let result = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(key_attributes(key)))
            .update_expression("ADD #c :one SET #exp = if_not_exists(#exp, :exp)")
            .condition_expression("attribute_not_exists(#c) OR #c < :limit")
            .expression_attribute_names("#c", keys::COUNT)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":exp", n(expires_at.epoch_secs()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(output.attributes.unwrap_or_default().opt_number(keys::COUNT)?.unwrap_or(0))),
            Err(e) => match e.into_service_error() {
                aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(_) => Ok(None),
                other => Err(anyhow::Error::new(other).context("UpdateItem (bounded counter) failed")),
            },
        }
    }

    async fn counters(&self, pk: &str, prefix: &str, now: Timestamp) -> anyhow::Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.query_prefix(pk, prefix, now, 100, after.as_deref()).await?;
            for item in &page.items {
                out.push((item.string(keys::SK)?.to_owned(), item.opt_number(keys::COUNT)?.unwrap_or(0)));
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(out),
            }
        }
    }

    async fn counter(&self, key: &Key, now: Timestamp) -> anyhow::Result<u64> {
        Ok(self
            .get(key, now)
            .await?
            .map(|item| item.opt_number(keys::COUNT))
            .transpose()?
            .flatten()
            .unwrap_or(0))
    }
}

/// Applies one write; `false` when its precondition did not hold.
async fn write_one<D: DocTable>(table: &D, write: DocWrite, now: Timestamp) -> anyhow::Result<bool> {
    match table.write_docs(vec![write], now).await {
        Ok(()) => Ok(true),
        Err(DocWriteError::Conflict { .. }) => Ok(false),
        Err(DocWriteError::Unknown(e)) => Err(e),
    }
}

fn to_json<T: Serialize>(value: &T) -> anyhow::Result<String> {
    serde_json::to_string(value).context("serializing a document")
}

fn from_json<T: DeserializeOwned>(doc: &StoredDoc) -> anyhow::Result<Versioned<T>> {
    let value = serde_json::from_str(&doc.body).with_context(|| format!("reading document {}", doc.sk))?;
    Ok(Versioned { value, version: doc.version })
}

/// Checks that a cursor is a sort key of this listing.
fn cursor_within<'a>(after: Option<&'a str>, prefix: &str) -> Option<Result<&'a str, ()>> {
    after.map(|a| if a.starts_with(prefix) { Ok(a) } else { Err(()) })
}
