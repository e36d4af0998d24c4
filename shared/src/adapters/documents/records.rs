//! [`RecordStore`] on the document table: notes, tasks, appointments, activities.

use super::*;

// ---------------------------------------------------------------------------------------------
// Contact records and activities
// ---------------------------------------------------------------------------------------------

/// [`RecordStore`] on a [`DocTable`].
#[derive(Debug, Clone)]
pub struct DocRecords<D> {
    table: D,
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

impl<D> DocRecords<D> {
    /// The store on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}
