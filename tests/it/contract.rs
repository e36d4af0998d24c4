//! The ports' contract suites (`shared::testing::contract`) on DynamoDB against moto: the same
//! checks the in-memory fakes pass, so the two cannot drift apart.

use shared::testing::contract;

use crate::support::{inbox, table};

#[tokio::test]
async fn contacts_on_dynamo() {
    contract::contacts::all(&inbox(&table().await).await).await;
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
