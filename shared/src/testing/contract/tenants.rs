//! [`TenantStore`]'s contract: a tenant and its admin key are created together, once; a phone
//! number routes to one tenant until disconnected; keys are listed oldest first and revoked
//! once; another tenant's key id finds nothing.

use super::{now, tenant};
use crate::domain::ports::{
    ApiKeyStore, ConnectError, ConnectionStore, CreateTenantError, NumberRoute, TenantRouting, TenantStore,
};
use crate::domain::secret::Sealed;
use crate::domain::tenant::{ApiKey, Role, Tenant, WhatsAppConnection};
use crate::domain::{TenantId, Timestamp};

/// An envelope that opens under no key (the store keeps it as it is).
fn sealed() -> Sealed {
    Sealed { wrapped_key: vec![1], nonce: [0; 12], ciphertext: vec![2; 20] }
}

/// A new tenant and its admin key, not yet stored.
fn new_tenant(id: &TenantId) -> (Tenant, ApiKey) {
    let now = now();
    (Tenant::new(id.clone(), "Acme".into(), now, sealed()), ApiKey::generate(id.clone(), now).unwrap())
}

/// Creates a tenant with its admin key.
async fn created<S: TenantStore + ApiKeyStore + ConnectionStore + TenantRouting>(store: &S) -> TenantId {
    let id = tenant();
    let (tenant, key) = new_tenant(&id);
    store.create_tenant(&tenant, &key.record("admin", Role::Admin, tenant.created_at)).await.unwrap();
    id
}

/// A connection of the phone number id `number`.
fn connection(number: &str) -> WhatsAppConnection {
    WhatsAppConnection {
        phone_number_id: number.into(),
        display_phone_number: "15550100001".into(),
        waba_id: "102290129340398".into(),
        access_token: sealed(),
        connected_at: now(),
    }
}

/// A tenant and its admin key are created together, once: a second create is `AlreadyExists`.
pub async fn a_tenant_is_created_with_its_admin_key_once<
    S: TenantStore + ApiKeyStore + ConnectionStore + TenantRouting,
>(
    store: &S,
) {
    // Arrange
    let id = tenant();
    let (tenant, key) = new_tenant(&id);
    let record = key.record("admin", Role::Admin, tenant.created_at);

    // Act
    store.create_tenant(&tenant, &record).await.unwrap();
    let again = store.create_tenant(&tenant, &record).await;

    // Assert
    assert!(matches!(again, Err(CreateTenantError::AlreadyExists)), "{again:?}");
    assert_eq!(store.tenant(&id).await.unwrap(), Some(tenant));
    let stored = store.api_key(&id, &key.key_id).await.unwrap().expect("the admin key");
    assert!(stored.accepts(&key.secret));
    assert_eq!((stored.role, stored.revoked_at), (Role::Admin, None));
    assert_eq!(store.api_keys(&id).await.unwrap().len(), 1);
}

/// A phone number id routes to one tenant: another tenant cannot take it, a new number replaces
/// the old route, and once disconnected (`true`, then `false`) it routes nowhere and is free.
pub async fn a_number_routes_to_one_tenant_until_disconnected<
    S: TenantStore + ApiKeyStore + ConnectionStore + TenantRouting,
>(
    store: &S,
) {
    // Arrange
    let (a, b) = (created(store).await, created(store).await);
    let (first, second) = (format!("1{}", &a.as_str()[3..]), format!("2{}", &a.as_str()[3..]));

    // Act / Assert
    store.connect_whatsapp(&a, &connection(&first)).await.unwrap();
    assert_eq!(store.tenant_for_phone_number_id(&first).await.unwrap(), Some(a.clone()));
    let route = NumberRoute { tenant_id: a.clone(), waba_id: "102290129340398".into() };
    assert_eq!(store.number_route(&first).await.unwrap(), Some(route), "the route names the WABA");
    let taken = store.connect_whatsapp(&b, &connection(&first)).await;
    assert!(matches!(taken, Err(ConnectError::TakenByAnotherTenant)), "{taken:?}");
    store.connect_whatsapp(&a, &connection(&second)).await.unwrap();
    assert_eq!(store.tenant_for_phone_number_id(&first).await.unwrap(), None, "the old route goes");
    assert_eq!(store.tenant_for_phone_number_id(&second).await.unwrap(), Some(a.clone()));
    assert_eq!(store.whatsapp_connection(&a).await.unwrap().map(|c| c.phone_number_id), Some(second.clone()));
    assert!(store.disconnect_whatsapp(&a).await.unwrap());
    assert!(!store.disconnect_whatsapp(&a).await.unwrap());
    assert_eq!(store.tenant_for_phone_number_id(&second).await.unwrap(), None);
    assert_eq!(store.number_route(&second).await.unwrap(), None);
    assert_eq!(store.whatsapp_connection(&a).await.unwrap(), None);
    store.connect_whatsapp(&b, &connection(&second)).await.unwrap();
    assert_eq!(store.tenant_for_phone_number_id(&second).await.unwrap(), Some(b));
}

/// A tenant that does not exist cannot connect, and nothing is half-written.
pub async fn an_unknown_tenant_cannot_connect<
    S: TenantStore + ApiKeyStore + ConnectionStore + TenantRouting,
>(
    store: &S,
) {
    let id = tenant();
    let number = format!("3{}", &id.as_str()[3..]);

    let result = store.connect_whatsapp(&id, &connection(&number)).await;

    assert!(matches!(result, Err(ConnectError::TenantNotFound)), "{result:?}");
    assert_eq!(store.tenant_for_phone_number_id(&number).await.unwrap(), None);
}

