//! Rights of data subjects: erasure requests and their receipts (P62), and the port that keeps
//! them. Export (P60) reads through the inbox port.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::ids::{ContactId, ConversationId, ErasureId, TenantId};
use super::time::Timestamp;

/// Whether an erasure has been carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureStatus {
    /// Accepted; the next retention run carries it out.
    Pending,
    /// Carried out; the receipt says what was deleted.
    Done,
}

/// What an erasure deleted, by kind of item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErasureCounts {
    /// Contact records.
    pub contacts: u64,
    /// Lookup entries (BSUID, email) pointing at the contact.
    pub contact_aliases: u64,
    /// Consent ledger events.
    pub consent_events: u64,
    /// Conversations.
    pub conversations: u64,
    /// Messages, inbound and outbound, with their statuses.
    pub messages: u64,
    /// Message-id records (deduplication and status routing).
    pub message_id_records: u64,
    /// Leads.
    pub leads: u64,
    /// Notes, tasks, appointments and timeline entries.
    #[serde(default)]
    pub records: u64,
    /// AI suggestion requests and their replies.
    #[serde(default)]
    pub ai_suggestions: u64,
}

impl ErasureCounts {
    /// Adds another pass's counts.
    pub fn add(&mut self, other: &Self) {
        self.contacts += other.contacts;
        self.contact_aliases += other.contact_aliases;
        self.consent_events += other.consent_events;
        self.conversations += other.conversations;
        self.messages += other.messages;
        self.message_id_records += other.message_id_records;
        self.leads += other.leads;
        self.records += other.records;
        self.ai_suggestions += other.ai_suggestions;
    }

    /// Items deleted in all.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.contacts
            + self.contact_aliases
            + self.consent_events
            + self.conversations
            + self.messages
            + self.message_id_records
            + self.leads
            + self.records
            + self.ai_suggestions
    }
}

/// The deletion receipt that can be confirmed to the requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErasureReceipt {
    /// The request it answers.
    pub request_id: ErasureId,
    /// When the request was made, epoch ms.
    pub requested_at: i64,
    /// When the erasure finished, epoch ms.
    pub completed_at: i64,
    /// What was deleted.
    pub deleted: ErasureCounts,
}

/// An erasure request. It holds the derived contact ids to erase, never the phone number or
/// email it was made with: the request itself must not keep the data it erases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureRequest {
    /// Its id.
    pub id: ErasureId,
    /// The contacts the identifier leads to.
    pub contacts: Vec<ContactId>,
    /// Pending or done.
    pub status: ErasureStatus,
    /// When it was made.
    pub requested_at: Timestamp,
    /// What earlier runs deleted before their deadline (a request may span several runs).
    pub progress: ErasureCounts,
    /// The receipt, once done.
    pub receipt: Option<ErasureReceipt>,
}

/// An entry of the erasure queue: which request is due, and since when (the queue's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueErasure {
    /// Whose request.
    pub tenant: TenantId,
    /// The request.
    pub id: ErasureId,
    /// When it was requested (the entry's place in the queue).
    pub requested_at: Timestamp,
}

/// How long an erasure may take at most (P62: within 30 days of the request).
pub const ERASURE_DEADLINE_DAYS: u64 = 30;

impl ErasureRequest {
    /// True when the request is still pending at `now`, more than [`ERASURE_DEADLINE_DAYS`]
    /// after it was made.
    #[must_use]
    pub fn is_past_deadline(&self, now: Timestamp) -> bool {
        let deadline = self.requested_at.plus(std::time::Duration::from_secs(ERASURE_DEADLINE_DAYS * 86_400));
        self.status == ErasureStatus::Pending && now.as_millis() > deadline.as_millis()
    }
}

/// The retention run's day queues: conversations queued for the day their work falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayQueue {
    /// The conversation's retention period ends (P50).
    Expiry,
    /// Message content of the conversation reaches the sanitizing age (P51).
    Sanitize,
    /// An outbound message of the conversation has been `unknown` for the settle deadline:
    /// reconciliation ends it `failed` (`outcome-unknown`) unless a status settled it.
    Settle,
}

impl DayQueue {
    /// The stable name used in keys.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Expiry => "expire",
            Self::Sanitize => "sanitize",
            Self::Settle => "settle",
        }
    }
}

/// A Meta integration a tenant connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Integration {
    /// A WhatsApp Business number.
    WhatsApp,
    /// A Facebook Page's Lead Ads.
    LeadAds,
}

impl Integration {
    /// The stable name (`whatsapp`, `leadads`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WhatsApp => "whatsapp",
            Self::LeadAds => "leadads",
        }
    }

    /// The integration named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "whatsapp" => Some(Self::WhatsApp),
            "leadads" => Some(Self::LeadAds),
            _ => None,
        }
    }
}

/// What a tenant received from Meta through an integration it disconnected, queued for deletion
/// by the retention run (P54): WhatsApp conversations (with their messages and statuses) begun
/// before the disconnection, or the leads of the Page received before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaPurge {
    /// Whose.
    pub tenant: TenantId,
    /// Which integration.
    pub integration: Integration,
    /// Its Meta id: the phone number id or the Page id.
    pub source_id: String,
    /// When it was disconnected: data received after (a reconnection) stays.
    pub disconnected_at: Timestamp,
}

