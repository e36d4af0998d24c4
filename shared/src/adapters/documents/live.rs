//! [`LiveConnections`] on the document table.
//!
//! A connection is a document in its tenant's partition ([`keys::live_connection`]), so the
//! fan-out reads a tenant's connections with one query; a routing document
//! ([`keys::live_route`], the tenant id only) leads from the connection id to it, because
//! `$disconnect` (and a post answered 410 Gone) know the id alone. Both are written and removed
//! together, and both expire with the connection.

use super::*;
use crate::domain::live::{LiveConnection, LiveConnections, LiveStoreError, MAX_CONNECTIONS_PER_TENANT};

/// [`LiveConnections`] on a [`DocTable`].
#[derive(Debug, Clone)]
pub struct DocLiveConnections<D> {
    table: D,
}

impl<D> DocLiveConnections<D> {
    /// The store on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

impl<D: DocTable> DocLiveConnections<D> {
    /// The first `limit` of the tenant's connection documents, and where more would follow.
    async fn connection_docs(
        &self,
        tenant: &TenantId,
        limit: u16,
    ) -> anyhow::Result<(Vec<StoredDoc>, Option<String>)> {
        let partition = keys::tenant_partition(tenant);
        let now = self.table.now();
        self.table.query_docs(&partition, keys::LIVE_CONNECTION_PREFIX, None, (limit, true), now).await
    }
}

impl<D: DocTable> LiveConnections for DocLiveConnections<D> {
    async fn put_connection(&self, connection: &LiveConnection) -> Result<(), LiveStoreError> {
        let id = &connection.connection_id;
        let writes = vec![
            DocWrite::Put {
                key: keys::live_connection(&connection.tenant_id, id),
                entity: "live_connection",
                body: to_json(connection)?,
                expires_at: Some(connection.expires_at),
                precondition: Precondition::None,
            },
            DocWrite::Put {
                key: keys::live_route(id),
                entity: "live_route",
                body: to_json(&connection.tenant_id)?,
                expires_at: Some(connection.expires_at),
                precondition: Precondition::None,
            },
        ];
        self.table.write_docs(writes, self.table.now()).await.map_err(|e| LiveStoreError::Unknown(e.into()))
    }

    async fn remove_connection(&self, connection_id: &str) -> Result<Option<TenantId>, LiveStoreError> {
        let now = self.table.now();
        let route = keys::live_route(connection_id);
        let Some(doc) = self.table.get_doc(&route, now).await? else { return Ok(None) };
        let tenant: TenantId = from_json(&doc)?.value;
        let writes = vec![
            DocWrite::Delete {
                key: keys::live_connection(&tenant, connection_id),
                precondition: Precondition::None,
            },
            DocWrite::Delete { key: route, precondition: Precondition::None },
        ];
        self.table.write_docs(writes, now).await.map_err(|e| LiveStoreError::Unknown(e.into()))?;
        Ok(Some(tenant))
    }

    async fn connections(&self, tenant: &TenantId) -> Result<Vec<LiveConnection>, LiveStoreError> {
        let (docs, more) = self.connection_docs(tenant, MAX_CONNECTIONS_PER_TENANT).await?;
        if more.is_some() {
            tracing::warn!(
                limit = MAX_CONNECTIONS_PER_TENANT,
                "More live connections than a notice is posted to"
            );
        }
        // One unreadable document costs its connection the notices, not the tenant's others.
        Ok(docs
            .iter()
            .filter_map(|doc| match from_json::<LiveConnection>(doc) {
                Ok(versioned) => Some(versioned.value),
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "Unreadable live connection skipped");
                    None
                }
            })
            .collect())
    }

    /// One item's read: a live connection, or a page cut short after expired ones (then there may
    /// be more, so `true`).
    async fn any_connection(&self, tenant: &TenantId) -> Result<bool, LiveStoreError> {
        let (docs, more) = self.connection_docs(tenant, 1).await?;
        Ok(!docs.is_empty() || more.is_some())
    }
}
