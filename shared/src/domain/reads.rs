//! What each user has read: a per-user, per-conversation mark (when they last read it), from
//! which an agent's listing counts the customer messages that came after ([`ReadMarkStore`]).
//! Ids and a time only: no personal data.

use std::future::Future;

use super::ids::{ConversationId, TenantId, UserId};

/// How long a read mark is kept after it was last set: past it, a conversation nobody read for
/// so long counts as unread again (its messages are long past most retention settings).
pub const READ_MARK_DAYS: u64 = 400;

/// The most unread messages a listing counts; beyond, it shows this.
pub const MAX_UNREAD: u32 = 99;

/// Errors of [`ReadMarkStore`].
#[derive(Debug, thiserror::Error)]
pub enum ReadMarkError {
    /// The store failed; nothing was written.
    #[error("read mark store failed")]
    Unknown(#[from] anyhow::Error),
}

/// Users' read marks on conversations.
pub trait ReadMarkStore: Send + Sync {
    /// Records that `user` read `conversation` up to `at` (epoch ms). A mark never moves back:
    /// an earlier `at` than the stored one leaves it.
    ///
    /// # Errors
    /// [`ReadMarkError::Unknown`].
    fn mark_read(
        &self,
        tenant: &TenantId,
        user: &UserId,
        conversation: &ConversationId,
        at: i64,
    ) -> impl Future<Output = Result<(), ReadMarkError>> + Send;

    /// When `user` last read `conversation` (epoch ms), if ever.
    ///
    /// # Errors
    /// [`ReadMarkError::Unknown`].
    fn last_read(
        &self,
        tenant: &TenantId,
        user: &UserId,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<Option<i64>, ReadMarkError>> + Send;
}
