//! [`LiveFeed`] on a queue: each notice is one message of the standard SQS queue `live`
//! (no group, no deduplication: a notice sent twice is refetched twice, nothing more).

use anyhow::Context as _;

use crate::domain::live::{LiveFeed, LiveFeedError, LiveNotice};
use crate::domain::ports::{Queue, QueueMessage};

/// Notices as messages of a [`Queue`]: [`crate::adapters::sqs::SqsQueue`] in production, the
/// in-memory queue in unit tests (whose `sent()` shows what went out).
#[derive(Debug, Clone)]
pub struct QueueLiveFeed<Q> {
    queue: Q,
}

impl<Q> QueueLiveFeed<Q> {
    /// The feed into `queue`.
    #[must_use]
    pub fn new(queue: Q) -> Self {
        Self { queue }
    }

    /// The queue underneath.
    #[must_use]
    pub fn queue(&self) -> &Q {
        &self.queue
    }
}

impl<Q: Queue> LiveFeed for QueueLiveFeed<Q> {
    async fn notify(&self, notices: &[LiveNotice]) -> Result<(), LiveFeedError> {
        if notices.is_empty() {
            return Ok(());
        }
        let messages = notices
            .iter()
            .map(|notice| {
                let body = serde_json::to_string(notice).context("serializing a live notice")?;
                Ok(QueueMessage { body, group_id: None, dedup_id: None })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.queue.send_batch(&messages).await.map_err(|e| LiveFeedError::Unknown(e.into()))
    }
}
