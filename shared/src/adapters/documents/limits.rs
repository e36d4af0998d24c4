//! [`RateLimiter`] on the document table: per-minute request windows and monthly message counts.

use super::*;

// ---------------------------------------------------------------------------------------------
// Rate limiting
// ---------------------------------------------------------------------------------------------

/// [`RateLimiter`] on a [`DocTable`]: one counter item per tenant and minute, expiring after
/// two minutes. One conditional-free `ADD` per request.
#[derive(Debug, Clone)]
pub struct DocRateLimiter<D> {
    table: D,
}

impl<D: DocTable> RateLimiter for DocRateLimiter<D> {
    async fn admit(
        &self,
        tenant: &TenantId,
        per_minute: u32,
        now: Timestamp,
    ) -> Result<Admission, RateLimitError> {
        let minute = now.as_secs().div_euclid(60);
        let expires = ExpiresAt::from_epoch_secs((minute + 2) * 60);
        let count = self.table.increment(&keys::rate_window(tenant, minute), expires).await?;
        if count <= u64::from(per_minute) {
            return Ok(Admission::Allowed);
        }
        let retry_after_secs = u64::try_from(60 - now.as_secs().rem_euclid(60)).unwrap_or(60);
        Ok(Admission::Limited { retry_after_secs })
    }

    async fn admit_source(
        &self,
        source: &str,
        per_minute: u32,
        now: Timestamp,
    ) -> Result<Admission, RateLimitError> {
        let minute = now.as_secs().div_euclid(60);
        let expires = ExpiresAt::from_epoch_secs((minute + 2) * 60);
        let count = self.table.increment(&keys::source_window(source, minute), expires).await?;
        if count <= u64::from(per_minute) {
            return Ok(Admission::Allowed);
        }
        let retry_after_secs = u64::try_from(60 - now.as_secs().rem_euclid(60)).unwrap_or(60);
        Ok(Admission::Limited { retry_after_secs })
    }

    async fn admit_message(
        &self,
        tenant: &TenantId,
        per_month: u64,
        now: Timestamp,
    ) -> Result<Admission, RateLimitError> {
        // Kept 400 days: a year of monthly usage stays readable.
        let expires = ExpiresAt::after(now, std::time::Duration::from_secs(400 * 86_400));
        let key = keys::messages_month(tenant, &now.utc_month());
        match self.table.increment_within(&key, per_month, expires).await? {
            Some(_) => Ok(Admission::Allowed),
            None => Ok(Admission::Limited { retry_after_secs: 3600 }),
        }
    }

    async fn messages_this_month(&self, tenant: &TenantId, now: Timestamp) -> Result<u64, RateLimitError> {
        Ok(self.table.counter(&keys::messages_month(tenant, &now.utc_month()), now).await?)
    }
}

impl<D> DocRateLimiter<D> {
    /// The limiter on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}
