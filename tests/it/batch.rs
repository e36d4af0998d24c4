//! The batch runner and the local event source mapping against moto: partial failures, the
//! redrive to the dead-letter queue, FIFO order, and invocations in parallel (one batch per FIFO
//! group at a time).

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
        concurrency: 1,
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

/// A consumer that takes a while per invocation and records, per lane (a FIFO group, or the
/// message itself), what ran when.
#[derive(Default, Clone)]
struct Overlaps {
    pause: Duration,
    running: Arc<Mutex<Vec<String>>>,
    most_at_once: Arc<Mutex<usize>>,
    lane_overlaps: Arc<Mutex<Vec<String>>>,
    order: Arc<Mutex<Vec<(String, u32)>>>,
}

impl Invoke for Overlaps {
    async fn invoke(&self, event: Value) -> anyhow::Result<Value> {
        let records = event["Records"].as_array().cloned().unwrap_or_default();
        let lanes: Vec<String> = records
            .iter()
            .map(|r| {
                r["attributes"]["MessageGroupId"]
                    .as_str()
                    .map_or_else(|| r["messageId"].as_str().unwrap_or_default().to_owned(), str::to_owned)
            })
            .collect();
        {
            let mut running = self.running.lock().expect("lock");
            for lane in &lanes {
                if running.contains(lane) {
                    self.lane_overlaps.lock().expect("lock").push(lane.clone());
                }
                running.push(lane.clone());
            }
            let mut most = self.most_at_once.lock().expect("lock");
            *most = (*most).max(running.len());
        }
        for (record, lane) in records.iter().zip(&lanes) {
            let job: Job = serde_json::from_str(record["body"].as_str().unwrap_or_default())?;
            self.order.lock().expect("lock").push((lane.clone(), job.n));
        }
        tokio::time::sleep(self.pause).await;
        let mut running = self.running.lock().expect("lock");
        for lane in &lanes {
            if let Some(at) = running.iter().position(|l| l == lane) {
                running.remove(at);
            }
        }
        Ok(serde_json::json!({}))
    }
}

/// Runs `poller` until `done` holds for what was processed (or 60 s passed).
async fn run_until(poller: Poller<Overlaps>, consumer: &Overlaps, done: impl Fn(&[(String, u32)]) -> bool) {
    let task = tokio::spawn(poller.run());
    let started = Instant::now();
    while !done(&consumer.order.lock().expect("lock")) {
        assert!(started.elapsed() < Duration::from_secs(60), "the queue did not drain");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    task.abort();
}

#[tokio::test]
async fn the_poller_runs_fifo_groups_in_parallel_and_each_group_one_batch_at_a_time_in_order() {
    // Arrange: three groups of three; visibility long enough that nothing reappears meanwhile.
    let client = aws_sdk_sqs::Client::new(&aws().await);
    let spec = QueueSpec { name: "parallel", fifo: true, visibility_timeout: 10, max_receive_count: 5 };
    let pair = create_queue(&client, &unique("it"), spec).await.expect("queue");
    for n in 0..9u32 {
        client
            .send_message()
            .queue_url(&pair.url)
            .message_body(serde_json::json!({"n": n}).to_string())
            .message_group_id(format!("g{}", n % 3))
            .message_deduplication_id(format!("d-{n}"))
            .send()
            .await
            .expect("send");
    }
    let consumer = Overlaps { pause: Duration::from_millis(600), ..Overlaps::default() };
    let poller = Poller {
        sqs: client.clone(),
        queue_url: pair.url.clone(),
        queue_arn: pair.arn.clone(),
        consumer: consumer.clone(),
        batch_size: 1,
        wait: Duration::from_secs(1),
        concurrency: 4,
    };

    // Act
    run_until(poller, &consumer, |order| order.len() >= 9).await;

    // Assert: groups ran side by side, never two batches of one group, each group in order.
    let most = *consumer.most_at_once.lock().expect("lock");
    assert!((2..=4).contains(&most), "{most} invocations at once (3 groups, at most 4)");
    assert_eq!(*consumer.lane_overlaps.lock().expect("lock"), Vec::<String>::new());
    let order = consumer.order.lock().expect("lock").clone();
    for group in 0..3u32 {
        let seen: Vec<u32> =
            order.iter().filter(|(g, _)| *g == format!("g{group}")).map(|(_, n)| *n).collect();
        assert_eq!(seen, [group, group + 3, group + 6], "group g{group} in order");
    }
}

#[tokio::test]
async fn the_poller_runs_a_standard_queue_up_to_its_concurrency_at_once() {
    // Arrange
    let client = aws_sdk_sqs::Client::new(&aws().await);
    let spec = QueueSpec { name: "parallel", fifo: false, visibility_timeout: 10, max_receive_count: 5 };
    let pair = create_queue(&client, &unique("it"), spec).await.expect("queue");
    for n in 0..8u32 {
        let body = serde_json::json!({"n": n}).to_string();
        client.send_message().queue_url(&pair.url).message_body(body).send().await.expect("send");
    }
    let consumer = Overlaps { pause: Duration::from_millis(600), ..Overlaps::default() };
    let poller = Poller {
        sqs: client.clone(),
        queue_url: pair.url.clone(),
        queue_arn: pair.arn.clone(),
        consumer: consumer.clone(),
        batch_size: 1,
        wait: Duration::from_secs(1),
        concurrency: 3,
    };

    // Act
    run_until(poller, &consumer, |order| order.len() >= 8).await;

    // Assert
    let most = *consumer.most_at_once.lock().expect("lock");
    assert!((2..=3).contains(&most), "{most} invocations at once (at most 3)");
    let processed: BTreeSet<u32> = consumer.order.lock().expect("lock").iter().map(|(_, n)| *n).collect();
    assert_eq!(processed, (0..8).collect());
}

#[tokio::test]
async fn a_message_that_reappears_while_its_group_is_still_processed_waits_for_it() {
    // Arrange: the invocation outlasts the visibility timeout, so SQS hands the message out
    // again while the first invocation still runs.
    let client = aws_sdk_sqs::Client::new(&aws().await);
    let spec = QueueSpec { name: "parallel", fifo: true, visibility_timeout: 1, max_receive_count: 5 };
    let pair = create_queue(&client, &unique("it"), spec).await.expect("queue");
    for n in 0..2u32 {
        client
            .send_message()
            .queue_url(&pair.url)
            .message_body(serde_json::json!({"n": n}).to_string())
            .message_group_id("slow")
            .message_deduplication_id(format!("d-{n}"))
            .send()
            .await
            .expect("send");
    }
    let consumer = Overlaps { pause: Duration::from_millis(2500), ..Overlaps::default() };
    let poller = Poller {
        sqs: client.clone(),
        queue_url: pair.url.clone(),
        queue_arn: pair.arn.clone(),
        consumer: consumer.clone(),
        batch_size: 1,
        wait: Duration::from_secs(1),
        concurrency: 4,
    };

    // Act
    run_until(poller, &consumer, |order| order.iter().any(|(_, n)| *n == 1)).await;

    // Assert: the group never ran twice at once (the second delivery waited, as Lambda's
    // mapping keeps one batch per group in flight), and 0 came before 1.
    assert_eq!(*consumer.lane_overlaps.lock().expect("lock"), Vec::<String>::new());
    let order: Vec<u32> = consumer.order.lock().expect("lock").iter().map(|(_, n)| *n).collect();
    assert_eq!(order.first(), Some(&0), "{order:?}");
}
