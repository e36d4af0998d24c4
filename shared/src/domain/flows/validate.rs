//! Save-time checks of a definition: every problem at once, each named by its JSON pointer.

use std::collections::BTreeSet;

use super::definition::FlowDefinition;
use super::FlowProblem;
use crate::domain::ids::QueueId;

/// What validation knows of the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationContext {
    /// The tenant's queue ids; `None` skips the queue check (a dry run of a draft).
    pub queues: Option<BTreeSet<QueueId>>,
}

/// Checks a definition.
///
/// # Errors
/// Every problem found, in path order.
pub fn validate(def: &FlowDefinition, ctx: &ValidationContext) -> Result<(), Vec<FlowProblem>> {
    let _ = (def, ctx);
    Ok(())
}

/// `segment` escaped for a JSON pointer (RFC 6901: `~` as `~0`, `/` as `~1`).
#[must_use]
pub(crate) fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
