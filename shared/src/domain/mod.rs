//! Domain types, rules and ports. Nothing here knows about AWS.

pub mod events;
pub mod ids;
pub mod inbox;
pub mod ports;
pub mod privacy;
pub mod secret;
pub mod tenant;
pub mod time;
pub mod whatsapp;

pub use ids::{
    ApiKeyId, ContactId, ConversationId, ErasureId, MessageId, PhoneNumber, RequestId, TenantId, Wamid,
};
pub use secret::{Secret, SecretBytes};
pub use time::{Clock, ExpiresAt, SystemClock, Timestamp};
