//! The ports: what the domain needs from the outside world, as small traits.
//!
//! One style across the codebase: native `async` trait methods returning
//! `impl Future<Output = Result<_, OpError>> + Send`, with services and handlers generic over the
//! port. Each binary wires concrete adapters exactly once, so no trait objects are needed.
//! Each method documents its error contract; every error enum has an `Unknown` case for failures
//! the caller can only report.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::ai::AiConnection;
use super::ids::TenantId;
use super::secret::{Sealed, SecretBytes};
use super::tenant::{
    ApiKeyRecord, PageConnection, Plan, RetentionSettings, Tenant, TenantSettings, WhatsAppConnection,
};
use super::time::Timestamp;
use super::ApiKeyId;

// ---------------------------------------------------------------------------------------------
// Envelope encryption
// ---------------------------------------------------------------------------------------------

/// What a sealed secret is for. Part of the encryption context, so a token sealed for one purpose
/// cannot be opened as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A tenant's WhatsApp Cloud API access token.
    WhatsAppAccessToken,
    /// A tenant's Facebook Page access token (Lead Ads retrieval).
    PageAccessToken,
    /// A tenant-provided secret of an integration (e.g. an AI provider key).
    IntegrationSecret,
    /// The key a tenant's access tokens are signed with.
    TokenSigningKey,
    /// The validated rows of a CSV import, staged until the import job writes them.
    ImportRows,
}

impl Purpose {
    /// The stable name used in the KMS encryption context and the AEAD associated data.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WhatsAppAccessToken => "whatsapp_access_token",
            Self::PageAccessToken => "page_access_token",
            Self::IntegrationSecret => "integration_secret",
            Self::TokenSigningKey => "token_signing_key",
            Self::ImportRows => "import_rows",
        }
    }
}

/// The encryption context `{tenant_id, purpose}` every envelope is bound to: KMS refuses to
/// unwrap the data key under any other context, and the AEAD tag covers it too.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncryptionContext {
    /// The tenant that owns the secret.
    pub tenant_id: TenantId,
    /// What the secret is for.
    pub purpose: Purpose,
}

/// Errors of [`Vault::seal`].
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key service could not be reached or refused to make a data key.
    #[error("could not obtain a data key")]
    Unknown(#[from] anyhow::Error),
}

/// Errors of [`Vault::open`].
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The envelope was not sealed under this context (another tenant or purpose), or was
    /// tampered with. Retrying cannot help.
    #[error("the envelope does not open under this tenant and purpose")]
    Refused,
    /// The key service failed for another reason (network, throttling). Retrying may help.
    #[error("could not unwrap the data key")]
    Unknown(#[from] anyhow::Error),
}

/// Envelope encryption of secrets, bound to an [`EncryptionContext`].
pub trait Vault: Send + Sync {
    /// Seals `plaintext` under a data key bound to `context`.
    ///
    /// # Errors
    /// [`SealError::Unknown`] when no data key could be obtained.
    fn seal(
        &self,
        context: &EncryptionContext,
        plaintext: &[u8],
    ) -> impl Future<Output = Result<Sealed, SealError>> + Send;

    /// Opens an envelope sealed under the same `context`.
    ///
    /// # Errors
    /// [`OpenError::Refused`] when the context differs or the envelope was altered;
    /// [`OpenError::Unknown`] when the key service failed.
    fn open(
        &self,
        context: &EncryptionContext,
        sealed: &Sealed,
    ) -> impl Future<Output = Result<SecretBytes, OpenError>> + Send;
}

// ---------------------------------------------------------------------------------------------
// Queues
// ---------------------------------------------------------------------------------------------

/// One message to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueMessage {
    /// The body (JSON text).
    pub body: String,
    /// FIFO message group: messages of one group are delivered in order, one at a time.
    pub group_id: Option<String>,
    /// FIFO deduplication id: a second message with the same id within 5 minutes is dropped.
    pub dedup_id: Option<String>,
}

