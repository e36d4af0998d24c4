//! The SQS batch runner every queue consumer uses.
//!
//! - Each record's body is parsed on its own; a record that does not parse fails alone.
//! - Records run with bounded concurrency. On FIFO queues, records of one message group run in
//!   order, one at a time, and the first failure in a group fails every later record of that
//!   group unprocessed (SQS must redeliver them in order); other groups go on.
//! - The result is a `batchItemFailures` list with the real message ids: Lambda deletes the
//!   others. A record that keeps failing is redelivered until the queue's `maxReceiveCount`, then
//!   SQS moves it to the dead-letter queue; its reason is logged on every attempt.

use std::collections::HashMap;
use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::stream::{self, StreamExt};
use serde::de::DeserializeOwned;
use tracing::Instrument;

/// What the runner tells a record handler about the record, beside its parsed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMeta {
    /// The SQS message id.
    pub message_id: String,
    /// How many times SQS has delivered it (1 on the first delivery).
    pub receive_count: u32,
    /// The FIFO message group, if any.
    pub group_id: Option<String>,
}

/// Why one record failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A transient failure (a dependency was down or throttled): SQS redelivers the record
    /// after its visibility timeout.
    #[error("retryable: {0}")]
    Retryable(String),
    /// The record can never succeed (malformed, refers to nothing). It is still reported as
    /// failed, so that the redrive policy moves it to the dead-letter queue where it can be
    /// inspected, rather than being silently dropped.
    #[error("poison: {0}")]
    Poison(String),
}

impl RecordError {
    /// A transient failure of `what` (a store, KMS, a queue), with its cause for the log line
    /// SQS redelivery leaves behind.
    #[must_use]
    pub fn retryable(what: &str, error: impl std::fmt::Debug) -> Self {
        Self::Retryable(format!("{what}: {error:?}"))
    }

    /// A record that can never succeed because `what` is wrong with it.
    #[must_use]
    pub fn poison(what: &str, error: impl std::fmt::Display) -> Self {
        Self::Poison(format!("{what}: {error}"))
    }
}

/// Errors of [`run_batch`] as a whole.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// A failed record has no message id, so it cannot be reported; failing the whole
    /// invocation makes Lambda retry the batch (every consumer is idempotent).
    #[error("a failed record has no message id; failing the whole batch")]
    MissingMessageId,
}

impl From<BatchError> for lambda_runtime::Diagnostic {
    fn from(error: BatchError) -> Self {
        Self { error_type: "BatchError".to_owned(), error_message: error.to_string() }
    }
}

