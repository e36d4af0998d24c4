//! Keys of the contact center's event log, its id marks, conversation links and hourly
//! aggregates (P42, P52); part of [`super`], the one place keys are built.

use super::{tenant_partition, Key};
use crate::domain::center::analytics::Scope;
use crate::domain::{ConversationId, QueueId, TenantId};
use crate::kernel::digest::hex_sha256;

/// Sort-key prefix of the contact center's event log, time-ordered:
/// `CEVENT#<at, 13 digits>#<event hash>` (P42).
pub const CENTER_EVENT_PREFIX: &str = "CEVENT#";

/// An event of the contact center's log, by its time and the hash of its id.
#[must_use]
pub fn center_event(tenant: &TenantId, at_millis: i64, event_hash: &str) -> Key {
    Key {
        pk: tenant_partition(tenant),
        sk: format!("{CENTER_EVENT_PREFIX}{:013}#{event_hash}", at_millis.max(0)),
    }
}

/// Where the events at or after `at_millis` start (an ascending query's exclusive start).
#[must_use]
pub fn center_events_from(at_millis: i64) -> String {
    format!("{CENTER_EVENT_PREFIX}{:013}", at_millis.max(0))
}

/// The time of an event from its sort key.
#[must_use]
pub fn center_event_at(sk: &str) -> Option<i64> {
    sk.strip_prefix(CENTER_EVENT_PREFIX)?.split('#').next()?.parse().ok()
}

/// The mark that an event id is in the log (the key depends on the id alone, so a retried
/// event, whatever its time, is recorded once).
#[must_use]
pub fn center_event_id(tenant: &TenantId, event_hash: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("CEVENTID#{event_hash}") }
}

/// A conversation's link to one of its events: what P52's anonymization finds them by.
#[must_use]
pub fn center_event_link(tenant: &TenantId, conversation: &ConversationId, event_hash: &str) -> Key {
    Key {
        pk: tenant_partition(tenant),
        sk: format!("{}{event_hash}", center_event_links_prefix(conversation)),
    }
}

/// Sort-key prefix of a conversation's event links.
#[must_use]
pub fn center_event_links_prefix(conversation: &ConversationId) -> String {
    format!("CEVENTCONV#{conversation}#")
}

/// Sort-key prefix of one scope's hourly aggregates: `CHOUR#T#`, `CHOUR#Q:<queue hash>#`,
/// `CHOUR#A:<user>#`, `CHOUR#QA:<queue hash>:<user>#` (queue ids are tenant-chosen names:
/// hashed, so that no separator or length surprises the key).
#[must_use]
pub fn center_hours_prefix(scope: &Scope) -> String {
    let queue = |q: &QueueId| hex_sha256(q.as_str())[..24].to_owned();
    let scope = match scope {
        Scope::Tenant => "T".to_owned(),
        Scope::Queue(q) => format!("Q:{}", queue(q)),
        Scope::Agent(a) => format!("A:{a}"),
        Scope::QueueAgent(q, a) => format!("QA:{}:{a}", queue(q)),
    };
    format!("CHOUR#{scope}#")
}

/// One hour (its start, epoch ms) of one scope's aggregates.
#[must_use]
pub fn center_hour(tenant: &TenantId, scope: &Scope, hour_millis: i64) -> Key {
    Key {
        pk: tenant_partition(tenant),
        sk: format!("{}{:013}", center_hours_prefix(scope), hour_millis.max(0)),
    }
}
