//! The `timers` job (`{"job":"timers"}`, every minute from its own schedule): fires the contact
//! center's due timers — snoozes that end, silences that reached the tenant's auto-resolve,
//! chatbot flow waits that timed out (handed to `inbound` on `inbound.fifo`) — via
//! [`shared::app::center::timers::sweep`]. Its work is what is due since its cursor, never a
//! scan; a run cut short by its deadline leaves the cursor where it stopped.

use std::time::SystemTime;

use shared::app::center::timers::{self, FlowTimers, Sweep};
use shared::app::center::CenterPorts;
use shared::domain::{Clock as _, Timestamp};
use shared::wiring::Adapters;

use crate::{Deps, RunError, RunReport, ScheduleInput, TaskReport};

/// Runs the timers sweep now — or at `as_of` when the configuration allows it (the local stack,
/// for tests: then only `input.tenant`'s timers when one is named, and the cursor stays, so
/// the real sweeps still read every minute up to then).
///
/// # Errors
/// [`RunError::TasksFailed`] when timers failed (they are kept and tried again next run);
/// [`RunError::Unknown`] when the timer store fails.
pub async fn run<A: Adapters>(
    deps: &Deps<A>,
    input: &ScheduleInput,
    deadline: SystemTime,
) -> Result<RunReport, RunError> {
    let now = deps.clock.now();
    let sweep = match input.as_of.filter(|_| deps.config.allow_as_of) {
        Some(at) if at > now.as_millis() => {
            Sweep { as_of: Timestamp::from_millis(at), move_cursor: false, only: input.tenant.clone() }
        }
        _ => Sweep { as_of: now, move_cursor: true, only: None },
    };
    let ports = CenterPorts::<A> {
        conversations: &deps.conversations,
        agents: &deps.agents,
        queues: &deps.queues,
        directory: &deps.directory,
        events: &deps.events,
        live: &deps.live,
        clock: &deps.clock,
    };
    let flows = FlowTimers::<A> { flows: &deps.flows, inbound: &deps.inbound };
    let done =
        timers::sweep(&ports, (&deps.timers, &deps.tenants, &flows), &sweep, || SystemTime::now() < deadline)
            .await
            .map_err(|e| RunError::Unknown(format!("timers sweep: {e:#}")))?;
    // Every minute: said at info only when it did something.
    let fired = done.woken + done.resolved + done.flow_timeouts;
    if !done.complete || fired + done.rearmed + done.dropped + done.failed > 0 {
        tracing::info!(report = ?done, "Timers sweep finished");
    } else {
        tracing::debug!(report = ?done, "Timers sweep finished");
    }
    let report = RunReport {
        tasks: vec![TaskReport {
            name: "timers".to_owned(),
            finished: fired,
            items: fired + done.rearmed + done.dropped,
        }],
        complete: done.complete,
        failed: if done.failed > 0 { vec!["timers".to_owned()] } else { Vec::new() },
        erasures_past_deadline: 0,
    };
    if report.failed.is_empty() {
        Ok(report)
    } else {
        Err(RunError::TasksFailed(report))
    }
}
