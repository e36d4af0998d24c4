//! The contact center's ports. Same style as every port: native `async` methods returning
//! `impl Future<Output = Result<_, CenterError>> + Send`, each documenting its errors; one
//! contract suite per port in `shared::testing::contract`, run on the fake and on DynamoDB.

use std::future::Future;

use super::analytics::{HourFigures, Scope};
use super::{AgentStatus, CenterEvent, Presence, Queue, Timer, Waiting};
use crate::domain::ids::{ConversationId, QueueId, TenantId, UserId};
use crate::domain::time::Timestamp;
use crate::kernel::Page;

/// Errors of the contact center's ports.
#[derive(Debug, thiserror::Error)]
pub enum CenterError {
    /// No such queue (never was, deleted, or another tenant's).
    #[error("no such queue")]
    QueueNotFound,
    /// Another queue of the tenant has this name (case-insensitively).
    #[error("another queue has this name")]
    QueueNameTaken,
    /// The record changed since the caller read it; nothing was written.
    #[error("changed meanwhile; read it again")]
    Conflict,
    /// The store failed; a retry may succeed.
    #[error("contact center store failed")]
    Unknown(#[from] anyhow::Error),
}

/// Agents' presence, capacity and load, and the conversations waiting in each queue.
///
/// Loads and waiting entries are **not** written here: `ConversationStore::update_conversation`
/// moves them in the same atomic write as the conversation itself. These methods read them, and
/// set what only the agent (presence) or an admin (capacity) sets.
pub trait AgentStore: Send + Sync {
    /// Sets the agent's presence (at `at`) and returns their status. Idempotent.
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn set_presence(
        &self,
        tenant: &TenantId,
        user: &UserId,
        presence: Presence,
        at: Timestamp,
    ) -> impl Future<Output = Result<AgentStatus, CenterError>> + Send;

    /// Sets the agent's capacity (1 to [`super::MAX_CAPACITY`]; the caller checks) and returns
    /// their status. A capacity below the current load assigns nothing more until it drops.
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn set_capacity(
        &self,
        tenant: &TenantId,
        user: &UserId,
        capacity: u32,
    ) -> impl Future<Output = Result<AgentStatus, CenterError>> + Send;

