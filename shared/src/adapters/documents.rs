//! Document repositories: users, sessions, login counters, audit entries, contact records and
//! activities, request counters. Each is stored as one item holding its JSON (`doc`), with the
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
    CreateUserError, Directory, DirectoryError, Session, UpdateError, User, UserStatus, Versioned,
    LOGIN_WINDOW_SECS,
};
use crate::domain::inbox::Page;
use crate::domain::outbound::{QualityError, QualityMeter, Template, TemplateError, TemplateStore};
use crate::domain::ports::{Admission, RateLimitError, RateLimiter};
use crate::domain::{AuditId, ContactId, ExpiresAt, RecordId, SessionId, TenantId, Timestamp, UserId};

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
        precondition: Precondition,
    ) -> anyhow::Result<Put> {
        let mut item = item_with_key(key);
        item.insert(ENTITY.to_owned(), s(entity));
        item.insert(DOC.to_owned(), s(body));
        let version = match precondition {
            Precondition::Version(v) => v + 1,
            Precondition::None | Precondition::Absent => 1,
        };
        item.insert(VERSION.to_owned(), n(version));
        if let Some(expires_at) = expires_at {
            item.insert(EXPIRES_AT.to_owned(), n(expires_at.epoch_secs()));
        }
        let (condition, names, values) = condition(precondition);
        Put::builder()
            .table_name(self.name())
            .set_item(Some(item))
            .set_condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .build()
            .context("building a document put")
    }

    fn doc_delete(&self, key: &Key, precondition: Precondition) -> anyhow::Result<Delete> {
        let (condition, names, values) = condition(precondition);
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

fn condition(precondition: Precondition) -> Condition {
    use std::collections::HashMap;
    match precondition {
        Precondition::None => (None, None, None),
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

    async fn write_docs(&self, writes: Vec<DocWrite>, _now: Timestamp) -> Result<(), DocWriteError> {
        // One write goes alone (half the cost of a transaction); more go as one transaction.
        if let [single] = writes.as_slice() {
            let result = match single {
                DocWrite::Put { key, entity, body, expires_at, precondition } => {
                    let put = self.doc_put(key, entity, body, *expires_at, *precondition)?;
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
                    let delete = self.doc_delete(key, *precondition)?;
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
                    .put(self.doc_put(key, entity, body, *expires_at, *precondition)?),
                DocWrite::Delete { key, precondition } => {
                    TransactWriteItem::builder().delete(self.doc_delete(key, *precondition)?)
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

// ---------------------------------------------------------------------------------------------
// Directory
// ---------------------------------------------------------------------------------------------

/// [`Directory`] on a [`DocTable`].
#[derive(Debug, Clone)]
pub struct DocDirectory<D> {
    table: D,
}

impl<D> DocDirectory<D> {
    /// The directory on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

fn email_claim(user: &User) -> anyhow::Result<DocWrite> {
    Ok(DocWrite::Put {
        key: keys::user_email(&user.tenant_id, &user.email),
        entity: "user_email",
        body: to_json(&user.id)?,
        expires_at: None,
        precondition: Precondition::Absent,
    })
}

/// A session document, expiring with the session.
fn session_write(
    tenant: &TenantId,
    session: &Session,
    precondition: Precondition,
) -> anyhow::Result<DocWrite> {
    Ok(DocWrite::Put {
        key: keys::session(tenant, &session.id),
        entity: "session",
        body: to_json(session)?,
        expires_at: Some(ExpiresAt::from_epoch_secs(session.expires_at.as_secs())),
        precondition,
    })
}

impl<D: DocTable> Directory for DocDirectory<D> {
    async fn create_user(&self, user: &User) -> Result<(), CreateUserError> {
        let writes = vec![
            email_claim(user)?,
            DocWrite::Put {
                key: keys::user(&user.tenant_id, &user.id),
                entity: "user",
                body: to_json(user)?,
                expires_at: None,
                precondition: Precondition::Absent,
            },
        ];
        match self.table.write_docs(writes, user.created_at).await {
            Ok(()) => Ok(()),
            Err(DocWriteError::Conflict { index: 0 }) => Err(CreateUserError::EmailTaken),
            Err(DocWriteError::Conflict { .. }) => Err(anyhow::anyhow!("user id collision").into()),
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }

    async fn user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<Versioned<User>>, DirectoryError> {
        let doc = self.table.get_doc(&keys::user(tenant, id), self.table.now()).await?;
        Ok(doc.as_ref().map(from_json).transpose()?)
    }

    async fn user_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<Versioned<User>>, DirectoryError> {
        let Some(claim) = self.table.get_doc(&keys::user_email(tenant, email), self.table.now()).await?
        else {
            return Ok(None);
        };
        let id: UserId = from_json(&claim)?.value;
        self.user(tenant, &id).await
    }

    async fn users(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<User>, DirectoryError> {
        let after = match cursor_within(after, keys::USER_PREFIX) {
            Some(Err(())) => return Err(DirectoryError::InvalidCursor),
            Some(Ok(a)) => Some(a),
            None => None,
        };
        let (docs, next) = self
            .table
            .query_docs(
                &keys::tenant_partition(tenant),
                keys::USER_PREFIX,
                after,
                (limit, true),
                self.table.now(),
            )
            .await?;
        let items = docs.iter().map(|d| from_json(d).map(|v| v.value)).collect::<anyhow::Result<_>>()?;
        Ok(Page { items, next })
    }

    async fn update_user(&self, user: &User, version: u64) -> Result<(), UpdateError> {
        let mut writes = vec![DocWrite::Put {
            key: keys::user(&user.tenant_id, &user.id),
            entity: "user",
            body: to_json(user)?,
            expires_at: None,
            precondition: Precondition::Version(version),
        }];
        if user.status == UserStatus::Deleted {
            // A deletion blanks the email (P55): the alias to release is the stored one's.
            let stored = self.table.get_doc(&keys::user(&user.tenant_id, &user.id), user.updated_at).await?;
            let stored_email = stored
                .and_then(|doc| serde_json::from_str::<User>(&doc.body).ok())
                .map(|old| old.email)
                .unwrap_or_default();
            let mut emails = vec![stored_email, user.email.clone()];
            emails.retain(|email| !email.is_empty());
            emails.dedup();
            writes.extend(emails.iter().map(|email| DocWrite::Delete {
                key: keys::user_email(&user.tenant_id, email),
                precondition: Precondition::None,
            }));
        }
        match self.table.write_docs(writes, user.updated_at).await {
            Ok(()) => Ok(()),
            Err(DocWriteError::Conflict { .. }) => Err(UpdateError::Conflict),
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }

    async fn create_session(&self, tenant: &TenantId, session: &Session) -> Result<(), DirectoryError> {
        let write = session_write(tenant, session, Precondition::Absent)?;
        self.table.write_docs(vec![write], session.created_at).await.map_err(anyhow::Error::new)?;
        Ok(())
    }

    async fn session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
    ) -> Result<Option<Versioned<Session>>, DirectoryError> {
        let now = self.table.now();
        let doc = self.table.get_doc(&keys::session(tenant, id), now).await?;
        Ok(doc.as_ref().map(from_json).transpose()?)
    }

    async fn update_session(
        &self,
        tenant: &TenantId,
        session: &Session,
        version: u64,
    ) -> Result<(), UpdateError> {
        let write = session_write(tenant, session, Precondition::Version(version))?;
        if write_one(&self.table, write, session.created_at).await? {
            Ok(())
        } else {
            Err(UpdateError::Conflict)
        }
    }

    async fn count_login_failure(
        &self,
        tenant: &TenantId,
        email: &str,
        now: Timestamp,
    ) -> Result<u64, DirectoryError> {
        let window = now.as_secs().div_euclid(LOGIN_WINDOW_SECS);
        let expires = ExpiresAt::from_epoch_secs((window + 1) * LOGIN_WINDOW_SECS);
        Ok(self.table.increment(&keys::login_failures(tenant, email, window), expires).await?)
    }

    async fn login_failures(
        &self,
        tenant: &TenantId,
        email: &str,
        now: Timestamp,
    ) -> Result<u64, DirectoryError> {
        let window = now.as_secs().div_euclid(LOGIN_WINDOW_SECS);
        Ok(self.table.counter(&keys::login_failures(tenant, email, window), now).await?)
    }
}

// ---------------------------------------------------------------------------------------------
// Audit log
// ---------------------------------------------------------------------------------------------

/// [`AuditLog`] on a [`DocTable`].
#[derive(Debug, Clone)]
pub struct DocAuditLog<D> {
    table: D,
}

impl<D> DocAuditLog<D> {
    /// The log on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

/// How many entries one listing examines at most before answering (with a cursor) when a
/// filter matches little: bounds the work of one request.
const AUDIT_SCAN_BUDGET: usize = 1_000;

/// Whom an audit entry about a person is about (see [`keys::audit_person`]).
#[derive(Debug, Serialize, Deserialize)]
struct PersonLink {
    /// The entry's id.
    audit_id: AuditId,
    /// Its time, epoch ms.
    at: i64,
    /// The contact or lead id.
    target_id: String,
}

fn names_a_person(target: &crate::domain::audit::Target) -> bool {
    PERSON_TARGET_KINDS.contains(&target.kind.as_str()) && target.id != "*"
}

impl<D: DocTable> DocAuditLog<D> {
    /// Puts back whom the entries are about, where the link has not expired yet: one query over
    /// the page's time span.
    async fn with_people(
        &self,
        pk: &str,
        entries: &mut [AuditEntry],
        now: Timestamp,
    ) -> Result<(), AuditError> {
        let anonymous = || entries.iter().filter(|e| e.target.id == ANONYMIZED && names_a_person(&e.target));
        let (Some(newest), Some(oldest)) = (anonymous().map(|e| e.at).max(), anonymous().map(|e| e.at).min())
        else {
            return Ok(());
        };
        let mut links = std::collections::HashMap::new();
        let mut cursor = Some(keys::audit_person_until(newest));
        'pages: while let Some(after) = cursor.take() {
            let (docs, next) =
                self.table.query_docs(pk, keys::AUDIT_PERSON_PREFIX, Some(&after), (100, false), now).await?;
            for doc in &docs {
                let link: PersonLink = from_json(doc)?.value;
                if link.at < oldest {
                    break 'pages;
                }
                links.insert(link.audit_id, link.target_id);
            }
            cursor = next;
        }
        for entry in entries.iter_mut() {
            if let Some(id) = links.remove(&entry.id) {
                entry.target.id = id;
            }
        }
        Ok(())
    }
}

impl<D: DocTable> AuditLog for DocAuditLog<D> {
    async fn record(&self, tenant: &TenantId, entry: &AuditEntry) -> Result<(), AuditError> {
        let at = Timestamp::from_millis(entry.at);
        let days = |days: i64| {
            Some(ExpiresAt::after(at, std::time::Duration::from_secs(days.unsigned_abs() * 86_400)))
        };
        let mut stored = entry.clone();
        let mut writes = Vec::with_capacity(2);
        if names_a_person(&entry.target) {
            // The entry itself never names the person; the link that does expires first.
            stored.target.id = ANONYMIZED.to_owned();
            let link =
                PersonLink { audit_id: entry.id.clone(), at: entry.at, target_id: entry.target.id.clone() };
            writes.push(DocWrite::Put {
                key: keys::audit_person(tenant, entry.at, &entry.id),
                entity: "audit_person",
                body: to_json(&link)?,
                expires_at: days(PERSON_TARGET_DAYS),
                precondition: Precondition::Absent,
            });
        }
        writes.insert(
            0,
            DocWrite::Put {
                key: keys::audit(tenant, entry.at, &entry.id),
                entity: "audit",
                body: to_json(&stored)?,
                expires_at: days(AUDIT_RETENTION_DAYS),
                // Append-only: an entry is never overwritten.
                precondition: Precondition::Absent,
            },
        );
        self.table.write_docs(writes, at).await.map_err(|e| AuditError::Unknown(e.into()))
    }

    async fn entries(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<AuditEntry>, AuditError> {
        let mut cursor = match cursor_within(after, keys::AUDIT_PREFIX) {
            Some(Err(())) => return Err(AuditError::InvalidCursor),
            Some(Ok(a)) => Some(a.to_owned()),
            None => filter.until.map(keys::audit_before),
        };
        let now = self.table.now();
        let pk = keys::tenant_partition(tenant);
        let mut items = Vec::new();
        let mut examined = 0;
        loop {
            let (docs, next) = self
                .table
                .query_docs(&pk, keys::AUDIT_PREFIX, cursor.as_deref(), (limit, false), now)
                .await?;
            let mut page = docs
                .iter()
                .map(|doc| Ok(from_json::<AuditEntry>(doc)?.value))
                .collect::<Result<Vec<_>, AuditError>>()?;
            self.with_people(&pk, &mut page, now).await?;
            for (doc, entry) in docs.iter().zip(page) {
                examined += 1;
                if filter.since.is_some_and(|since| entry.at < since) {
                    // Newest first: everything further is older still.
                    return Ok(Page { items, next: None });
                }
                if filter.accepts(&entry) {
                    items.push(entry);
                    if items.len() == usize::from(limit) {
                        return Ok(Page { items, next: Some(doc.sk.clone()) });
                    }
                }
                cursor = Some(doc.sk.clone());
            }
            if next.is_none() {
                return Ok(Page { items, next: None });
            }
            if examined >= AUDIT_SCAN_BUDGET {
                return Ok(Page { items, next: cursor });
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Contact records and activities
// ---------------------------------------------------------------------------------------------

/// [`RecordStore`] on a [`DocTable`].
#[derive(Debug, Clone)]
pub struct DocRecords<D> {
    table: D,
}

impl<D> DocRecords<D> {
    /// The store on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

impl<D: DocTable> RecordStore for DocRecords<D> {
    async fn put_record(
        &self,
        tenant: &TenantId,
        record: &ContactRecord,
        version: Option<u64>,
    ) -> Result<(), RecordError> {
        let write = DocWrite::Put {
            key: keys::record(tenant, &record.contact_id, record.kind, &record.id),
            entity: record.kind.as_str(),
            body: to_json(record)?,
            expires_at: None,
            precondition: version.map_or(Precondition::Absent, Precondition::Version),
        };
        if write_one(&self.table, write, Timestamp::from_millis(record.updated_at)).await? {
            Ok(())
        } else {
            Err(RecordError::Conflict)
        }
    }

    async fn record(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        kind: RecordKind,
        id: &RecordId,
    ) -> Result<Option<Versioned<ContactRecord>>, RecordError> {
        let doc = self.table.get_doc(&keys::record(tenant, contact, kind, id), self.table.now()).await?;
        Ok(doc.as_ref().map(from_json).transpose()?)
    }

    async fn records(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        kind: RecordKind,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<ContactRecord>, RecordError> {
        let prefix = keys::records_prefix(contact, kind);
        let after = match cursor_within(after, &prefix) {
            Some(Err(())) => return Err(RecordError::InvalidCursor),
            Some(Ok(a)) => Some(a),
            None => None,
        };
        let (docs, next) = self
            .table
            .query_docs(&keys::tenant_partition(tenant), &prefix, after, (limit, true), self.table.now())
            .await?;
        let items = docs.iter().map(|d| from_json(d).map(|v| v.value)).collect::<anyhow::Result<_>>()?;
        Ok(Page { items, next })
    }

    async fn delete_record(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        kind: RecordKind,
        id: &RecordId,
    ) -> Result<bool, RecordError> {
        let key = keys::record(tenant, contact, kind, id);
        let Some(doc) = self.table.get_doc(&key, self.table.now()).await? else { return Ok(false) };
        match self
            .table
            .write_docs(
                vec![DocWrite::Delete { key, precondition: Precondition::Version(doc.version) }],
                self.table.now(),
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(DocWriteError::Conflict { .. }) => Err(RecordError::Conflict),
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }

    async fn add_activity(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        activity: &Activity,
    ) -> Result<(), RecordError> {
        let body = to_json(activity)?;
        let write = DocWrite::Put {
            key: keys::activity(tenant, contact, activity.at, &body),
            entity: "activity",
            body,
            expires_at: None,
            precondition: Precondition::None,
        };
        self.table
            .write_docs(vec![write], Timestamp::from_millis(activity.at))
            .await
            .map_err(|e| RecordError::Unknown(e.into()))
    }

    async fn activities(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        before: Option<i64>,
        limit: u16,
    ) -> Result<Vec<Activity>, RecordError> {
        let start = before.map(|at| keys::activities_before(contact, at));
        let (docs, _) = self
            .table
            .query_docs(
                &keys::tenant_partition(tenant),
                &keys::activities_prefix(contact),
                start.as_deref(),
                (limit, false),
                self.table.now(),
            )
            .await?;
        Ok(docs.iter().map(|d| from_json(d).map(|v| v.value)).collect::<anyhow::Result<_>>()?)
    }
}

// ---------------------------------------------------------------------------------------------
// Rate limiting
// ---------------------------------------------------------------------------------------------

/// [`RateLimiter`] on a [`DocTable`]: one counter item per tenant and minute, expiring after
/// two minutes. One conditional-free `ADD` per request.
#[derive(Debug, Clone)]
pub struct DocRateLimiter<D> {
    table: D,
}

impl<D> DocRateLimiter<D> {
    /// The limiter on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

impl<D: DocTable> RateLimiter for DocRateLimiter<D> {
    async fn admit(
        &self,
        tenant: &TenantId,
        per_minute: u32,
        now: Timestamp,
    ) -> Result<Admission, RateLimitError> {
        let minute = now.as_secs().div_euclid(60);
        let expires = ExpiresAt::from_epoch_secs((minute + 2) * 60);
        let count = self.table.increment(&keys::rate_window(tenant, minute), expires).await?;
        if count <= u64::from(per_minute) {
            return Ok(Admission::Allowed);
        }
        let retry_after_secs = u64::try_from(60 - now.as_secs().rem_euclid(60)).unwrap_or(60);
        Ok(Admission::Limited { retry_after_secs })
    }

    async fn admit_message(
        &self,
        tenant: &TenantId,
        per_month: u64,
        now: Timestamp,
    ) -> Result<Admission, RateLimitError> {
        // Kept 400 days: a year of monthly usage stays readable.
        let expires = ExpiresAt::after(now, std::time::Duration::from_secs(400 * 86_400));
        let key = keys::messages_month(tenant, &now.utc_month());
        match self.table.increment_within(&key, per_month, expires).await? {
            Some(_) => Ok(Admission::Allowed),
            None => Ok(Admission::Limited { retry_after_secs: 3600 }),
        }
    }

    async fn messages_this_month(&self, tenant: &TenantId, now: Timestamp) -> Result<u64, RateLimitError> {
        Ok(self.table.counter(&keys::messages_month(tenant, &now.utc_month()), now).await?)
    }
}

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

/// [`TemplateStore`] on a [`DocTable`].
#[derive(Debug, Clone)]
pub struct DocTemplates<D> {
    table: D,
}

impl<D> DocTemplates<D> {
    /// The store on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

impl<D: DocTable> TemplateStore for DocTemplates<D> {
    async fn replace_templates(
        &self,
        tenant: &TenantId,
        templates: &[Template],
    ) -> Result<(), TemplateError> {
        let now = self.table.now();
        let current = self.templates(tenant).await?;
        let mut writes = Vec::new();
        for gone in
            current.iter().filter(|c| !templates.iter().any(|t| t.name == c.name && t.language == c.language))
        {
            writes.push(DocWrite::Delete {
                key: keys::template(tenant, &gone.name, &gone.language),
                precondition: Precondition::None,
            });
        }
        for template in templates {
            writes.push(DocWrite::Put {
                key: keys::template(tenant, &template.name, &template.language),
                entity: "template",
                body: to_json(template)?,
                expires_at: None,
                precondition: Precondition::None,
            });
        }
        // One write at a time: a sync is idempotent, so a partial one is completed by the next.
        for write in writes {
            self.table.write_docs(vec![write], now).await.map_err(|e| TemplateError::Unknown(e.into()))?;
        }
        Ok(())
    }

    async fn template(
        &self,
        tenant: &TenantId,
        name: &str,
        language: &str,
    ) -> Result<Option<Template>, TemplateError> {
        let doc = self.table.get_doc(&keys::template(tenant, name, language), self.table.now()).await?;
        Ok(doc.as_ref().map(from_json).transpose()?.map(|v| v.value))
    }

    async fn templates(&self, tenant: &TenantId) -> Result<Vec<Template>, TemplateError> {
        let mut templates: Vec<Template> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (docs, next) = self
                .table
                .query_docs(
                    &keys::tenant_partition(tenant),
                    keys::TEMPLATE_PREFIX,
                    after.as_deref(),
                    (100, true),
                    self.table.now(),
                )
                .await?;
            for doc in &docs {
                templates.push(from_json(doc)?.value);
            }
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        templates.sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
        Ok(templates)
    }
}

// ---------------------------------------------------------------------------------------------
// Quality counters
// ---------------------------------------------------------------------------------------------

/// [`QualityMeter`] on a [`DocTable`]: one counter item per tenant, month and metric.
#[derive(Debug, Clone)]
pub struct DocQuality<D> {
    table: D,
}

impl<D> DocQuality<D> {
    /// The meter on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

impl<D: DocTable> QualityMeter for DocQuality<D> {
    async fn count(&self, tenant: &TenantId, metric: &str, now: Timestamp) -> Result<(), QualityError> {
        // Kept 400 days: a year of months stays readable.
        let expires = ExpiresAt::after(now, std::time::Duration::from_secs(400 * 86_400));
        self.table.increment(&keys::quality(tenant, &now.utc_month(), metric), expires).await?;
        Ok(())
    }

    async fn month(
        &self,
        tenant: &TenantId,
        month: &str,
    ) -> Result<std::collections::BTreeMap<String, u64>, QualityError> {
        let prefix = keys::quality_prefix(month);
        let counters =
            self.table.counters(&keys::tenant_partition(tenant), &prefix, self.table.now()).await?;
        Ok(counters
            .into_iter()
            .filter_map(|(sk, count)| sk.strip_prefix(&prefix).map(|metric| (metric.to_owned(), count)))
            .collect())
    }
}
