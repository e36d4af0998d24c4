//! A `wait` step's timeout without a customer message (P40).
//!
//! 1. When a turn leaves the session at a wait step, the runner arms a
//!    [`TimerKind::FlowTimeout`] timer for its deadline ([`arm`]) **before** saving the session:
//!    a timer whose session was never saved is stale and does nothing, while a session saved
//!    without its timer would only time out at the customer's next message.
//! 2. The contact center's timers sweep fires it ([`hand_over`]): if the session still waits for
//!    that deadline, a [`FlowTimeout`] event goes onto `inbound.fifo` in the customer's own
//!    message group (stored with the session), so it is serialized with their messages.
//! 3. `inbound` runs it ([`on_timeout`]): the session advances with [`Input::Timeout`] only if it
//!    is still at the store version and deadline the event names; the save is conditional on
//!    that version, so the timeout advances the flow at most once, and a customer message that
//!    came first (which moves the version and clears the deadline) makes it a no-op.

use super::{
    bot_may_talk, context, definition_of, save_then, with_lead_stage, FlowPorts, FlowRunError, Outcome,
    SessionRecord,
};
use crate::domain::center::{Timer, TimerKind, TimerStore as _};
use crate::domain::events::{EnvelopeRef, EventRef, FlowTimeout, EVENT_VERSION};
use crate::domain::flows::{advance, Action, Input};
use crate::domain::flows_store::FlowStore;
use crate::domain::inbox::{ContactView, ConversationView};
use crate::domain::ports::{Queue, QueueMessage};
use crate::domain::tenant::TenantSettings;
use crate::domain::{Clock as _, ConversationId, TenantId, Timestamp};
use crate::kernel::digest::hex_sha256;
use crate::wiring::Adapters;

/// Arms the flow timeout timer for `new` when it differs from the `stored` deadline (a turn
/// that stays at the same wait keeps its timer).
///
/// # Errors
/// [`FlowRunError::Unknown`] when the timer store fails (the turn is not saved; it is retried).
pub(super) async fn arm<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    conversation: &ConversationId,
    (stored, new): (Option<i64>, Option<i64>),
) -> Result<(), FlowRunError> {
    let Some(due) = new.filter(|due| Some(*due) != stored) else { return Ok(()) };
    let timer = Timer {
        tenant: tenant.clone(),
        conversation_id: conversation.clone(),
        kind: TimerKind::FlowTimeout,
        due,
    };
    ports.timers.arm_timer(&timer).await.map_err(|e| FlowRunError::Unknown(e.into()))
}

/// The deadline a turn's actions arm, if any (the last one wins).
pub(super) fn armed(actions: &[Action]) -> Option<i64> {
    actions.iter().rev().find_map(|action| match action {
        Action::ArmTimeout { at } => Some(at.as_millis()),
        _ => None,
    })
}

/// The group a timeout of a session stored without one goes in (sessions stored before the
/// group was kept): per conversation, so at least two timeouts of it never run at once.
fn fallback_group(tenant: &TenantId, conversation: &ConversationId) -> String {
    hex_sha256(&format!("flow:{tenant}:{conversation}"))
}

/// Fires a [`TimerKind::FlowTimeout`] timer for the sweep: queues a [`FlowTimeout`] event for
/// `inbound` when the conversation's session still waits for this deadline. Returns whether
/// it queued one (false: the session moved on, the timer is dropped).
///
/// Idempotent: a second firing queues the same event (the FIFO deduplication id is the
/// session version and deadline), and `inbound` runs it at most once anyway.
///
/// # Errors
/// When the flow store or the queue fails (the timer is kept and fired again).
pub async fn hand_over<F: FlowStore, Q: Queue>(
    (flows, inbound): (&F, &Q),
    timer: &Timer,
) -> anyhow::Result<bool> {
    let record = flows.session(&timer.tenant, &timer.conversation_id).await?;
    let Some(record) = record.filter(|r| r.session.is_some() && r.timeout_at == Some(timer.due)) else {
        return Ok(false);
    };
    let event = FlowTimeout {
        tenant_id: timer.tenant.as_str().to_owned(),
        conversation_id: timer.conversation_id.as_str().to_owned(),
        session_version: record.version,
        due: timer.due,
    };
    let body =
        serde_json::to_string(&EnvelopeRef { v: EVENT_VERSION, event: EventRef::FlowTimeout(&event) })?;
    let group = record.group.clone().unwrap_or_else(|| fallback_group(&timer.tenant, &timer.conversation_id));
    let dedup = hex_sha256(&format!(
        "flow_timeout:{}:{}:{}:{}",
        event.tenant_id, event.conversation_id, event.session_version, event.due
    ));
    inbound.send_batch(&[QueueMessage { body, group_id: Some(group), dedup_id: Some(dedup) }]).await?;
    Ok(true)
}

/// Runs a [`FlowTimeout`] event (see the module docs): the conversation's session advances with
/// the timeout when it is still the one that armed it, else nothing happens
/// ([`Outcome::Stale`]).
///
/// The turn runs at the deadline's time when the clock is behind it (the sweep decided it was
/// due; locally a test may run the sweep ahead of the clock).
///
/// # Errors
/// [`FlowRunError::Unknown`] when a store fails before the session is saved (the event is
/// retried). Failures while carrying out actions are logged, not returned.
pub async fn on_timeout<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    contact: &ContactView,
    settings: &TenantSettings,
    conversation: &ConversationView,
    fired: &FlowTimeout,
) -> Result<Outcome, FlowRunError> {
    if !bot_may_talk(conversation, false) {
        return Ok(Outcome::Idle);
    }
    let record = ports.flows.session(tenant, &conversation.id).await?;
    let Some(record) =
        record.filter(|r| r.version == fired.session_version && r.timeout_at == Some(fired.due))
    else {
        return Ok(Outcome::Stale);
    };
    let Some(session) = record.session.clone() else { return Ok(Outcome::Stale) };
    let turn_id = format!("timeout#{}", fired.due);
    let Some(definition) = definition_of(ports, tenant, &session.flow).await? else {
        // Deleted since it started: the session ends here.
        let ended = SessionRecord { session: None, timeout_at: None, ..record };
        return save_then(ports, tenant, &ended, conversation, Vec::new(), &turn_id).await;
    };
    let now = ports.center.clock.now().max(Timestamp::from_millis(fired.due));
    let ctx = with_lead_stage(ports, tenant, contact, &definition, context(contact, settings, now)).await;
    let turn = advance(&definition, Some(&session), &Input::Timeout, &ctx);
    if turn.actions.is_empty() && turn.session.as_ref() == Some(&session) {
        return Ok(Outcome::Stale);
    }
    let timeout_at = armed(&turn.actions).filter(|_| turn.session.is_some());
    arm(ports, tenant, &conversation.id, (record.timeout_at, timeout_at)).await?;
    // The last customer message stays named: a redelivery of it must still start nothing.
    let saved = SessionRecord { session: turn.session, timeout_at, ..record };
    save_then(ports, tenant, &saved, conversation, turn.actions, &turn_id).await
}
