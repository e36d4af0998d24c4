//! [`TenantStore`] on the single table: the tenant record, its API keys, its WhatsApp connection
//! and the routing entry from phone number id to tenant.

use anyhow::Context as _;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};

use super::item::{b, item_with_key, key_attributes, n, s, Item, ItemExt, MappingError};
use super::keys::{self, attr, ENTITY, PK};
use super::table::Table;
use crate::domain::ai::AiConnection;
use crate::domain::ports::{
    ApiKeyStore, ConnectError, ConnectionStore, CreateTenantError, NumberRoute, TenantRouting, TenantStore,
    TenantStoreError, TenantUpdate, TENANT_SETTINGS_MAX_AGE,
};
use crate::domain::secret::Sealed;
use crate::domain::tenant::{
    ApiKeyRecord, PageConnection, RetentionSettings, Role, Tenant, TenantStatus, WhatsAppConnection,
};
use crate::domain::{ApiKeyId, TenantId, Timestamp};
use crate::kernel::page::Page;
use crate::kernel::TtlCache;

/// [`TenantStore`] on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoTenantStore {
    table: Table,
    /// Tenant records as last read by this instance, for [`TenantStore::tenant_settings`]; keyed
    /// by the tenant, so an entry answers only for its own tenant. Shared by the clones.
    settings: std::sync::Arc<TtlCache<TenantId, Option<Tenant>>>,
}

/// Tenants one instance keeps settings of (an instance serves few at a time; full, it starts over).
const SETTINGS_ENTRIES: usize = 1024;

impl DynamoTenantStore {
    /// The store on `table`.
    #[must_use]
    pub fn new(table: Table) -> Self {
        let settings = std::sync::Arc::new(TtlCache::new(TENANT_SETTINGS_MAX_AGE, SETTINGS_ENTRIES));
        Self { table, settings }
    }

    /// The instant expiry filters use: the table's clock.
    fn now(&self) -> Timestamp {
        self.table.now()
    }

    /// The put of `tenant`'s entry in the operator's directory (with the tenant, in its
    /// transaction: a tenant is never stored without it).
    fn directory_entry(&self, tenant: &TenantId) -> anyhow::Result<Put> {
        let mut item = item_with_key(&keys::tenant_directory_entry(tenant));
        item.insert(ENTITY.to_owned(), s("tenant_directory"));
        item.insert(attr::TENANT_ID.to_owned(), s(tenant.as_str()));
        Put::builder().table_name(self.table.name()).set_item(Some(item)).build().context("building a put")
    }
}

fn status_name(status: TenantStatus) -> &'static str {
    match status {
        TenantStatus::Active => "active",
        TenantStatus::Closed => "closed",
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Agent => "agent",
        Role::Manager => "manager",
        Role::Admin => "admin",
    }
}

fn tenant_item(tenant: &Tenant) -> Item {
    let mut item = item_with_key(&keys::tenant(&tenant.id));
    item.insert(ENTITY.to_owned(), s("tenant"));
    item.insert(attr::NAME.to_owned(), s(&tenant.name));
    item.insert(attr::STATUS.to_owned(), s(status_name(tenant.status)));
    item.insert(attr::CREATED_AT.to_owned(), n(tenant.created_at.as_millis()));
    item.insert(attr::CONVERSATION_DAYS.to_owned(), n(tenant.retention.conversation_days));
    item.insert(attr::CONTENT_DAYS.to_owned(), n(tenant.retention.content_days));
    item.insert(attr::LEGAL_HOLD.to_owned(), AttributeValue::Bool(tenant.retention.legal_hold));
    item.insert(attr::SETTINGS.to_owned(), s(serde_json::to_string(&tenant.settings).unwrap_or_default()));
    item.insert(attr::PLAN.to_owned(), s(serde_json::to_string(&tenant.plan).unwrap_or_default()));
    item.insert(attr::TOKEN_KEY.to_owned(), s(tenant.token_key.encode()));
    if let Some(closed_at) = tenant.closed_at {
        item.insert(attr::CLOSED_AT.to_owned(), n(closed_at.as_millis()));
    }
    item
}