/// Runs `handle` over every record of `event` and returns the partial-batch response.
///
/// `concurrency` bounds how many records (standard queues) or groups (FIFO) run at once.
///
/// # Errors
/// [`BatchError::MissingMessageId`] when a record without a message id failed.
pub async fn run_batch<T, F, Fut>(
    event: SqsEvent,
    concurrency: usize,
    handle: F,
) -> Result<SqsBatchResponse, BatchError>
where
    T: DeserializeOwned,
    F: Fn(RecordMeta, T) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    let lanes = lanes(event.records);
    let handle = &handle;
    let outcomes: Vec<Vec<(usize, Option<String>)>> = stream::iter(lanes)
        .map(|lane| run_lane(lane, handle))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;

    let mut failed: Vec<(usize, Option<String>)> = outcomes.into_iter().flatten().collect();
    failed.sort_by_key(|(index, _)| *index);
    let mut response = SqsBatchResponse::default();
    for (_, id) in failed {
        let id = id.filter(|id| !id.is_empty()).ok_or(BatchError::MissingMessageId)?;
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

/// Splits records into lanes that must run in order: one lane per FIFO group, one lane per
/// record otherwise. Records keep their position in the batch for reporting.
fn lanes(records: Vec<SqsMessage>) -> Vec<Vec<(usize, SqsMessage)>> {
    let mut lanes: Vec<Vec<(usize, SqsMessage)>> = Vec::new();
    let mut lane_of_group: HashMap<String, usize> = HashMap::new();
    for (index, record) in records.into_iter().enumerate() {
        match record.attributes.get("MessageGroupId").cloned() {
            Some(group) => {
                let lane = *lane_of_group.entry(group).or_insert_with(|| {
                    lanes.push(Vec::new());
                    lanes.len() - 1
                });
                lanes[lane].push((index, record));
            }
            None => lanes.push(vec![(index, record)]),
        }
    }
    lanes
}

/// Runs one lane in order; returns the failed records (index, message id).
async fn run_lane<T, F, Fut>(lane: Vec<(usize, SqsMessage)>, handle: &F) -> Vec<(usize, Option<String>)>
where
    T: DeserializeOwned,
    F: Fn(RecordMeta, T) -> Fut,
    Fut: Future<Output = Result<(), RecordError>>,
{
    let mut failed = Vec::new();
    let mut lane_failed = false;
    for (index, record) in lane {
        let message_id = record.message_id.clone();
        if lane_failed {
            // FIFO: a later record of a failed group must not overtake the failed one.
            failed.push((index, message_id));
            continue;
        }
        let meta = RecordMeta {
            message_id: message_id.clone().unwrap_or_default(),
            receive_count: record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1),
            group_id: record.attributes.get("MessageGroupId").cloned(),
        };
        let span = tracing::info_span!(
            "record",
            message_id = %meta.message_id,
            receive_count = meta.receive_count
        );
        let outcome = async {
            let body = record.body.as_deref().unwrap_or_default();
            let parsed: T = serde_json::from_str(body).map_err(|e| {
                RecordError::Poison(format!("body does not parse: {}", crate::telemetry::json_error(&e)))
            })?;
            handle(meta, parsed).await
        }
        .instrument(span.clone())
        .await;
        if let Err(error) = outcome {
            let _entered = span.enter();
            match &error {
                RecordError::Retryable(_) => tracing::warn!(%error, "Record failed; SQS will redeliver it"),
                RecordError::Poison(_) => tracing::error!(
                    %error,
                    "Record can never succeed; it goes to the dead-letter queue after the redrive count"
                ),
            }
            failed.push((index, message_id));
            lane_failed = record.attributes.contains_key("MessageGroupId");
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Job {
        n: u32,
    }

    fn event(json: &str) -> SqsEvent {
        serde_json::from_str(json).expect("fixture parses")
    }

    fn record(id: &str, body: &str, group: Option<&str>) -> serde_json::Value {
        let mut attributes = serde_json::json!({"ApproximateReceiveCount": "1"});
        if let Some(group) = group {
            attributes["MessageGroupId"] = group.into();
        }
        serde_json::json!({"messageId": id, "body": body, "attributes": attributes,
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"})
    }

    #[tokio::test]
    async fn reports_exactly_the_failed_and_unparseable_records() {
        // Arrange
        let records: Vec<_> = (0..10)
            .map(|i| {
                let body = if i == 7 { "not json".to_owned() } else { format!("{{\"n\":{i}}}") };
                record(&format!("m-{i}"), &body, None)
            })
            .collect();
        let event = event(&serde_json::json!({ "Records": records }).to_string());

        // Act
        let response = run_batch(event, 4, |_meta, job: Job| async move {
            if job.n == 3 {
                Err(RecordError::Retryable("dependency down".into()))
            } else {
                Ok(())
            }
        })
        .await
        .expect("all failures have ids");

        // Assert
        let ids: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(ids, ["m-3", "m-7"]);
    }

    #[tokio::test]
    async fn fifo_group_stops_at_first_failure_and_other_groups_go_on() {
        // Arrange
        let records = vec![
            record("a1", r#"{"n":1}"#, Some("a")),
            record("b1", r#"{"n":10}"#, Some("b")),
            record("a2", r#"{"n":2}"#, Some("a")),
            record("a3", r#"{"n":3}"#, Some("a")),
            record("b2", r#"{"n":11}"#, Some("b")),
        ];
        let event = event(&serde_json::json!({ "Records": records }).to_string());
        let processed = Mutex::new(Vec::new());

        // Act
        let response = run_batch(event, 2, |_meta, job: Job| {
            let processed = &processed;
            async move {
                processed.lock().expect("not poisoned").push(job.n);
                if job.n == 2 {
                    Err(RecordError::Poison("bad".into()))
                } else {
                    Ok(())
                }
            }
        })
        .await
        .expect("ids present");

        // Assert
        let ids: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(ids, ["a2", "a3"]);
        let mut seen = processed.into_inner().expect("not poisoned");
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 10, 11], "a3 is never processed after a2 failed");
    }

    #[tokio::test]
    async fn failed_record_without_id_fails_the_whole_batch() {
        let event = event(r#"{"Records":[{"body":"{\"n\":1}"}]}"#);
        let result =
            run_batch(event, 1, |_meta, _job: Job| async { Err(RecordError::Retryable("x".into())) }).await;
        assert!(matches!(result, Err(BatchError::MissingMessageId)));
    }

    #[tokio::test]
    async fn response_serializes_as_lambda_expects() {
        let event = event(&serde_json::json!({ "Records": [record("m-bad", "{}", None)] }).to_string());
        let response = run_batch(event, 1, |_meta, _job: serde_json::Value| async {
            Err(RecordError::Poison("always".into()))
        })
        .await
        .expect("id present");
        assert_eq!(
            serde_json::to_value(&response).expect("serializes"),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m-bad"}]})
        );
    }
}
