//! The privacy ports ([`ErasureStore`], [`RetentionQueue`], [`PurgeStore`]) on the single table: erasure requests under the tenant, and the due-work
//! queue (`DUE#erasure`) the retention run reads.

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};

use super::item::{item_with_key, key_attributes, n, s, Item, ItemExt};
use super::keys::{self, attr, ENTITY, PK, SK};
use super::table::Table;
use crate::domain::privacy::{
    DayQueue, DueErasure, ErasureCounts, ErasureReceipt, ErasureRequest, ErasureStatus, ErasureStore,
    Integration, MetaPurge, PrivacyError, PurgeStore, RetentionQueue,
};
use crate::domain::{ContactId, ConversationId, ErasureId, TenantId, Timestamp};

/// The privacy ports on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoPrivacy {
    table: Table,
    key_table: Table,
}

impl DynamoPrivacy {
    /// The store on `table`; a purged tenant's contact data keys go from `key_table`.
    #[must_use]
    pub fn new(table: Table, key_table: Table) -> Self {
        Self { table, key_table }
    }
}

/// The keys of up to `budget` items of partition `pk` in `table`, expired or not.
async fn partition_keys(table: &Table, pk: &str, budget: u16) -> anyhow::Result<Vec<keys::Key>> {
    let page = table
        .client()
        .query()
        .table_name(table.name())
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_names("#sk", SK)
        .projection_expression("#pk, #sk")
        .expression_attribute_values(":pk", s(pk))
        .limit(i32::from(budget.max(1)))
        .consistent_read(true)
        .send()
        .await
        .context("listing a partition")?;
    Ok(page
        .items()
        .iter()
        .filter_map(|i| {
            Some(keys::Key { pk: i.opt_string(PK)?.to_owned(), sk: i.opt_string(SK)?.to_owned() })
        })
        .collect())
}