/// Errors of the privacy ports' operations ([`ErasureStore`], [`RetentionQueue`], [`PurgeStore`]).
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The store failed; retrying is safe.
    #[error("privacy store failed")]
    Unknown(#[from] anyhow::Error),
}

/// Erasure requests (P62): accepted by the api, carried out by the retention run, answered
/// with a receipt.
pub trait ErasureStore: Send + Sync {
    /// Records a pending request and queues it for the next retention run.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn request_erasure(
        &self,
        tenant: &TenantId,
        request: &ErasureRequest,
    ) -> impl Future<Output = Result<(), PrivacyError>> + Send;

    /// One request of the tenant.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn erasure(
        &self,
        tenant: &TenantId,
        id: &ErasureId,
    ) -> impl Future<Output = Result<Option<ErasureRequest>, PrivacyError>> + Send;

    /// Up to `limit` entries of the erasure queue, of any tenant, oldest first. An entry names
    /// a pending request, unless the request was finished or deleted without its entry (an
    /// interrupted purge, an older build): the run takes such an entry off with
    /// [`ErasureStore::drop_due_erasure`].
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn due_erasures(&self, limit: u16) -> impl Future<Output = Result<Vec<DueErasure>, PrivacyError>> + Send;

    /// Takes an entry off the erasure queue, whatever its request's state; dropping an entry
    /// that is not there is fine.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn drop_due_erasure(&self, due: &DueErasure) -> impl Future<Output = Result<(), PrivacyError>> + Send;

    /// Records what a run deleted before it had to stop, so that the receipt counts everything.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn record_progress(
        &self,
        tenant: &TenantId,
        id: &ErasureId,
        progress: &ErasureCounts,
    ) -> impl Future<Output = Result<(), PrivacyError>> + Send;

    /// Marks a request done with its receipt and takes it off the queue.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn complete_erasure(
        &self,
        tenant: &TenantId,
        receipt: &ErasureReceipt,
    ) -> impl Future<Output = Result<(), PrivacyError>> + Send;
}

/// The retention run's own bookkeeping: the day queues it walks (expiry, sanitizing) with
/// their cursors, and the re-stamping a settings change asked for.
pub trait RetentionQueue: Send + Sync {
    /// The first day (epoch days) of `queue` the retention run has not finished, if it ever ran.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn day_cursor(&self, queue: DayQueue) -> impl Future<Output = Result<Option<i64>, PrivacyError>> + Send;

    /// Records that every day of `queue` before `day` is done.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn set_day_cursor(
        &self,
        queue: DayQueue,
        day: i64,
    ) -> impl Future<Output = Result<(), PrivacyError>> + Send;

    /// Up to `limit` conversations queued in `queue` for `day`.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn due_on(
        &self,
        queue: DayQueue,
        day: i64,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<(TenantId, ConversationId)>, PrivacyError>> + Send;

    /// Takes a conversation off `queue` for `day`.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn drop_due(
        &self,
        queue: DayQueue,
        day: i64,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<(), PrivacyError>> + Send;

    /// Tenants whose retention settings changed, with where their re-stamping stopped.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn due_restamps(
        &self,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<(TenantId, Option<String>)>, PrivacyError>> + Send;

    /// Records where a tenant's re-stamping stopped (`None`: finished, off the queue).
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn restamp_progress(
        &self,
        tenant: &TenantId,
        next: Option<&str>,
    ) -> impl Future<Output = Result<(), PrivacyError>> + Send;
}

/// Deleting whole tenants after their grace period (P53) and what a disconnected integration
/// brought in (P54).
pub trait PurgeStore: Send + Sync {
    /// Queues a closed tenant's purge for `due` (the end of its grace period, P53); queueing
    /// again moves the date.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn queue_purge(
        &self,
        tenant: &TenantId,
        due: Timestamp,
    ) -> impl Future<Output = Result<(), PrivacyError>> + Send;

    /// Takes a tenant off the purge queue (reopened, or purged).
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn cancel_purge(&self, tenant: &TenantId) -> impl Future<Output = Result<(), PrivacyError>> + Send;

    /// Up to `limit` tenants whose purge is due at `now`.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn due_purges(
        &self,
        now: Timestamp,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<TenantId>, PrivacyError>> + Send;

    /// Queues the deletion of what the tenant received through a disconnected integration.
    /// Queued before the disconnection is written, so that no disconnection is left without
    /// one; the run drops it if the integration is in fact still connected as before.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn queue_meta_purge(&self, purge: &MetaPurge) -> impl Future<Output = Result<(), PrivacyError>> + Send;

    /// Up to `limit` queued Meta purges, of any tenant.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn due_meta_purges(
        &self,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<MetaPurge>, PrivacyError>> + Send;

    /// Takes a Meta purge off the queue (done, or not to be done).
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn finish_meta_purge(&self, purge: &MetaPurge) -> impl Future<Output = Result<(), PrivacyError>> + Send;

    /// Deletes up to `budget` items of the tenant — first its routing entries and its entries
    /// in the other due-work queues, then its contacts' data keys (crypto-shredding, P64), then
    /// everything in its partition (indexes follow) — and
    /// says how many went; 0 means nothing is left. Idempotent, resumable.
    ///
    /// # Errors
    /// [`PrivacyError::Unknown`].
    fn purge_tenant(
        &self,
        tenant: &TenantId,
        budget: u16,
    ) -> impl Future<Output = Result<u64, PrivacyError>> + Send;
}
