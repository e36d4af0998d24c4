//! The contact center's timers fired (P41): a snooze's end wakes the conversation, and a
//! tenant's auto-resolve resolves a worked conversation after a set silence.
//!
//! Timers are armed by the store in the same atomic write as the change that calls for them
//! (`CenterMoves::wake` / `CenterMoves::idle`), kept in per-minute buckets, and fired by
//! [`sweep`] (every minute, from the retention function's `timers` job): it reads the due
//! buckets from its cursor to now — work proportional to what is due, never a scan — and fires
//! each timer idempotently. A timer whose conversation moved on is dropped. A silence check does
//! not need a write per message: on firing it looks at the conversation's last activity and
//! arms itself again for when the silence would be long enough. A chatbot flow's wait timeout
//! is handed to `inbound` as a `flow_timeout` event ([`crate::app::flows::timeouts`]).

use std::collections::HashMap;

use super::{after_change, change_events, record, CenterOpError, CenterPorts};
use crate::app::flows::hand_over;
use crate::domain::center::{epoch_minute, CenterEvent, EventKind, Timer, TimerKind, TimerStore, MINUTE_MS};
use crate::domain::inbox::{
    is_active, ConversationPatch, ConversationState, ConversationStore, ConversationView,
    UpdateConversationError,
};
use crate::domain::ports::TenantStore;
use crate::domain::{Clock, TenantId, Timestamp};
use crate::wiring::Adapters;

/// How many minutes before its cursor the sweep reads again: a timer armed in a minute the
/// previous run had just finished (a transaction committing as the run moved on) is still found.
pub const LOOKBACK_MINUTES: i64 = 2;
/// How far back the very first sweep looks, minutes.
pub const FIRST_RUN_MINUTES: i64 = 60;
/// Timers read from a bucket at a time.
const PAGE: u16 = 100;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Snoozed conversations woken.
    pub woken: u64,
    /// Conversations resolved after the tenant's silence.
    pub resolved: u64,
    /// Silence checks armed again for later (the conversation was active meanwhile).
    pub rearmed: u64,
    /// Timers whose conversation moved on (dropped, nothing done).
    pub dropped: u64,
    /// Chatbot flow timeouts handed to `inbound` (queued on `inbound.fifo`).
    pub flow_timeouts: u64,
    /// Timers that failed (kept: the next sweep tries them again).
    pub failed: u64,
    /// False when the sweep stopped for its deadline with due timers left.
    pub complete: bool,
}

/// What firing one timer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// The snoozed conversation woke.
    Woken,
    /// The conversation was resolved by the system.
    Resolved,
    /// Not silent long enough yet: a silence check is armed for later.
    Rearmed,
    /// Nothing to do (the conversation moved on, or the tenant has no auto-resolve).
    Dropped,
    /// A chatbot flow's wait timed out: queued for `inbound`.
    FlowTimeout,
}

/// What firing a chatbot flow's timeout needs: the sessions, and `inbound.fifo`.
pub struct FlowTimers<'a, A: Adapters> {
    /// The conversations' flow sessions.
    pub flows: &'a A::Flows,
    /// `inbound.fifo`, where the timeout goes.
    pub inbound: &'a A::Queue,
}

impl<A: Adapters> std::fmt::Debug for FlowTimers<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowTimers").finish_non_exhaustive()
    }
}

/// How the sweep runs.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// Fire timers due at or before this time (now, unless a test runs the clock ahead).
    pub as_of: Timestamp,
    /// Whether the cursor moves: false for a sweep run ahead of the clock (`as_of` in the
    /// future), so the real sweeps still read every minute up to then.
    pub move_cursor: bool,
    /// Fire only this tenant's timers (a sweep ahead of the clock, for one test's tenant: the
    /// other tenants' timers stay for their time).
    pub only: Option<TenantId>,
}