fn json_attr<T: serde::de::DeserializeOwned + Default>(
    item: &Item,
    name: &'static str,
) -> Result<T, MappingError> {
    item.opt_string(name).map_or_else(
        || Ok(T::default()),
        |text| {
            serde_json::from_str(text)
                .map_err(|_| MappingError { attribute: name.to_owned(), expected: "JSON" })
        },
    )
}

fn tenant_from(id: &TenantId, item: &Item) -> Result<Tenant, MappingError> {
    let status = match item.string(attr::STATUS)? {
        "active" => TenantStatus::Active,
        "closed" => TenantStatus::Closed,
        _ => return Err(MappingError { attribute: attr::STATUS.to_owned(), expected: "tenant status" }),
    };
    Ok(Tenant {
        id: id.clone(),
        name: item.string(attr::NAME)?.to_owned(),
        status,
        created_at: Timestamp::from_millis(item.number(attr::CREATED_AT)?),
        retention: match (item.opt_number(attr::CONVERSATION_DAYS)?, item.opt_number(attr::CONTENT_DAYS)?) {
            (Some(conversation_days), Some(content_days)) => RetentionSettings {
                conversation_days,
                content_days,
                legal_hold: matches!(item.get(attr::LEGAL_HOLD), Some(AttributeValue::Bool(true))),
            },
            _ => RetentionSettings::default(),
        },
        settings: json_attr(item, attr::SETTINGS)?,
        plan: json_attr(item, attr::PLAN)?,
        closed_at: item.opt_number(attr::CLOSED_AT)?.map(Timestamp::from_millis),
        token_key: Sealed::decode(item.string(attr::TOKEN_KEY)?)
            .map_err(|_| MappingError { attribute: attr::TOKEN_KEY.to_owned(), expected: "envelope" })?,
    })
}

fn api_key_item(record: &ApiKeyRecord) -> Item {
    let mut item = item_with_key(&keys::api_key(&record.tenant_id, &record.id));
    item.insert(ENTITY.to_owned(), s("api_key"));
    item.insert(attr::NAME.to_owned(), s(&record.name));
    item.insert(attr::ROLE.to_owned(), s(role_name(record.role)));
    item.insert(attr::SECRET_SHA256.to_owned(), b(record.secret_sha256.clone()));
    item.insert(attr::CREATED_AT.to_owned(), n(record.created_at.as_millis()));
    if let Some(revoked) = record.revoked_at {
        item.insert(attr::REVOKED_AT.to_owned(), n(revoked.as_millis()));
    }
    item
}

fn api_key_from(tenant_id: &TenantId, key_id: &ApiKeyId, item: &Item) -> Result<ApiKeyRecord, MappingError> {
    let role = match item.string(attr::ROLE)? {
        "agent" => Role::Agent,
        "manager" => Role::Manager,
        "admin" => Role::Admin,
        _ => return Err(MappingError { attribute: attr::ROLE.to_owned(), expected: "role" }),
    };
    Ok(ApiKeyRecord {
        id: key_id.clone(),
        tenant_id: tenant_id.clone(),
        name: item.string(attr::NAME)?.to_owned(),
        role,
        secret_sha256: item.bytes(attr::SECRET_SHA256)?.to_vec(),
        created_at: Timestamp::from_millis(item.number(attr::CREATED_AT)?),
        revoked_at: item.opt_number(attr::REVOKED_AT)?.map(Timestamp::from_millis),
    })
}

fn connection_item(tenant_id: &TenantId, connection: &WhatsAppConnection) -> Item {
    let mut item = item_with_key(&keys::whatsapp_connection(tenant_id));
    item.insert(ENTITY.to_owned(), s("whatsapp_connection"));
    item.insert(attr::PHONE_NUMBER_ID.to_owned(), s(&connection.phone_number_id));
    item.insert(attr::DISPLAY_PHONE_NUMBER.to_owned(), s(&connection.display_phone_number));
    item.insert(attr::WABA_ID.to_owned(), s(&connection.waba_id));
    item.insert(attr::ACCESS_TOKEN.to_owned(), s(connection.access_token.encode()));
    item.insert(attr::CONNECTED_AT.to_owned(), n(connection.connected_at.as_millis()));
    item
}

