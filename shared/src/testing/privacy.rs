//! Erasure requests and retention queues in memory.

use super::*;

/// Erasure requests in memory, with their queue kept apart as the table keeps it (so that a
/// test can leave an entry whose request is finished or gone, see [`MemoryPrivacy::forget_erasure`]).
#[derive(Debug, Default, Clone)]
pub struct MemoryPrivacy {
    requests: Arc<Mutex<Vec<(TenantId, ErasureRequest)>>>,
    /// The erasure queue, oldest first.
    due_erasures: Arc<Mutex<Vec<DueErasure>>>,
    /// When set, every [`ErasureStore`] call fails (a store outage for one task of the run).
    erasures_failing: Arc<Mutex<bool>>,
    /// The purge queue: tenant → due, epoch ms.
    purges: Arc<Mutex<HashMap<TenantId, i64>>>,
    /// The Meta purge queue.
    meta_purges: Arc<Mutex<Vec<MetaPurge>>>,
    /// The first unfinished day of each day queue.
    day_cursors: Arc<Mutex<Vec<(DayQueue, i64)>>>,
}

fn poisoned() -> PrivacyError {
    PrivacyError::Unknown(anyhow::anyhow!("poisoned"))
}

impl MemoryPrivacy {
    fn purges(&self) -> Result<std::sync::MutexGuard<'_, HashMap<TenantId, i64>>, PrivacyError> {
        self.purges.lock().map_err(|_| poisoned())
    }

    fn meta_purges(&self) -> Result<std::sync::MutexGuard<'_, Vec<MetaPurge>>, PrivacyError> {
        self.meta_purges.lock().map_err(|_| poisoned())
    }

    /// The requests, or the outage [`MemoryPrivacy::set_erasures_failing`] asked for.
    fn requests(&self) -> Result<std::sync::MutexGuard<'_, Vec<(TenantId, ErasureRequest)>>, PrivacyError> {
        if *self.erasures_failing.lock().map_err(|_| poisoned())? {
            return Err(PrivacyError::Unknown(anyhow::anyhow!("the erasure store is unavailable")));
        }
        self.requests.lock().map_err(|_| poisoned())
    }

    fn due(&self) -> Result<std::sync::MutexGuard<'_, Vec<DueErasure>>, PrivacyError> {
        self.due_erasures.lock().map_err(|_| poisoned())
    }

    /// Makes every later erasure store call fail (or succeed again).
    pub fn set_erasures_failing(&self, failing: bool) {
        if let Ok(mut f) = self.erasures_failing.lock() {
            *f = failing;
        }
    }

    /// Deletes a request but leaves its queue entry, as an interrupted delete can.
    ///
    /// # Errors
    /// Never, but for a poisoned lock.
    pub fn forget_erasure(&self, tenant: &TenantId, id: &ErasureId) -> Result<(), PrivacyError> {
        self.requests()?.retain(|(t, r)| !(t == tenant && &r.id == id));
        Ok(())
    }

    /// Puts a request back on the queue whatever its state (a finished one, as an older build
    /// could leave it).
    ///
    /// # Errors
    /// Never, but for a poisoned lock.
    pub fn requeue_erasure(&self, tenant: &TenantId, request: &ErasureRequest) -> Result<(), PrivacyError> {
        self.due()?.push(DueErasure {
            tenant: tenant.clone(),
            id: request.id.clone(),
            requested_at: request.requested_at,
        });
        Ok(())
    }
}

impl ErasureStore for MemoryPrivacy {
    async fn request_erasure(&self, tenant: &TenantId, request: &ErasureRequest) -> Result<(), PrivacyError> {
        self.requests()?.push((tenant.clone(), request.clone()));
        self.requeue_erasure(tenant, request)
    }

    async fn erasure(
        &self,
        tenant: &TenantId,
        id: &ErasureId,
    ) -> Result<Option<ErasureRequest>, PrivacyError> {
        Ok(self.requests()?.iter().find(|(t, r)| t == tenant && &r.id == id).map(|(_, r)| r.clone()))
    }

    async fn due_erasures(&self, limit: u16) -> Result<Vec<DueErasure>, PrivacyError> {
        // A real store answers over the network: yielding as it would lets a caller's timeout
        // catch a loop that never ends.
        tokio::task::yield_now().await;
        drop(self.requests()?);
        let mut due = self.due()?.clone();
        due.sort_by_key(|entry| entry.requested_at);
        due.truncate(usize::from(limit));
        Ok(due)
    }

