//! What Lambda's SQS event source mapping does, locally: long-poll a queue, hand the messages
//! to the consumer as one `SqsEvent`, delete those not listed in `batchItemFailures`, and leave
//! the failed ones to reappear after the visibility timeout (and, after `maxReceiveCount`
//! deliveries, to be moved to the dead-letter queue by SQS itself).
//!
//! As on AWS: an invocation error, or a failure list naming an empty or unknown id, fails the
//! whole batch (nothing is deleted).
//!
//! [`Poller::run`] keeps up to `concurrency` invocations running at once (the consumer's
//! instances), as Lambda scales a mapping out: for a FIFO queue one batch per message group at a
//! time, different groups at once; for a standard queue any batches at once. One loop receives
//! (moto serves concurrent `ReceiveMessage` calls without a lock, so parallel receivers could
//! get one message twice); SQS itself withholds a FIFO group while a message of it is in flight,
//! and the poller withholds a batch whose group (or, on a standard queue, whose message) is still
//! being processed because its visibility timeout ran out mid-invocation: it waits for that
//! invocation to end instead of running the two at once.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

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
    /// Invocations at once in [`Poller::run`] (at least 1): the consumer's instances.
    pub concurrency: usize,
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
        let messages = self.receive().await?;
        self.settle(messages).await
    }

    /// Receives one batch, waiting up to `wait`; empty when none came.
    async fn receive(&self) -> anyhow::Result<Vec<Message>> {
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
        Ok(received.messages.unwrap_or_default())
    }

    /// Runs the consumer on `messages` and deletes the ones it processed.
    async fn settle(&self, messages: Vec<Message>) -> anyhow::Result<PollOutcome> {
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

    /// Polls until the task is dropped, with up to `concurrency` invocations at once.
    pub async fn run(self)
    where
        I: 'static,
    {
        let poller = Arc::new(self);
        let permits = Arc::new(Semaphore::new(poller.concurrency.max(1)));
        let busy = Arc::new(InFlight::default());
        loop {
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else { return };
            let messages = match poller.receive().await {
                Ok(messages) if messages.is_empty() => continue,
                Ok(messages) => messages,
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), queue = %poller.queue_url, "Polling failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let keys = lane_keys(&messages);
            busy.claim(&keys).await;
            let (poller, busy) = (Arc::clone(&poller), Arc::clone(&busy));
            tokio::spawn(async move {
                if let Err(error) = poller.settle(messages).await {
                    tracing::warn!(error = format!("{error:#}"), queue = %poller.queue_url, "Settling a batch failed");
                }
                busy.release(&keys);
                drop(permit);
            });
        }
    }
}

/// What must not run twice at once: the message group of each FIFO message, or else the
/// message itself.
fn lane_keys(messages: &[Message]) -> Vec<String> {
    let mut keys: Vec<String> = messages
        .iter()
        .map(|message| {
            let group =
                message.attributes.as_ref().and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId));
            match group {
                Some(group) => format!("group:{group}"),
                None => format!("message:{}", message.message_id.as_deref().unwrap_or_default()),
            }
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The lane keys of the batches being processed.
#[derive(Debug, Default)]
struct InFlight {
    keys: Mutex<HashSet<String>>,
    freed: Notify,
}

impl InFlight {
    /// Waits until none of `keys` is in flight, then takes them. Only the receiving loop calls
    /// it, so batches are taken in the order they were received.
    async fn claim(&self, keys: &[String]) {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                // A poisoned lock only means a task panicked while inserting or removing strings.
                let mut held = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if keys.iter().all(|key| !held.contains(key)) {
                    held.extend(keys.iter().cloned());
                    return;
                }
            }
            freed.await;
        }
    }

    /// Gives `keys` back.
    fn release(&self, keys: &[String]) {
        let mut held = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for key in keys {
            held.remove(key);
        }
        drop(held);
        self.freed.notify_waiters();
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