fn connection_from(item: &Item) -> anyhow::Result<WhatsAppConnection> {
    Ok(WhatsAppConnection {
        phone_number_id: item.string(attr::PHONE_NUMBER_ID)?.to_owned(),
        display_phone_number: item.string(attr::DISPLAY_PHONE_NUMBER)?.to_owned(),
        waba_id: item.string(attr::WABA_ID)?.to_owned(),
        access_token: Sealed::decode(item.string(attr::ACCESS_TOKEN)?)?,
        connected_at: Timestamp::from_millis(item.number(attr::CONNECTED_AT)?),
    })
}

fn ai_connection_from(item: &Item) -> anyhow::Result<AiConnection> {
    Ok(AiConnection {
        provider: item.string(attr::AI_PROVIDER)?.to_owned(),
        model: item.string(attr::AI_MODEL)?.to_owned(),
        api_key: Sealed::decode(item.string(attr::AI_API_KEY)?)?,
        connected_at: Timestamp::from_millis(item.number(attr::CONNECTED_AT)?),
    })
}

/// Which items of a cancelled transaction failed their condition.
fn failed_conditions(error: &TransactWriteItemsError) -> Vec<bool> {
    match error {
        TransactWriteItemsError::TransactionCanceledException(e) => {
            e.cancellation_reasons().iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect()
        }
        _ => Vec::new(),
    }
}

