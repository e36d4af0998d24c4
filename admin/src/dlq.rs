//! Dead-letter queues, with the operator's AWS credentials: count, peek (redacted), redrive to
//! the source queue, purge.
//!
//! Redrive is receive, send to the source queue, delete — not SQS's `StartMessageMoveTask`,
//! which the local stand-in (moto) lacks; the result is the same, and this way the CLI reports
//! each message it moved.

use anyhow::Context as _;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use serde_json::{json, Value};

use crate::cli::{DlqCommand, QueueName};
use crate::error::AdminError;
use crate::output::{confirm, Output};
use crate::target::Target;

/// How long a peeked or moving message stays hidden from other readers.
const HOLD_SECONDS: i32 = 60;

/// `<stack>-<queue>[-dlq][.fifo]`, as `template.yaml` and the local stack name them.
fn queue_name(stack: &str, queue: QueueName, dead_letter: bool) -> String {
    let dlq = if dead_letter { "-dlq" } else { "" };
    let fifo = if queue.is_fifo() { ".fifo" } else { "" };
    format!("{stack}-{}{dlq}{fifo}", queue.as_str())
}

struct Queues {
    sqs: aws_sdk_sqs::Client,
    stack: String,
}

impl Queues {
    async fn url(&self, queue: QueueName, dead_letter: bool) -> Result<String, AdminError> {
        let name = queue_name(&self.stack, queue, dead_letter);
        let answer = self.sqs.get_queue_url().queue_name(&name).send().await.map_err(|e| {
            match e.as_service_error() {
                Some(e) if e.is_queue_does_not_exist() => AdminError::NotFound(format!("queue {name}")),
                _ => AdminError::Unknown(anyhow::Error::new(e).context(format!("finding queue {name}"))),
            }
        })?;
        answer.queue_url.ok_or_else(|| AdminError::NotFound(format!("queue {name}")))
    }

