//! [`ImportStore`] on the document table: import jobs, their staged chunks, the marks of
//! counted chunks and the tenant's active-import slot.

use super::*;
use crate::domain::import::{
    ChunkCounts, ChunkFinish, ImportError, ImportJob, ImportStatus, ImportStore, ACTIVE_SECS, JOB_SECS,
    STAGED_SECS,
};
use crate::domain::ImportId;

/// How often a chunk's count is retried when other chunks of its job were counted meanwhile.
const COUNT_ATTEMPTS: usize = 20;

/// [`ImportStore`] on a [`DocTable`].
#[derive(Debug, Clone)]
pub struct DocImports<D> {
    table: D,
}

impl<D> DocImports<D> {
    /// The store on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

/// The slot document: which job holds it.
#[derive(Debug, Serialize, Deserialize)]
struct Slot {
    import_id: ImportId,
}

fn expiry(now: Timestamp, secs: i64) -> Option<ExpiresAt> {
    Some(ExpiresAt::from_epoch_secs(now.as_secs() + secs))
}

impl<D: DocTable> DocImports<D> {
    async fn versioned_job(
        &self,
        tenant: &TenantId,
        id: &ImportId,
    ) -> Result<Option<Versioned<ImportJob>>, ImportError> {
        let doc = self.table.get_doc(&keys::import_job(tenant, id), self.table.now()).await?;
        Ok(doc.as_ref().map(from_json).transpose()?)
    }

    /// The write that frees the slot if `id` holds it (none when another job or nobody does).
    async fn release(&self, tenant: &TenantId, id: &ImportId) -> Result<Option<DocWrite>, ImportError> {
        let key = keys::import_active(tenant);
        let Some(doc) = self.table.get_doc(&key, self.table.now()).await? else { return Ok(None) };
        let slot: Versioned<Slot> = from_json(&doc)?;
        Ok((slot.value.import_id == *id)
            .then_some(DocWrite::Delete { key, precondition: Precondition::Version(slot.version) }))
    }

    fn job_write(tenant: &TenantId, job: &ImportJob, version: u64) -> anyhow::Result<DocWrite> {
        Ok(DocWrite::Put {
            key: keys::import_job(tenant, &job.id),
            entity: "import",
            body: to_json(job)?,
            expires_at: expiry(Timestamp::from_millis(job.created_at), JOB_SECS),
            precondition: Precondition::Version(version),
        })
    }
}

impl<D: DocTable> ImportStore for DocImports<D> {
    async fn active(&self, tenant: &TenantId) -> Result<Option<ImportId>, ImportError> {
        let doc = self.table.get_doc(&keys::import_active(tenant), self.table.now()).await?;
        Ok(doc.as_ref().map(from_json::<Slot>).transpose()?.map(|slot| slot.value.import_id))
    }