    /// The agent's status as of now (a strongly consistent read: the engine decides on it);
    /// [`AgentStatus::unseen`] when nothing is stored.
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn agent(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> impl Future<Output = Result<AgentStatus, CenterError>> + Send;

    /// Every agent with a stored status, by user id.
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn agents(&self, tenant: &TenantId)
        -> impl Future<Output = Result<Vec<AgentStatus>, CenterError>> + Send;

    /// Up to `limit` conversations waiting in `queue`, oldest first.
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn waiting(
        &self,
        tenant: &TenantId,
        queue: &QueueId,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<Waiting>, CenterError>> + Send;
}

/// Queues (departments): created, renamed, configured and deleted by admins.
pub trait QueueStore: Send + Sync {
    /// Stores a new queue.
    ///
    /// # Errors
    /// [`CenterError::QueueNameTaken`] (nothing written); [`CenterError::Unknown`].
    fn create_queue(
        &self,
        tenant: &TenantId,
        queue: &Queue,
    ) -> impl Future<Output = Result<(), CenterError>> + Send;

    /// One queue.
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn queue(
        &self,
        tenant: &TenantId,
        id: &QueueId,
    ) -> impl Future<Output = Result<Option<Queue>, CenterError>> + Send;

    /// Every queue of the tenant, by name.
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn queues(&self, tenant: &TenantId) -> impl Future<Output = Result<Vec<Queue>, CenterError>> + Send;

    /// Replaces the queue with `queue` if it is still at `queue.version` (the stored version
    /// becomes `queue.version + 1`).
    ///
    /// # Errors
    /// [`CenterError::QueueNotFound`]; [`CenterError::Conflict`]; [`CenterError::QueueNameTaken`];
    /// [`CenterError::Unknown`]. Nothing is written on an error.
    fn update_queue(
        &self,
        tenant: &TenantId,
        queue: &Queue,
    ) -> impl Future<Output = Result<Queue, CenterError>> + Send;

    /// Deletes the queue (idempotent).
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn delete_queue(
        &self,
        tenant: &TenantId,
        id: &QueueId,
    ) -> impl Future<Output = Result<(), CenterError>> + Send;
}

/// The append-only, per-tenant log of what happened to conversations, and the aggregates kept
/// from it as it grows (so a dashboard reads O(hours in range), not O(events)).
pub trait EventLog: Send + Sync {
    /// Appends `event` and adds it to the aggregates, atomically; an event whose id is already
    /// in the log changes nothing (retries are safe).
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn record(
        &self,
        tenant: &TenantId,
        event: &CenterEvent,
    ) -> impl Future<Output = Result<(), CenterError>> + Send;
    /// Up to `limit` events with `from <= at < to` (`range`: `(from, to)`, epoch ms), oldest
    /// first, from after the cursor `after` (the `next` of the previous page). Reads O(events):
    /// for checks and exports, never for dashboards (those read [`EventLog::hours`]).
    ///
    /// # Errors
    /// [`CenterError::Unknown`] (also for a cursor this listing did not produce).
    fn events(
        &self,
        tenant: &TenantId,
        range: (i64, i64),
        after: Option<&str>,
        limit: u16,
    ) -> impl Future<Output = Result<Page<CenterEvent>, CenterError>> + Send;

    /// The hourly aggregates of `scope` for the hours starting in `[from_hour, to_hour)`
    /// (`hours`, epoch ms), by hour; hours without events are left out. O(hours) reads.
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn hours(
        &self,
        tenant: &TenantId,
        scope: &Scope,
        hours: (i64, i64),
    ) -> impl Future<Output = Result<Vec<HourFigures>, CenterError>> + Send;

    /// The depth of `scope`'s waiting line just before `at` (an hour boundary, epoch ms):
    /// entries minus exits of the events before it ([`super::line`]); 0 for scopes without a
    /// line (agents). Reads a bounded number of items whatever the number of events (the
    /// running total less the nets since `at`: hours to the next midnight, days to the end of
    /// the 30-day block, blocks after), given `at` is within the aggregates' retention.
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn depth_before(
        &self,
        tenant: &TenantId,
        scope: &Scope,
        at: i64,
    ) -> impl Future<Output = Result<i64, CenterError>> + Send;

    /// P52: removes the conversation's id from its events (when its retention ends, or it is
    /// erased or purged); the aggregates hold no ids and are unchanged. Idempotent. Returns how
    /// many events it changed.
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn anonymize(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<u64, CenterError>> + Send;
}

/// The contact center's timers across tenants, kept by the minute they fall due (so the sweep
/// reads what is due, never the table), and the sweep's resume point.
///
/// Timers are **armed** by `ConversationStore::update_conversation` (and by the opening of a
/// conversation) in the same atomic write as the change that calls for them
/// ([`crate::domain::inbox::CenterMoves`]); [`TimerStore::arm_timer`] is for the sweep
/// re-arming a silence check.
pub trait TimerStore: Send + Sync {
    /// Up to `limit` timers of the bucket `minute` ([`super::epoch_minute`] of their due time),
    /// by due time (then tenant, conversation, kind).
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn due_timers(
        &self,
        minute: i64,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<Timer>, CenterError>> + Send;

    /// Stores `timer` (idempotent: the same timer twice is one).
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn arm_timer(&self, timer: &Timer) -> impl Future<Output = Result<(), CenterError>> + Send;

    /// Removes `timer` (idempotent).
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn drop_timer(&self, timer: &Timer) -> impl Future<Output = Result<(), CenterError>> + Send;

    /// The first minute the sweep has not finished, if it ever ran.
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn timer_cursor(&self) -> impl Future<Output = Result<Option<i64>, CenterError>> + Send;

    /// Records that every minute before `minute` is done.
    ///
    /// # Errors
    /// [`CenterError::Unknown`].
    fn set_timer_cursor(&self, minute: i64) -> impl Future<Output = Result<(), CenterError>> + Send;
}
