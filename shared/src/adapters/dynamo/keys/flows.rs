//! Keys of chatbot flows: a flow's record, its numbered versions, and each conversation's flow
//! session (P40); part of [`super`], the one place keys are built.

use super::{tenant_partition, Key};
use crate::domain::{ConversationId, FlowId, TenantId};

/// Sort-key prefix of flows' records (`FLOW#<id>`). No other family starts with it: versions
/// are `FLOWV#`, sessions `FLOWSESSION#`.
pub const FLOW_PREFIX: &str = "FLOW#";

/// A flow's record (name, newest and live version).
#[must_use]
pub fn flow(tenant: &TenantId, id: &FlowId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{FLOW_PREFIX}{id}") }
}

/// Sort-key prefix of one flow's versions, in number order.
#[must_use]
pub fn flow_versions_prefix(id: &FlowId) -> String {
    format!("FLOWV#{id}#")
}

/// One version of a flow (numbers zero-padded, so they sort).
#[must_use]
pub fn flow_version(tenant: &TenantId, id: &FlowId, number: u32) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{}{number:010}", flow_versions_prefix(id)) }
}

/// A conversation's flow session.
#[must_use]
pub fn flow_session(tenant: &TenantId, conversation: &ConversationId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("FLOWSESSION#{conversation}") }
}
