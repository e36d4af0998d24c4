//! `settle_unknown`: reconciliation of outbound messages whose send's outcome stayed unknown.
//!
//! `send` records a message `unknown` when Meta may have taken it but no answer said so (a
//! timeout, a garbage 2xx, a sender that died mid-call), and never sends it again: its status
//! webhook settles it. The conversation is queued for the day the settle deadline passes; when
//! the run reaches that day, what is still `unknown` since then ends `failed` with the title
//! `outcome-unknown` — Meta may or may not have delivered it, and the tenant decides whether to
//! send it again (a resend could deliver it twice, which only the tenant can judge).

use shared::domain::inbox::OutboundStore as _;
use shared::domain::outbound::{OUTCOME_UNKNOWN, UNKNOWN_SETTLE_DEADLINE};
use shared::domain::whatsapp::MetaError;
use shared::domain::{ConversationId, TenantId, Timestamp};
use shared::wiring::Adapters;

use crate::{failed, Deps, RunError, Step};

/// Ends `failed` the conversation's messages unknown for the whole settle deadline.
pub(crate) async fn settle<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    conversation: &ConversationId,
    now: Timestamp,
) -> Result<Step, RunError> {
    let deadline_ms = i64::try_from(UNKNOWN_SETTLE_DEADLINE.as_millis()).unwrap_or(i64::MAX);
    let unknown_before = Timestamp::from_millis(now.as_millis().saturating_sub(deadline_ms));
    let error = MetaError {
        code: 0,
        title: Some(OUTCOME_UNKNOWN.to_owned()),
        message: Some(
            "Meta's answer to the send was lost and no status arrived: it may or may not have been delivered"
                .to_owned(),
        ),
        error_data: None,
        href: None,
    };
    let ended = deps
        .outbox
        .fail_unknown(tenant, conversation, unknown_before, &error, now)
        .await
        .map_err(|e| failed("settling unknown messages", &e))?;
    if ended > 0 {
        tracing::warn!(%tenant, ended, "Messages whose outcome stayed unknown ended failed");
    }
    Ok(Step::Done(ended, ended > 0))
}
