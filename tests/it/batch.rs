//! The batch runner and the local event source mapping against moto: partial failures, the
//! redrive to the dead-letter queue, FIFO order.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::SqsEvent;
use infra::bootstrap::{create_queue, QueuePair, QueueSpec};
use infra::poller::{Invoke, Poller};
use serde::Deserialize;
use serde_json::Value;
use shared::lambda::batch::{run_batch, RecordError};

use crate::support::{aws, unique};

#[derive(Deserialize)]
struct Job {
    n: u32,
    #[serde(default)]
    poison: bool,
}

/// A consumer built on `run_batch`, run in-process; it remembers what it did.
#[derive(Default, Clone)]
struct Consumer {
    processed: Arc<Mutex<Vec<u32>>>,
    reported: Arc<Mutex<Vec<Vec<String>>>>,
}

impl Invoke for Consumer {
    async fn invoke(&self, event: Value) -> anyhow::Result<Value> {
        let event: SqsEvent = serde_json::from_value(event)?;
        let processed = Arc::clone(&self.processed);
        let response = run_batch(event, 4, |_meta, job: Job| {
            let processed = Arc::clone(&processed);
            async move {
                if job.poison {
                    return Err(RecordError::Poison(format!("job {} can never succeed", job.n)));
                }
                processed.lock().expect("lock").push(job.n);
                Ok(())
            }
        })
        .await?;
        let failed = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
        self.reported.lock().expect("lock").push(failed);
        Ok(serde_json::to_value(response)?)
    }
}

async fn queue(fifo: bool) -> (aws_sdk_sqs::Client, QueuePair) {
    let client = aws_sdk_sqs::Client::new(&aws().await);
    let spec = QueueSpec { name: "batch", fifo, visibility_timeout: 1, max_receive_count: 5 };
    let pair = create_queue(&client, &unique("it"), spec).await.expect("queue");
    (client, pair)
}

/// Lambda's event source mapping, locally, feeding `consumer` batches of up to 10.
fn poller(client: &aws_sdk_sqs::Client, pair: &QueuePair, consumer: &Consumer) -> Poller<Consumer> {
    Poller {
        sqs: client.clone(),
        queue_url: pair.url.clone(),
        queue_arn: pair.arn.clone(),
        consumer: consumer.clone(),
        batch_size: 10,
        wait: Duration::from_secs(1),
    }
}

async fn count(client: &aws_sdk_sqs::Client, url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName::{
        ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible,
    };
    let attributes = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(ApproximateNumberOfMessages)
        .attribute_names(ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("attributes")
        .attributes
        .unwrap_or_default();
    attributes.values().filter_map(|v| v.parse::<usize>().ok()).sum()
}

#[tokio::test]
async fn one_poison_record_in_ten_is_reported_alone_and_ends_in_the_dlq() {
    // Arrange: ten records, the eighth is poison.
    let (client, pair) = queue(false).await;
    let mut poison_id = String::new();
    for n in 0..10u32 {
        let body = serde_json::json!({"n": n, "poison": n == 7}).to_string();
        let sent = client.send_message().queue_url(&pair.url).message_body(body).send().await.expect("send");
        if n == 7 {
            poison_id = sent.message_id.expect("id");
        }
    }
    let consumer = Consumer::default();
    let poller = poller(&client, &pair, &consumer);

    // Act: poll like Lambda until the queue is empty.
    let started = Instant::now();
    while count(&client, &pair.url).await > 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "queue did not drain");
        poller.poll_once().await.expect("poll");
    }

    // Assert
    let processed: BTreeSet<u32> = consumer.processed.lock().expect("lock").iter().copied().collect();
    assert_eq!(processed, (0..10).filter(|n| *n != 7).collect(), "every good record processed");
    let reports = consumer.reported.lock().expect("lock").clone();
    assert!(
        reports.iter().all(|failed| failed.iter().all(|id| *id == poison_id)),
        "only the poison is ever reported: {reports:?}"
    );
    let poison_deliveries = reports.iter().filter(|failed| failed.contains(&poison_id)).count();
    assert_eq!(poison_deliveries, 5, "delivered maxReceiveCount times, then moved");
    let dlq = client
        .receive_message()
        .queue_url(&pair.dlq_url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("dlq");
    let dead: Vec<_> =
        dlq.messages.unwrap_or_default().into_iter().map(|m| m.body.unwrap_or_default()).collect();
    assert_eq!(dead, [serde_json::json!({"n": 7, "poison": true}).to_string()]);
}

#[tokio::test]
async fn fifo_group_after_a_failure_waits_and_keeps_its_order() {
    // Arrange: group "a" = 1, 2(poison once), 3; group "b" = 10, 11.
    let (client, pair) = queue(true).await;
    let send = |n: u32, group: &str, poison: bool| {
        let client = client.clone();
        let url = pair.url.clone();
        let group = group.to_owned();
        async move {
            client
                .send_message()
                .queue_url(url)
                .message_body(serde_json::json!({"n": n, "poison": poison}).to_string())
                .message_group_id(group)
                .message_deduplication_id(format!("d-{n}"))
                .send()
                .await
                .expect("send");
        }
    };
    send(1, "a", false).await;
    send(10, "b", false).await;
    send(2, "a", true).await;
    send(3, "a", false).await;
    send(11, "b", false).await;
    let consumer = Consumer::default();
    let poller = poller(&client, &pair, &consumer);

    // Act: one poll.
    let outcome = poller.poll_once().await.expect("poll");

    // Assert: 3 was not processed after 2 failed; group b went on.
    assert_eq!(outcome.received, 5);
    let processed = consumer.processed.lock().expect("lock").clone();
    assert!(processed.contains(&1) && processed.contains(&10) && processed.contains(&11));
    assert!(!processed.contains(&3), "a later record of a failed group is not processed: {processed:?}");
    assert_eq!(outcome.failed, 2, "2 and 3 stay queued, in order");
}
