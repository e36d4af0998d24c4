//! Domain types, rules and ports. Nothing here knows about AWS.

pub mod ids;
pub mod ports;
pub mod secret;
pub mod tenant;
pub mod time;

pub use ids::{ApiKeyId, MessageId, PhoneNumber, RequestId, TenantId, Wamid};
pub use secret::{Secret, SecretBytes};
pub use time::{Clock, ExpiresAt, SystemClock, Timestamp};
