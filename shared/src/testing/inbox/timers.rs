//! [`TimerStore`] in memory, on the inbox's own state: timers are armed under the same lock as
//! the conversation change that calls for them (the table's one transaction).

use super::*;
use crate::domain::center::{epoch_minute, CenterError, Timer, TimerStore};

fn entry(timer: &Timer) -> TimerEntry {
    (timer.due, timer.tenant.clone(), timer.conversation_id.clone(), timer.kind)
}

impl MemoryInbox {
    fn timer_state(&self) -> Result<std::sync::MutexGuard<'_, InboxState>, CenterError> {
        self.state.lock().map_err(|_| CenterError::Unknown(anyhow::anyhow!("poisoned")))
    }
}

impl TimerStore for MemoryInbox {
    async fn due_timers(&self, minute: i64, limit: u16) -> Result<Vec<Timer>, CenterError> {
        Ok(self
            .timer_state()?
            .timers
            .iter()
            .filter(|(due, ..)| epoch_minute(*due) == minute)
            .take(usize::from(limit.max(1)))
            .map(|(due, tenant, conversation, kind)| Timer {
                tenant: tenant.clone(),
                conversation_id: conversation.clone(),
                kind: *kind,
                due: *due,
            })
            .collect())
    }

    async fn arm_timer(&self, timer: &Timer) -> Result<(), CenterError> {
        self.timer_state()?.timers.insert(entry(timer));
        Ok(())
    }

    async fn drop_timer(&self, timer: &Timer) -> Result<(), CenterError> {
        self.timer_state()?.timers.remove(&entry(timer));
        Ok(())
    }

    async fn timer_cursor(&self) -> Result<Option<i64>, CenterError> {
        Ok(self.timer_state()?.timer_cursor)
    }

    async fn set_timer_cursor(&self, minute: i64) -> Result<(), CenterError> {
        self.timer_state()?.timer_cursor = Some(minute);
        Ok(())
    }
}