/// Errors of [`Queue::send_batch`].
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// One message is larger than the queue accepts; nothing of the batch was sent.
    #[error("message {index} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Its position in the batch.
        index: usize,
        /// Its size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Some messages were not accepted after retries. Messages before them may have been sent:
    /// callers resend the whole batch, which FIFO deduplication ids make safe.
    #[error("the queue did not accept every message")]
    Unknown(#[from] anyhow::Error),
}

/// A queue to send to.
pub trait Queue: Send + Sync {
    /// Sends every message, in order, in as few requests as the queue allows.
    ///
    /// # Errors
    /// [`EnqueueError::TooLarge`] before anything is sent when a message is too large;
    /// [`EnqueueError::Unknown`] when the queue did not accept every message.
    fn send_batch(&self, messages: &[QueueMessage]) -> impl Future<Output = Result<(), EnqueueError>> + Send;
}

// ---------------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------------

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller now owns the key and must `complete` or `release` it.
    Acquired,
    /// The caller now owns the key, taken over from a holder that ran past its deadline (it
    /// crashed) after noting how far it got ([`IdempotencyStore::note`]): resume from
    /// `progress` rather than start again. The note stays with the claim.
    Resumed {
        /// What the previous holder noted.
        progress: String,
    },
    /// Someone else holds the key and their claim has not expired: try again later.
    InProgress,
    /// The work was done before; here is what it produced.
    Completed {
        /// The stored result.
        response: String,
    },
    /// The key was used before for a different request (another payload hash).
    Mismatch,
}

/// Errors of the [`IdempotencyStore`] operations.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// `complete` or `release` of a key the caller does not hold (it expired and was taken over).
    #[error("the idempotency claim was lost")]
    ClaimLost,
    /// The store failed.
    #[error("idempotency store failed")]
    Unknown(#[from] anyhow::Error),
}

/// One use of an idempotency key: which tenant, which operation, which key, which payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRequest<'a> {
    /// The tenant the key belongs to (keys of different tenants never collide).
    pub tenant_id: &'a TenantId,
    /// The operation, e.g. `send` or `api:messages` (keys of different operations never collide).
    pub scope: &'a str,
    /// The key itself (client `Idempotency-Key`, wamid, SQS message id…).
    pub key: &'a str,
    /// A hash of the request payload, to detect reuse of a key for another request.
    pub payload_hash: &'a str,
}

/// Exactly-once effects over at-least-once delivery: the design of AWS Powertools' idempotency
/// utility. A claim is held while work is in progress and expires at `in_progress_until`
/// (the Lambda deadline), so that a crashed invocation does not block the key forever; a
/// completed record keeps its result for at least seven days (Meta retries for seven days).
pub trait IdempotencyStore: Send + Sync {
    /// Claims `request.key` until `in_progress_until`.
    ///
    /// # Errors
    /// [`IdempotencyError::Unknown`] when the store failed; the caller must not do the work.
    fn claim(
        &self,
        request: &IdempotencyRequest<'_>,
        now: Timestamp,
        in_progress_until: Timestamp,
    ) -> impl Future<Output = Result<Claim, IdempotencyError>> + Send;

    /// [`IdempotencyStore::claim`], and when that acquires the claim, [`IdempotencyStore::note`]
    /// of `progress` with it: the id its holder reserves, noted from the claim's first moment
    /// (a store may write both at once: one write instead of two).
    ///
    /// # Errors
    /// As [`IdempotencyStore::claim`] and [`IdempotencyStore::note`].
    fn claim_noting(
        &self,
        request: &IdempotencyRequest<'_>,
        now: Timestamp,
        in_progress_until: Timestamp,
        progress: &str,
    ) -> impl Future<Output = Result<Claim, IdempotencyError>> + Send {
        async move {
            let claim = self.claim(request, now, in_progress_until).await?;
            if claim == Claim::Acquired {
                self.note(request, progress).await?;
            }
            Ok(claim)
        }
    }

    /// Notes how far the holder of a claim in progress got (e.g. the id it reserved for what
    /// it creates), so that whoever takes the claim over after a crash resumes the same work
    /// ([`Claim::Resumed`]) instead of doing it a second time. A later note replaces it;
    /// `release` and the end of the record forget it.
    ///
    /// # Errors
    /// [`IdempotencyError::ClaimLost`] when the caller no longer holds the claim;
    /// [`IdempotencyError::Unknown`] when the store failed.
    fn note(
        &self,
        request: &IdempotencyRequest<'_>,
        progress: &str,
    ) -> impl Future<Output = Result<(), IdempotencyError>> + Send;

