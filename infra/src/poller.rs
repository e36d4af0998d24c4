//! What Lambda's SQS event source mapping does, locally: long-poll a queue, hand the messages
//! to the consumer as one `SqsEvent`, delete those not listed in `batchItemFailures`, and leave
//! the failed ones to reappear after the visibility timeout (and, after `maxReceiveCount`
//! deliveries, to be moved to the dead-letter queue by SQS itself).
//!
//! As on AWS: an invocation error, or a failure list naming an empty or unknown id, fails the
//! whole batch (nothing is deleted).

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{json, Map, Value};

/// Something that runs a consumer on one event (the runtime emulator, or a handler in-process
/// in tests).
pub trait Invoke: Send + Sync {
    /// Runs the consumer; `Ok` holds its response JSON.
    ///
    /// # Errors
    /// When the consumer failed as a whole.
    fn invoke(&self, event: Value) -> impl Future<Output = anyhow::Result<Value>> + Send;
}

/// One queue feeding one consumer.
#[derive(Debug, Clone)]
pub struct Poller<I> {
    /// The SQS client.
    pub sqs: aws_sdk_sqs::Client,
    /// The queue URL.
    pub queue_url: String,
    /// The queue ARN (the records' `eventSourceARN`).
    pub queue_arn: String,
    /// The consumer.
    pub consumer: I,
    /// Messages per event (at most 10).
    pub batch_size: i32,
    /// Long-poll wait.
    pub wait: Duration,
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollOutcome {
    /// Messages received.
    pub received: usize,
    /// Messages deleted (processed).
    pub deleted: usize,
    /// Messages left on the queue (reported failed, or the whole batch failed).
    pub failed: usize,
}

/// The `SqsEvent` record for one received message, as Lambda builds it.
#[must_use]
pub fn record(message: &Message, queue_arn: &str) -> Value {
    let attributes: Map<String, Value> = message
        .attributes
        .iter()
        .flatten()
        .map(|(name, value)| (name.as_str().to_owned(), Value::String(value.clone())))
        .collect();
    json!({
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body.clone().unwrap_or_default(),
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    })
}

impl<I: Invoke> Poller<I> {
    /// Receives one batch (waiting up to `wait`), runs the consumer and settles the messages.
    ///
    /// # Errors
    /// When SQS fails. A failing consumer is not an error here: its messages stay queued.
    pub async fn poll_once(&self) -> anyhow::Result<PollOutcome> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size.clamp(1, 10))
            .wait_time_seconds(i32::try_from(self.wait.as_secs()).unwrap_or(1))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .context("SQS ReceiveMessage failed")?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(PollOutcome::default());
        }
        let event =
            json!({ "Records": messages.iter().map(|m| record(m, &self.queue_arn)).collect::<Vec<_>>() });
        let ids: HashSet<&str> = messages.iter().filter_map(|m| m.message_id.as_deref()).collect();
        let failed: Option<HashSet<String>> = match self.consumer.invoke(event).await {
            Ok(response) => failures(&response, &ids),
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), queue = %self.queue_url, "Consumer failed the whole batch");
                None
            }
        };
        let Some(failed) = failed else {
            return Ok(PollOutcome { received: messages.len(), deleted: 0, failed: messages.len() });
        };
        let done: Vec<&Message> = messages
            .iter()
            .filter(|m| m.message_id.as_deref().is_some_and(|id| !failed.contains(id)))
            .collect();
        if !done.is_empty() {
            let entries = done
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .context("SQS DeleteMessageBatch failed")?;
        }
        Ok(PollOutcome { received: messages.len(), deleted: done.len(), failed: messages.len() - done.len() })
    }

    /// Polls until the task is dropped.
    pub async fn run(self) {
        loop {
            if let Err(error) = self.poll_once().await {
                tracing::warn!(error = format!("{error:#}"), queue = %self.queue_url, "Polling failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The failed ids of a partial batch response; `None` (whole batch failed) when the response is
/// malformed or names an empty or unknown id, as Lambda treats it.
fn failures(response: &Value, ids: &HashSet<&str>) -> Option<HashSet<String>> {
    let Some(list) = response.get("batchItemFailures") else {
        return Some(HashSet::new());
    };
    let mut failed = HashSet::new();
    for item in list.as_array()? {
        let id = item.get("itemIdentifier")?.as_str()?;
        if id.is_empty() || !ids.contains(id) {
            return None;
        }
        failed.insert(id.to_owned());
    }
    Some(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_lists_are_read_as_lambda_reads_them() {
        let ids: HashSet<&str> = ["a", "b"].into_iter().collect();
        assert_eq!(failures(&json!({}), &ids), Some(HashSet::new()));
        assert_eq!(failures(&json!({"batchItemFailures": []}), &ids), Some(HashSet::new()));
        assert_eq!(
            failures(&json!({"batchItemFailures": [{"itemIdentifier": "b"}]}), &ids),
            Some(HashSet::from(["b".to_owned()]))
        );
        assert_eq!(failures(&json!({"batchItemFailures": [{"itemIdentifier": ""}]}), &ids), None);
        assert_eq!(failures(&json!({"batchItemFailures": [{"itemIdentifier": "zzz"}]}), &ids), None);
        assert_eq!(failures(&json!({"batchItemFailures": "nope"}), &ids), None);
    }
}