    async fn stage(
        &self,
        tenant: &TenantId,
        job: &ImportJob,
        chunks: &[String],
        now: Timestamp,
    ) -> Result<(), ImportError> {
        if let Some(active) = self.active(tenant).await? {
            return Err(ImportError::Busy { active });
        }
        // Chunks first, one item each (a transaction is capped at 4 MB): nothing refers to them
        // until the job exists.
        for (index, chunk) in (0u32..).zip(chunks) {
            let write = DocWrite::Put {
                key: keys::import_chunk(tenant, &job.id, index),
                entity: "import_chunk",
                body: to_json(chunk)?,
                expires_at: expiry(now, STAGED_SECS),
                precondition: Precondition::None,
            };
            self.table.write_docs(vec![write], now).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let slot = DocWrite::Put {
            key: keys::import_active(tenant),
            entity: "import_active",
            body: to_json(&Slot { import_id: job.id.clone() })?,
            expires_at: expiry(now, ACTIVE_SECS),
            precondition: Precondition::AbsentOrExpired,
        };
        let record = DocWrite::Put {
            key: keys::import_job(tenant, &job.id),
            entity: "import",
            body: to_json(job)?,
            expires_at: expiry(now, JOB_SECS),
            precondition: Precondition::Absent,
        };
        match self.table.write_docs(vec![slot, record], now).await {
            Ok(()) => Ok(()),
            Err(DocWriteError::Conflict { .. }) => {
                // Another job took the slot meanwhile: its rows are not ours to keep.
                for index in (0u32..).take(chunks.len()) {
                    let delete = DocWrite::Delete {
                        key: keys::import_chunk(tenant, &job.id, index),
                        precondition: Precondition::None,
                    };
                    if let Err(error) = self.table.write_docs(vec![delete], now).await {
                        tracing::warn!(error = format!("{error:#}"), "Staged chunk left to expire");
                    }
                }
                let active = self.active(tenant).await?.unwrap_or_else(|| job.id.clone());
                Err(ImportError::Busy { active })
            }
            Err(DocWriteError::Unknown(e)) => Err(ImportError::Unknown(e)),
        }
    }

    async fn job(&self, tenant: &TenantId, id: &ImportId) -> Result<Option<ImportJob>, ImportError> {
        Ok(self.versioned_job(tenant, id).await?.map(|v| v.value))
    }

    async fn chunk(
        &self,
        tenant: &TenantId,
        id: &ImportId,
        index: u32,
    ) -> Result<Option<String>, ImportError> {
        let doc = self.table.get_doc(&keys::import_chunk(tenant, id, index), self.table.now()).await?;
        Ok(doc.as_ref().map(from_json::<String>).transpose()?.map(|v| v.value))
    }

    async fn finish_chunk(
        &self,
        tenant: &TenantId,
        id: &ImportId,
        index: u32,
        counts: &ChunkCounts,
        now: Timestamp,
    ) -> Result<ChunkFinish, ImportError> {
        for _ in 0..COUNT_ATTEMPTS {
            let Some(Versioned { value: mut job, version }) = self.versioned_job(tenant, id).await? else {
                return Ok(ChunkFinish::AlreadyCounted);
            };
            if job.ended() || index >= job.chunks {
                return Ok(ChunkFinish::AlreadyCounted);
            }
            job.count(counts, now);
            let mut writes = vec![
                DocWrite::Put {
                    key: keys::import_chunk_counted(tenant, id, index),
                    entity: "import_counted",
                    body: "{}".to_owned(),
                    expires_at: expiry(Timestamp::from_millis(job.created_at), JOB_SECS),
                    precondition: Precondition::Absent,
                },
                Self::job_write(tenant, &job, version)?,
                DocWrite::Delete {
                    key: keys::import_chunk(tenant, id, index),
                    precondition: Precondition::None,
                },
            ];
            if job.status == ImportStatus::Done {
                writes.extend(self.release(tenant, id).await?);
            }
            match self.table.write_docs(writes, now).await {
                Ok(()) => return Ok(ChunkFinish::Counted(job)),
                // The chunk was counted before: a redelivery.
                Err(DocWriteError::Conflict { index: 0 }) => return Ok(ChunkFinish::AlreadyCounted),
                // Another chunk was counted, or the slot changed, meanwhile: read again.
                Err(DocWriteError::Conflict { .. }) => continue,
                Err(DocWriteError::Unknown(e)) => return Err(ImportError::Unknown(e)),
            }
        }
        Err(ImportError::Unknown(anyhow::anyhow!("the job kept changing while a chunk was counted")))
    }

    async fn fail(
        &self,
        tenant: &TenantId,
        id: &ImportId,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), ImportError> {
        for _ in 0..COUNT_ATTEMPTS {
            let Some(Versioned { value: mut job, version }) = self.versioned_job(tenant, id).await? else {
                return Ok(());
            };
            if job.ended() {
                return Ok(());
            }
            job.status = ImportStatus::Failed;
            job.reason = Some(reason.to_owned());
            job.finished_at = Some(now.as_millis());
            let mut writes = vec![Self::job_write(tenant, &job, version)?];
            writes.extend(self.release(tenant, id).await?);
            match self.table.write_docs(writes, now).await {
                Ok(()) => return Ok(()),
                Err(DocWriteError::Conflict { .. }) => continue,
                Err(DocWriteError::Unknown(e)) => return Err(ImportError::Unknown(e)),
            }
        }
        Err(ImportError::Unknown(anyhow::anyhow!("the job kept changing while it was failed")))
    }
}