    /// Records the result of the work and ends the claim.
    ///
    /// # Errors
    /// [`IdempotencyError::ClaimLost`] when the caller no longer holds the claim;
    /// [`IdempotencyError::Unknown`] when the store failed.
    fn complete(
        &self,
        request: &IdempotencyRequest<'_>,
        response: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), IdempotencyError>> + Send;

    /// Gives the claim up without a result (the work failed and may be retried).
    ///
    /// # Errors
    /// [`IdempotencyError::ClaimLost`] when the caller no longer holds the claim;
    /// [`IdempotencyError::Unknown`] when the store failed.
    fn release(
        &self,
        request: &IdempotencyRequest<'_>,
    ) -> impl Future<Output = Result<(), IdempotencyError>> + Send;
}

// ---------------------------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------------------------

/// Errors of [`TenantStore::create_tenant`].
#[derive(Debug, thiserror::Error)]
pub enum CreateTenantError {
    /// A tenant with this id exists.
    #[error("tenant already exists")]
    AlreadyExists,
    /// The store failed; nothing was written.
    #[error("could not create the tenant")]
    Unknown(#[from] anyhow::Error),
}

/// Errors of [`ConnectionStore::connect_whatsapp`] and [`ConnectionStore::connect_page`].
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// This phone number id (or Page) is connected to another tenant.
    #[error("connected to another tenant")]
    TakenByAnotherTenant,
    /// The tenant does not exist or is closed.
    #[error("tenant not found")]
    TenantNotFound,
    /// The store failed; nothing was written.
    #[error("could not store the connection")]
    Unknown(#[from] anyhow::Error),
}

/// Errors of the read and delete operations of [`TenantStore`].
#[derive(Debug, thiserror::Error)]
pub enum TenantStoreError {
    /// The store failed.
    #[error("tenant store failed")]
    Unknown(#[from] anyhow::Error),
}

/// How old a tenant record [`TenantStore::tenant_settings`] may answer with: a settings change
/// reaches every instance's events within this.
pub const TENANT_SETTINGS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30);

/// Tenants themselves: created with their first admin key, read, changed, closed or reopened,
/// and their retention settings.
pub trait TenantStore: Send + Sync {
    /// Creates a tenant together with its first (admin) API key, atomically.
    ///
    /// # Errors
    /// [`CreateTenantError::AlreadyExists`]; [`CreateTenantError::Unknown`].
    fn create_tenant(
        &self,
        tenant: &Tenant,
        admin_key: &ApiKeyRecord,
    ) -> impl Future<Output = Result<(), CreateTenantError>> + Send;

    /// The tenant, if it exists.
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn tenant(
        &self,
        tenant_id: &TenantId,
    ) -> impl Future<Output = Result<Option<Tenant>, TenantStoreError>> + Send;

    /// The tenant, for reads of its settings (retention, preferences, plan) that tolerate a
    /// bounded staleness: an adapter may answer from a per-instance cache at most
    /// [`TENANT_SETTINGS_MAX_AGE`] old, which every [`TenantStore::tenant`] read of the instance
    /// refreshes and every change through it drops (issue #19: one read per event, not two).
    /// Never for a decision a promise makes immediate (a closed tenant, credentials): those read
    /// [`TenantStore::tenant`].
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn tenant_settings(
        &self,
        tenant_id: &TenantId,
    ) -> impl Future<Output = Result<Option<Tenant>, TenantStoreError>> + Send {
        self.tenant(tenant_id)
    }

    /// Changes the tenant's retention settings and queues the re-stamping of what they affect
    /// (the next retention run re-computes every conversation's expiry).
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn set_retention(
        &self,
        tenant_id: &TenantId,
        settings: RetentionSettings,
    ) -> impl Future<Output = Result<(), TenantStoreError>> + Send;