impl TenantStore for DynamoTenantStore {
    async fn create_tenant(
        &self,
        tenant: &Tenant,
        admin_key: &ApiKeyRecord,
    ) -> Result<(), CreateTenantError> {
        let result = self
            .table
            .client()
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder().put(self.table.put_if_absent(tenant_item(tenant))?).build(),
            )
            .transact_items(
                TransactWriteItem::builder().put(self.table.put_if_absent(api_key_item(admin_key))?).build(),
            )
            .transact_items(TransactWriteItem::builder().put(self.directory_entry(&tenant.id)?).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                if failed_conditions(&e).iter().any(|failed| *failed) {
                    Err(CreateTenantError::AlreadyExists)
                } else {
                    Err(anyhow::Error::new(e).context("creating a tenant").into())
                }
            }
        }
    }

    async fn tenant(&self, tenant_id: &TenantId) -> Result<Option<Tenant>, TenantStoreError> {
        let item = self.table.get(&keys::tenant(tenant_id), self.now()).await.context("reading a tenant")?;
        let tenant = item.map(|i| tenant_from(tenant_id, &i)).transpose().context("mapping a tenant")?;
        self.settings.put(tenant_id.clone(), tenant.clone());
        Ok(tenant)
    }

    async fn tenant_settings(&self, tenant_id: &TenantId) -> Result<Option<Tenant>, TenantStoreError> {
        match self.settings.get(tenant_id) {
            Some(tenant) => Ok(tenant),
            None => self.tenant(tenant_id).await,
        }
    }

    async fn list_tenants(
        &self,
        after: Option<&TenantId>,
        limit: u16,
    ) -> Result<Page<Tenant>, TenantStoreError> {
        let after = after.map(|id| keys::tenant_directory_entry(id).sk);
        let entries = self
            .table
            .query_prefix(
                keys::TENANT_DIRECTORY,
                keys::TENANT_DIRECTORY_PREFIX,
                self.now(),
                i32::from(limit.clamp(1, 100)),
                after.as_deref(),
            )
            .await
            .context("reading the tenant directory")?;
        let mut tenants = Vec::with_capacity(entries.items.len());
        for entry in &entries.items {
            let id = TenantId::parse(entry.string(attr::TENANT_ID).context("a directory entry")?)
                .context("a directory entry's tenant id")?;
            // An entry whose tenant is gone (a purge stopped between the two) is skipped.
            if let Some(tenant) = self.tenant(&id).await? {
                tenants.push(tenant);
            }
        }
        let next = entries
            .next
            .as_deref()
            .and_then(|sk| sk.strip_prefix(keys::TENANT_DIRECTORY_PREFIX))
            .map(str::to_owned);
        Ok(Page { items: tenants, next })
    }

    async fn set_retention(
        &self,
        tenant_id: &TenantId,
        settings: RetentionSettings,
    ) -> Result<(), TenantStoreError> {
        self.settings.forget(tenant_id);
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::tenant(tenant_id))))
            .update_expression("SET #conv = :conv, #content = :content, #hold = :hold")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#conv", attr::CONVERSATION_DAYS)
            .expression_attribute_names("#content", attr::CONTENT_DAYS)
            .expression_attribute_names("#hold", attr::LEGAL_HOLD)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":hold", AttributeValue::Bool(settings.legal_hold))
            .expression_attribute_values(":conv", n(settings.conversation_days))
            .expression_attribute_values(":content", n(settings.content_days))
            .build()
            .context("building the settings update")?;
        let mut queued = item_with_key(&keys::due_restamp(tenant_id));
        queued.insert(ENTITY.to_owned(), s("due_restamp"));
        queued.insert(attr::TENANT_ID.to_owned(), s(tenant_id.as_str()));
        // A new change restarts the re-stamping from the first conversation.
        let restamp = Put::builder()
            .table_name(self.table.name())
            .set_item(Some(queued))
            .build()
            .context("building the queue put")?;
        self.table
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().put(restamp).build())
            .send()
            .await
            .context("changing retention settings")?;
        Ok(())
    }

    async fn update_tenant(
        &self,
        tenant_id: &TenantId,
        update: &TenantUpdate,
    ) -> Result<bool, TenantStoreError> {
        self.settings.forget(tenant_id);
        let request = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::tenant(tenant_id))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        let request = match update {
            TenantUpdate::Profile { name, settings } => request
                .update_expression("SET #name = :name, #settings = :settings")
                .expression_attribute_names("#name", attr::NAME)
                .expression_attribute_names("#settings", attr::SETTINGS)
                .expression_attribute_values(":name", s(name))
                .expression_attribute_values(
                    ":settings",
                    s(serde_json::to_string(settings).context("serializing settings")?),
                ),
            TenantUpdate::Closure(Some(at)) => request
                .update_expression("SET #status = :status, #closed = :closed")
                .expression_attribute_names("#status", attr::STATUS)
                .expression_attribute_names("#closed", attr::CLOSED_AT)
                .expression_attribute_values(":status", s(status_name(TenantStatus::Closed)))
                .expression_attribute_values(":closed", n(at.as_millis())),
            TenantUpdate::Closure(None) => request
                .update_expression("SET #status = :status REMOVE #closed")
                .expression_attribute_names("#status", attr::STATUS)
                .expression_attribute_names("#closed", attr::CLOSED_AT)
                .expression_attribute_values(":status", s(status_name(TenantStatus::Active))),
            TenantUpdate::Plan(plan) => request
                .update_expression("SET #plan = :plan")
                .expression_attribute_names("#plan", attr::PLAN)
                .expression_attribute_values(
                    ":plan",
                    s(serde_json::to_string(plan).context("serializing a plan")?),
                ),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(_) => {
                    Ok(false)
                }
                other => Err(anyhow::Error::new(other).context("updating a tenant").into()),
            },
        }
    }
}

impl ApiKeyStore for DynamoTenantStore {
    async fn create_api_key(&self, record: &ApiKeyRecord) -> Result<(), TenantStoreError> {
        self.table.put_new(api_key_item(record), self.now()).await.context("storing an API key")?;
        Ok(())
    }

