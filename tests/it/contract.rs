//! The ports' contract suites (`shared::testing::contract`) on DynamoDB against moto: the same
//! checks the in-memory fakes pass, so the two cannot drift apart; the vault on KMS and the queue
//! on SQS likewise.

use shared::testing::contract;

use crate::support::{inbox, table};

#[tokio::test]
async fn contacts_on_dynamo() {
    contract::contacts::all(&inbox(&table().await).await).await;
}

/// The contact center's store on DynamoDB, through the per-item write gate (every item of a
/// transaction held, as DynamoDB's own transactions isolate them): the concurrency check's
/// "never assigned twice, never over capacity" is checked honestly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn center_on_dynamo() {
    contract::center::all(&inbox(&table().await).await).await;
}

#[tokio::test]
async fn timers_on_dynamo() {
    contract::timers::all(&inbox(&table().await).await).await;
}

#[tokio::test]
async fn conversations_on_dynamo() {
    contract::conversations::all(&inbox(&table().await).await).await;
}

#[tokio::test]
async fn ingest_on_dynamo() {
    contract::ingest::all(&inbox(&table().await).await).await;
}

#[tokio::test]
async fn outbound_on_dynamo() {
    contract::outbound::all(&inbox(&table().await).await).await;
}

#[tokio::test]
async fn leads_on_dynamo() {
    contract::leads::all(&inbox(&table().await).await).await;
}

#[tokio::test]
async fn lifecycle_on_dynamo() {
    contract::lifecycle::all(&inbox(&table().await).await).await;
}

#[tokio::test]
async fn suggestions_on_dynamo() {
    contract::suggestions::all(&inbox(&table().await).await).await;
}

#[tokio::test]
async fn idempotency_on_dynamo() {
    let store = shared::adapters::dynamo::DynamoIdempotency::new(table().await, std::time::Duration::ZERO);
    contract::idempotency::all(&store).await;
}

#[tokio::test]
async fn tenants_on_dynamo() {
    contract::tenants::all(&shared::adapters::dynamo::DynamoTenantStore::new(table().await)).await;
}

#[tokio::test]
async fn privacy_on_dynamo() {
    let table = table().await;
    let keyring = crate::support::keyring(&table).await;
    let store = shared::adapters::dynamo::DynamoPrivacy::new(table, keyring.key_table().clone());
    contract::privacy::all(&store).await;
}

#[tokio::test]
async fn purges_on_dynamo() {
    let table = table().await;
    let keyring = crate::support::keyring(&table).await;
    let store = shared::adapters::dynamo::DynamoPrivacy::new(table, keyring.key_table().clone());
    contract::purges::all(&store).await;
}

#[tokio::test]
async fn limits_on_dynamo() {
    contract::limits::all(&shared::adapters::documents::DocRateLimiter::new(table().await)).await;
}

#[tokio::test]
async fn queues_on_dynamo() {
    contract::queues::all(&shared::adapters::documents::DocQueues::new(table().await)).await;
}

#[tokio::test]
async fn events_on_dynamo() {
    contract::events::all(&shared::adapters::documents::DocEventLog::new(table().await)).await;
}

#[tokio::test]
async fn events_of_several_writers_on_dynamo() {
    // Three processes: two add to one part of the aggregates (they race for it), one to its own.
    let table = table().await;
    let logs =
        [1, 2, 2].map(|shard| shared::adapters::documents::DocEventLog::with_shard(table.clone(), shard));
    contract::events::writers_in_several_processes_are_all_counted(&logs).await;
}

#[tokio::test]
async fn flows_on_dynamo() {
    contract::flows::all(&shared::adapters::documents::DocFlows::new(table().await)).await;
}

#[tokio::test]
async fn canned_on_dynamo() {
    let table = table().await;
    contract::canned::all(&shared::adapters::documents::DocCanned::new(table.clone())).await;
    contract::canned::read_marks_only_move_forward(&shared::adapters::documents::DocReadMarks::new(table))
        .await;
}

#[tokio::test]
async fn vault_on_kms() {
    let aws = crate::support::aws().await;
    let client = aws_sdk_kms::Client::new(&aws);
    let alias = format!("alias/{}", crate::support::unique("contract-key"));
    let alias = infra::bootstrap::create_key(&client, &alias).await.expect("key");
    let vault =
        shared::adapters::kms::KmsVault::new(client, &alias, shared::adapters::kms::CachePolicy::default());
    contract::vault::all(&vault).await;
}

#[tokio::test]
async fn queue_on_sqs() {
    let client = aws_sdk_sqs::Client::new(&crate::support::aws().await);
    let spec =
        infra::bootstrap::QueueSpec { name: "it", fifo: true, visibility_timeout: 30, max_receive_count: 5 };
    let name = crate::support::unique("contract");
    let pair = infra::bootstrap::create_queue(&client, &name, spec).await.expect("queue");
    let queue = shared::adapters::sqs::SqsQueue::new(client.clone(), pair.url.clone());
    let received = || drain(&client, &pair.url);
    contract::queue::all(&queue, received).await;
}

/// Every message waiting on the queue, in order, deleted as read.
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
            let handle = message.receipt_handle.unwrap_or_default();
            client.delete_message().queue_url(url).receipt_handle(handle).send().await.expect("delete");
        }
    }
}