fn request_from(item: &Item) -> anyhow::Result<ErasureRequest> {
    let contacts = match item.get(attr::CONTACT_IDS) {
        Some(AttributeValue::L(list)) => list
            .iter()
            .filter_map(|v| v.as_s().ok())
            .map(|id| ContactId::parse(id.as_str()))
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    let status = match item.string(attr::STATUS)? {
        "done" => ErasureStatus::Done,
        _ => ErasureStatus::Pending,
    };
    Ok(ErasureRequest {
        id: ErasureId::parse(item.string(attr::ERASURE_ID)?)?,
        contacts,
        status,
        requested_at: Timestamp::from_millis(item.number(attr::REQUESTED_AT)?),
        progress: item.opt_string(attr::PROGRESS).map(serde_json::from_str).transpose()?.unwrap_or_default(),
        receipt: item.opt_string(attr::RECEIPT).map(serde_json::from_str).transpose()?,
    })
}

impl ErasureStore for DynamoPrivacy {
    async fn request_erasure(&self, tenant: &TenantId, request: &ErasureRequest) -> Result<(), PrivacyError> {
        let mut item = item_with_key(&keys::erasure(tenant, &request.id));
        item.insert(ENTITY.to_owned(), s("erasure_request"));
        item.insert(attr::ERASURE_ID.to_owned(), s(request.id.as_str()));
        item.insert(attr::STATUS.to_owned(), s("pending"));
        item.insert(attr::REQUESTED_AT.to_owned(), n(request.requested_at.as_millis()));
        item.insert(
            attr::CONTACT_IDS.to_owned(),
            AttributeValue::L(request.contacts.iter().map(|c| s(c.as_str())).collect()),
        );
        let mut due = item_with_key(&keys::due_erasure(tenant, &request.id, request.requested_at));
        due.insert(ENTITY.to_owned(), s("due_erasure"));
        due.insert(attr::TENANT_ID.to_owned(), s(tenant.as_str()));
        due.insert(attr::ERASURE_ID.to_owned(), s(request.id.as_str()));
        self.table
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(self.table.put_if_absent(item)?).build())
            .transact_items(TransactWriteItem::builder().put(self.table.put_if_absent(due)?).build())
            .send()
            .await
            .context("recording an erasure request")?;
        Ok(())
    }

    async fn erasure(
        &self,
        tenant: &TenantId,
        id: &ErasureId,
    ) -> Result<Option<ErasureRequest>, PrivacyError> {
        let item = self
            .table
            .get(&keys::erasure(tenant, id), self.table.now())
            .await
            .context("reading an erasure request")?;
        Ok(item.map(|i| request_from(&i)).transpose().context("mapping an erasure request")?)
    }

    async fn due_erasures(&self, limit: u16) -> Result<Vec<DueErasure>, PrivacyError> {
        let page = self
            .table
            .query_prefix(keys::DUE_ERASURES, "", self.table.now(), i32::from(limit), None)
            .await
            .context("reading the erasure queue")?;
        page.items
            .iter()
            .map(|item| -> anyhow::Result<DueErasure> {
                let sk = item.string(SK)?;
                Ok(DueErasure {
                    tenant: TenantId::parse(item.string(attr::TENANT_ID)?)?,
                    id: ErasureId::parse(item.string(attr::ERASURE_ID)?)?,
                    requested_at: keys::due_erasure_requested_at(sk)
                        .with_context(|| format!("an erasure queue entry without its time: {sk}"))?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(|e| PrivacyError::Unknown(e.context("mapping the erasure queue")))
    }

    async fn drop_due_erasure(&self, due: &DueErasure) -> Result<(), PrivacyError> {
        self.table
            .client()
            .delete_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::due_erasure(&due.tenant, &due.id, due.requested_at))))
            .send()
            .await
            .context("dropping an erasure queue entry")?;
        Ok(())
    }

    async fn record_progress(
        &self,
        tenant: &TenantId,
        id: &ErasureId,
        progress: &ErasureCounts,
    ) -> Result<(), PrivacyError> {
        self.table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::erasure(tenant, id))))
            .update_expression("SET #progress = :progress")
            .expression_attribute_names("#progress", attr::PROGRESS)
            .expression_attribute_values(
                ":progress",
                s(serde_json::to_string(progress).context("serializing progress")?),
            )
            .send()
            .await
            .context("recording erasure progress")?;
        Ok(())
    }

    async fn complete_erasure(
        &self,
        tenant: &TenantId,
        receipt: &ErasureReceipt,
    ) -> Result<(), PrivacyError> {
        let requested_at = Timestamp::from_millis(receipt.requested_at);
        let update = Update::builder()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::erasure(tenant, &receipt.request_id))))
            // The contact ids go: the receipt says what was deleted, not whose it was.
            .update_expression("SET #status = :done, #receipt = :receipt REMOVE #contacts")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#receipt", attr::RECEIPT)
            .expression_attribute_names("#contacts", attr::CONTACT_IDS)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":done", s("done"))
            .expression_attribute_values(
                ":receipt",
                s(serde_json::to_string(receipt).context("serializing a receipt")?),
            )
            .build()
            .context("building the request update")?;
        let dequeue = Delete::builder()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::due_erasure(tenant, &receipt.request_id, requested_at))))
            .build()
            .context("building the dequeue")?;
        self.table
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().delete(dequeue).build())
            .send()
            .await
            .context("completing an erasure request")?;
        Ok(())
    }
}

impl RetentionQueue for DynamoPrivacy {
    async fn day_cursor(&self, queue: DayQueue) -> Result<Option<i64>, PrivacyError> {
        let item = self
            .table
            .get(&keys::day_cursor(queue), self.table.now())
            .await
            .context("reading a day cursor")?;
        Ok(item.map(|i| i.number::<i64>(attr::DAY)).transpose().context("mapping a day cursor")?)
    }

    async fn set_day_cursor(&self, queue: DayQueue, day: i64) -> Result<(), PrivacyError> {
        let mut item = item_with_key(&keys::day_cursor(queue));
        item.insert(ENTITY.to_owned(), s("cursor"));
        item.insert(attr::DAY.to_owned(), n(day));
        self.table.put(item).await.context("moving a day cursor")?;
        Ok(())
    }