    async fn api_keys(&self, tenant_id: &TenantId) -> Result<Vec<ApiKeyRecord>, TenantStoreError> {
        let mut records = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .table
                .query_prefix(
                    &keys::tenant_partition(tenant_id),
                    keys::API_KEY_PREFIX,
                    self.now(),
                    100,
                    after.as_deref(),
                )
                .await
                .context("listing API keys")?;
            for item in &page.items {
                let id = item
                    .string(keys::SK)
                    .ok()
                    .and_then(|sk| sk.strip_prefix(keys::API_KEY_PREFIX))
                    .and_then(|id| ApiKeyId::parse(id).ok())
                    .context("an API key item without its id")?;
                records.push(api_key_from(tenant_id, &id, item).context("mapping an API key")?);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(records),
            }
        }
    }

    async fn revoke_api_key(
        &self,
        tenant_id: &TenantId,
        key_id: &ApiKeyId,
        at: Timestamp,
    ) -> Result<bool, TenantStoreError> {
        let result = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::api_key(tenant_id, key_id))))
            .update_expression("SET #revoked = :at")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#revoked)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#revoked", attr::REVOKED_AT)
            .expression_attribute_values(":at", n(at.as_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(_) => {
                    Ok(false)
                }
                other => Err(anyhow::Error::new(other).context("revoking an API key").into()),
            },
        }
    }

    async fn api_key(
        &self,
        tenant_id: &TenantId,
        key_id: &ApiKeyId,
    ) -> Result<Option<ApiKeyRecord>, TenantStoreError> {
        let item = self
            .table
            .get(&keys::api_key(tenant_id, key_id), self.now())
            .await
            .context("reading an API key")?;
        Ok(item.map(|i| api_key_from(tenant_id, key_id, &i)).transpose().context("mapping an API key")?)
    }
}

impl ConnectionStore for DynamoTenantStore {
    async fn connect_whatsapp(
        &self,
        tenant_id: &TenantId,
        connection: &WhatsAppConnection,
    ) -> Result<(), ConnectError> {
        let previous = self.whatsapp_connection(tenant_id).await.map_err(|TenantStoreError::Unknown(e)| e)?;
        let old_route = previous
            .filter(|old| old.phone_number_id != connection.phone_number_id)
            .map(|old| keys::whatsapp_route(&old.phone_number_id));
        self.connect(
            tenant_id,
            connection_item(tenant_id, connection),
            (keys::whatsapp_route(&connection.phone_number_id), Some(&connection.waba_id)),
            old_route,
        )
        .await
    }

