//! [`TimerStore`] on the table: the contact center's timers in per-minute buckets
//! (`DUE#timer#<minute>`, sorted by due time), armed by the conversation's own transaction
//! ([`DynamoInbox::timer_put`]), and the sweep's cursor (`SYSTEM#timers`).

use aws_sdk_dynamodb::types::Put;

use super::*;
use crate::domain::center::{CenterError, Timer, TimerKind, TimerStore};

/// How long a timer the sweep never reached stays before TTL removes it: long past any outage
/// the sweep catches up after.
const TIMER_KEPT: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

fn failed(error: impl Into<anyhow::Error>, what: &'static str) -> CenterError {
    CenterError::Unknown(error.into().context(what))
}

fn timer_key(timer: &Timer) -> Key {
    keys::timer(&timer.tenant, &timer.conversation_id, timer.kind.as_str(), timer.due)
}

fn timer_item(timer: &Timer) -> Item {
    let mut item = item_with_key(&timer_key(timer));
    item.insert(ENTITY.to_owned(), s("timer"));
    item.insert(attr::TENANT_ID.to_owned(), s(timer.tenant.as_str()));
    item.insert(attr::CONVERSATION_ID.to_owned(), s(timer.conversation_id.as_str()));
    item.insert(attr::KIND.to_owned(), s(timer.kind.as_str()));
    item.insert(attr::DUE_AT.to_owned(), n(timer.due));
    let expires = ExpiresAt::after(Timestamp::from_millis(timer.due), TIMER_KEPT);
    item.insert(EXPIRES_AT.to_owned(), n(expires.epoch_secs()));
    item
}

fn timer_view(item: &Item) -> anyhow::Result<Timer> {
    let kind = item.string(attr::KIND)?;
    Ok(Timer {
        tenant: TenantId::parse(item.string(attr::TENANT_ID)?)?,
        conversation_id: ConversationId::parse(item.string(attr::CONVERSATION_ID)?)?,
        kind: TimerKind::parse(kind).with_context(|| format!("unknown timer kind {kind:?}"))?,
        due: item.number(attr::DUE_AT)?,
    })
}

impl DynamoInbox {
    /// The put of a timer, for a conversation's transaction.
    pub(super) fn timer_put(&self, timer: &Timer) -> anyhow::Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(self.table.name())
            .set_item(Some(timer_item(timer)))
            .build()
            .context("building a timer")?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

impl TimerStore for DynamoInbox {
    async fn due_timers(&self, minute: i64, limit: u16) -> Result<Vec<Timer>, CenterError> {
        let page = self
            .table
            .query_prefix(&keys::timer_bucket(minute), "", self.now_filter(), i32::from(limit.max(1)), None)
            .await
            .map_err(|e| failed(e, "reading a timer bucket"))?;
        let mut timers: Vec<Timer> = page
            .items
            .iter()
            .map(timer_view)
            .collect::<anyhow::Result<_>>()
            .map_err(|e| failed(e, "mapping a timer"))?;
        timers.truncate(usize::from(limit));
        Ok(timers)
    }

    async fn arm_timer(&self, timer: &Timer) -> Result<(), CenterError> {
        self.table.put(timer_item(timer)).await.map_err(|e| failed(e, "arming a timer"))
    }

    async fn drop_timer(&self, timer: &Timer) -> Result<(), CenterError> {
        self.table.delete(&timer_key(timer)).await.map_err(|e| failed(e, "dropping a timer"))
    }

    async fn timer_cursor(&self) -> Result<Option<i64>, CenterError> {
        let item = self
            .table
            .get(&keys::timer_cursor(), self.now_filter())
            .await
            .map_err(|e| failed(e, "reading the timer cursor"))?;
        item.map(|i| i.number::<i64>(attr::CURSOR_MINUTE))
            .transpose()
            .map_err(|e| failed(e, "mapping the timer cursor"))
    }

    async fn set_timer_cursor(&self, minute: i64) -> Result<(), CenterError> {
        let mut item = item_with_key(&keys::timer_cursor());
        item.insert(ENTITY.to_owned(), s("cursor"));
        item.insert(attr::CURSOR_MINUTE.to_owned(), n(minute));
        self.table.put(item).await.map_err(|e| failed(e, "moving the timer cursor"))
    }
}
