//! [`FlowStore`] on the document table: a flow's record (`FLOW#<id>`), its versions
//! (`FLOWV#<id>#<number>`, written once each) and each conversation's session
//! (`FLOWSESSION#<conversation>`, expiring with the conversation).
//!
//! A save writes the new version and the record (at the version read) in one atomic group, so two
//! admins saving at once cannot both take the same number; publishing checks the version exists
//! and writes the record at the version read. The document's version is the record's: a read
//! reports the stored version whatever the body says, so the two never drift.

use super::*;
use crate::domain::flows::FlowDefinition;
use crate::domain::flows_store::{FlowMeta, FlowStore, FlowStoreError, FlowVersion, SessionRecord};
use crate::domain::{ConversationId, FlowId};

/// How many version deletions go in one atomic group when a flow is deleted.
const DELETE_CHUNK: usize = 25;
/// How often ending a session re-reads it when it changed under the write.
const END_ATTEMPTS: usize = 5;

/// [`FlowStore`] on a [`DocTable`].
#[derive(Debug, Clone)]
pub struct DocFlows<D> {
    table: D,
}

impl<D> DocFlows<D> {
    /// The store on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

fn meta_of(doc: &StoredDoc) -> anyhow::Result<FlowMeta> {
    let Versioned { value, version } = from_json::<FlowMeta>(doc)?;
    Ok(FlowMeta { version, ..value })
}

fn session_of(doc: &StoredDoc) -> anyhow::Result<SessionRecord> {
    let Versioned { value, version } = from_json::<SessionRecord>(doc)?;
    Ok(SessionRecord { version, ..value })
}

fn meta_put(tenant: &TenantId, meta: &FlowMeta, precondition: Precondition) -> anyhow::Result<DocWrite> {
    Ok(DocWrite::Put {
        key: keys::flow(tenant, &meta.id),
        entity: "flow",
        body: to_json(meta)?,
        expires_at: None,
        precondition,
    })
}

fn version_put(tenant: &TenantId, id: &FlowId, version: &FlowVersion) -> anyhow::Result<DocWrite> {
    Ok(DocWrite::Put {
        key: keys::flow_version(tenant, id, version.number),
        entity: "flow_version",
        body: to_json(version)?,
        expires_at: None,
        precondition: Precondition::Absent,
    })
}

impl<D: DocTable> DocFlows<D> {
    async fn stored(&self, tenant: &TenantId, id: &FlowId) -> anyhow::Result<Option<FlowMeta>> {
        let doc = self.table.get_doc(&keys::flow(tenant, id), self.table.now()).await?;
        doc.as_ref().map(meta_of).transpose()
    }