    async fn whatsapp_connection(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Option<WhatsAppConnection>, TenantStoreError> {
        let item = self
            .table
            .get(&keys::whatsapp_connection(tenant_id), self.now())
            .await
            .context("reading the WhatsApp connection")?;
        Ok(item.map(|i| connection_from(&i)).transpose().context("mapping the WhatsApp connection")?)
    }

    async fn disconnect_whatsapp(&self, tenant_id: &TenantId) -> Result<bool, TenantStoreError> {
        let Some(connection) = self.whatsapp_connection(tenant_id).await? else {
            return Ok(false);
        };
        self.disconnect(
            tenant_id,
            keys::whatsapp_connection(tenant_id),
            keys::whatsapp_route(&connection.phone_number_id),
        )
        .await?;
        Ok(true)
    }

    async fn connect_page(
        &self,
        tenant_id: &TenantId,
        connection: &PageConnection,
    ) -> Result<(), ConnectError> {
        let previous = self.page_connection(tenant_id).await.map_err(|TenantStoreError::Unknown(e)| e)?;
        let old_route = previous
            .filter(|old| old.page_id != connection.page_id)
            .map(|old| keys::page_route(&old.page_id));
        let mut item = item_with_key(&keys::page_connection(tenant_id));
        item.insert(ENTITY.to_owned(), s("page_connection"));
        item.insert(attr::PAGE_ID.to_owned(), s(&connection.page_id));
        item.insert(attr::PAGE_TOKEN.to_owned(), s(connection.page_access_token.encode()));
        item.insert(attr::CONNECTED_AT.to_owned(), n(connection.connected_at.as_millis()));
        self.connect(tenant_id, item, (keys::page_route(&connection.page_id), None), old_route).await
    }

    async fn page_connection(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Option<PageConnection>, TenantStoreError> {
        let item = self
            .table
            .get(&keys::page_connection(tenant_id), self.now())
            .await
            .context("reading the Page connection")?;
        let connection = item
            .map(|i| -> anyhow::Result<PageConnection> {
                Ok(PageConnection {
                    page_id: i.string(attr::PAGE_ID)?.to_owned(),
                    page_access_token: Sealed::decode(i.string(attr::PAGE_TOKEN)?)?,
                    connected_at: Timestamp::from_millis(i.number(attr::CONNECTED_AT)?),
                })
            })
            .transpose()
            .context("mapping the Page connection")?;
        Ok(connection)
    }

    async fn disconnect_page(&self, tenant_id: &TenantId) -> Result<bool, TenantStoreError> {
        let Some(connection) = self.page_connection(tenant_id).await? else {
            return Ok(false);
        };
        self.disconnect(tenant_id, keys::page_connection(tenant_id), keys::page_route(&connection.page_id))
            .await?;
        Ok(true)
    }

    async fn connect_ai(&self, tenant_id: &TenantId, connection: &AiConnection) -> Result<(), ConnectError> {
        let tenant = self.tenant(tenant_id).await.map_err(|TenantStoreError::Unknown(e)| e)?;
        if tenant.is_none_or(|t| t.status != TenantStatus::Active) {
            return Err(ConnectError::TenantNotFound);
        }
        let mut item = item_with_key(&keys::ai_connection(tenant_id));
        item.insert(ENTITY.to_owned(), s("ai_connection"));
        item.insert(attr::AI_PROVIDER.to_owned(), s(&connection.provider));
        item.insert(attr::AI_MODEL.to_owned(), s(&connection.model));
        item.insert(attr::AI_API_KEY.to_owned(), s(connection.api_key.encode()));
        item.insert(attr::CONNECTED_AT.to_owned(), n(connection.connected_at.as_millis()));
        self.table.put(item).await.context("storing the AI connection")?;
        Ok(())
    }

    async fn ai_connection(&self, tenant_id: &TenantId) -> Result<Option<AiConnection>, TenantStoreError> {
        let item = self
            .table
            .get(&keys::ai_connection(tenant_id), self.now())
            .await
            .context("reading the AI connection")?;
        Ok(item.map(|i| ai_connection_from(&i)).transpose().context("mapping the AI connection")?)
    }

    async fn disconnect_ai(&self, tenant_id: &TenantId) -> Result<bool, TenantStoreError> {
        if self.ai_connection(tenant_id).await?.is_none() {
            return Ok(false);
        }
        self.table.delete(&keys::ai_connection(tenant_id)).await.context("deleting the AI connection")?;
        Ok(true)
    }
}

impl TenantRouting for DynamoTenantStore {
    async fn tenant_for_phone_number_id(
        &self,
        phone_number_id: &str,
    ) -> Result<Option<TenantId>, TenantStoreError> {
        self.route(&keys::whatsapp_route(phone_number_id)).await
    }

    async fn number_route(&self, phone_number_id: &str) -> Result<Option<NumberRoute>, TenantStoreError> {
        let key = keys::whatsapp_route(phone_number_id);
        let Some(item) = self.table.get(&key, self.now()).await.context("reading a route")? else {
            return Ok(None);
        };
        let tenant_id = TenantId::parse(item.string(attr::TENANT_ID).context("mapping a route")?.to_owned())
            .context("a route holds an invalid tenant id")?;
        let waba_id = match item.opt_string(attr::WABA_ID) {
            Some(waba_id) => waba_id.to_owned(),
            // A route written before routes carried the WABA: the connection has it.
            None => match self.whatsapp_connection(&tenant_id).await? {
                Some(connection) if connection.phone_number_id == phone_number_id => connection.waba_id,
                _ => return Ok(None),
            },
        };
        Ok(Some(NumberRoute { tenant_id, waba_id }))
    }

    async fn tenant_for_page_id(&self, page_id: &str) -> Result<Option<TenantId>, TenantStoreError> {
        self.route(&keys::page_route(page_id)).await
    }
}

impl DynamoTenantStore {
    /// Writes a connection and its routing entry atomically: only for an active tenant, and only
    /// if the route is free or already this tenant's; an old route (a changed number) is removed.
    async fn connect(
        &self,
        tenant_id: &TenantId,
        connection: Item,
        (route, waba_id): (keys::Key, Option<&String>),
        old_route: Option<keys::Key>,
    ) -> Result<(), ConnectError> {
        let name = self.table.name();
        let tenant_check = ConditionCheck::builder()
            .table_name(name)
            .set_key(Some(key_attributes(&keys::tenant(tenant_id))))
            .condition_expression("attribute_exists(#pk) AND #status = :active")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_values(":active", s("active"))
            .build()
            .context("building the tenant check")?;
        let put_connection = Put::builder()
            .table_name(name)
            .set_item(Some(connection))
            .build()
            .context("building the connection put")?;
        let mut route_item = item_with_key(&route);
        route_item.insert(ENTITY.to_owned(), s("route"));
        route_item.insert(attr::TENANT_ID.to_owned(), s(tenant_id.as_str()));
        if let Some(waba_id) = waba_id {
            // The webhook's `entry[].id`: events of this number under another WABA are dropped.
            route_item.insert(attr::WABA_ID.to_owned(), s(waba_id));
        }
        let put_route = Put::builder()
            .table_name(name)
            .set_item(Some(route_item))
            .condition_expression("attribute_not_exists(#pk) OR #tenant = :tenant")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#tenant", attr::TENANT_ID)
            .expression_attribute_values(":tenant", s(tenant_id.as_str()))
            .build()
            .context("building the route put")?;
        let mut request = self
            .table
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(tenant_check).build())
            .transact_items(TransactWriteItem::builder().put(put_connection).build())
            .transact_items(TransactWriteItem::builder().put(put_route).build());
        if let Some(old) = old_route {
            let delete_old_route = Delete::builder()
                .table_name(name)
                .set_key(Some(key_attributes(&old)))
                .build()
                .context("building the old route delete")?;
            request = request.transact_items(TransactWriteItem::builder().delete(delete_old_route).build());
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                match failed_conditions(&e).as_slice() {
                    [true, ..] => Err(ConnectError::TenantNotFound),
                    [_, _, true, ..] => Err(ConnectError::TakenByAnotherTenant),
                    _ => Err(anyhow::Error::new(e).context("connecting").into()),
                }
            }
        }
    }

