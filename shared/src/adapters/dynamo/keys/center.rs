//! Keys of the contact center: queues and their name claims, agents, waiting entries, and the
//! event log with its id marks, conversation links and hourly aggregates (P41, P42, P52); part
//! of [`super`], the one place keys are built.

use super::{tenant_partition, Key};
use crate::domain::center::analytics::Scope;
use crate::domain::center::line::Level;
use crate::domain::{ConversationId, QueueId, TenantId, UserId};
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
    format!("CHOUR#{}#", scope_code(scope))
}

/// A scope within a key: `T`, `Q:<queue hash>`, `A:<user>`, `QA:<queue hash>:<user>`.
fn scope_code(scope: &Scope) -> String {
    let queue = |q: &QueueId| hex_sha256(q.as_str())[..24].to_owned();
    match scope {
        Scope::Tenant => "T".to_owned(),
        Scope::Queue(q) => format!("Q:{}", queue(q)),
        Scope::Agent(a) => format!("A:{a}"),
        Scope::QueueAgent(q, a) => format!("QA:{}:{a}", queue(q)),
    }
}

/// Sort-key prefix of one scope's nets of waiting-line depth at one level (P42, queue depth
/// over time): `CDEPTH#<scope>#D#` by day, `CDEPTH#<scope>#B#` by 30-day block, and the running
/// total at `CDEPTH#<scope>#ALL`, each stored in writers' parts ([`center_part`]).
#[must_use]
pub fn center_depth_prefix(scope: &Scope, level: Level) -> String {
    let level = match level {
        Level::Day => "D#",
        Level::Block => "B#",
        Level::Total => "ALL",
    };
    format!("CDEPTH#{}#{level}", scope_code(scope))
}

/// The net of depth of one period (its start, epoch ms; ignored for the total) of one level.
#[must_use]
pub fn center_depth(tenant: &TenantId, scope: &Scope, level: Level, start_millis: i64) -> Key {
    let prefix = center_depth_prefix(scope, level);
    let sk = match level {
        Level::Total => prefix,
        Level::Day | Level::Block => format!("{prefix}{:013}", start_millis.max(0)),
    };
    Key { pk: tenant_partition(tenant), sk }
}

/// One hour (its start, epoch ms) of one scope's aggregates (stored in writers' parts,
/// [`center_part`]).
#[must_use]
pub fn center_hour(tenant: &TenantId, scope: &Scope, hour_millis: i64) -> Key {
    Key {
        pk: tenant_partition(tenant),
        sk: format!("{}{:013}", center_hours_prefix(scope), hour_millis.max(0)),
    }
}

/// One writer's part of an aggregate at `key` (`<key>#<shard, 2 hex digits>`): each event log
/// adds to its own part, so concurrent writers seldom race for one item; a reader sums the
/// parts of a period (they sort together, after the period's own key).
#[must_use]
pub fn center_part(key: Key, shard: u8) -> Key {
    Key { pk: key.pk, sk: format!("{}#{shard:02x}", key.sk) }
}

/// A contact-center queue (department).
#[must_use]
pub fn queue(tenant: &TenantId, id: &QueueId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{QUEUE_PREFIX}{id}") }
}

/// Sort-key prefix of queues.
pub const QUEUE_PREFIX: &str = "QUEUE#";

/// A queue's name, claimed within the tenant (uniqueness): trimmed and lower-cased, so names
/// differing only in case or surrounding spaces are the same name; hashed, as user emails are.
#[must_use]
pub fn queue_name(tenant: &TenantId, name: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("QUEUENAME#{}", hex_sha256(&name.trim().to_lowercase())) }
}

/// An agent's presence, capacity and load (the contact center).
#[must_use]
pub fn agent(tenant: &TenantId, user: &UserId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{AGENT_PREFIX}{user}") }
}

/// Sort-key prefix of agents.
pub const AGENT_PREFIX: &str = "AGENT#";

/// Sort-key prefix of waiting entries.
pub const WAITING_PREFIX: &str = "WAIT#";

/// Sort-key prefix of the conversations waiting in `queue`, oldest first. A queue id may hold
/// any printable character (names chosen by tenants): `%` and `#` are escaped, so one queue's
/// prefix never covers another's entries (`a` and `a#b`).
#[must_use]
pub fn waiting_prefix(queue: &QueueId) -> String {
    let escaped = queue.as_str().replace('%', "%25").replace('#', "%23");
    format!("{WAITING_PREFIX}{escaped}#")
}

/// A conversation waiting in `queue` since `since` (epoch ms): `WAIT#<queue>#<13-digit ms>#<id>`.
#[must_use]
pub fn waiting(tenant: &TenantId, queue: &QueueId, since: i64, conversation: &ConversationId) -> Key {
    Key {
        pk: tenant_partition(tenant),
        sk: format!("{}{:013}#{conversation}", waiting_prefix(queue), since.max(0)),
    }
}

// Agent tools: canned responses and read marks.

/// A canned response, stored at its shortcut within its scope, so that the key itself claims
/// the shortcut: tenant-wide `CANNED#T#<shortcut>`, personal `CANNED#U#<user>#<shortcut>`.
#[must_use]
pub fn canned(tenant: &TenantId, owner: Option<&UserId>, shortcut: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: canned_prefix(owner, shortcut) }
}

/// Sort-key prefix of one scope's canned responses whose shortcut starts with `shortcut_prefix`.
#[must_use]
pub fn canned_prefix(owner: Option<&UserId>, shortcut_prefix: &str) -> String {
    match owner {
        None => format!("CANNED#T#{shortcut_prefix}"),
        Some(user) => format!("CANNED#U#{user}#{shortcut_prefix}"),
    }
}

/// Where a canned response's id leads: its scope, owner and shortcut.
#[must_use]
pub fn canned_id(tenant: &TenantId, id: &crate::domain::CannedId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("CANNEDID#{id}") }
}

/// When a user last read a conversation.
#[must_use]
pub fn read_mark(tenant: &TenantId, user: &UserId, conversation: &ConversationId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("READ#{user}#{conversation}") }
}

/// The bucket of the contact center's timers due in `minute` (epoch minutes): a due-work
/// family across tenants like `DUE#…` (tenant and conversation ids only), so the timers sweep
/// reads what is due, never the table.
#[must_use]
pub fn timer_bucket(minute: i64) -> String {
    format!("DUE#timer#{minute}")
}

/// A timer: in its due minute's bucket, ordered by due time.
#[must_use]
pub fn timer(tenant: &TenantId, conversation: &ConversationId, kind: &str, due_millis: i64) -> Key {
    Key {
        pk: timer_bucket(due_millis.div_euclid(60_000)),
        sk: format!("{:013}#{tenant}#{conversation}#{kind}", due_millis.max(0)),
    }
}

/// Where the timers sweep resumes.
#[must_use]
pub fn timer_cursor() -> Key {
    Key { pk: "SYSTEM#timers".to_owned(), sk: "CURSOR#timers".to_owned() }
}
