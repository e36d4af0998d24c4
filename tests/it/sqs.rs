//! Batched sends against moto's SQS.

use shared::adapters::sqs::{SqsQueue, MAX_BATCH_BYTES};
use shared::domain::ports::{EnqueueError, Queue, QueueMessage};

use crate::support::{aws, unique, RequestCounter};

async fn queue(fifo: bool, counter: &RequestCounter) -> (SqsQueue, aws_sdk_sqs::Client) {
    let aws = aws().await;
    let plain = aws_sdk_sqs::Client::new(&aws);
    let spec = infra::bootstrap::QueueSpec { name: "it", fifo, visibility_timeout: 30, max_receive_count: 5 };
    let pair = infra::bootstrap::create_queue(&plain, &unique("it"), spec).await.expect("queue");
    let counted = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&aws).interceptor(counter.clone()).build(),
    );
    (SqsQueue::new(counted, pair.url), plain)
}

async fn drain(client: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let received =
            client.receive_message().queue_url(url).max_number_of_messages(10).send().await.expect("receive");
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for message in messages {
            bodies.push(message.body.unwrap_or_default());
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle.unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
}

#[tokio::test]
async fn twenty_five_messages_take_three_requests_in_order() {
    // Arrange
    let counter = RequestCounter::default();
    let (queue, client) = queue(true, &counter).await;
    let messages: Vec<_> = (0..25)
        .map(|i| QueueMessage {
            body: format!("{{\"n\":{i}}}"),
            group_id: Some("tenant#contact".into()),
            dedup_id: Some(format!("event-{i}")),
        })
        .collect();

    // Act
    queue.send_batch(&messages).await.expect("sent");

    // Assert
    assert_eq!(counter.count(), 3, "⌈25 / 10⌉ SendMessageBatch requests");
    let expected: Vec<_> = messages.iter().map(|m| m.body.clone()).collect();
    assert_eq!(drain(&client, queue.url()).await, expected, "one group keeps its order");
}

#[tokio::test]
async fn fifo_dedup_ids_drop_a_resend() {
    let counter = RequestCounter::default();
    let (queue, client) = queue(true, &counter).await;
    let message =
        QueueMessage { body: "{}".into(), group_id: Some("g".into()), dedup_id: Some("wamid.same".into()) };

    queue.send_batch(std::slice::from_ref(&message)).await.expect("sent");
    queue.send_batch(std::slice::from_ref(&message)).await.expect("resent");

    assert_eq!(drain(&client, queue.url()).await.len(), 1);
}

#[tokio::test]
async fn an_oversized_message_is_refused_before_anything_is_sent() {
    let counter = RequestCounter::default();
    let (queue, client) = queue(false, &counter).await;
    let messages = vec![
        QueueMessage { body: "small".into(), group_id: None, dedup_id: None },
        QueueMessage { body: "x".repeat(MAX_BATCH_BYTES + 1), group_id: None, dedup_id: None },
    ];

    let result = queue.send_batch(&messages).await;

    assert!(matches!(result, Err(EnqueueError::TooLarge { index: 1, .. })));
    assert_eq!(counter.count(), 0);
    assert!(drain(&client, queue.url()).await.is_empty());
}
