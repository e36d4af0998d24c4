//! In-memory fakes of the ports, for unit tests of handlers (enabled by the `test-util`
//! feature). Integration tests use the real adapters against moto instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::adapters::kms::{open_with, seal_with};
use crate::domain::ai::{AiConnection, SuggestionOutcome, SuggestionStatus, SuggestionStore, SuggestionView};
use crate::domain::inbox::{
    ConsentChange, ConsentEventView, ConsentState, ContactFilter, ContactKey, ContactPatch, ContactProfile,
    ContactView, ConversationFilter, ConversationPatch, ConversationView, Expiry, InboxError, LeadFilter,
    LeadOrigin, LeadPatch, LeadStage, LeadView, MessageStatus, MessageView, NewInboundMessage, NewLead,
    NewManualLead, NewOutboundMessage, OutboundClaim, StatusChange, StatusOutcome, Stored, Unsent,
};
use crate::domain::inbox::{
    ContactStore, ConversationStore, IngestStore, LeadStore, LifecycleStore, OutboundStore,
};
use crate::domain::ports::{
    ApiKeyStore, ConnectError, ConnectionStore, CreateTenantError, EncryptionContext, EnqueueError,
    OpenError, Queue, QueueMessage, SealError, TenantRouting, TenantStore, TenantStoreError, TenantUpdate,
    Vault,
};
use crate::domain::privacy::{
    DayQueue, DueErasure, ErasureCounts, ErasureReceipt, ErasureRequest, ErasureStatus, ErasureStore,
    MetaPurge, PrivacyError, PurgeStore, RetentionQueue,
};
use crate::domain::secret::Sealed;
use crate::domain::tenant::{
    ApiKeyRecord, PageConnection, RetentionSettings, Tenant, TenantStatus, WhatsAppConnection,
};
use crate::domain::whatsapp::MetaError;
use crate::domain::{
    ApiKeyId, Clock, ContactId, ConversationId, ErasureId, ExpiresAt, MessageId, PhoneNumber, SecretBytes,
    SuggestionId, TenantId, Timestamp, Wamid,
};
use crate::kernel::Page;

mod ai;
mod clock;
mod cloud;
pub mod contract;
mod docs;
mod fakes;
mod idempotency;
mod inbox;
mod live;
mod privacy;
mod queue;
mod tenants;
mod vault;

pub use ai::{AiCall, MemoryAi, MEMORY_AI_REPLIES};
pub use clock::ManualClock;
pub use cloud::MemoryCloud;
pub use docs::MemoryDocs;
pub use fakes::{Fakes, MemoryLeadAds};
pub use idempotency::MemoryIdempotency;
pub use inbox::MemoryInbox;
pub use live::MemoryPush;
pub use privacy::MemoryPrivacy;
pub use queue::MemoryQueue;
pub use tenants::MemoryTenantStore;
pub use vault::LocalVault;

/// The stable mutation fuzzer (`infra/fuzz.sh`).
pub mod fuzz;