    /// Applies `update` to the tenant; `false` when there is no such tenant.
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn update_tenant(
        &self,
        tenant_id: &TenantId,
        update: &TenantUpdate,
    ) -> impl Future<Output = Result<bool, TenantStoreError>> + Send;

    /// Every tenant (closed ones included, purged ones not), in tenant id order (creation
    /// order), `limit` (1 to 100) per page, continuing after the tenant id `after`: the
    /// operator's listing. A page may hold fewer than `limit` tenants and still have a `next`.
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn list_tenants(
        &self,
        after: Option<&TenantId>,
        limit: u16,
    ) -> impl Future<Output = Result<crate::kernel::page::Page<Tenant>, TenantStoreError>> + Send;
}

/// A tenant's API keys (the api's credentials).
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new API key.
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn create_api_key(
        &self,
        record: &ApiKeyRecord,
    ) -> impl Future<Output = Result<(), TenantStoreError>> + Send;

    /// Every API key of the tenant (revoked ones included), oldest first.
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn api_keys(
        &self,
        tenant_id: &TenantId,
    ) -> impl Future<Output = Result<Vec<ApiKeyRecord>, TenantStoreError>> + Send;

    /// Revokes a key at `at`; `false` when there is no such live key.
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn revoke_api_key(
        &self,
        tenant_id: &TenantId,
        key_id: &ApiKeyId,
        at: Timestamp,
    ) -> impl Future<Output = Result<bool, TenantStoreError>> + Send;

    /// One API key of one tenant, if it exists (revoked keys included; the caller checks).
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn api_key(
        &self,
        tenant_id: &TenantId,
        key_id: &ApiKeyId,
    ) -> impl Future<Output = Result<Option<ApiKeyRecord>, TenantStoreError>> + Send;
}

/// A tenant's integrations: its WhatsApp number, its Lead Ads Page, its AI provider. Connecting
/// writes the routing entry that [`TenantRouting`] reads, in the same transaction.
pub trait ConnectionStore: Send + Sync {
    /// Stores (or replaces) the tenant's WhatsApp connection and the routing entry that maps
    /// its phone number id to the tenant, atomically.
    ///
    /// # Errors
    /// [`ConnectError::TakenByAnotherTenant`]; [`ConnectError::TenantNotFound`];
    /// [`ConnectError::Unknown`].
    fn connect_whatsapp(
        &self,
        tenant_id: &TenantId,
        connection: &WhatsAppConnection,
    ) -> impl Future<Output = Result<(), ConnectError>> + Send;

    /// The tenant's WhatsApp connection, if any.
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn whatsapp_connection(
        &self,
        tenant_id: &TenantId,
    ) -> impl Future<Output = Result<Option<WhatsAppConnection>, TenantStoreError>> + Send;

    /// Removes the connection and its routing entry; `false` when there was none.
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn disconnect_whatsapp(
        &self,
        tenant_id: &TenantId,
    ) -> impl Future<Output = Result<bool, TenantStoreError>> + Send;

    /// Stores (or replaces) the tenant's Lead Ads Page connection and its routing entry.
    ///
    /// # Errors
    /// [`ConnectError::TakenByAnotherTenant`]; [`ConnectError::TenantNotFound`]; [`ConnectError::Unknown`].
    fn connect_page(
        &self,
        tenant_id: &TenantId,
        connection: &PageConnection,
    ) -> impl Future<Output = Result<(), ConnectError>> + Send;

    /// The tenant's Page connection, if any.
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn page_connection(
        &self,
        tenant_id: &TenantId,
    ) -> impl Future<Output = Result<Option<PageConnection>, TenantStoreError>> + Send;

    /// Removes the Page connection and its routing entry; `false` when there was none.
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn disconnect_page(
        &self,
        tenant_id: &TenantId,
    ) -> impl Future<Output = Result<bool, TenantStoreError>> + Send;

    /// Stores (or replaces) the tenant's AI provider connection.
    ///
    /// # Errors
    /// [`ConnectError::TenantNotFound`] unless the tenant is active; [`ConnectError::Unknown`].
    fn connect_ai(
        &self,
        tenant_id: &TenantId,
        connection: &AiConnection,
    ) -> impl Future<Output = Result<(), ConnectError>> + Send;

