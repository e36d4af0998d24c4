//! The generic table layer: every read filters expired items; writes are conditional.

use std::sync::Arc;

use anyhow::Context as _;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::item::{key_attributes, n, s, Item, ItemExt};
use std::collections::HashMap;

use super::keys::{Key, EXPIRES_AT, GSI1, GSI1PK, GSI1SK, PK, SK, VERSION};
use crate::domain::{Clock, ExpiresAt, Timestamp};

/// Errors of [`Table::put_new`].
#[derive(Debug, thiserror::Error)]
pub enum PutNewError {
    /// An item with this key exists (and has not expired).
    #[error("an item with this key already exists")]
    AlreadyExists,
    /// The table failed; nothing was written.
    #[error("table write failed")]
    Unknown(#[from] anyhow::Error),
}

/// Errors of [`Table::put_versioned`].
#[derive(Debug, thiserror::Error)]
pub enum PutVersionedError {
    /// The stored version is not the one the caller read: someone else wrote in between.
    #[error("the item changed since it was read")]
    Conflict,
    /// The table failed; nothing was written.
    #[error("table write failed")]
    Unknown(#[from] anyhow::Error),
}

/// Errors of reads and unconditional writes.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The table failed or returned an item the adapter cannot read.
    #[error("table access failed")]
    Unknown(#[from] anyhow::Error),
}

/// A page of a query.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The live items of this page, in sort-key order.
    pub items: Vec<Item>,
    /// The sort key to continue after, when there may be more.
    pub next: Option<String>,
}

/// Separates the index and table sort keys in a GSI cursor (a character keys never hold).
const GSI_CURSOR_SEPARATOR: char = '\n';

struct RawPage {
    items: Vec<Item>,
    last_key: Option<Item>,
}

fn string_of(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

/// One DynamoDB table, shared by every repository. Cheap to clone.
///
/// It carries the process's [`Clock`], handed in once at construction, so that the repositories
/// on it filter expired items and stamp times by that clock, never by reading the system clock
/// themselves (tests hand in a clock they move).
#[derive(Clone)]
pub struct Table {
    client: Client,
    name: Arc<str>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("name", &self.name).finish_non_exhaustive()
    }
}

/// True when the item carries an `expires_at` that `now` has reached.
#[must_use]
pub fn is_expired(item: &Item, now: Timestamp) -> bool {
    matches!(item.opt_number::<i64>(EXPIRES_AT), Ok(Some(secs)) if ExpiresAt::from_epoch_secs(secs).is_expired(now))
}

impl Table {
    /// The table `name` through `client`, telling time by `clock`.
    #[must_use]
    pub fn new(client: Client, name: impl Into<Arc<str>>, clock: Arc<dyn Clock>) -> Self {
        Self { client, name: name.into(), clock }
    }

    /// Another table through the same client and clock (the key table beside the main one).
    #[must_use]
    pub fn sibling(&self, name: impl Into<Arc<str>>) -> Self {
        Self { client: self.client.clone(), name: name.into(), clock: Arc::clone(&self.clock) }
    }

