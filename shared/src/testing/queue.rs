//! A queue in memory.

use super::*;

/// A queue that keeps what was sent, and can be told to fail.
#[derive(Debug, Default, Clone)]
pub struct MemoryQueue {
    sent: Arc<Mutex<Vec<QueueMessage>>>,
    failing: Arc<Mutex<bool>>,
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
}

impl Queue for MemoryQueue {
    async fn send_batch(&self, messages: &[QueueMessage]) -> Result<(), EnqueueError> {
        crate::adapters::sqs::chunk(messages)?;
        if self.failing.lock().map(|f| *f).unwrap_or(false) {
            return Err(anyhow::anyhow!("queue unavailable (test)").into());
        }
        self.sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.extend_from_slice(messages);
        Ok(())
    }
}
