//! [`SuggestionStore`] on the single table: a request is an item beside its conversation's
//! messages (`SUGG#<conversation>#<id>`), its result sealed under the contact's data key like
//! message content, so an erasure's shredded key makes every copy unreadable (P64). It expires
//! with [`crate::domain::ai::suggestion_expiry`] and is deleted with its conversation.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{attr, item_with_key, ENTITY, EXPIRES_AT};
use super::{key_attributes, keys, n, s, sealed, unknown, DynamoInbox, Item, ItemExt as _};
use crate::domain::ai::{
    SuggestionKind, SuggestionOutcome, SuggestionStatus, SuggestionStore, SuggestionView,
};
use crate::domain::inbox::InboxError;
use crate::domain::{ContactId, ConversationId, ExpiresAt, SuggestionId, TenantId, Timestamp};

fn suggestion_view(item: &Item) -> anyhow::Result<SuggestionView> {
    use anyhow::Context as _;
    Ok(SuggestionView {
        id: SuggestionId::parse(item.string(attr::SUGGESTION_ID)?)?,
        conversation_id: ConversationId::parse(item.string(attr::CONVERSATION_ID)?)?,
        contact_id: ContactId::parse(item.string(attr::CONTACT_ID)?)?,
        kind: SuggestionKind::parse(item.string(attr::KIND)?).context("unknown suggestion kind")?,
        status: SuggestionStatus::parse(item.string(attr::STATUS)?).context("unknown suggestion status")?,
        // Absent while pending, and once the contact's key is gone.
        result: item.opt_string(attr::AI_RESULT).map(serde_json::from_str).transpose()?.unwrap_or_default(),
        reason: item.opt_string(attr::REASON).map(str::to_owned),
        requested_at: item.number(attr::REQUESTED_AT)?,
        finished_at: item.opt_number(attr::FINISHED_AT)?,
    })
}

impl SuggestionStore for DynamoInbox {
    async fn create_suggestion(
        &self,
        tenant: &TenantId,
        suggestion: &SuggestionView,
        expires_at: ExpiresAt,
    ) -> Result<(), InboxError> {
        let mut item = item_with_key(&keys::suggestion(tenant, &suggestion.conversation_id, &suggestion.id));
        item.insert(ENTITY.to_owned(), s("suggestion"));
        item.insert(attr::SUGGESTION_ID.to_owned(), s(suggestion.id.as_str()));
        item.insert(attr::CONVERSATION_ID.to_owned(), s(suggestion.conversation_id.as_str()));
        item.insert(attr::CONTACT_ID.to_owned(), s(suggestion.contact_id.as_str()));
        item.insert(attr::KIND.to_owned(), s(suggestion.kind.as_str()));
        item.insert(attr::STATUS.to_owned(), s(SuggestionStatus::Pending.as_str()));
        item.insert(attr::REQUESTED_AT.to_owned(), n(suggestion.requested_at));
        item.insert(EXPIRES_AT.to_owned(), n(expires_at.epoch_secs()));
        self.table.put(item).await.map_err(|e| unknown(e, "storing a suggestion request"))
    }

    async fn suggestion(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        id: &SuggestionId,
    ) -> Result<Option<SuggestionView>, InboxError> {
        let key = keys::suggestion(tenant, conversation, id);
        self.read_one(tenant, &key, suggestion_view, "reading a suggestion").await
    }

    async fn finish_suggestion(
        &self,
        tenant: &TenantId,
        suggestion: &SuggestionView,
        outcome: &SuggestionOutcome,
        at: Timestamp,
    ) -> Result<bool, InboxError> {
        let (status, result, reason) = match outcome {
            SuggestionOutcome::Ready(result) => {
                let json = serde_json::to_string(result).map_err(|e| unknown(e, "encoding a result"))?;
                let key = self.sealer(tenant, &suggestion.contact_id).await?;
                (SuggestionStatus::Ready, Some(sealed(&key, attr::AI_RESULT, &json)?), None)
            }
            SuggestionOutcome::Refused(refusal) => {
                (SuggestionStatus::Refused, None, Some(refusal.code().to_owned()))
            }
            SuggestionOutcome::Failed(why) => (SuggestionStatus::Failed, None, Some(why.clone())),
        };
        let key = keys::suggestion(tenant, &suggestion.conversation_id, &suggestion.id);
        let mut update = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&key)))
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#finished", attr::FINISHED_AT)
            .expression_attribute_values(":pending", s(SuggestionStatus::Pending.as_str()))
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":finished", n(at.as_millis()));
        let mut sets = vec!["#status = :status", "#finished = :finished"];
        if let Some(result) = result {
            update = update
                .expression_attribute_names("#result", attr::AI_RESULT)
                .expression_attribute_values(":result", result);
            sets.push("#result = :result");
        }
        if let Some(reason) = reason {
            update = update
                .expression_attribute_names("#reason", attr::REASON)
                .expression_attribute_values(":reason", AttributeValue::S(reason));
            sets.push("#reason = :reason");
        }
        self.conditional_update(update.update_expression(format!("SET {}", sets.join(", ")))).await
    }

    async fn suggestions(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Vec<SuggestionView>, InboxError> {
        let partition = keys::tenant_partition(tenant);
        let prefix = keys::suggestions_prefix(conversation);
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .table
                .query_prefix(&partition, &prefix, self.now_filter(), 100, after.as_deref())
                .await
                .map_err(|e| unknown(e, "listing suggestions"))?;
            for item in &self.open_all(tenant, page.items).await? {
                all.push(suggestion_view(item).map_err(|e| unknown(e, "mapping a suggestion"))?);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }
}
