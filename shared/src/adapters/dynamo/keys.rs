//! Table keys and attribute names, built here and nowhere else.
//!
//! Layout: every partition key starts with the tenant, `T#<tenant_id>`, and so does every GSI
//! partition key, so that an IAM policy with `dynamodb:LeadingKeys` can confine a tenant-scoped
//! role to its own items. The one exception is the routing family `ROUTE#…`: it maps an id Meta
//! sends (a phone number id, a page id) to the tenant that connected it, holds nothing but the
//! tenant id, and is read only by the system functions that must find the tenant first.

use aws_lc_rs::digest::{digest, SHA256};

use crate::domain::{ApiKeyId, TenantId};

/// Partition key attribute.
pub const PK: &str = "PK";
/// Sort key attribute.
pub const SK: &str = "SK";
/// Partition key of the first global secondary index (tenant-leading too).
pub const GSI1PK: &str = "GSI1PK";
/// Sort key of the first global secondary index.
pub const GSI1SK: &str = "GSI1SK";
/// Name of the first global secondary index.
pub const GSI1: &str = "GSI1";
/// The TTL attribute: epoch seconds after which the item is gone (P56: reads filter on it).
pub const EXPIRES_AT: &str = "expires_at";
/// Optimistic-locking version, incremented by every versioned write.
pub const VERSION: &str = "version";
/// The kind of item (`tenant`, `api_key`, …), for exports and debugging.
pub const ENTITY: &str = "entity";

/// Attribute names of the tenant items.
pub mod attr {
    /// Tenant id (on items whose key does not carry it, e.g. routing).
    pub const TENANT_ID: &str = "tenant_id";
    /// Display name.
    pub const NAME: &str = "name";
    /// Lifecycle status.
    pub const STATUS: &str = "status";
    /// Creation time, epoch milliseconds.
    pub const CREATED_AT: &str = "created_at";
    /// Role of a credential.
    pub const ROLE: &str = "role";
    /// SHA-256 of an API key's secret.
    pub const SECRET_SHA256: &str = "secret_sha256";
    /// Revocation time, epoch milliseconds.
    pub const REVOKED_AT: &str = "revoked_at";
    /// Meta phone number id.
    pub const PHONE_NUMBER_ID: &str = "phone_number_id";
    /// Display phone number.
    pub const DISPLAY_PHONE_NUMBER: &str = "display_phone_number";
    /// WhatsApp Business Account id.
    pub const WABA_ID: &str = "waba_id";
    /// Sealed access token.
    pub const ACCESS_TOKEN: &str = "access_token";
    /// Connection time, epoch milliseconds.
    pub const CONNECTED_AT: &str = "connected_at";
    /// Idempotency record status.
    pub const IDEM_STATUS: &str = "idem_status";
    /// Hash of the request an idempotency key was first used for.
    pub const PAYLOAD_HASH: &str = "payload_hash";
    /// Until when an in-progress idempotency claim holds, epoch milliseconds.
    pub const IN_PROGRESS_UNTIL: &str = "in_progress_until";
    /// Stored result of completed idempotent work.
    pub const RESPONSE: &str = "response";
}

/// A primary key of the table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Partition key value.
    pub pk: String,
    /// Sort key value.
    pub sk: String,
}

/// The partition of one tenant.
#[must_use]
pub fn tenant_partition(tenant: &TenantId) -> String {
    format!("T#{tenant}")
}

/// The tenant's own record.
#[must_use]
pub fn tenant(tenant: &TenantId) -> Key {
    Key { pk: tenant_partition(tenant), sk: "TENANT".to_owned() }
}

/// One API key of a tenant.
#[must_use]
pub fn api_key(tenant: &TenantId, key: &ApiKeyId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("APIKEY#{key}") }
}

/// The tenant's WhatsApp connection.
#[must_use]
pub fn whatsapp_connection(tenant: &TenantId) -> Key {
    Key { pk: tenant_partition(tenant), sk: "CONN#WHATSAPP".to_owned() }
}

/// Routing: which tenant connected a WhatsApp phone number id (see the module docs).
#[must_use]
pub fn whatsapp_route(phone_number_id: &str) -> Key {
    Key { pk: format!("ROUTE#WA#{}", hex_sha256(phone_number_id)), sk: "ROUTE".to_owned() }
}

/// An idempotency record. The key is hashed: clients choose it freely (any characters, any
/// length up to the API's cap), and the hash keeps the sort key short and separator-free.
#[must_use]
pub fn idempotency(tenant: &TenantId, scope: &str, key: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("IDEM#{scope}#{}", hex_sha256(key)) }
}

/// Lowercase hex SHA-256, for hashed key parts.
#[must_use]
pub fn hex_sha256(value: &str) -> String {
    use std::fmt::Write as _;
    digest(&SHA256, value.as_bytes()).as_ref().iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_keys_lead_with_the_tenant() {
        let t = TenantId::parse("tn_1").expect("valid");
        let k = ApiKeyId::parse("key_1").expect("valid");
        for key in [tenant(&t), api_key(&t, &k), whatsapp_connection(&t), idempotency(&t, "send", "a#b")] {
            assert!(key.pk.starts_with("T#tn_1"), "{key:?}");
        }
        assert_eq!(idempotency(&t, "send", "a#b").sk.matches('#').count(), 2);
    }
}
