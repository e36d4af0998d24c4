//! The contact center (P41, P42): queues (departments) and who works them, agents' presence,
//! capacity and load, the conversations waiting in each queue, and the append-only log of what
//! happened to every conversation, which analytics read.
//!
//! Where things live:
//! - a conversation's `state`, `assignee`, `queue` and version stay on the conversation
//!   ([`crate::domain::inbox::ConversationStore`]); every change of them goes through
//!   `update_conversation`, which also moves the agents' loads and the queue's waiting entries
//!   **in the same atomic write** ([`counts_toward_load`], [`waits_in`]), so no conversation is
//!   ever assigned twice and no agent goes over capacity;
//! - queues are their own aggregate ([`QueueStore`]); a queue's members are the users whose
//!   `queues` name it (one source: the user record, which the agent scope already reads);
//! - agents' presence, capacity and load are [`AgentStatus`] ([`AgentStore`]);
//! - the event log and its hourly aggregates are [`EventLog`].

pub mod analytics;
pub mod line;
mod ports;

use serde::{Deserialize, Serialize};

pub use super::inbox::{counts_toward_load, waits_in, IDLE_CHECK_AFTER_MS};
pub use ports::{AgentStore, CenterError, EventLog, QueueStore, TimerStore};

use super::ids::{ConversationId, QueueId, TenantId, UserId};

/// Open conversations an agent holds at most when nobody set their capacity.
pub const DEFAULT_CAPACITY: u32 = 10;
/// The largest capacity an agent may be given.
pub const MAX_CAPACITY: u32 = 100;

/// Whether an agent takes conversations now. Only `online` agents are assigned by the engine;
/// logging out sets `offline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// Takes new conversations.
    Online,
    /// Keeps their conversations, takes no new ones.
    Away,
    /// Not working.
    Offline,
}

impl Presence {
    /// Every presence.
    pub const ALL: [Self; 3] = [Self::Online, Self::Away, Self::Offline];

    /// The stored (and API) name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
            Self::Offline => "offline",
        }
    }

    /// From the stored (or API) name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// An agent as the assignment engine sees them. An agent nobody has seen yet is
/// [`AgentStatus::unseen`]: offline, default capacity, no load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentStatus {
    /// The user.
    pub user_id: UserId,
    /// Online, away or offline.
    pub presence: Presence,
    /// When the presence last changed, epoch ms (0 when never set).
    pub presence_at: i64,
    /// Open conversations they may hold at most.
    pub capacity: u32,
    /// Open conversations they hold now (assigned, state `open` or `pending`).
    pub load: u32,
    /// When they were last assigned a conversation, epoch ms (least-busy breaks ties by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_assigned_at: Option<i64>,
}

impl AgentStatus {
    /// An agent with no stored status.
    #[must_use]
    pub fn unseen(user_id: UserId) -> Self {
        Self {
            user_id,
            presence: Presence::Offline,
            presence_at: 0,
            capacity: DEFAULT_CAPACITY,
            load: 0,
            last_assigned_at: None,
        }
    }

    /// True when the engine may give them one more conversation.
    #[must_use]
    pub fn available(&self) -> bool {
        self.presence == Presence::Online && self.load < self.capacity
    }
}

/// How a queue picks among its available members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// In turn, after the member assigned last.
    #[default]
    RoundRobin,
    /// The member with the fewest open conversations (ties: assigned longest ago).
    LeastBusy,
}

/// A queue (department).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Queue {
    /// Its id (`q_<ulid>`).
    pub id: QueueId,
    /// Its name, unique within the tenant (case-insensitively).
    pub name: String,
    /// How it picks an agent.
    pub strategy: Strategy,
    /// The first-response target (SLA), seconds; none when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_target_seconds: Option<u32>,
    /// The member assigned last (round-robin goes on after them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_assigned: Option<UserId>,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Bumped by every change (optimistic concurrency).
    pub version: u64,
}

/// A conversation waiting in a queue for an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Waiting {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The queue.
    pub queue: QueueId,
    /// Since when it waits there, epoch ms (oldest first).
    pub since: i64,
}

