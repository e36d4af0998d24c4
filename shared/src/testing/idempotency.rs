//! Idempotency records in memory.

use super::*;

/// Idempotency records in memory (same decisions as the DynamoDB store: a claim holds until
/// its deadline, a completed key replays its answer, another payload is a mismatch).
#[derive(Debug, Default, Clone)]
pub struct MemoryIdempotency {
    records: Arc<Mutex<HashMap<IdemKey, IdemRecord>>>,
}

/// Tenant, scope, key.
type IdemKey = (TenantId, String, String);

#[derive(Debug, Clone)]
struct IdemRecord {
    payload_hash: String,
    until: Timestamp,
    response: Option<String>,
    progress: Option<String>,
}

impl crate::domain::ports::IdempotencyStore for MemoryIdempotency {
    async fn claim(
        &self,
        request: &crate::domain::ports::IdempotencyRequest<'_>,
        now: Timestamp,
        in_progress_until: Timestamp,
    ) -> Result<crate::domain::ports::Claim, crate::domain::ports::IdempotencyError> {
        use crate::domain::ports::Claim;
        let mut records = self.records.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let key = (request.tenant_id.clone(), request.scope.to_owned(), request.key.to_owned());
        if let Some(existing) = records.get_mut(&key) {
            if existing.payload_hash != request.payload_hash {
                return Ok(Claim::Mismatch);
            }
            if let Some(response) = &existing.response {
                return Ok(Claim::Completed { response: response.clone() });
            }
            if existing.until > now {
                return Ok(Claim::InProgress);
            }
            // Taken over from a holder that crashed: its note stays with the claim.
            existing.until = in_progress_until;
            return Ok(match &existing.progress {
                Some(progress) => Claim::Resumed { progress: progress.clone() },
                None => Claim::Acquired,
            });
        }
        records.insert(
            key,
            IdemRecord {
                payload_hash: request.payload_hash.to_owned(),
                until: in_progress_until,
                response: None,
                progress: None,
            },
        );
        Ok(Claim::Acquired)
    }

    async fn note(
        &self,
        request: &crate::domain::ports::IdempotencyRequest<'_>,
        progress: &str,
    ) -> Result<(), crate::domain::ports::IdempotencyError> {
        let mut records = self.records.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let key = (request.tenant_id.clone(), request.scope.to_owned(), request.key.to_owned());
        match records.get_mut(&key) {
            Some(record) if record.response.is_none() && record.payload_hash == request.payload_hash => {
                record.progress = Some(progress.to_owned());
                Ok(())
            }
            _ => Err(crate::domain::ports::IdempotencyError::ClaimLost),
        }
    }

    async fn complete(
        &self,
        request: &crate::domain::ports::IdempotencyRequest<'_>,
        response: &str,
        _now: Timestamp,
    ) -> Result<(), crate::domain::ports::IdempotencyError> {
        let mut records = self.records.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let key = (request.tenant_id.clone(), request.scope.to_owned(), request.key.to_owned());
        // Only the holder of a claim in progress (the same request) completes it.
        match records.get_mut(&key) {
            Some(record) if record.response.is_none() && record.payload_hash == request.payload_hash => {
                record.response = Some(response.to_owned());
                Ok(())
            }
            _ => Err(crate::domain::ports::IdempotencyError::ClaimLost),
        }
    }

    async fn release(
        &self,
        request: &crate::domain::ports::IdempotencyRequest<'_>,
    ) -> Result<(), crate::domain::ports::IdempotencyError> {
        let mut records = self.records.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let key = (request.tenant_id.clone(), request.scope.to_owned(), request.key.to_owned());
        // Only a claim in progress is released; a completed one keeps its answer.
        match records.get(&key) {
            Some(record) if record.response.is_none() && record.payload_hash == request.payload_hash => {
                records.remove(&key);
                Ok(())
            }
            _ => Err(crate::domain::ports::IdempotencyError::ClaimLost),
        }
    }
}
