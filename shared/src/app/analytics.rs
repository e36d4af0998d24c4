//! P52 for the contact center's event log: when conversations go (retention ends, the contact
//! is erased, the integration is purged), their events lose the conversation id first.

use crate::domain::center::{CenterError, EventLog};
use crate::domain::inbox::{ConversationFilter, ConversationStore, InboxError};
use crate::domain::{ContactId, TenantId};

/// Errors of [`anonymize_contact`].
#[derive(Debug, thiserror::Error)]
pub enum AnonymizeError {
    /// Listing the contact's conversations failed.
    #[error("listing the contact's conversations failed")]
    Conversations(#[from] InboxError),
    /// The event log failed.
    #[error("anonymizing events failed")]
    Unknown(#[from] CenterError),
}

/// Removes the ids of every conversation of `contact` from the event log: called before the
/// contact's conversations are deleted (so that a retry after a failure still finds them).
/// Returns how many events changed.
///
/// # Errors
/// [`AnonymizeError`]; nothing is deleted, so the caller may simply retry.
pub async fn anonymize_contact<C: ConversationStore, E: EventLog>(
    conversations: &C,
    events: &E,
    tenant: &TenantId,
    contact: &ContactId,
) -> Result<u64, AnonymizeError> {
    let every = ConversationFilter::default();
    let mut after: Option<String> = None;
    let mut changed = 0;
    loop {
        let page = conversations.conversations(tenant, Some(contact), &every, after.as_deref(), 100).await?;
        for conversation in &page.items {
            changed += events.anonymize(tenant, &conversation.id).await?;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(changed),
        }
    }
}