/// What happened to a conversation, as the event log keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A new conversation began (its first customer message): a cycle starts.
    Opened,
    /// A customer message arrived.
    Received,
    /// Routed to a queue by a flow, a rule or the API.
    Routed,
    /// Began waiting in its queue (with `queue`: it entered that queue's waiting line).
    Queued,
    /// Stopped waiting in `queue` for any reason: assigned, transferred to another queue or
    /// out of it, resolved or deleted while waiting (`duration_ms`: how long it waited there,
    /// when known). With `Queued`, what queue depth over time is counted from ([`line`]).
    Dequeued,
    /// Given to an agent (by the engine, a manager, or an agent taking it).
    Assigned,
    /// The first agent reply of the conversation's current cycle (`duration_ms`: since the
    /// cycle started).
    FirstReply,
    /// Any agent reply.
    AgentReply,
    /// Moved to another agent or queue.
    Transferred,
    /// Resolved (`duration_ms`: since the cycle started).
    Resolved,
    /// A resolved conversation came back (a new customer message, or an agent): a new cycle.
    Reopened,
    /// A snoozed conversation woke up (its time came, or the customer wrote): pending → open.
    Woken,
    /// A chatbot flow sent a message (P40): bot time, not queue time.
    BotMessage,
    /// A chatbot flow decided something (an option matched, an answer refused, a flow not
    /// started for a restricted or opted-out contact, ...); the detail is logged, not stored.
    BotDecision,
}

/// One entry of the append-only event log. No personal data: ids, times and durations only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CenterEvent {
    /// Unique per event, and the same when one event is recorded twice (a retried delivery, a
    /// retried request): the log keeps it once. Built from the conversation, the kind and what
    /// makes the occurrence unique (a message id, the conversation's version).
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// To which conversation (removed when the conversation's retention ends, P52).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// When, epoch ms.
    pub at: i64,
    /// The queue concerned (routed, queued, dequeued from, assigned from, transferred to,
    /// resolved in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueId>,
    /// The agent concerned (assigned, replied, resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<UserId>,
    /// The measured time: first response, resolution, or waiting (assigned or dequeued after
    /// queued), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// The queue's first-response target in force, on FirstReply events, ms: a first reply with
    /// `duration_ms > target_ms` is an SLA breach ([`analytics`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ms: Option<i64>,
    /// True when the system made the change, not a person or a message: a timer fired (the
    /// tenant's auto-resolve after silence, a snooze's end) or a chatbot flow acted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_system: bool,
}

/// What a timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    /// Wakes a snoozed conversation whose snooze time has come (pending → open).
    Wake,
    /// Checks a worked conversation's silence: resolves it when the tenant's auto-resolve time
    /// has passed since its last activity, else arms itself again for then.
    Idle,
    /// A chatbot flow's `wait` step timed out (P40): the sweep hands the timeout to `inbound`
    /// (a `flow_timeout` event on `inbound.fifo`, in the customer's own message group), which
    /// advances the session only if it still waits there. Armed by `inbound` when the session
    /// enters the wait ([`crate::app::flows`]).
    FlowTimeout,
}

impl TimerKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Wake, Self::Idle, Self::FlowTimeout];

    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Wake => "wake",
            Self::Idle => "idle",
            Self::FlowTimeout => "flow_timeout",
        }
    }

    /// From the stored name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// A conversation's timer, armed in the same atomic write as the change that calls for it
/// (a snooze, a conversation becoming worked) and fired by the timers sweep at `due`. Firing is
/// idempotent and re-checks the conversation: a timer whose conversation moved on is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timer {
    /// The tenant.
    pub tenant: TenantId,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// What it does.
    pub kind: TimerKind,
    /// When it is due, epoch ms.
    pub due: i64,
}

/// One minute, ms: timers are kept in buckets by the minute they fall due.
pub const MINUTE_MS: i64 = 60_000;

/// The minute (since the epoch) `at_ms` falls in: a timer's bucket.
#[must_use]
pub const fn epoch_minute(at_ms: i64) -> i64 {
    at_ms.div_euclid(MINUTE_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::inbox::ConversationState;

    fn user() -> UserId {
        UserId::parse("usr_a").unwrap()
    }

    #[test]
    fn only_assigned_open_or_pending_conversations_count_toward_load() {
        let agent = user();
        for state in ConversationState::ALL {
            let counted = counts_toward_load(state, Some(&agent)).is_some();
            assert_eq!(
                counted,
                matches!(state, ConversationState::Open | ConversationState::Pending),
                "{state}"
            );
            assert!(counts_toward_load(state, None).is_none());
        }
    }

    #[test]
    fn only_queued_conversations_wait() {
        let queue = QueueId::parse("q_1").unwrap();
        for state in ConversationState::ALL {
            assert_eq!(
                waits_in(state, Some(&queue)).is_some(),
                state == ConversationState::Queued,
                "{state}"
            );
        }
    }

    #[test]
    fn an_unseen_agent_is_offline_with_the_default_capacity() {
        let agent = AgentStatus::unseen(user());
        assert!(!agent.available());
        assert_eq!(agent.capacity, DEFAULT_CAPACITY);
        let online = AgentStatus { presence: Presence::Online, ..agent };
        assert!(online.available());
        assert!(!AgentStatus { load: DEFAULT_CAPACITY, ..online }.available());
    }
}
