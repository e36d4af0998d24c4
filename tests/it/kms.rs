//! Envelope encryption against moto's KMS.

use shared::adapters::kms::{CachePolicy, KmsVault};
use shared::domain::ports::{EncryptionContext, OpenError, Purpose, Vault};
use shared::domain::secret::Sealed;

use crate::support::{aws, tenant, unique, RequestCounter};

async fn key_alias() -> String {
    let client = aws_sdk_kms::Client::new(&aws().await);
    infra::bootstrap::create_key(&client, &format!("alias/{}", unique("it-key"))).await.expect("key")
}

async fn vault(alias: &str, counter: &RequestCounter) -> KmsVault {
    let config = aws_sdk_kms::config::Builder::from(&aws().await).interceptor(counter.clone()).build();
    KmsVault::new(aws_sdk_kms::Client::from_conf(config), alias, CachePolicy::default())
}

fn context(tenant: &shared::domain::TenantId) -> EncryptionContext {
    EncryptionContext { tenant_id: tenant.clone(), purpose: Purpose::WhatsAppAccessToken }
}

#[tokio::test]
async fn envelope_round_trips_and_stores_no_plaintext() {
    // Arrange
    let alias = key_alias().await;
    let vault = vault(&alias, &RequestCounter::default()).await;
    let tenant = tenant();

    // Act
    let sealed = vault.seal(&context(&tenant), b"EAAG-token-value").await.expect("seal");
    let stored = sealed.encode();
    let opened =
        vault.open(&context(&tenant), &Sealed::decode(&stored).expect("decodes")).await.expect("open");

    // Assert
    assert_eq!(opened.expose(), b"EAAG-token-value");
    assert!(!stored.contains("EAAG"));
    assert_eq!(sealed.ciphertext.len(), "EAAG-token-value".len() + 16, "AES-GCM: plaintext + 16-byte tag");
}

#[tokio::test]
async fn another_tenants_context_is_refused_by_kms() {
    // Arrange: sealed for tenant A; a fresh vault (cold cache) must ask KMS.
    let alias = key_alias().await;
    let (a, b) = (tenant(), tenant());
    let sealed =
        vault(&alias, &RequestCounter::default()).await.seal(&context(&a), b"secret").await.expect("seal");
    let counter = RequestCounter::default();
    let cold = vault(&alias, &counter).await;

    // Act
    let as_b = cold.open(&context(&b), &sealed).await;
    let other_purpose = cold
        .open(&EncryptionContext { tenant_id: a.clone(), purpose: Purpose::PageAccessToken }, &sealed)
        .await;

    // Assert
    assert!(matches!(as_b, Err(OpenError::Refused)), "{as_b:?}");
    assert!(matches!(other_purpose, Err(OpenError::Refused)), "{other_purpose:?}");
    assert_eq!(counter.count(), 2, "both refusals came from KMS itself");
    assert_eq!(cold.open(&context(&a), &sealed).await.expect("A opens").expose(), b"secret");
}

#[tokio::test]
async fn a_thousand_decrypts_of_one_secret_cost_one_kms_call() {
    // Arrange: sealed by one process, opened by another (a cold function instance).
    let alias = key_alias().await;
    let tenant = tenant();
    let sealed = vault(&alias, &RequestCounter::default())
        .await
        .seal(&context(&tenant), b"token")
        .await
        .expect("seal");
    let counter = RequestCounter::default();
    let cold = vault(&alias, &counter).await;

    // Act
    for _ in 0..1000 {
        let opened = cold.open(&context(&tenant), &sealed).await.expect("open");
        assert_eq!(opened.expose(), b"token");
    }

    // Assert
    assert_eq!(counter.count(), 1);
}

#[tokio::test]
async fn sealing_many_secrets_reuses_one_data_key() {
    let alias = key_alias().await;
    let counter = RequestCounter::default();
    let vault = vault(&alias, &counter).await;
    let tenant = tenant();

    for i in 0..100 {
        let sealed = vault.seal(&context(&tenant), format!("secret-{i}").as_bytes()).await.expect("seal");
        assert_eq!(
            vault.open(&context(&tenant), &sealed).await.expect("open").expose(),
            format!("secret-{i}").as_bytes()
        );
    }

    assert_eq!(counter.count(), 1, "one GenerateDataKey; opens hit the cache");
}

#[tokio::test]
async fn a_tampered_envelope_is_refused() {
    let alias = key_alias().await;
    let vault = vault(&alias, &RequestCounter::default()).await;
    let tenant = tenant();
    let mut sealed = vault.seal(&context(&tenant), b"secret").await.expect("seal");
    sealed.ciphertext[0] ^= 1;
    let mut garbage_key = sealed.clone();
    garbage_key.wrapped_key = vec![7; 40];

    assert!(matches!(vault.open(&context(&tenant), &sealed).await, Err(OpenError::Refused)));
    assert!(matches!(vault.open(&context(&tenant), &garbage_key).await, Err(OpenError::Refused)));
}

#[tokio::test]
async fn concurrent_opens_of_a_cold_key_make_one_kms_call() {
    // Arrange: sealed by one vault; opened by a fresh one (a new Lambda instance).
    let alias = key_alias().await;
    let tenant = tenant();
    let sealed = vault(&alias, &RequestCounter::default())
        .await
        .seal(&context(&tenant), b"EAAG-cold")
        .await
        .expect("seal");
    let counter = RequestCounter::default();
    let cold = vault(&alias, &counter).await;

    // Act
    let context = context(&tenant);
    let opens = futures::future::join_all((0..16).map(|_| cold.open(&context, &sealed))).await;

    // Assert
    assert!(opens.iter().all(|o| o.as_ref().is_ok_and(|k| k.expose() == b"EAAG-cold")));
    assert_eq!(counter.count(), 1, "one Decrypt for sixteen concurrent opens");
}