    async fn drop_due_erasure(&self, due: &DueErasure) -> Result<(), PrivacyError> {
        drop(self.requests()?);
        self.due()?.retain(|entry| entry != due);
        Ok(())
    }

    async fn record_progress(
        &self,
        tenant: &TenantId,
        id: &ErasureId,
        progress: &ErasureCounts,
    ) -> Result<(), PrivacyError> {
        if let Some((_, request)) = self.requests()?.iter_mut().find(|(t, r)| t == tenant && &r.id == id) {
            request.progress = progress.clone();
        }
        Ok(())
    }

    async fn complete_erasure(
        &self,
        tenant: &TenantId,
        receipt: &ErasureReceipt,
    ) -> Result<(), PrivacyError> {
        if let Some((_, request)) =
            self.requests()?.iter_mut().find(|(t, r)| t == tenant && r.id == receipt.request_id)
        {
            request.status = ErasureStatus::Done;
            request.contacts.clear();
            request.receipt = Some(receipt.clone());
        }
        self.due()?.retain(|entry| !(&entry.tenant == tenant && entry.id == receipt.request_id));
        Ok(())
    }
}

impl RetentionQueue for MemoryPrivacy {
    async fn day_cursor(&self, queue: DayQueue) -> Result<Option<i64>, PrivacyError> {
        let cursors =
            self.day_cursors.lock().map_err(|_| PrivacyError::Unknown(anyhow::anyhow!("poisoned")))?;
        Ok(cursors.iter().find(|(q, _)| *q == queue).map(|(_, day)| *day))
    }

    async fn set_day_cursor(&self, queue: DayQueue, day: i64) -> Result<(), PrivacyError> {
        let mut cursors =
            self.day_cursors.lock().map_err(|_| PrivacyError::Unknown(anyhow::anyhow!("poisoned")))?;
        cursors.retain(|(q, _)| *q != queue);
        cursors.push((queue, day));
        Ok(())
    }

    /// The in-memory inbox keeps no retention clock, so nothing is ever queued.
    async fn due_on(
        &self,
        _queue: DayQueue,
        _day: i64,
        _limit: u16,
    ) -> Result<Vec<(TenantId, ConversationId)>, PrivacyError> {
        Ok(Vec::new())
    }

    async fn drop_due(
        &self,
        _queue: DayQueue,
        _day: i64,
        _tenant: &TenantId,
        _conversation: &ConversationId,
    ) -> Result<(), PrivacyError> {
        Ok(())
    }

    async fn due_restamps(&self, _limit: u16) -> Result<Vec<(TenantId, Option<String>)>, PrivacyError> {
        Ok(Vec::new())
    }

    async fn restamp_progress(&self, _tenant: &TenantId, _next: Option<&str>) -> Result<(), PrivacyError> {
        Ok(())
    }
}

impl PurgeStore for MemoryPrivacy {
    async fn queue_purge(&self, tenant: &TenantId, due: Timestamp) -> Result<(), PrivacyError> {
        self.purges()?.insert(tenant.clone(), due.as_millis());
        Ok(())
    }

    async fn cancel_purge(&self, tenant: &TenantId) -> Result<(), PrivacyError> {
        self.purges()?.remove(tenant);
        Ok(())
    }

    async fn due_purges(&self, now: Timestamp, limit: u16) -> Result<Vec<TenantId>, PrivacyError> {
        let mut due: Vec<TenantId> =
            self.purges()?.iter().filter(|(_, at)| **at <= now.as_millis()).map(|(t, _)| t.clone()).collect();
        due.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        due.truncate(usize::from(limit));
        Ok(due)
    }

    async fn queue_meta_purge(&self, purge: &MetaPurge) -> Result<(), PrivacyError> {
        self.meta_purges()?.push(purge.clone());
        Ok(())
    }

    async fn due_meta_purges(&self, limit: u16) -> Result<Vec<MetaPurge>, PrivacyError> {
        Ok(self.meta_purges()?.iter().take(usize::from(limit)).cloned().collect())
    }

    async fn finish_meta_purge(&self, purge: &MetaPurge) -> Result<(), PrivacyError> {
        self.meta_purges()?.retain(|p| p != purge);
        Ok(())
    }

    /// This fake holds only erasure requests: those of the tenant go.
    async fn purge_tenant(&self, tenant: &TenantId, _budget: u16) -> Result<u64, PrivacyError> {
        let mut requests = self.requests()?;
        let before = requests.len();
        requests.retain(|(t, _)| t != tenant);
        self.due()?.retain(|entry| &entry.tenant != tenant);
        Ok((before - requests.len()) as u64)
    }
}
