//! [`Queue`] on SQS: `SendMessageBatch` with at most 10 entries and 256 KiB per request, FIFO
//! group and deduplication ids, and retries of the entries SQS did not accept.

use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use crate::domain::ports::{EnqueueError, Queue, QueueMessage};

/// SQS accepts at most 10 entries per batch request.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// SQS accepts at most 256 KiB per message and per batch request (the classic limit, kept
/// because every queue in every region honours it).
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// How often the entries SQS did not accept are sent again before giving up.
const ATTEMPTS: u32 = 3;

/// One SQS queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url` through `client`.
    #[must_use]
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    /// The queue URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Splits messages into consecutive requests of at most 10 entries and 256 KiB, keeping order.
///
/// # Errors
/// [`EnqueueError::TooLarge`] when one message alone is over the limit.
pub fn chunk(messages: &[QueueMessage]) -> Result<Vec<&[QueueMessage]>, EnqueueError> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, message) in messages.iter().enumerate() {
        let size = message.body.len();
        if size > MAX_BATCH_BYTES {
            return Err(EnqueueError::TooLarge { index, size, limit: MAX_BATCH_BYTES });
        }
        if index - start == MAX_BATCH_ENTRIES || bytes + size > MAX_BATCH_BYTES {
            chunks.push(&messages[start..index]);
            (start, bytes) = (index, 0);
        }
        bytes += size;
    }
    if start < messages.len() {
        chunks.push(&messages[start..]);
    }
    Ok(chunks)
}

impl SqsQueue {
    async fn send_chunk(&self, chunk: &[QueueMessage]) -> Result<(), EnqueueError> {
        let mut pending: Vec<usize> = (0..chunk.len()).collect();
        for attempt in 1..=ATTEMPTS {
            let entries = pending
                .iter()
                .map(|&i| {
                    let message = &chunk[i];
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&message.body)
                        .set_message_group_id(message.group_id.clone())
                        .set_message_deduplication_id(message.dedup_id.clone())
                        .build()
                        .context("building a batch entry")
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .context("SQS SendMessageBatch failed")?;
            let failed = output.failed;
            if failed.is_empty() {
                return Ok(());
            }
            if let Some(sender_fault) = failed.iter().find(|f| f.sender_fault) {
                return Err(anyhow::anyhow!(
                    "SQS refused a message: {} ({})",
                    sender_fault.code,
                    sender_fault.message.as_deref().unwrap_or("no message")
                )
                .into());
            }
            pending = failed.iter().filter_map(|f| f.id.parse().ok()).collect();
            tracing::warn!(attempt, failed = pending.len(), "SQS did not accept every entry; retrying them");
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
        }
        Err(anyhow::anyhow!("SQS did not accept {} entries after {ATTEMPTS} attempts", pending.len()).into())
    }
}

impl Queue for SqsQueue {
    async fn send_batch(&self, messages: &[QueueMessage]) -> Result<(), EnqueueError> {
        for chunk in chunk(messages)? {
            self.send_chunk(chunk).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(size: usize) -> QueueMessage {
        QueueMessage { body: "x".repeat(size), group_id: None, dedup_id: None }
    }

    #[test]
    fn chunks_hold_at_most_ten_entries() {
        let messages: Vec<_> = (0..25).map(|_| message(10)).collect();
        let sizes: Vec<_> = chunk(&messages).expect("fits").iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [10, 10, 5]);
    }

    #[test]
    fn chunks_hold_at_most_256_kib() {
        let messages: Vec<_> = (0..4).map(|_| message(100 * 1024)).collect();
        let sizes: Vec<_> = chunk(&messages).expect("fits").iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [2, 2]);
    }

    #[test]
    fn oversized_message_is_refused_before_sending() {
        let messages = vec![message(1), message(MAX_BATCH_BYTES + 1)];
        assert!(matches!(chunk(&messages), Err(EnqueueError::TooLarge { index: 1, .. })));
    }

    #[test]
    fn empty_input_makes_no_request() {
        assert!(chunk(&[]).expect("fits").is_empty());
    }
}