/// Fires every timer due at `sweep.as_of`, minute by minute from the cursor, until none is left
/// or `time_left` says stop.
///
/// # Errors
/// [`CenterOpError::Unknown`] when the timer store fails (a failed timer is counted, kept, and
/// the sweep goes on).
pub async fn sweep<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    (timers, tenants, flows): (&A::Timers, &A::Tenants, &FlowTimers<'_, A>),
    sweep: &Sweep,
    time_left: impl Fn() -> bool + Send,
) -> Result<SweepReport, CenterOpError> {
    let now_minute = epoch_minute(sweep.as_of.as_millis());
    let cursor = timers.timer_cursor().await?;
    let start = cursor.map_or(now_minute - FIRST_RUN_MINUTES, |c| c - LOOKBACK_MINUTES).min(now_minute);
    let mut report = SweepReport { complete: true, ..SweepReport::default() };
    let mut settings = HashMap::new();
    // The first minute not finished: the cursor's next value.
    let mut unfinished: Option<i64> = None;
    'minutes: for minute in start..=now_minute {
        loop {
            if !time_left() {
                report.complete = false;
                unfinished.get_or_insert(minute);
                break 'minutes;
            }
            let batch = timers.due_timers(minute, PAGE).await?;
            let due: Vec<&Timer> = batch
                .iter()
                .filter(|t| t.due <= sweep.as_of.as_millis())
                .filter(|t| sweep.only.as_ref().is_none_or(|only| &t.tenant == only))
                .collect();
            let mut progressed = false;
            for timer in &due {
                let fired = match timer.kind {
                    TimerKind::FlowTimeout => hand_over((flows.flows, flows.inbound), timer)
                        .await
                        .map(|queued| if queued { Fired::FlowTimeout } else { Fired::Dropped })
                        .map_err(CenterOpError::Unknown),
                    TimerKind::Wake | TimerKind::Idle => {
                        fire(ports, (timers, tenants), &mut settings, timer, sweep.as_of).await
                    }
                };
                match fired {
                    Ok(fired) => {
                        match fired {
                            Fired::Woken => report.woken += 1,
                            Fired::Resolved => report.resolved += 1,
                            Fired::Rearmed => report.rearmed += 1,
                            Fired::Dropped => report.dropped += 1,
                            Fired::FlowTimeout => report.flow_timeouts += 1,
                        }
                        timers.drop_timer(timer).await?;
                        progressed = true;
                    }
                    Err(error) => {
                        tracing::error!(
                            error = format!("{error:#}"),
                            kind = timer.kind.as_str(),
                            "Timer failed"
                        );
                        report.failed += 1;
                        unfinished.get_or_insert(minute);
                    }
                }
            }
            // The bucket is exhausted, or what is left of it is not due yet (or not this sweep's,
            // or failed): the next minute.
            if batch.len() < usize::from(PAGE) || !progressed {
                break;
            }
        }
    }
    if sweep.move_cursor {
        let next = unfinished.unwrap_or(now_minute).min(now_minute);
        if cursor != Some(next) {
            timers.set_timer_cursor(next).await?;
        }
    }
    Ok(report)
}

