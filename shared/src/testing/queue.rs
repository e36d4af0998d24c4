//! A queue in memory.

use super::*;

/// A queue that keeps what was sent, and can be told to fail, or to never answer its next send
/// (the caller's process dying there: drop the caller's future to finish the crash).
#[derive(Debug, Default, Clone)]
pub struct MemoryQueue {
    sent: Arc<Mutex<Vec<QueueMessage>>>,
    failing: Arc<Mutex<bool>>,
    dying: Arc<Mutex<Option<Dying>>>,
}

/// Where the next send dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dying {
    /// Before the queue took the messages.
    Before,
    /// After the queue took them.
    After,
}

impl MemoryQueue {
    /// Everything sent so far.
    #[must_use]
    pub fn sent(&self) -> Vec<QueueMessage> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Makes every later send fail (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        if let Ok(mut f) = self.failing.lock() {
            *f = failing;
        }
    }

    /// The next send never returns, and the queue does not take its messages.
    pub fn die_before_next_send(&self) {
        self.die(Dying::Before);
    }

    /// The next send never returns, after the queue took its messages.
    pub fn die_after_next_send(&self) {
        self.die(Dying::After);
    }

    fn die(&self, how: Dying) {
        if let Ok(mut dying) = self.dying.lock() {
            *dying = Some(how);
        }
    }
}

impl Queue for MemoryQueue {
    async fn send_batch(&self, messages: &[QueueMessage]) -> Result<(), EnqueueError> {
        crate::adapters::sqs::chunk(messages)?;
        if self.failing.lock().map(|f| *f).unwrap_or(false) {
            return Err(anyhow::anyhow!("queue unavailable (test)").into());
        }
        let dying = self.dying.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.take();
        if dying != Some(Dying::Before) {
            self.sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.extend_from_slice(messages);
        }
        if dying.is_some() {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}
