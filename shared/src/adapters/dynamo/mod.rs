//! The DynamoDB single table.
//!
//! - [`keys`] is the only place that builds keys and names attributes.
//! - [`table::Table`] is the generic layer: conditional and versioned writes, and reads that
//!   never return an expired item.
//! - The repositories ([`tenants`], [`idempotency`]) map domain types to items.

pub mod idempotency;
pub mod inbox;
pub mod item;
pub mod keys;
pub mod privacy;
pub mod table;
pub mod tenants;

pub use idempotency::DynamoIdempotency;
pub use inbox::DynamoInbox;
pub use privacy::DynamoPrivacy;
pub use table::Table;
pub use tenants::DynamoTenantStore;