/// Fires one timer at `as_of` (idempotent: firing it again finds nothing more to do).
///
/// # Errors
/// [`CenterOpError::Unknown`].
pub async fn fire<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    (timers, tenants): (&A::Timers, &A::Tenants),
    settings: &mut HashMap<TenantId, Option<u32>>,
    timer: &Timer,
    as_of: Timestamp,
) -> Result<Fired, CenterOpError> {
    let tenant = &timer.tenant;
    let Some(conversation) = ports.conversations.conversation(tenant, &timer.conversation_id).await? else {
        return Ok(Fired::Dropped);
    };
    match timer.kind {
        TimerKind::Wake => {
            let due = conversation.snoozed_until.is_some_and(|until| until <= as_of.as_millis());
            if conversation.state != ConversationState::Pending || !due {
                return Ok(Fired::Dropped);
            }
            match wake(ports, tenant, &conversation, true).await {
                Ok(_) => Ok(Fired::Woken),
                // Changed meanwhile (the customer wrote, an agent moved it): nothing left to wake.
                Err(CenterOpError::VersionConflict { .. } | CenterOpError::ConversationNotFound) => {
                    Ok(Fired::Dropped)
                }
                Err(other) => Err(other),
            }
        }
        // Handed to `inbound` by the sweep ([`hand_over`]), never fired here.
        TimerKind::FlowTimeout => Ok(Fired::Dropped),
        TimerKind::Idle => {
            if !is_active(conversation.state) {
                return Ok(Fired::Dropped);
            }
            let minutes = match settings.get(tenant) {
                Some(minutes) => *minutes,
                None => {
                    let found =
                        tenants.tenant(tenant).await.map_err(|e| anyhow::anyhow!("reading a tenant: {e}"))?;
                    let minutes = found.and_then(|t| t.settings.auto_resolve_after_minutes);
                    settings.insert(tenant.clone(), minutes);
                    minutes
                }
            };
            let Some(minutes) = minutes else { return Ok(Fired::Dropped) };
            let resolve_at = quiet_since(&conversation) + i64::from(minutes) * MINUTE_MS;
            if resolve_at > as_of.as_millis() {
                let next = Timer { due: resolve_at, ..timer.clone() };
                timers.arm_timer(&next).await?;
                return Ok(Fired::Rearmed);
            }
            match auto_resolve(ports, tenant, &conversation).await {
                Ok(()) => Ok(Fired::Resolved),
                Err(CenterOpError::VersionConflict { .. } | CenterOpError::IllegalTransition { .. }) => {
                    // Changed meanwhile: look again in a minute.
                    let next = Timer { due: as_of.as_millis() + MINUTE_MS, ..timer.clone() };
                    timers.arm_timer(&next).await?;
                    Ok(Fired::Rearmed)
                }
                Err(CenterOpError::ConversationNotFound) => Ok(Fired::Dropped),
                Err(other) => Err(other),
            }
        }
    }
}

/// Since when a worked conversation has been silent: its last message either way, or the last
/// change of it (an assignment, a reopening), or the end of its snooze, whichever is latest.
#[must_use]
pub fn quiet_since(conversation: &ConversationView) -> i64 {
    conversation.last_message_at.max(conversation.updated_at).max(conversation.snoozed_until.unwrap_or(0))
}

/// Resolves a silent conversation as the system: loads released and waiting entries removed in
/// the store's one write, a `resolved` event marked `by_system`, and the freed slot given to
/// whoever waits.
async fn auto_resolve<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    conversation: &ConversationView,
) -> Result<(), CenterOpError> {
    let at = ports.clock.now();
    let patch = ConversationPatch {
        state: Some(ConversationState::Resolved),
        expected_version: Some(conversation.version),
        ..ConversationPatch::default()
    };
    let resolved = ports.conversations.update_conversation(tenant, &conversation.id, &patch, at).await?;
    for mut event in change_events(conversation, &resolved, at) {
        event.by_system = true;
        record(ports, tenant, &event).await;
    }
    after_change(ports, tenant, conversation, &resolved).await
}

/// Wakes a snoozed conversation (pending → open, snooze cleared) and records a `woken` event:
/// the one path for the customer writing ([`super::customer_wrote`]) and the snooze's time
/// coming (`by_system`).
///
/// # Errors
/// [`CenterOpError::VersionConflict`] when it changed since `conversation` was read; others as
/// [`CenterOpError`].
pub async fn wake<A: Adapters>(
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    conversation: &ConversationView,
    by_system: bool,
) -> Result<ConversationView, CenterOpError> {
    let at = ports.clock.now();
    let patch = ConversationPatch {
        state: Some(ConversationState::Open),
        snoozed_until: Some(None),
        expected_version: Some(conversation.version),
        ..ConversationPatch::default()
    };
    let woken = match ports.conversations.update_conversation(tenant, &conversation.id, &patch, at).await {
        Ok(woken) => woken,
        Err(UpdateConversationError::VersionConflict { expected, actual }) => {
            return Err(CenterOpError::VersionConflict { expected, actual })
        }
        Err(other) => return Err(other.into()),
    };
    let event = CenterEvent {
        id: format!("{}#woken#v{}", woken.id, woken.version),
        kind: EventKind::Woken,
        conversation_id: Some(woken.id.clone()),
        at: at.as_millis(),
        queue: woken.queue.clone(),
        agent: woken.assignee.clone(),
        duration_ms: None,
        target_ms: None,
        by_system,
    };
    record(ports, tenant, &event).await;
    Ok(woken)
}
