//! The table layer against moto: conditional writes, optimistic versions, expiry on read.

use shared::adapters::dynamo::item::{item_with_key, n, s};
use shared::adapters::dynamo::keys::{tenant_partition, PK, SK};
use shared::adapters::dynamo::keys::{Key, EXPIRES_AT};
use shared::adapters::dynamo::table::{PutNewError, PutVersionedError};
use shared::domain::{Clock, SystemClock};

use crate::support::{table, tenant};

fn key(tenant: &shared::domain::TenantId, sk: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: sk.to_owned() }
}

#[tokio::test]
async fn conditional_write_refuses_a_duplicate() {
    // Arrange
    let table = table().await;
    let tenant = tenant();
    let now = SystemClock.now();
    let mut first = item_with_key(&key(&tenant, "MSG#1"));
    first.insert("body".into(), s("first"));
    let mut second = item_with_key(&key(&tenant, "MSG#1"));
    second.insert("body".into(), s("second"));

    // Act
    let stored = table.put_new(first, now).await;
    let duplicate = table.put_new(second, now).await;

    // Assert
    assert!(stored.is_ok());
    assert!(matches!(duplicate, Err(PutNewError::AlreadyExists)));
    let item = table.get(&key(&tenant, "MSG#1"), now).await.expect("read").expect("present");
    assert_eq!(item.get("body"), Some(&s("first")), "the duplicate did not overwrite");
}

#[tokio::test]
async fn expired_item_is_never_returned_though_still_stored() {
    // Arrange: one item expired a minute ago, one expiring in an hour.
    let table = table().await;
    let tenant = tenant();
    let now = SystemClock.now();
    let mut expired = item_with_key(&key(&tenant, "MSG#old"));
    expired.insert(EXPIRES_AT.into(), n(now.as_secs() - 60));
    let mut live = item_with_key(&key(&tenant, "MSG#new"));
    live.insert(EXPIRES_AT.into(), n(now.as_secs() + 3600));
    for item in [expired, live] {
        table
            .client()
            .put_item()
            .table_name(table.name())
            .set_item(Some(item))
            .send()
            .await
            .expect("raw put");
    }

    // Act
    let got = table.get(&key(&tenant, "MSG#old"), now).await.expect("read");
    let page = table.query_prefix(&tenant_partition(&tenant), "MSG#", now, 10, None).await.expect("query");
    let raw = table
        .client()
        .get_item()
        .table_name(table.name())
        .key(PK, s(tenant_partition(&tenant)))
        .key(SK, s("MSG#old"))
        .send()
        .await
        .expect("raw get");

    // Assert
    assert!(got.is_none(), "GetItem path filters the expired item");
    let sks: Vec<_> = page.items.iter().map(|i| i.get(SK).cloned()).collect();
    assert_eq!(sks, [Some(s("MSG#new"))], "Query path filters it too");
    assert!(raw.item.is_some(), "storage still holds it (TTL deletes lazily; moto never does)");
}

#[tokio::test]
async fn expired_item_counts_as_absent_for_a_new_write() {
    let table = table().await;
    let tenant = tenant();
    let now = SystemClock.now();
    let mut expired = item_with_key(&key(&tenant, "IDEM#x"));
    expired.insert(EXPIRES_AT.into(), n(now.as_secs() - 1));
    table.client().put_item().table_name(table.name()).set_item(Some(expired)).send().await.expect("raw put");

    let fresh = table.put_new(item_with_key(&key(&tenant, "IDEM#x")), now).await;

    assert!(fresh.is_ok());
}

#[tokio::test]
async fn optimistic_versions_refuse_a_stale_write() {
    // Arrange
    let table = table().await;
    let tenant = tenant();
    let item = || item_with_key(&key(&tenant, "CONTACT#1"));
    let v1 = table.put_versioned(item(), None).await.expect("create");

    // Act: two writers both read version 1; the second one is stale.
    let v2 = table.put_versioned(item(), Some(v1)).await;
    let stale = table.put_versioned(item(), Some(v1)).await;
    let recreate = table.put_versioned(item(), None).await;

    // Assert
    assert_eq!(v1, 1);
    assert_eq!(v2.expect("first writer wins"), 2);
    assert!(matches!(stale, Err(PutVersionedError::Conflict)));
    assert!(matches!(recreate, Err(PutVersionedError::Conflict)));
}

#[tokio::test]
async fn query_pages_stay_inside_the_tenant_partition() {
    // Arrange: two tenants, 25 items each.
    let table = table().await;
    let (mine, theirs) = (tenant(), tenant());
    let now = SystemClock.now();
    for tenant in [&mine, &theirs] {
        for i in 0..25 {
            table.put_new(item_with_key(&key(tenant, &format!("MSG#{i:03}"))), now).await.expect("put");
        }
    }

    // Act: page through mine, 10 at a time.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = table
            .query_prefix(&tenant_partition(&mine), "MSG#", now, 10, after.as_deref())
            .await
            .expect("page");
        seen.extend(page.items.iter().map(|i| i.get(PK).cloned()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }

    // Assert
    assert_eq!(seen.len(), 25);
    assert!(seen.iter().all(|pk| *pk == Some(s(tenant_partition(&mine)))));
}