    /// Writes `meta` over the record at `expected` (plus `extra`), mapping a refused condition.
    async fn write_meta(
        &self,
        tenant: &TenantId,
        (meta, expected): (&FlowMeta, u64),
        extra: Option<DocWrite>,
    ) -> Result<FlowMeta, FlowStoreError> {
        let mut writes = vec![meta_put(tenant, meta, Precondition::Version(expected))?];
        writes.extend(extra);
        match self.table.write_docs(writes, self.table.now()).await {
            Ok(()) => Ok(FlowMeta { version: expected + 1, ..meta.clone() }),
            Err(DocWriteError::Conflict { .. }) => match self.stored(tenant, &meta.id).await? {
                Some(_) => Err(FlowStoreError::Conflict),
                None => Err(FlowStoreError::NotFound),
            },
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }
}

impl<D: DocTable> FlowStore for DocFlows<D> {
    async fn create_flow(
        &self,
        tenant: &TenantId,
        meta: &FlowMeta,
        definition: &FlowDefinition,
    ) -> Result<FlowMeta, FlowStoreError> {
        let stored = FlowMeta { latest: 1, live: None, version: 1, ..meta.clone() };
        let first = FlowVersion { number: 1, definition: definition.clone(), saved_at: meta.created_at };
        let writes =
            vec![meta_put(tenant, &stored, Precondition::Absent)?, version_put(tenant, &meta.id, &first)?];
        match self.table.write_docs(writes, self.table.now()).await {
            Ok(()) => Ok(stored),
            Err(DocWriteError::Conflict { .. }) => Err(FlowStoreError::Conflict),
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }

    async fn flow(&self, tenant: &TenantId, id: &FlowId) -> Result<Option<FlowMeta>, FlowStoreError> {
        Ok(self.stored(tenant, id).await?)
    }

    async fn flows(&self, tenant: &TenantId) -> Result<Vec<FlowMeta>, FlowStoreError> {
        let docs = all_docs(&self.table, &keys::tenant_partition(tenant), keys::FLOW_PREFIX).await?;
        let mut flows = docs.iter().map(meta_of).collect::<Result<Vec<_>, _>>()?;
        // Ids are time-ordered, so the key order is creation order already; ties by id.
        flows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(flows)
    }

    async fn version(
        &self,
        tenant: &TenantId,
        id: &FlowId,
        number: u32,
    ) -> Result<Option<FlowVersion>, FlowStoreError> {
        let doc = self.table.get_doc(&keys::flow_version(tenant, id, number), self.table.now()).await?;
        Ok(doc.as_ref().map(|d| from_json::<FlowVersion>(d).map(|v| v.value)).transpose()?)
    }

    async fn save_version(
        &self,
        tenant: &TenantId,
        id: &FlowId,
        expected: u64,
        (name, definition): (&str, &FlowDefinition),
        at: Timestamp,
    ) -> Result<FlowMeta, FlowStoreError> {
        let current = self.stored(tenant, id).await?.ok_or(FlowStoreError::NotFound)?;
        if current.version != expected {
            return Err(FlowStoreError::Conflict);
        }
        let number = current.latest + 1;
        let meta =
            FlowMeta { name: name.to_owned(), latest: number, updated_at: at.as_millis(), ..current.clone() };
        let version = FlowVersion { number, definition: definition.clone(), saved_at: at.as_millis() };
        self.write_meta(tenant, (&meta, expected), Some(version_put(tenant, id, &version)?)).await
    }

    async fn set_live(
        &self,
        tenant: &TenantId,
        id: &FlowId,
        expected: u64,
        live: Option<u32>,
        at: Timestamp,
    ) -> Result<FlowMeta, FlowStoreError> {
        let current = self.stored(tenant, id).await?.ok_or(FlowStoreError::NotFound)?;
        if current.version != expected {
            return Err(FlowStoreError::Conflict);
        }
        if let Some(number) = live {
            // Versions are never changed once written: reading it first is enough.
            if number > current.latest || self.version(tenant, id, number).await?.is_none() {
                return Err(FlowStoreError::NotFound);
            }
        }
        let meta = FlowMeta { live, updated_at: at.as_millis(), ..current };
        self.write_meta(tenant, (&meta, expected), None).await
    }

    async fn delete_flow(&self, tenant: &TenantId, id: &FlowId) -> Result<(), FlowStoreError> {
        // The record first: from then on the flow is gone for every reader; the versions follow
        // (a retry after a failure half-way finds and deletes the rest).
        let record = DocWrite::Delete { key: keys::flow(tenant, id), precondition: Precondition::None };
        self.table.write_docs(vec![record], self.table.now()).await.map_err(|e| anyhow::anyhow!(e))?;
        loop {
            let (docs, _) = self
                .table
                .query_docs(
                    &keys::tenant_partition(tenant),
                    &keys::flow_versions_prefix(id),
                    None,
                    (u16::try_from(DELETE_CHUNK).unwrap_or(25), true),
                    self.table.now(),
                )
                .await?;
            if docs.is_empty() {
                return Ok(());
            }
            let writes = docs
                .iter()
                .map(|d| DocWrite::Delete {
                    key: Key { pk: keys::tenant_partition(tenant), sk: d.sk.clone() },
                    precondition: Precondition::None,
                })
                .collect();
            self.table.write_docs(writes, self.table.now()).await.map_err(|e| anyhow::anyhow!(e))?;
        }
    }

    async fn session(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Option<SessionRecord>, FlowStoreError> {
        let doc = self.table.get_doc(&keys::flow_session(tenant, conversation), self.table.now()).await?;
        Ok(doc.as_ref().map(session_of).transpose()?)
    }

    async fn save_session(
        &self,
        tenant: &TenantId,
        record: &SessionRecord,
    ) -> Result<SessionRecord, FlowStoreError> {
        let precondition = match record.version {
            0 => Precondition::AbsentOrExpired,
            v => Precondition::Version(v),
        };
        let write = DocWrite::Put {
            key: keys::flow_session(tenant, &record.conversation),
            entity: "flow_session",
            body: to_json(record)?,
            expires_at: Some(ExpiresAt::from_epoch_secs(record.expires_at)),
            precondition,
        };
        match self.table.write_docs(vec![write], self.table.now()).await {
            Ok(()) => Ok(SessionRecord { version: record.version + 1, ..record.clone() }),
            Err(DocWriteError::Conflict { .. }) => Err(FlowStoreError::Conflict),
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }

    async fn end_session(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<bool, FlowStoreError> {
        for _ in 0..END_ATTEMPTS {
            let Some(record) = self.session(tenant, conversation).await? else { return Ok(false) };
            if record.session.is_none() {
                return Ok(false);
            }
            match self
                .save_session(tenant, &SessionRecord { session: None, timeout_at: None, ..record })
                .await
            {
                Ok(_) => return Ok(true),
                Err(FlowStoreError::Conflict) => {}
                Err(other) => return Err(other),
            }
        }
        Err(anyhow::anyhow!("the flow session kept changing while being ended").into())
    }
}
