//! Suggestion requests: their status, what they hold, their expiry, and the [`SuggestionStore`] port.

use super::*;

// ---------------------------------------------------------------------------------------------
// Suggestions as stored
// ---------------------------------------------------------------------------------------------

/// Days a suggestion is kept at most (never longer than the tenant keeps message content).
pub const SUGGESTION_DAYS: u16 = 7;

/// When a suggestion made `now` expires: [`SUGGESTION_DAYS`] or the tenant's content retention,
/// whichever is shorter (it is derived from message content, P51).
#[must_use]
pub fn suggestion_expiry(now: Timestamp, retention: RetentionSettings) -> ExpiresAt {
    let days = SUGGESTION_DAYS.min(retention.content_days);
    ExpiresAt::after(now, std::time::Duration::from_secs(u64::from(days) * 86_400))
}

/// Where a suggestion request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionStatus {
    /// Queued for the `suggest` function.
    Pending,
    /// Replies are ready.
    Ready,
    /// Not processed: AI was turned off, the provider disconnected or the contact restricted
    /// before it ran (`reason`).
    Refused,
    /// The provider refused the request (`reason`).
    Failed,
}

impl SuggestionStatus {
    /// Its stored and shown name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }

    /// The status named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Pending, Self::Ready, Self::Refused, Self::Failed].into_iter().find(|s| s.as_str() == name)
    }
}

/// A suggestion request and, once done, what the AI produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SuggestionView {
    /// Its id.
    pub id: SuggestionId,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The contact of the conversation.
    pub contact_id: ContactId,
    /// Replies, a summary or the sentiment.
    pub kind: SuggestionKind,
    /// Pending, ready, refused or failed.
    pub status: SuggestionStatus,
    /// What the AI produced (once ready): `replies` (placeholders such as `[name]` left for the
    /// agent to fill), `summary` or `sentiment`, by its kind.
    #[serde(flatten)]
    pub result: AiResult,
    /// Why it was refused or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was requested, epoch ms.
    pub requested_at: i64,
    /// When it was done, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
}

impl SuggestionView {
    /// A new request of `kind` on the conversation `conversation_id` with `contact_id`, made `now`.
    ///
    /// # Errors
    /// [`RandomUnavailable`] when no id can be drawn.
    pub fn pending(
        conversation_id: ConversationId,
        contact_id: ContactId,
        kind: SuggestionKind,
        now: Timestamp,
    ) -> Result<Self, RandomUnavailable> {
        Ok(Self {
            id: SuggestionId::generate(now)?,
            conversation_id,
            contact_id,
            kind,
            status: SuggestionStatus::Pending,
            result: AiResult::default(),
            reason: None,
            requested_at: now.as_millis(),
            finished_at: None,
        })
    }
}

/// How a suggestion request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuggestionOutcome {
    /// What the AI produced.
    Ready(AiResult),
    /// The gate said no when it ran.
    Refused(AiRefusal),
    /// The provider refused.
    Failed(String),
}

/// The `suggest` queue's message: which request to work on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestionJob {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The request.
    pub suggestion_id: SuggestionId,
}

/// Suggestion requests, kept beside their conversation.
pub trait SuggestionStore: Send + Sync {
    /// Stores a new pending request (its result, once there, is sealed like message content).
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn create_suggestion(
        &self,
        tenant: &TenantId,
        suggestion: &SuggestionView,
        expires_at: ExpiresAt,
    ) -> impl Future<Output = Result<(), InboxError>> + Send;

    /// One request; `None` when unknown, expired or deleted (with its conversation or contact).
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn suggestion(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        id: &SuggestionId,
    ) -> impl Future<Output = Result<Option<SuggestionView>, InboxError>> + Send;

    /// Records how a pending request ended. `false` (and nothing written) when it is no longer
    /// pending or no longer exists, so a redelivered job changes nothing.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn finish_suggestion(
        &self,
        tenant: &TenantId,
        suggestion: &SuggestionView,
        outcome: &SuggestionOutcome,
        at: Timestamp,
    ) -> impl Future<Output = Result<bool, InboxError>> + Send;

    /// A conversation's requests, oldest first (for the person's export).
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn suggestions(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<Vec<SuggestionView>, InboxError>> + Send;
}