    /// Removes a connection and its route (the route only if it is this tenant's), atomically.
    async fn disconnect(
        &self,
        tenant_id: &TenantId,
        connection: keys::Key,
        route: keys::Key,
    ) -> Result<(), TenantStoreError> {
        let name = self.table.name();
        let delete_connection = Delete::builder()
            .table_name(name)
            .set_key(Some(key_attributes(&connection)))
            .build()
            .context("building a delete")?;
        let delete_route = Delete::builder()
            .table_name(name)
            .set_key(Some(key_attributes(&route)))
            .condition_expression("attribute_not_exists(#pk) OR #tenant = :tenant")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#tenant", attr::TENANT_ID)
            .expression_attribute_values(":tenant", s(tenant_id.as_str()))
            .build()
            .context("building the route delete")?;
        self.table
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete_connection).build())
            .transact_items(TransactWriteItem::builder().delete(delete_route).build())
            .send()
            .await
            .context("disconnecting")?;
        Ok(())
    }

    /// The tenant a routing entry names.
    async fn route(&self, key: &keys::Key) -> Result<Option<TenantId>, TenantStoreError> {
        let item = self.table.get(key, self.now()).await.context("reading a route")?;
        let tenant = item
            .map(|i| i.string(attr::TENANT_ID).map(str::to_owned))
            .transpose()
            .context("mapping a route")?
            .map(TenantId::parse)
            .transpose()
            .context("a route holds an invalid tenant id")?;
        Ok(tenant)
    }
}
