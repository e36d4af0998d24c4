//! [`Queue`]'s contract: a batch is sent whole, in order; a message over the limit is
//! [`EnqueueError::TooLarge`] before anything is sent.
//!
//! The port cannot read back, so each check takes `received`: what reached the queue since it
//! was last called, in order.

use std::future::Future;

use crate::adapters::sqs::MAX_BATCH_BYTES;
use crate::domain::ports::{EnqueueError, Queue, QueueMessage};

/// `count` messages of one FIFO group, tagged with `run`.
fn batch(run: &str, count: usize) -> Vec<QueueMessage> {
    (0..count)
        .map(|i| QueueMessage {
            body: format!("{{\"run\":\"{run}\",\"n\":{i}}}"),
            group_id: Some(format!("{run}#group")),
            dedup_id: Some(format!("{run}-{i}")),
        })
        .collect()
}

/// A batch over one request's worth (25 messages) is accepted and every message arrives, in
/// order.
pub async fn a_batch_is_sent_in_order<Q: Queue, F: Future<Output = Vec<String>>>(
    queue: &Q,
    received: impl Fn() -> F,
) {
    let messages = batch("ordered", 25);

    queue.send_batch(&messages).await.unwrap();

    let expected: Vec<String> = messages.into_iter().map(|m| m.body).collect();
    assert_eq!(received().await, expected);
}

/// A message over the limit is `TooLarge` with its index, and nothing of the batch is sent.
pub async fn an_oversized_message_is_refused_before_anything_is_sent<
    Q: Queue,
    F: Future<Output = Vec<String>>,
>(
    queue: &Q,
    received: impl Fn() -> F,
) {
    let mut messages = batch("oversized", 3);
    messages[1].body = "x".repeat(MAX_BATCH_BYTES + 1);

    let result = queue.send_batch(&messages).await;

    assert!(
        matches!(result, Err(EnqueueError::TooLarge { index: 1, size, limit: MAX_BATCH_BYTES }) if size == MAX_BATCH_BYTES + 1),
        "{result:?}"
    );
    assert!(received().await.is_empty(), "nothing sent");
}

/// Every check of the suite.
pub async fn all<Q: Queue, F: Future<Output = Vec<String>>>(queue: &Q, received: impl Fn() -> F) {
    a_batch_is_sent_in_order(queue, &received).await;
    an_oversized_message_is_refused_before_anything_is_sent(queue, &received).await;
}
