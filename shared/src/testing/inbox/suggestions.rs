//! AI suggestion requests in memory.

use super::*;

impl SuggestionStore for MemoryInbox {
    async fn create_suggestion(
        &self,
        tenant: &TenantId,
        suggestion: &SuggestionView,
        expires_at: ExpiresAt,
    ) -> Result<(), InboxError> {
        let mut state = self.state()?;
        state.suggestion_expiry.insert((tenant.clone(), suggestion.id.clone()), expires_at);
        state.suggestions.push((tenant.clone(), suggestion.clone()));
        Ok(())
    }

    async fn suggestion(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        id: &SuggestionId,
    ) -> Result<Option<SuggestionView>, InboxError> {
        let state = self.state()?;
        Ok(state
            .suggestions
            .iter()
            .find(|(t, s)| t == tenant && &s.conversation_id == conversation && &s.id == id)
            .filter(|(t, s)| !state.expired(t, &s.id))
            .map(|(_, s)| s.clone()))
    }

    async fn finish_suggestion(
        &self,
        tenant: &TenantId,
        suggestion: &SuggestionView,
        outcome: &SuggestionOutcome,
        at: Timestamp,
    ) -> Result<bool, InboxError> {
        let mut state = self.state()?;
        if state.expired(tenant, &suggestion.id) {
            return Ok(false);
        }
        let Some((_, stored)) = state
            .suggestions
            .iter_mut()
            .find(|(t, s)| t == tenant && s.id == suggestion.id && s.status == SuggestionStatus::Pending)
        else {
            return Ok(false);
        };
        match outcome {
            SuggestionOutcome::Ready(result) => {
                stored.status = SuggestionStatus::Ready;
                stored.result.clone_from(result);
            }
            SuggestionOutcome::Refused(refusal) => {
                stored.status = SuggestionStatus::Refused;
                stored.reason = Some(refusal.code().to_owned());
            }
            SuggestionOutcome::Failed(why) => {
                stored.status = SuggestionStatus::Failed;
                stored.reason = Some(why.clone());
            }
        }
        stored.finished_at = Some(at.as_millis());
        Ok(true)
    }

    async fn suggestions(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Vec<SuggestionView>, InboxError> {
        let state = self.state()?;
        Ok(state
            .suggestions
            .iter()
            .filter(|(t, s)| t == tenant && &s.conversation_id == conversation && !state.expired(t, &s.id))
            .map(|(_, s)| s.clone())
            .collect())
    }
}
