//! P54, after a disconnection's conversations or leads are gone: the contacts that came only
//! through the integration are erased (an opt-out outliving them as a suppression entry, P62),
//! the others lose what only it brought ([`LifecycleStore::forget_integration_contacts`]).

use shared::domain::inbox::LifecycleStore as _;
use shared::domain::privacy::MetaPurge;
use shared::wiring::Adapters;

use crate::{failed, Deadline, Deps, RunError, TaskReport};

/// Goes through the tenant's contacts; `false` when the deadline came first (the next run
/// starts over: what is done is not found again).
pub(crate) async fn forget_contacts<A: Adapters>(
    deps: &Deps<A>,
    purge: &MetaPurge,
    deadline: Deadline,
    report: &mut TaskReport,
) -> Result<bool, RunError> {
    let mut after: Option<String> = None;
    loop {
        if deadline.passed() {
            return Ok(false);
        }
        let (counts, next) = deps
            .lifecycle
            .forget_integration_contacts(
                &purge.tenant,
                purge.integration,
                purge.disconnected_at,
                after.as_deref(),
            )
            .await
            .map_err(|e| failed("forgetting an integration's contacts", &e))?;
        report.items += counts.total();
        match next {
            Some(next) => after = Some(next),
            None => return Ok(true),
        }
    }
}
