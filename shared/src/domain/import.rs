//! CSV contact imports as jobs (P02): the API validates the whole file, stages its rows in
//! sealed chunks and answers at once; the `import` function writes one chunk per queue message.
//!
//! A job moves `queued` → `running` → `done` (or `failed`). Each chunk is counted exactly once:
//! its completion is recorded together with the job's counters in one conditional write, so a
//! redelivered chunk changes nothing. At most one job per tenant is active at a time.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use super::ids::{ImportId, PhoneNumber, TenantId};
use super::inbox::{ConsentKind, ContactProfile};
use super::time::Timestamp;

/// Rows per staged chunk (and per queue message): a chunk is written well within one
/// invocation of the `import` function.
pub const ROWS_PER_CHUNK: usize = 200;
/// Largest serialized chunk before sealing: sealed and encoded (about 4/3 larger) it stays far
/// below DynamoDB's 400 KB item limit.
pub const CHUNK_BYTES: usize = 200 * 1024;
/// Largest serialized row; a larger one is refused when the file is validated.
pub const ROW_BYTES: usize = 64 * 1024;
/// How long staged rows may live: a job normally deletes each chunk as soon as it is written;
/// staged rows of a stuck job (a chunk in the dead-letter queue) expire with TTL after a day.
pub const STAGED_SECS: i64 = 24 * 3600;
/// How long a job stays readable after it was created.
pub const JOB_SECS: i64 = 30 * 24 * 3600;
/// How long a job holds the tenant's one active-import slot at most: it gives the slot back
/// when it ends; a job stuck longer (its chunks in the dead-letter queue) stops blocking.
pub const ACTIVE_SECS: i64 = 3600;
/// How many row errors a job keeps (the count goes on).
pub const MAX_JOB_ERRORS: usize = 1000;

/// One validated row of an import, as staged (personal data: staged only sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRow {
    /// The line in the file (the header is line 1).
    pub line: u64,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneNumber>,
    /// Email (lowercased).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tags to add.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Attributes to merge.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Consent to record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentKind>,
}

impl ImportRow {
    /// The person the row names.
    #[must_use]
    pub fn profile(&self) -> ContactProfile {
        ContactProfile {
            phone: self.phone.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            user_id: None,
        }
    }
}

/// Splits rows into chunks of at most [`ROWS_PER_CHUNK`] rows and [`CHUNK_BYTES`] of JSON.
///
/// # Errors
/// When a row cannot be serialized.
pub fn chunks(rows: &[ImportRow]) -> serde_json::Result<Vec<Vec<ImportRow>>> {
    let mut chunks = Vec::new();
    let mut current: Vec<ImportRow> = Vec::new();
    let mut bytes = 0;
    for row in rows {
        let size = serde_json::to_vec(row)?.len() + 1;
        if !current.is_empty() && (current.len() >= ROWS_PER_CHUNK || bytes + size > CHUNK_BYTES) {
            chunks.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(row.clone());
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    Ok(chunks)
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Staged; no chunk written yet.
    Queued,
    /// Some chunks written.
    Running,
    /// Every chunk written.
    Done,
    /// Stopped (see `reason`); chunks not yet written never will be.
    Failed,
}

/// A refused row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RowError {
    /// The line in the file (the header is line 1).
    pub line: u64,
    /// The column at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Why (never the cell's value).
    pub reason: String,
}

/// What writing one chunk did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkCounts {
    /// Contacts created.
    pub created: u64,
    /// Existing contacts changed.
    pub updated: u64,
    /// Rows that changed nothing.
    pub unchanged: u64,
    /// Rows refused at write time (a consent conflict, the plan's contact limit).
    pub failed: u64,
    /// Why, by line.
    pub errors: Vec<RowError>,
}

/// An import job, as stored and as `GET /v1/imports/{import_id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImportJob {
    /// The job.
    pub id: ImportId,
    /// Where it is.
    pub status: ImportStatus,
    /// Where the list comes from (recorded with each consent event).
    pub source: String,
    /// Data rows in the file.
    pub rows: u64,
    /// Chunks staged.
    pub chunks: u32,
    /// Chunks written.
    pub chunks_done: u32,
    /// Rows written so far (created + updated + unchanged + failed).
    pub processed: u64,
    /// Contacts created.
    pub created: u64,
    /// Existing contacts changed.
    pub updated: u64,
    /// Rows that changed nothing (already imported).
    pub unchanged: u64,
    /// Rows refused at write time.
    pub failed: u64,
    /// Why rows were refused (the first 1,000).
    pub errors: Vec<RowError>,
    /// Why the job failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Ended, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
}

impl ImportJob {
    /// A queued job of `rows` rows in `chunks` chunks.
    #[must_use]
    pub fn queued(id: ImportId, source: String, rows: u64, chunks: u32, now: Timestamp) -> Self {
        Self {
            id,
            status: ImportStatus::Queued,
            source,
            rows,
            chunks,
            chunks_done: 0,
            processed: 0,
            created: 0,
            updated: 0,
            unchanged: 0,
            failed: 0,
            errors: Vec::new(),
            reason: None,
            created_at: now.as_millis(),
            finished_at: None,
        }
    }

    /// True once the job can change no more.
    #[must_use]
    pub fn ended(&self) -> bool {
        matches!(self.status, ImportStatus::Done | ImportStatus::Failed)
    }

    /// Adds one written chunk's counts; the job is done with its last chunk.
    pub fn count(&mut self, counts: &ChunkCounts, now: Timestamp) {
        self.created += counts.created;
        self.updated += counts.updated;
        self.unchanged += counts.unchanged;
        self.failed += counts.failed;
        self.processed += counts.created + counts.updated + counts.unchanged + counts.failed;
        let room = MAX_JOB_ERRORS.saturating_sub(self.errors.len());
        self.errors.extend(counts.errors.iter().take(room).cloned());
        self.chunks_done += 1;
        if self.chunks_done >= self.chunks {
            self.status = ImportStatus::Done;
            self.finished_at = Some(now.as_millis());
        } else {
            self.status = ImportStatus::Running;
        }
    }
}