    /// Visible and in-flight messages of the dead-letter queue.
    async fn count(&self, queue: QueueName) -> Result<(i64, i64), AdminError> {
        let url = self.url(queue, true).await?;
        let answer = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .context("reading the queue's attributes")?;
        let attributes = answer.attributes.unwrap_or_default();
        let number = |name| attributes.get(&name).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        Ok((
            number(QueueAttributeName::ApproximateNumberOfMessages),
            number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// Up to `max` messages, hidden for [`HOLD_SECONDS`].
    async fn receive(&self, url: &str, max: usize) -> Result<Vec<Message>, AdminError> {
        let mut messages: Vec<Message> = Vec::new();
        while messages.len() < max {
            let want = i32::try_from((max - messages.len()).min(10)).unwrap_or(10);
            let answer = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(want)
                .visibility_timeout(HOLD_SECONDS)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .context("receiving from the dead-letter queue")?;
            let batch = answer.messages.unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            messages.extend(batch);
        }
        Ok(messages)
    }
}

fn attribute(message: &Message, name: MessageSystemAttributeName) -> Option<&str> {
    message.attributes.as_ref().and_then(|a| a.get(&name)).map(String::as_str)
}

/// A peeked message as shown: ids, times and counts, and the redacted body.
fn shown(message: &Message) -> Value {
    let number = |name| attribute(message, name).and_then(|v| v.parse::<i64>().ok());
    json!({
        "message_id": message.message_id,
        "sent_at": number(MessageSystemAttributeName::SentTimestamp),
        "first_received_at": number(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp),
        "receive_count": number(MessageSystemAttributeName::ApproximateReceiveCount),
        "size": message.body.as_deref().map_or(0, str::len),
        "body": crate::redact::body(message.body.as_deref().unwrap_or_default()),
    })
}

/// `dlq …`.
///
/// # Errors
/// [`AdminError::NotFound`] for a queue that does not exist; [`AdminError::Refused`] for a
/// purge not confirmed; [`AdminError::Unknown`] when SQS fails.
pub async fn run(target: &Target, command: DlqCommand, out: &Output) -> Result<(), AdminError> {
    let queues = Queues { sqs: aws_sdk_sqs::Client::new(&target.aws().await), stack: target.stack.clone() };
    match command {
        DlqCommand::Count { queue } => {
            let mut counts = serde_json::Map::new();
            let mut lines = Vec::new();
            for queue in queue.map_or_else(|| QueueName::ALL.to_vec(), |q| vec![q]) {
                let (visible, in_flight) = queues.count(queue).await?;
                counts
                    .insert(queue.as_str().to_owned(), json!({"messages": visible, "in_flight": in_flight}));
                lines.push(format!("{:<9} {visible} ({in_flight} in flight)", queue.as_str()));
            }
            out.result(&Value::Object(counts), || lines.join("\n"));
        }
        DlqCommand::Peek { queue, max } => {
            let url = queues.url(queue, true).await?;
            let messages = queues.receive(&url, usize::from(max)).await?;
            // Visible again at once: a peek takes nothing (it only adds one to the counts).
            for chunk in messages.chunks(10) {
                let entries = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        ChangeMessageVisibilityBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                            .visibility_timeout(0)
                            .build()
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .context("building a visibility change")?;
                queues
                    .sqs
                    .change_message_visibility_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .context("releasing peeked messages")?;
            }
            let shown: Vec<Value> = messages.iter().map(shown).collect();
            out.result(&json!({"queue": queue.as_str(), "messages": shown}), || {
                if shown.is_empty() {
                    return format!("{}: no messages", queue_name(&target.stack, queue, true));
                }
                shown
                    .iter()
                    .map(|m| serde_json::to_string(m).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        DlqCommand::Redrive { queue, max } => {
            let moved = redrive(&queues, queue, max.map_or(usize::MAX, |m| m as usize)).await?;
            out.result(&json!({"queue": queue.as_str(), "moved": moved}), || {
                format!("{moved} message(s) moved back to {}", queue_name(&target.stack, queue, false))
            });
        }
        DlqCommand::Purge { queue, yes } => {
            let url = queues.url(queue, true).await?;
            let (visible, in_flight) = queues.count(queue).await?;
            let name = queue_name(&target.stack, queue, true);
            let question =
                format!("Delete the {} message(s) of {name} for good? Type yes:", visible + in_flight);
            if !yes && !confirm(&question, "yes") {
                return Err(AdminError::Refused("not confirmed (type yes, or pass --yes)".to_owned()));
            }
            queues.sqs.purge_queue().queue_url(&url).send().await.context("purging the queue")?;
            out.result(&json!({"queue": queue.as_str(), "purged": visible + in_flight}), || {
                format!("{name} purged ({} message(s))", visible + in_flight)
            });
        }
    }
    Ok(())
}

/// Moves up to `max` messages back: each is sent to the source queue, then deleted from the
/// dead-letter queue. A failure between the two leaves the message in both (consumers are
/// idempotent); the reverse order could lose it.
async fn redrive(queues: &Queues, queue: QueueName, max: usize) -> Result<usize, AdminError> {
    let (dlq, source) = (queues.url(queue, true).await?, queues.url(queue, false).await?);
    let mut moved = 0;
    while moved < max {
        let batch = queues.receive(&dlq, (max - moved).min(10)).await?;
        if batch.is_empty() {
            break;
        }
        for message in &batch {
            let mut send = queues
                .sqs
                .send_message()
                .queue_url(&source)
                .message_body(message.body.clone().unwrap_or_default())
                .set_message_attributes(message.message_attributes.clone());
            if queue.is_fifo() {
                let group = attribute(message, MessageSystemAttributeName::MessageGroupId)
                    .context("a FIFO message without a group")?;
                // A new deduplication id: SQS would silently drop a message redriven twice within
                // its five-minute window under the old one.
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                let id = message.message_id.as_deref().unwrap_or_default();
                send = send.message_group_id(group).message_deduplication_id(format!("redrive-{id}-{now}"));
            }
            send.send().await.context("sending to the source queue")?;
            queues
                .sqs
                .delete_message()
                .queue_url(&dlq)
                .receipt_handle(message.receipt_handle.clone().unwrap_or_default())
                .send()
                .await
                .context("deleting from the dead-letter queue")?;
            moved += 1;
        }
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_are_the_templates() {
        assert_eq!(queue_name("leadline", QueueName::Inbound, true), "leadline-inbound-dlq.fifo");
        assert_eq!(queue_name("prod", QueueName::Suggest, true), "prod-suggest-dlq");
        assert_eq!(queue_name("prod", QueueName::Import, false), "prod-import.fifo");
    }
}
