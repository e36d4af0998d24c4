//! Domain types, rules and ports. Nothing here knows about AWS.

pub mod ai;
pub mod audit;
pub mod blind;
pub mod canned;
pub mod center;
pub mod credential;
pub mod crm;
pub mod events;
pub mod flows;
pub mod flows_store;
pub mod identity;
pub mod ids;
pub mod import;
pub mod inbox;
pub mod live;
pub mod media;
pub mod outbound;
pub mod ports;
pub mod privacy;
pub mod reads;
pub mod secret;
pub mod tenant;
pub mod time;
pub mod whatsapp;

pub use blind::BlindIndex;
pub use ids::{
    new_ulid, ApiKeyId, AuditId, CannedId, ContactId, ConversationId, ErasureId, FlowId, ImportId, MessageId,
    PhoneNumber, QueueId, RecordId, RequestId, SessionId, SuggestionId, TenantId, UserId, Wamid,
};
pub use secret::{Secret, SecretBytes};
pub use time::{Clock, ExpiresAt, SystemClock, Timestamp};