/// Errors of [`ImportStore`].
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Another import of the tenant is still active; nothing was written.
    #[error("import {active} is still running")]
    Busy {
        /// The active job.
        active: ImportId,
    },
    /// The store failed; a retry may succeed (every write is conditional).
    #[error("import store failed")]
    Unknown(#[from] anyhow::Error),
}

/// What [`ImportStore::finish_chunk`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkFinish {
    /// The chunk was counted; the job as it is now.
    Counted(ImportJob),
    /// The chunk was counted before (a redelivery), or the job ended or expired: nothing changed.
    AlreadyCounted,
}

/// Import jobs and their staged chunks (sealed rows, opaque to the store).
pub trait ImportStore: Send + Sync {
    /// The tenant's active job, if one holds the slot.
    ///
    /// # Errors
    /// [`ImportError::Unknown`].
    fn active(&self, tenant: &TenantId)
        -> impl Future<Output = Result<Option<ImportId>, ImportError>> + Send;

    /// Stores the chunks (sealed, encoded), then the job together with the tenant's
    /// active-import slot. Chunks expire after [`STAGED_SECS`], the job after [`JOB_SECS`].
    ///
    /// # Errors
    /// [`ImportError::Busy`] when another job holds the slot (the job is not stored; the chunks
    /// are removed); [`ImportError::Unknown`].
    fn stage(
        &self,
        tenant: &TenantId,
        job: &ImportJob,
        chunks: &[String],
        now: Timestamp,
    ) -> impl Future<Output = Result<(), ImportError>> + Send;

    /// One job.
    ///
    /// # Errors
    /// [`ImportError::Unknown`].
    fn job(
        &self,
        tenant: &TenantId,
        id: &ImportId,
    ) -> impl Future<Output = Result<Option<ImportJob>, ImportError>> + Send;

    /// A staged chunk; `None` once it was counted (it is deleted then) or expired.
    ///
    /// # Errors
    /// [`ImportError::Unknown`].
    fn chunk(
        &self,
        tenant: &TenantId,
        id: &ImportId,
        index: u32,
    ) -> impl Future<Output = Result<Option<String>, ImportError>> + Send;

    /// Counts a written chunk into its job, once: in one conditional write it marks the chunk
    /// counted, deletes its staged rows and updates the job (and frees the tenant's slot with
    /// the last chunk). Concurrent calls for other chunks of the job are retried, never lost.
    ///
    /// # Errors
    /// [`ImportError::Unknown`].
    fn finish_chunk(
        &self,
        tenant: &TenantId,
        id: &ImportId,
        index: u32,
        counts: &ChunkCounts,
        now: Timestamp,
    ) -> impl Future<Output = Result<ChunkFinish, ImportError>> + Send;

    /// Ends a job as failed with `reason` (no-op when it already ended) and frees the slot.
    ///
    /// # Errors
    /// [`ImportError::Unknown`].
    fn fail(
        &self,
        tenant: &TenantId,
        id: &ImportId,
        reason: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), ImportError>> + Send;
}

/// The queue message of one chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkMessage {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The job.
    pub import_id: ImportId,
    /// The chunk, from 0.
    pub chunk: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: u64, name_len: usize) -> ImportRow {
        ImportRow {
            line,
            phone: None,
            email: Some(format!("p{line}@example.com")),
            name: Some("n".repeat(name_len)),
            tags: Vec::new(),
            attributes: BTreeMap::new(),
            consent: None,
        }
    }

    #[test]
    fn chunks_hold_at_most_their_rows_and_bytes() {
        let many: Vec<ImportRow> = (0..450).map(|i| row(i, 5)).collect();
        let large: Vec<ImportRow> = (0..10).map(|i| row(i, 50_000)).collect();

        let by_count = chunks(&many).expect("chunks");
        let by_bytes = chunks(&large).expect("chunks");

        assert_eq!(by_count.iter().map(Vec::len).collect::<Vec<_>>(), vec![200, 200, 50]);
        assert!(by_bytes.len() >= 3, "{}", by_bytes.len());
        for chunk in &by_bytes {
            let bytes: usize = chunk.iter().map(|r| serde_json::to_vec(r).expect("json").len()).sum();
            assert!(bytes <= CHUNK_BYTES, "{bytes}");
        }
        assert_eq!(by_bytes.iter().map(Vec::len).sum::<usize>(), 10);
    }

    #[test]
    fn a_job_is_done_with_its_last_chunk_and_keeps_a_bounded_error_list() {
        let id = ImportId::parse("imp_1").expect("id");
        let mut job = ImportJob::queued(id, "fair".into(), 3, 2, Timestamp::from_millis(1));
        let errors =
            (0..800).map(|line| RowError { line, column: None, reason: "r".into() }).collect::<Vec<_>>();
        let counts = ChunkCounts { created: 1, failed: 800, errors, ..ChunkCounts::default() };

        job.count(&counts, Timestamp::from_millis(2));
        let after_first = job.status;
        job.count(&counts, Timestamp::from_millis(3));

        assert_eq!(after_first, ImportStatus::Running);
        assert_eq!(job.status, ImportStatus::Done);
        assert_eq!(job.finished_at, Some(3));
        assert_eq!((job.created, job.failed, job.processed), (2, 1600, 1602));
        assert_eq!(job.errors.len(), MAX_JOB_ERRORS);
    }
}
