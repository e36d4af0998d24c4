//! The document table in memory (users, audit, records, limits run on it unchanged).

use std::sync::{Arc, Mutex};

use crate::adapters::documents::{DocTable, DocWrite, DocWriteError, Precondition, StoredDoc};
use crate::adapters::dynamo::keys::Key;
use crate::domain::{Clock, ExpiresAt, SystemClock, Timestamp};

/// An in-memory [`DocTable`](crate::adapters::documents::DocTable): the document repositories
/// (`DocDirectory`, `DocAuditLog`, `DocRecords`, `DocRateLimiter`) run on it unchanged.
///
/// Like the DynamoDB table, it tells time by a clock handed in ([`MemoryDocs::with_clock`]);
/// the default is the system clock, as the handler tests that need no moving time expect.
#[derive(Clone)]
pub struct MemoryDocs {
    items: Arc<Mutex<std::collections::BTreeMap<(String, String), MemoryDoc>>>,
    clock: Arc<dyn Clock>,
    failing_writes: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for MemoryDocs {
    fn default() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }
}

impl std::fmt::Debug for MemoryDocs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryDocs").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct MemoryDoc {
    body: String,
    version: u64,
    count: u64,
    expires_at: Option<ExpiresAt>,
}

fn live(doc: &MemoryDoc, now: Timestamp) -> bool {
    doc.expires_at.is_none_or(|e| !e.is_expired(now))
}

impl MemoryDocs {
    /// An empty store telling time by `clock`.
    #[must_use]
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self { items: Arc::default(), clock, failing_writes: Arc::default() }
    }

    /// While `failing`, every write fails as an unavailable table does (reads still work):
    /// for tests of what a caller does with a failed write.
    pub fn fail_writes(&self, failing: bool) {
        self.failing_writes.store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    fn lock(
        &self,
    ) -> anyhow::Result<std::sync::MutexGuard<'_, std::collections::BTreeMap<(String, String), MemoryDoc>>>
    {
        self.items.lock().map_err(|_| anyhow::anyhow!("poisoned"))
    }
}

impl DocTable for MemoryDocs {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    async fn get_doc(&self, key: &Key, now: Timestamp) -> anyhow::Result<Option<StoredDoc>> {
        Ok(self.lock()?.get(&(key.pk.clone(), key.sk.clone())).filter(|d| live(d, now)).map(|d| StoredDoc {
            sk: key.sk.clone(),
            body: d.body.clone(),
            version: d.version,
        }))
    }

    async fn query_docs(
        &self,
        pk: &str,
        prefix: &str,
        after: Option<&str>,
        (limit, forward): (u16, bool),
        now: Timestamp,
    ) -> anyhow::Result<(Vec<StoredDoc>, Option<String>)> {
        let items = self.lock()?;
        let mut matching: Vec<StoredDoc> = items
            .iter()
            .filter(|((p, sk), doc)| p == pk && sk.starts_with(prefix) && live(doc, now))
            .filter(|((_, sk), _)| {
                after.is_none_or(|a| if forward { sk.as_str() > a } else { sk.as_str() < a })
            })
            .map(|((_, sk), d)| StoredDoc { sk: sk.clone(), body: d.body.clone(), version: d.version })
            .collect();
        if !forward {
            matching.reverse();
        }
        let limit = usize::from(limit.max(1));
        let next = (matching.len() > limit).then(|| matching[limit - 1].sk.clone());
        matching.truncate(limit);
        Ok((matching, next))
    }

    async fn write_docs(&self, writes: Vec<DocWrite>, now: Timestamp) -> Result<(), DocWriteError> {
        if self.failing_writes.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(DocWriteError::Unknown(anyhow::anyhow!("the table is unavailable (fail_writes)")));
        }
        let mut items = self.lock()?;
        for (index, write) in writes.iter().enumerate() {
            let (key, precondition) = match write {
                DocWrite::Put { key, precondition, .. } | DocWrite::Delete { key, precondition } => {
                    (key, precondition)
                }
            };
            let current = items.get(&(key.pk.clone(), key.sk.clone())).filter(|d| live(d, now));
            let holds = match precondition {
                Precondition::None => true,
                Precondition::Absent | Precondition::AbsentOrExpired => current.is_none(),
                Precondition::Version(v) => current.is_some_and(|d| d.version == *v),
            };
            if !holds {
                return Err(DocWriteError::Conflict { index });
            }
        }
        for write in writes {
            match write {
                DocWrite::Put { key, body, expires_at, precondition, .. } => {
                    let version = match precondition {
                        Precondition::Version(v) => v + 1,
                        _ => 1,
                    };
                    items.insert((key.pk, key.sk), MemoryDoc { body, version, count: 0, expires_at });
                }
                DocWrite::Delete { key, .. } => {
                    items.remove(&(key.pk, key.sk));
                }
            }
        }
        Ok(())
    }

    async fn increment(&self, key: &Key, expires_at: ExpiresAt) -> anyhow::Result<u64> {
        let mut items = self.lock()?;
        let doc = items.entry((key.pk.clone(), key.sk.clone())).or_insert(MemoryDoc {
            body: String::new(),
            version: 0,
            count: 0,
            expires_at: Some(expires_at),
        });
        doc.count += 1;
        Ok(doc.count)
    }

    async fn increment_within(
        &self,
        key: &Key,
        limit: u64,
        expires_at: ExpiresAt,
    ) -> anyhow::Result<Option<u64>> {
        let mut items = self.lock()?;
        let doc = items.entry((key.pk.clone(), key.sk.clone())).or_insert(MemoryDoc {
            body: String::new(),
            version: 0,
            count: 0,
            expires_at: Some(expires_at),
        });
        if doc.count >= limit {
            return Ok(None);
        }
        doc.count += 1;
        Ok(Some(doc.count))
    }

    async fn counters(&self, pk: &str, prefix: &str, now: Timestamp) -> anyhow::Result<Vec<(String, u64)>> {
        Ok(self
            .lock()?
            .iter()
            .filter(|((p, sk), doc)| p == pk && sk.starts_with(prefix) && live(doc, now))
            .map(|((_, sk), doc)| (sk.clone(), doc.count))
            .collect())
    }

    async fn counter(&self, key: &Key, now: Timestamp) -> anyhow::Result<u64> {
        Ok(self
            .lock()?
            .get(&(key.pk.clone(), key.sk.clone()))
            .filter(|d| live(d, now))
            .map_or(0, |d| d.count))
    }
}