    async fn due_on(
        &self,
        queue: DayQueue,
        day: i64,
        limit: u16,
    ) -> Result<Vec<(TenantId, ConversationId)>, PrivacyError> {
        let page = self
            .table
            .query_prefix(&keys::due_day_partition(queue, day), "", self.table.now(), i32::from(limit), None)
            .await
            .context("reading a day queue")?;
        page.items
            .iter()
            .map(|item| -> anyhow::Result<(TenantId, ConversationId)> {
                Ok((
                    TenantId::parse(item.string(attr::TENANT_ID)?)?,
                    ConversationId::parse(item.string(attr::CONVERSATION_ID)?)?,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(|e| PrivacyError::Unknown(e.context("mapping a day queue")))
    }

    async fn drop_due(
        &self,
        queue: DayQueue,
        day: i64,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<(), PrivacyError> {
        self.table.delete(&keys::due_day(queue, day, tenant, conversation)).await.context("dequeuing")?;
        Ok(())
    }

    async fn due_restamps(&self, limit: u16) -> Result<Vec<(TenantId, Option<String>)>, PrivacyError> {
        let page = self
            .table
            .query_prefix(keys::DUE_RESTAMP, "", self.table.now(), i32::from(limit), None)
            .await
            .context("reading the re-stamp queue")?;
        page.items
            .iter()
            .map(|item| -> anyhow::Result<(TenantId, Option<String>)> {
                Ok((
                    TenantId::parse(item.string(attr::TENANT_ID)?)?,
                    item.opt_string(attr::CURSOR).map(str::to_owned),
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(|e| PrivacyError::Unknown(e.context("mapping the re-stamp queue")))
    }

    async fn restamp_progress(&self, tenant: &TenantId, next: Option<&str>) -> Result<(), PrivacyError> {
        let key = keys::due_restamp(tenant);
        match next {
            None => self.table.delete(&key).await.context("finishing a re-stamp")?,
            Some(cursor) => {
                // Only on an entry still queued: an update would otherwise create one without
                // its tenant (finished or purged meanwhile), which no read of the queue maps.
                let recorded = self
                    .table
                    .client()
                    .update_item()
                    .table_name(self.table.name())
                    .set_key(Some(key_attributes(&key)))
                    .update_expression("SET #cursor = :cursor")
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#cursor", attr::CURSOR)
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_values(":cursor", s(cursor))
                    .send()
                    .await;
                if let Err(e) = recorded {
                    let e = e.into_service_error();
                    if !e.is_conditional_check_failed_exception() {
                        return Err(anyhow::Error::new(e).context("recording re-stamp progress").into());
                    }
                }
            }
        }
        Ok(())
    }
}

impl PurgeStore for DynamoPrivacy {
    async fn queue_purge(&self, tenant: &TenantId, due: Timestamp) -> Result<(), PrivacyError> {
        let mut item = item_with_key(&keys::due_purge(tenant));
        item.insert(ENTITY.to_owned(), s("due_purge"));
        item.insert(attr::TENANT_ID.to_owned(), s(tenant.as_str()));
        item.insert(attr::DUE_AT.to_owned(), n(due.as_millis()));
        self.table.put(item).await.context("queueing a purge")?;
        Ok(())
    }

    async fn cancel_purge(&self, tenant: &TenantId) -> Result<(), PrivacyError> {
        self.table.delete(&keys::due_purge(tenant)).await.context("dequeueing a purge")?;
        Ok(())
    }

    async fn due_purges(&self, now: Timestamp, limit: u16) -> Result<Vec<TenantId>, PrivacyError> {
        let mut due = Vec::new();
        let mut after: Option<String> = None;
        // Closed tenants are few: the queue is one partition, read until `limit` are due.
        loop {
            let page = self
                .table
                .query_prefix(keys::DUE_PURGE, "", now, 100, after.as_deref())
                .await
                .context("reading the purge queue")?;
            for item in &page.items {
                if item.opt_number::<i64>(attr::DUE_AT).ok().flatten().is_some_and(|at| at <= now.as_millis())
                {
                    due.push(
                        TenantId::parse(item.string(attr::TENANT_ID).context("purge entry")?)
                            .context("purge entry")?,
                    );
                }
            }
            after = page.next;
            if after.is_none() || due.len() >= usize::from(limit) {
                due.truncate(usize::from(limit));
                return Ok(due);
            }
        }
    }

    async fn queue_meta_purge(&self, purge: &MetaPurge) -> Result<(), PrivacyError> {
        let mut item = item_with_key(&keys::due_meta_purge(
            &purge.tenant,
            purge.integration.as_str(),
            purge.disconnected_at,
        ));
        item.insert(ENTITY.to_owned(), s("due_meta_purge"));
        item.insert(attr::TENANT_ID.to_owned(), s(purge.tenant.as_str()));
        item.insert(attr::INTEGRATION.to_owned(), s(purge.integration.as_str()));
        item.insert(attr::SOURCE_ID.to_owned(), s(&purge.source_id));
        item.insert(attr::DISCONNECTED_AT.to_owned(), n(purge.disconnected_at.as_millis()));
        self.table.put(item).await.context("queueing a Meta purge")?;
        Ok(())
    }

    async fn due_meta_purges(&self, limit: u16) -> Result<Vec<MetaPurge>, PrivacyError> {
        let page = self
            .table
            .query_prefix(keys::DUE_META_PURGE, "", self.table.now(), i32::from(limit.max(1)), None)
            .await
            .context("reading the Meta purge queue")?;
        let purge = |item: &Item| -> anyhow::Result<MetaPurge> {
            Ok(MetaPurge {
                tenant: TenantId::parse(item.string(attr::TENANT_ID)?)?,
                integration: Integration::parse(item.string(attr::INTEGRATION)?)
                    .context("unknown integration")?,
                source_id: item.string(attr::SOURCE_ID)?.to_owned(),
                disconnected_at: Timestamp::from_millis(item.number(attr::DISCONNECTED_AT)?),
            })
        };
        Ok(page.items.iter().map(purge).collect::<anyhow::Result<Vec<_>>>().context("a Meta purge entry")?)
    }

    async fn finish_meta_purge(&self, purge: &MetaPurge) -> Result<(), PrivacyError> {
        let key = keys::due_meta_purge(&purge.tenant, purge.integration.as_str(), purge.disconnected_at);
        self.table.delete(&key).await.context("dequeueing a Meta purge")?;
        Ok(())
    }

    async fn purge_tenant(&self, tenant: &TenantId, budget: u16) -> Result<u64, PrivacyError> {
        let partition = keys::tenant_partition(tenant);
        // Routing first (while the connections that name them still exist): only a route that
        // still leads to this tenant goes.
        for (connection, route_of) in [
            (
                keys::whatsapp_connection(tenant),
                (attr::PHONE_NUMBER_ID, keys::whatsapp_route as fn(&str) -> keys::Key),
            ),
            (keys::page_connection(tenant), (attr::PAGE_ID, keys::page_route as fn(&str) -> keys::Key)),
        ] {
            let (id_attribute, route) = route_of;
            let item = self.table.get_including_expired(&connection).await.context("reading a connection")?;
            if let Some(id) = item.as_ref().and_then(|i| i.opt_string(id_attribute)) {
                let removed = self
                    .table
                    .client()
                    .delete_item()
                    .table_name(self.table.name())
                    .set_key(Some(key_attributes(&route(id))))
                    .condition_expression("#tenant = :tenant")
                    .expression_attribute_names("#tenant", attr::TENANT_ID)
                    .expression_attribute_values(":tenant", s(tenant.as_str()))
                    .send()
                    .await;
                if let Err(e) = removed {
                    let e = e.into_service_error();
                    if !e.is_conditional_check_failed_exception() {
                        return Err(anyhow::Error::new(e).context("removing a route").into());
                    }
                }
            }
        }
        // Its entries in the other cross-tenant queues (few: read whole).
        let mut stale = Vec::new();
        for queue in [keys::DUE_ERASURES, keys::DUE_RESTAMP, keys::DUE_META_PURGE] {
            let mut after: Option<String> = None;
            loop {
                let page = self
                    .table
                    .query_prefix(queue, "", self.table.now(), 100, after.as_deref())
                    .await
                    .context("reading a due queue")?;
                stale.extend(
                    page.items
                        .iter()
                        .filter(|i| i.opt_string(attr::TENANT_ID) == Some(tenant.as_str()))
                        .filter_map(|i| {
                            Some(keys::Key {
                                pk: i.opt_string(PK)?.to_owned(),
                                sk: i.opt_string(SK)?.to_owned(),
                            })
                        }),
                );
                after = page.next;
                if after.is_none() {
                    break;
                }
            }
        }
        // Then its contacts' data keys: every sealed copy of its people's data, backups
        // included, is unreadable once they are gone (P64).
        let data_keys = partition_keys(&self.key_table, &partition, budget).await?;
        self.key_table.delete_many(&data_keys).await.context("destroying a tenant's data keys")?;
        if !data_keys.is_empty() {
            return Ok(data_keys.len() as u64);
        }
        // Then the partition itself, expired-but-not-yet-removed items included.
        stale.extend(partition_keys(&self.table, &partition, budget).await?);
        if stale.is_empty() {
            // Last, once nothing else is left: its entry in the operator's directory (deleting an
            // absent entry is a no-op, so it is not counted: 0 tells the caller the purge is done).
            self.table
                .delete_many(&[keys::tenant_directory_entry(tenant)])
                .await
                .context("removing a tenant from the directory")?;
            return Ok(0);
        }
        self.table.delete_many(&stale).await.context("purging a tenant")?;
        Ok(stale.len() as u64)
    }
}