    /// The tenant's AI provider connection, if any.
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn ai_connection(
        &self,
        tenant_id: &TenantId,
    ) -> impl Future<Output = Result<Option<AiConnection>, TenantStoreError>> + Send;

    /// Removes the AI provider connection (and with it the sealed key); `false` when there was none.
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn disconnect_ai(
        &self,
        tenant_id: &TenantId,
    ) -> impl Future<Output = Result<bool, TenantStoreError>> + Send;
}

/// Which tenant an event from Meta belongs to (the inbound path's routing).
pub trait TenantRouting: Send + Sync {
    /// The tenant a WhatsApp phone number id is connected to (the inbound path's routing).
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn tenant_for_phone_number_id(
        &self,
        phone_number_id: &str,
    ) -> impl Future<Output = Result<Option<TenantId>, TenantStoreError>> + Send;

    /// The tenant a WhatsApp phone number id is connected to, with the WhatsApp Business
    /// Account it was connected under (the webhook's `entry[].id` must be that one).
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn number_route(
        &self,
        phone_number_id: &str,
    ) -> impl Future<Output = Result<Option<NumberRoute>, TenantStoreError>> + Send;

    /// The tenant a Facebook Page is connected to (Lead Ads routing).
    ///
    /// # Errors
    /// [`TenantStoreError::Unknown`].
    fn tenant_for_page_id(
        &self,
        page_id: &str,
    ) -> impl Future<Output = Result<Option<TenantId>, TenantStoreError>> + Send;
}

/// Where a WhatsApp phone number id routes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberRoute {
    /// The tenant that connected the number.
    pub tenant_id: TenantId,
    /// The WhatsApp Business Account the number was verified in when it was connected.
    pub waba_id: String,
}

/// A change to a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantUpdate {
    /// Name and settings (by its admins).
    Profile {
        /// The name.
        name: String,
        /// The settings.
        settings: TenantSettings,
    },
    /// Closed (with when) or reopened (`None`).
    Closure(Option<Timestamp>),
    /// The plan (by the operator).
    Plan(Plan),
}

// ---------------------------------------------------------------------------------------------
// Rate limiting
// ---------------------------------------------------------------------------------------------

/// The answer of [`RateLimiter::admit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Allowed,
    /// Over the limit; try again after this many seconds.
    Limited {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
}

/// Errors of [`RateLimiter::admit`].
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// The counter store failed.
    #[error("rate limiter failed")]
    Unknown(#[from] anyhow::Error),
}

/// Per-tenant request rate limiting shared by every concurrent invocation (P16): a fixed
/// one-minute window counted in the store.
pub trait RateLimiter: Send + Sync {
    /// Counts one request of `tenant` and says whether it is within `per_minute`.
    ///
    /// # Errors
    /// [`RateLimitError::Unknown`].
    fn admit(
        &self,
        tenant: &TenantId,
        per_minute: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<Admission, RateLimitError>> + Send;

    /// Counts one request without a valid credential from `source` (the client's address as
    /// the gateway saw it) and says whether it is within `per_minute`: login, refresh and the
    /// other anonymous routes are limited per address, not per tenant.
    ///
    /// # Errors
    /// [`RateLimitError::Unknown`].
    fn admit_source(
        &self,
        source: &str,
        per_minute: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<Admission, RateLimitError>> + Send;

    /// Counts one outbound message of `tenant` in the UTC month of `now` and says whether it is
    /// within `per_month` (P25). A refused message is not counted.
    ///
    /// # Errors
    /// [`RateLimitError::Unknown`].
    fn admit_message(
        &self,
        tenant: &TenantId,
        per_month: u64,
        now: Timestamp,
    ) -> impl Future<Output = Result<Admission, RateLimitError>> + Send;

    /// Outbound messages counted in the UTC month of `now`.
    ///
    /// # Errors
    /// [`RateLimitError::Unknown`].
    fn messages_this_month(
        &self,
        tenant: &TenantId,
        now: Timestamp,
    ) -> impl Future<Output = Result<u64, RateLimitError>> + Send;
}

mod graph;
pub use graph::*;