    /// The current instant by the table's clock: what expiry filters and time stamps use.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The SDK client, for repositories that build their own requests (transactions).
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A transaction item that puts `item` only if nothing has its key (expired items included:
    /// inside a transaction, a stale item is a conflict to report, not to overwrite).
    ///
    /// # Errors
    /// When the request cannot be built.
    pub fn put_if_absent(&self, item: Item) -> anyhow::Result<aws_sdk_dynamodb::types::Put> {
        aws_sdk_dynamodb::types::Put::builder()
            .table_name(&*self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .context("building a conditional put")
    }

    /// Writes `item` only if no live item has its key. An expired item that storage has not
    /// deleted yet counts as absent and is replaced.
    ///
    /// # Errors
    /// [`PutNewError::AlreadyExists`]; [`PutNewError::Unknown`].
    pub async fn put_new(&self, item: Item, now: Timestamp) -> Result<(), PutNewError> {
        let result = self
            .client
            .put_item()
            .table_name(&*self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", n(now.as_secs()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Err(PutNewError::AlreadyExists),
                other => Err(PutNewError::Unknown(anyhow::Error::new(other).context("PutItem (new) failed"))),
            },
        }
    }

    /// Optimistic locking: writes `item` with `version = expected + 1` only if the stored version
    /// is `expected` (`None`: only if no item exists). Returns the new version.
    ///
    /// # Errors
    /// [`PutVersionedError::Conflict`] when the stored version differs;
    /// [`PutVersionedError::Unknown`].
    pub async fn put_versioned(
        &self,
        mut item: Item,
        expected: Option<u64>,
    ) -> Result<u64, PutVersionedError> {
        let next = expected.map_or(1, |v| v + 1);
        item.insert(VERSION.to_owned(), n(next));
        let request = self.client.put_item().table_name(&*self.name).set_item(Some(item));
        let request = match expected {
            None => request
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(version) => request
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_values(":v", n(version)),
        };
        match request.send().await {
            Ok(_) => Ok(next),
            Err(e) => match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Err(PutVersionedError::Conflict),
                other => Err(PutVersionedError::Unknown(
                    anyhow::Error::new(other).context("PutItem (versioned) failed"),
                )),
            },
        }
    }

    /// The item with `key`, expired or not: for the jobs that delete expired items.
    ///
    /// # Errors
    /// [`TableError::Unknown`].
    pub async fn get_including_expired(&self, key: &Key) -> Result<Option<Item>, TableError> {
        let output = self
            .client
            .get_item()
            .table_name(&*self.name)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .context("GetItem failed")?;
        Ok(output.item)
    }

    /// The live item with `key`, read strongly consistent; `None` when absent or expired.
    ///
    /// # Errors
    /// [`TableError::Unknown`].
    pub async fn get(&self, key: &Key, now: Timestamp) -> Result<Option<Item>, TableError> {
        Ok(self.get_including_expired(key).await?.filter(|item| !is_expired(item, now)))
    }

    /// Live items of partition `pk` whose sort key starts with `sk_prefix` (all of them for an
    /// empty prefix), in sort-key order, `limit` per page, continuing after the sort key `after`. The expiry filter runs in
    /// DynamoDB, so a page may hold fewer than `limit` items and still have a `next`.
    ///
    /// # Errors
    /// [`TableError::Unknown`].
    pub async fn query_prefix(
        &self,
        pk: &str,
        sk_prefix: &str,
        now: Timestamp,
        limit: i32,
        after: Option<&str>,
    ) -> Result<Page, TableError> {
        self.query_prefix_ordered(pk, sk_prefix, now, limit, after, true).await
    }

