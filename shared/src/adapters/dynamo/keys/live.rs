//! Keys of live updates (issue #18): the console's WebSocket connections.

use super::{tenant_partition, Key};
use crate::domain::TenantId;

/// One WebSocket connection of a tenant's user (the notices' fan-out reads the tenant's with one
/// query on this prefix).
#[must_use]
pub fn live_connection(tenant: &TenantId, connection_id: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{LIVE_CONNECTION_PREFIX}{connection_id}") }
}

/// Sort-key prefix of live connections.
pub const LIVE_CONNECTION_PREFIX: &str = "LIVE#";

/// Routing of a WebSocket connection id to its tenant (the routing family of the module docs):
/// `$disconnect` carries the connection id only. Holds the tenant id, nothing else.
#[must_use]
pub fn live_route(connection_id: &str) -> Key {
    Key { pk: format!("ROUTE#LIVE#{connection_id}"), sk: "ROUTE".to_owned() }
}