/// Keys are listed oldest first, revoked keys included; a live key is revoked once.
pub async fn api_keys_are_listed_and_revoked_once<
    S: TenantStore + ApiKeyStore + ConnectionStore + TenantRouting,
>(
    store: &S,
) {
    // Arrange
    let id = created(store).await;
    let later = Timestamp::from_millis(now().as_millis() + 1_000);
    let agent = ApiKey::generate(id.clone(), later).unwrap();
    store.create_api_key(&agent.record("agent", Role::Agent, later)).await.unwrap();
    let at = Timestamp::from_millis(later.as_millis() + 1_000);

    // Act
    let revoked = store.revoke_api_key(&id, &agent.key_id, at).await.unwrap();
    let again = store.revoke_api_key(&id, &agent.key_id, at).await.unwrap();

    // Assert
    assert_eq!((revoked, again), (true, false));
    let keys = store.api_keys(&id).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.role).collect::<Vec<_>>(), [Role::Admin, Role::Agent], "oldest first");
    let stored = store.api_key(&id, &agent.key_id).await.unwrap().expect("kept");
    assert_eq!(stored.revoked_at, Some(at));
}

/// Another tenant's key id finds nothing and revokes nothing; a missing tenant is not updated.
pub async fn another_tenants_key_is_not_found<
    S: TenantStore + ApiKeyStore + ConnectionStore + TenantRouting,
>(
    store: &S,
) {
    let owner = created(store).await;
    let other = created(store).await;
    let key = ApiKey::generate(owner.clone(), now()).unwrap();
    store.create_api_key(&key.record("k", Role::Agent, now())).await.unwrap();

    assert_eq!(store.api_key(&other, &key.key_id).await.unwrap(), None);
    assert!(!store.revoke_api_key(&other, &key.key_id, now()).await.unwrap());
    assert_eq!(store.api_key(&owner, &key.key_id).await.unwrap().and_then(|k| k.revoked_at), None);
    assert_eq!(store.tenant(&tenant()).await.unwrap(), None);
}

/// Every check of the suite.
pub async fn all<S: TenantStore + ApiKeyStore + ConnectionStore + TenantRouting>(store: &S) {
    a_tenant_is_created_with_its_admin_key_once(store).await;
    a_number_routes_to_one_tenant_until_disconnected(store).await;
    an_unknown_tenant_cannot_connect(store).await;
    api_keys_are_listed_and_revoked_once(store).await;
    another_tenants_key_is_not_found(store).await;
    tenants_are_listed_once_each_in_id_order(store).await;
    settings_reads_see_this_stores_changes_and_only_their_tenant(store).await;
}

/// Paging through the listing finds every tenant once, in id order, closed ones included.
pub async fn tenants_are_listed_once_each_in_id_order<
    S: TenantStore + ApiKeyStore + ConnectionStore + TenantRouting,
>(
    store: &S,
) {
    // Arrange: three tenants (other tests' tenants may be listed too), one of them closed.
    let mut mine = [created(store).await, created(store).await, created(store).await];
    mine.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let closed = crate::domain::ports::TenantUpdate::Closure(Some(now()));
    assert!(store.update_tenant(&mine[1], &closed).await.unwrap());

    // Act: two per page, to the end.
    let mut listed = Vec::new();
    let mut after: Option<TenantId> = None;
    loop {
        let page = store.list_tenants(after.as_ref(), 2).await.unwrap();
        assert!(page.items.len() <= 2, "{}", page.items.len());
        listed.extend(page.items);
        match page.next {
            Some(next) => after = Some(TenantId::parse(next).unwrap()),
            None => break,
        }
    }

    // Assert
    let ids: Vec<&str> = listed.iter().map(|t| t.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "in id order, each once");
    let found: Vec<&Tenant> = listed.iter().filter(|t| mine.contains(&t.id)).collect();
    assert_eq!(found.len(), 3, "{ids:?}");
    assert_eq!(found[1].status, crate::domain::tenant::TenantStatus::Closed);
    assert_eq!(found[0].status, crate::domain::tenant::TenantStatus::Active);
}

/// `tenant_settings` (which may answer from a cache) answers each tenant with its own record,
/// and a change through the same store is seen at once, by it and by `tenant`.
pub async fn settings_reads_see_this_stores_changes_and_only_their_tenant<
    S: TenantStore + ApiKeyStore + ConnectionStore + TenantRouting,
>(
    store: &S,
) {
    // Arrange: two tenants, both read (and cached) before the change.
    let (first, second) = (created(store).await, created(store).await);
    let before = store.tenant_settings(&first).await.unwrap().expect("the first tenant");
    assert_eq!(store.tenant_settings(&second).await.unwrap().map(|t| t.id), Some(second.clone()));
    let mut retention = before.retention;
    retention.content_days = before.retention.content_days.saturating_sub(1).max(1);

    // Act
    store.set_retention(&first, retention).await.unwrap();
    let closed = crate::domain::ports::TenantUpdate::Closure(Some(now()));
    assert!(store.update_tenant(&first, &closed).await.unwrap());

    // Assert
    let after = store.tenant_settings(&first).await.unwrap().expect("the first tenant");
    assert_eq!((after.id.clone(), after.retention), (first.clone(), retention));
    assert_eq!(after.status, crate::domain::tenant::TenantStatus::Closed);
    assert_eq!(store.tenant(&first).await.unwrap(), Some(after));
    let other = store.tenant_settings(&second).await.unwrap().expect("the second tenant");
    assert_eq!((other.id, other.status), (second, crate::domain::tenant::TenantStatus::Active));
    assert_eq!(store.tenant_settings(&tenant()).await.unwrap(), None, "an unknown tenant is none");
}