    /// As [`Table::query_prefix`], in ascending (`forward`) or descending sort-key order.
    ///
    /// # Errors
    /// [`TableError::Unknown`].
    pub async fn query_prefix_ordered(
        &self,
        pk: &str,
        sk_prefix: &str,
        now: Timestamp,
        limit: i32,
        after: Option<&str>,
        forward: bool,
    ) -> Result<Page, TableError> {
        let start = after.map(|sk| HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))]));
        let page = self.query(None, (PK, SK), pk, sk_prefix, now, (limit, forward), start).await?;
        let next = page.last_key.and_then(|key| string_of(&key, SK));
        Ok(Page { items: page.items, next })
    }

    /// As [`Table::query_prefix`], on `GSI1`. The cursor holds the index and table sort keys
    /// (the partition keys are the caller's).
    ///
    /// # Errors
    /// [`TableError::Unknown`].
    pub async fn query_gsi1_prefix(
        &self,
        table_pk: &str,
        gsi_pk: &str,
        sk_prefix: &str,
        now: Timestamp,
        limit: i32,
        after: Option<&str>,
    ) -> Result<Page, TableError> {
        let start = after.and_then(|cursor| cursor.split_once(GSI_CURSOR_SEPARATOR)).map(|(gsi_sk, sk)| {
            HashMap::from([
                (GSI1PK.to_owned(), s(gsi_pk)),
                (GSI1SK.to_owned(), s(gsi_sk)),
                (PK.to_owned(), s(table_pk)),
                (SK.to_owned(), s(sk)),
            ])
        });
        let page =
            self.query(Some(GSI1), (GSI1PK, GSI1SK), gsi_pk, sk_prefix, now, (limit, true), start).await?;
        let next = page.last_key.and_then(|key| {
            Some(format!("{}{GSI_CURSOR_SEPARATOR}{}", string_of(&key, GSI1SK)?, string_of(&key, SK)?))
        });
        Ok(Page { items: page.items, next })
    }

    #[allow(clippy::too_many_arguments)]
    async fn query(
        &self,
        index: Option<&str>,
        (pk_name, sk_name): (&str, &str),
        pk: &str,
        sk_prefix: &str,
        now: Timestamp,
        (limit, forward): (i32, bool),
        start: Option<Item>,
    ) -> Result<RawPage, TableError> {
        let query = self
            .client
            .query()
            .table_name(&*self.name)
            .set_index_name(index.map(str::to_owned))
            .filter_expression("attribute_not_exists(#exp) OR #exp > :now")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":now", n(now.as_secs()));
        // An empty prefix means the whole partition (DynamoDB refuses an empty key value).
        let query = if sk_prefix.is_empty() {
            query.key_condition_expression("#pk = :pk")
        } else {
            query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":prefix", s(sk_prefix))
        };
        let output = query
            .limit(limit.max(1))
            .scan_index_forward(forward)
            .set_exclusive_start_key(start)
            // GSIs are eventually consistent only.
            .set_consistent_read(index.is_none().then_some(true))
            .send()
            .await
            .context("Query failed")?;
        let items = output.items.unwrap_or_default().into_iter().filter(|i| !is_expired(i, now)).collect();
        Ok(RawPage { items, last_key: output.last_evaluated_key })
    }

    /// Deletes every item of `keys` (absent ones are no-ops), 25 per request (BatchWriteItem's
    /// limit), resending what DynamoDB leaves unprocessed.
    ///
    /// # Errors
    /// [`TableError::Unknown`].
    pub async fn delete_many(&self, keys: &[Key]) -> Result<(), TableError> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        for chunk in keys.chunks(25) {
            let mut requests = chunk
                .iter()
                .map(|key| {
                    DeleteRequest::builder()
                        .set_key(Some(key_attributes(key)))
                        .build()
                        .map(|delete| WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<Vec<_>, _>>()
                .context("building delete requests")?;
            for attempt in 0..5u64 {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(self.name.to_string(), requests)
                    .send()
                    .await
                    .context("BatchWriteItem failed")?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&*self.name))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await;
            }
            if !requests.is_empty() {
                return Err(anyhow::anyhow!("{} deletes left unprocessed", requests.len()).into());
            }
        }
        Ok(())
    }

    /// Writes `item`, replacing any item with its key.
    ///
    /// # Errors
    /// [`TableError::Unknown`].
    pub async fn put(&self, item: Item) -> Result<(), TableError> {
        self.client
            .put_item()
            .table_name(&*self.name)
            .set_item(Some(item))
            .send()
            .await
            .context("PutItem failed")?;
        Ok(())
    }

    /// Deletes the item with `key` (no error when absent).
    ///
    /// # Errors
    /// [`TableError::Unknown`].
    pub async fn delete(&self, key: &Key) -> Result<(), TableError> {
        self.client
            .delete_item()
            .table_name(&*self.name)
            .set_key(Some(key_attributes(key)))
            .send()
            .await
            .context("DeleteItem failed")?;
        Ok(())
    }
}
