//! The tenant store against moto: atomic creation, connection routing, one number per tenant.

use shared::adapters::dynamo::DynamoTenantStore;
use shared::domain::ports::{
    ApiKeyStore, ConnectError, ConnectionStore, CreateTenantError, TenantRouting, TenantStore,
};
use shared::domain::tenant::{ApiKey, Role, Tenant, WhatsAppConnection};
use shared::domain::{Clock, SystemClock, TenantId};

use crate::support::{table, tenant};

fn new_tenant(id: &TenantId) -> (Tenant, ApiKey) {
    let now = SystemClock.now();
    (
        Tenant::new(id.clone(), "Acme".into(), now, crate::support::sealed_placeholder()),
        ApiKey::generate(id.clone(), now).expect("random"),
    )
}

fn connection(phone_number_id: &str) -> WhatsAppConnection {
    WhatsAppConnection {
        phone_number_id: phone_number_id.into(),
        display_phone_number: "15550100001".into(),
        waba_id: "102290129340398".into(),
        access_token: crate::support::sealed_placeholder(),
        connected_at: SystemClock.now(),
    }
}

#[tokio::test]
async fn tenant_and_admin_key_are_created_together_once() {
    // Arrange
    let store = DynamoTenantStore::new(table().await);
    let id = tenant();
    let (tenant, key) = new_tenant(&id);
    let record = key.record("admin", Role::Admin, tenant.created_at);

    // Act
    store.create_tenant(&tenant, &record).await.expect("created");
    let again = store.create_tenant(&tenant, &record).await;

    // Assert
    assert!(matches!(again, Err(CreateTenantError::AlreadyExists)));
    assert_eq!(store.tenant(&id).await.expect("read"), Some(tenant));
    let stored = store.api_key(&id, &key.key_id).await.expect("read").expect("present");
    assert!(stored.accepts(&key.secret));
    assert_eq!(stored.role, Role::Admin);
}

#[tokio::test]
async fn a_number_routes_to_one_tenant_until_disconnected() {
    // Arrange
    let store = DynamoTenantStore::new(table().await);
    let (a, b) = (tenant(), tenant());
    for id in [&a, &b] {
        let (tenant, key) = new_tenant(id);
        store
            .create_tenant(&tenant, &key.record("admin", Role::Admin, tenant.created_at))
            .await
            .expect("created");
    }

    // Act + Assert
    store.connect_whatsapp(&a, &connection("111")).await.expect("a connects");
    assert_eq!(store.tenant_for_phone_number_id("111").await.expect("route"), Some(a.clone()));
    assert!(matches!(
        store.connect_whatsapp(&b, &connection("111")).await,
        Err(ConnectError::TakenByAnotherTenant)
    ));

    store.connect_whatsapp(&a, &connection("222")).await.expect("a switches numbers");
    assert_eq!(store.tenant_for_phone_number_id("111").await.expect("route"), None, "old route removed");
    assert_eq!(store.tenant_for_phone_number_id("222").await.expect("route"), Some(a.clone()));

    assert!(store.disconnect_whatsapp(&a).await.expect("disconnect"));
    assert!(!store.disconnect_whatsapp(&a).await.expect("disconnect twice"));
    assert_eq!(store.tenant_for_phone_number_id("222").await.expect("route"), None);
    store.connect_whatsapp(&b, &connection("222")).await.expect("b may take it now");
}

#[tokio::test]
async fn an_unknown_tenant_cannot_connect() {
    let store = DynamoTenantStore::new(table().await);
    let result = store.connect_whatsapp(&tenant(), &connection("333")).await;
    assert!(matches!(result, Err(ConnectError::TenantNotFound)));
    assert_eq!(store.tenant_for_phone_number_id("333").await.expect("route"), None, "nothing half-written");
}
