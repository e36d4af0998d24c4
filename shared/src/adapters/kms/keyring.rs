//! The keys of personal data (P64): each tenant's blind-index key and each contact's data key.
//!
//! - **Blind-index key** (one per tenant): contact ids and lookup entries are keyed hashes
//!   under it ([`BlindIndex`]). Stored sealed by KMS in the main table, because a restored
//!   backup must still find its contacts.
//! - **Data key** (one per contact): message bodies and contact identifiers are sealed with
//!   AES-256-GCM under it. Stored wrapped by KMS — encryption context `{tenant_id, contact_id,
//!   purpose}` — in the *key table*, which has no point-in-time recovery and no backups. Erasing
//!   a contact deletes its key item ([`Keyring::shred`]): every copy of its sealed data, in the
//!   table's 35 days of PITR and in any export of it, is unreadable from that moment (a warm
//!   instance that used the key may keep it in memory for the rest of its cache period, at most
//!   five minutes; nothing is ever written to disk).
//!
//! Both are cached in memory with the bounds of [`CachePolicy`], so the webhook path resolves
//! and seals without a KMS call per message: about one call per tenant and one per active
//! contact per warm instance and cache period (`infra/bench-inbound.sh` measures it).
//!
//! A key is always stored (a conditional put, first writer wins) before anything is sealed
//! under it, so nothing can be sealed under a key that is not kept.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use aws_sdk_kms::Client;
use zeroize::Zeroizing;

use super::cache::{CachePolicy, KeyCache};
use super::{aead_open, aead_seal, decrypt_data_key, generate_data_key};
use crate::adapters::dynamo::item::{b, item_with_key, n, s, ItemExt as _};
use crate::adapters::dynamo::keys::{self, attr, Key, ENTITY};
use crate::adapters::dynamo::table::{PutNewError, Table};
use crate::domain::{BlindIndex, ContactId, SecretBytes, TenantId};

/// The encryption-context names, as KMS, IAM conditions and CloudTrail see them.
const CONTEXT_TENANT: &str = "tenant_id";
const CONTEXT_CONTACT: &str = "contact_id";
const CONTEXT_PURPOSE: &str = "purpose";
/// The version byte in front of every sealed field.
const FIELD_VERSION: u8 = 1;

/// How many KMS calls a keyring made (for the cost figures and the tests that bound them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KmsCalls {
    /// `GenerateDataKey`: a new tenant index key or contact data key.
    pub generate: u64,
    /// `Decrypt`: a stored key unwrapped on a cache miss.
    pub decrypt: u64,
    /// Time spent waiting for KMS, microseconds.
    pub micros: u64,
}

/// A contact's plaintext data key, for sealing and opening its fields.
pub struct DataKey {
    key: Zeroizing<[u8; 32]>,
    tenant: TenantId,
    contact: ContactId,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey").field("contact", &self.contact).finish_non_exhaustive()
    }
}

impl DataKey {
    /// Binds a field to its tenant, contact and attribute: a sealed value moved to another
    /// item or attribute no longer opens.
    fn associated_data(&self, attribute: &str) -> Vec<u8> {
        format!(
            "leadline/field/v1;tenant_id={};contact_id={};attribute={attribute}",
            self.tenant, self.contact
        )
        .into_bytes()
    }

    /// `plaintext` sealed for `attribute`: version byte, nonce, ciphertext and tag.
    ///
    /// # Errors
    /// When the system has no randomness.
    pub fn seal(&self, attribute: &str, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let (nonce, ciphertext) = aead_seal(self.key.as_ref(), &self.associated_data(attribute), plaintext)?;
        let mut out = Vec::with_capacity(1 + nonce.len() + ciphertext.len());
        out.push(FIELD_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// What [`DataKey::seal`] sealed for `attribute`; `None` when it does not open (another
    /// key, attribute or contact, or tampering).
    #[must_use]
    pub fn open(&self, attribute: &str, sealed: &[u8]) -> Option<SecretBytes> {
        let (&version, rest) = sealed.split_first()?;
        if version != FIELD_VERSION || rest.len() < 12 + 16 {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(12);
        aead_open(self.key.as_ref(), &self.associated_data(attribute), nonce.try_into().ok()?, ciphertext)
    }
}

/// Whether a missing data key should be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// To seal: a missing key is created.
    Seal,
    /// To open: a missing key means the contact was erased, and stays missing.
    Open,
}

/// Blind-index keys and contact data keys, cached. Built once per process.
#[derive(Debug)]
pub struct Keyring {
    table: Table,
    keys: Table,
    kms: Client,
    key_id: String,
    index_keys: KeyCache<TenantId>,
    data_keys: KeyCache<(TenantId, ContactId)>,
    /// Held while a tenant's index key is filled, so concurrent misses make one KMS call. Data
    /// keys take no lock: a page of contacts opens their keys concurrently, and two misses of
    /// one contact's key at once are rare (a person's messages are serialized by their FIFO
    /// group) and harmless (the conditional put keeps one key; the other reads it back).
    filling: tokio::sync::Mutex<()>,
    generated: AtomicU64,
    decrypted: AtomicU64,
    kms_micros: AtomicU64,
}

impl Keyring {
    /// A keyring keeping index keys in `table`, data keys in `keys` (the key table), wrapping
    /// with the KMS key `key_id`.
    #[must_use]
    pub fn new(
        table: Table,
        keys: Table,
        kms: Client,
        key_id: impl Into<String>,
        policy: CachePolicy,
    ) -> Self {
        Self {
            table,
            keys,
            kms,
            key_id: key_id.into(),
            index_keys: KeyCache::new(policy),
            data_keys: KeyCache::new(policy),
            filling: tokio::sync::Mutex::new(()),
            generated: AtomicU64::new(0),
            decrypted: AtomicU64::new(0),
            kms_micros: AtomicU64::new(0),
        }
    }

    /// The production keyring, shared by the adapters of one process: index keys in `table`,
    /// data keys in the key table `key_table_name`, wrapped by `kms_key_id`.
    #[must_use]
    pub fn on(table: &Table, key_table_name: &str, kms: Client, kms_key_id: &str) -> std::sync::Arc<Self> {
        let key_table = table.sibling(key_table_name.to_owned());
        std::sync::Arc::new(Self::new(table.clone(), key_table, kms, kms_key_id, Self::default_policy()))
    }

    /// The cache bounds for data keys: like the default, with room for many active contacts
    /// (10,000 keys are well under 1 MiB).
    #[must_use]
    pub fn default_policy() -> CachePolicy {
        CachePolicy { max_entries: 10_000, ..CachePolicy::default() }
    }

    /// The key table.
    #[must_use]
    pub fn key_table(&self) -> &Table {
        &self.keys
    }

    /// KMS calls made so far.
    #[must_use]
    pub fn kms_calls(&self) -> KmsCalls {
        KmsCalls {
            generate: self.generated.load(Ordering::Relaxed),
            decrypt: self.decrypted.load(Ordering::Relaxed),
            micros: self.kms_micros.load(Ordering::Relaxed),
        }
    }

    /// The tenant's blind index, made on first need.
    ///
    /// # Errors
    /// When DynamoDB or KMS fail, or the stored key does not open under this tenant.
    pub async fn blind_index(&self, tenant: &TenantId) -> anyhow::Result<BlindIndex> {
        if let Some(key) = self.index_keys.get(tenant) {
            return Ok(BlindIndex::new(&key));
        }
        let _filling = self.filling.lock().await;
        if let Some(key) = self.index_keys.get(tenant) {
            return Ok(BlindIndex::new(&key));
        }
        let context = [(CONTEXT_TENANT, tenant.as_str()), (CONTEXT_PURPOSE, "blind_index")];
        let key = self
            .load(&self.table, &keys::blind_index_key(tenant), &context, Need::Seal, "index_key")
            .await?
            .context("no blind-index key")?;
        self.index_keys.remember(tenant.clone(), &key);
        Ok(BlindIndex::new(&key))
    }

    /// The contact's data key; `None` only for [`Need::Open`] when it has none (never had one,
    /// or was erased).
    ///
    /// # Errors
    /// When DynamoDB or KMS fail, or the stored key does not open under this tenant and contact.
    pub async fn data_key(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        need: Need,
    ) -> anyhow::Result<Option<DataKey>> {
        let cache_key = (tenant.clone(), contact.clone());
        let wrap = |key| DataKey { key, tenant: tenant.clone(), contact: contact.clone() };
        if let Some(key) = self.data_keys.get(&cache_key) {
            return Ok(Some(wrap(key)));
        }
        let context = [
            (CONTEXT_TENANT, tenant.as_str()),
            (CONTEXT_CONTACT, contact.as_str()),
            (CONTEXT_PURPOSE, "contact_data"),
        ];
        let key = self
            .load(&self.keys, &keys::contact_data_key(tenant, contact), &context, need, "data_key")
            .await?;
        Ok(key.map(|key| {
            self.data_keys.remember(cache_key, &key);
            wrap(key)
        }))
    }

    /// Forgets the cached data key of a contact, so the next use reads the key table (a new
    /// contact record may follow an erasure, and must not reuse a destroyed key).
    pub fn forget(&self, tenant: &TenantId, contact: &ContactId) {
        self.data_keys.forget(&(tenant.clone(), contact.clone()));
    }

    /// Destroys the contact's data key (crypto-shredding). Idempotent.
    ///
    /// # Errors
    /// When DynamoDB fails.
    pub async fn shred(&self, tenant: &TenantId, contact: &ContactId) -> anyhow::Result<()> {
        self.forget(tenant, contact);
        self.keys.delete(&keys::contact_data_key(tenant, contact)).await.context("deleting a data key")?;
        Ok(())
    }

    /// The key stored at `key` in `table`, unwrapped; made and stored first when absent and
    /// `need` is [`Need::Seal`].
    async fn load(
        &self,
        table: &Table,
        key: &Key,
        context: &[(&str, &str)],
        need: Need,
        entity: &str,
    ) -> anyhow::Result<Option<Zeroizing<[u8; 32]>>> {
        if let Some(item) = table.get(key, table.now()).await.context("reading a key")? {
            return self.unwrap(&item, context).await.map(Some);
        }
        if need == Need::Open {
            return Ok(None);
        }
        self.generated.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let generated = generate_data_key(&self.kms, &self.key_id, context).await;
        self.timed(started);
        let (plaintext, wrapped) = generated?;
        let mut item = item_with_key(key);
        item.insert(ENTITY.to_owned(), s(entity));
        item.insert(attr::WRAPPED_KEY.to_owned(), b(wrapped));
        item.insert(attr::CREATED_AT.to_owned(), n(table.now().as_millis()));
        match table.put_new(item, table.now()).await {
            Ok(()) => Ok(Some(plaintext)),
            // Another instance stored one first: theirs is the key.
            Err(PutNewError::AlreadyExists) => {
                let item =
                    table.get(key, table.now()).await.context("re-reading a key")?.context("key vanished")?;
                self.unwrap(&item, context).await.map(Some)
            }
            Err(PutNewError::Unknown(e)) => Err(e.context("storing a key")),
        }
    }

    fn timed(&self, started: std::time::Instant) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.kms_micros.fetch_add(micros, Ordering::Relaxed);
    }

    async fn unwrap(
        &self,
        item: &crate::adapters::dynamo::item::Item,
        context: &[(&str, &str)],
    ) -> anyhow::Result<Zeroizing<[u8; 32]>> {
        let wrapped = item.bytes(attr::WRAPPED_KEY).context("a key item without its key")?;
        self.decrypted.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let unwrapped = decrypt_data_key(&self.kms, &self.key_id, wrapped, context).await;
        self.timed(started);
        unwrapped.map_err(|e| match e {
            super::OpenError::Refused => anyhow::anyhow!("a stored key does not open under its context"),
            super::OpenError::Unknown(e) => e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_key(contact: &str) -> DataKey {
        DataKey {
            key: Zeroizing::new([9; 32]),
            tenant: TenantId::parse("tn_a").expect("valid"),
            contact: ContactId::parse(contact).expect("valid"),
        }
    }

    #[test]
    fn a_field_opens_only_as_the_attribute_and_contact_it_was_sealed_for() {
        // Arrange
        let key = data_key("ct_a");
        let sealed = key.seal("phone", b"5511988887777").expect("sealed");

        // Act + Assert
        assert_eq!(key.open("phone", &sealed).map(|p| p.expose().to_vec()), Some(b"5511988887777".to_vec()));
        assert!(key.open("name", &sealed).is_none(), "moved to another attribute");
        assert!(data_key("ct_b").open("phone", &sealed).is_none(), "moved to another contact");
        assert!(!sealed.windows(13).any(|w| w == b"5511988887777"), "no plaintext in the sealed form");
    }

    #[test]
    fn a_tampered_or_truncated_field_does_not_open() {
        let key = data_key("ct_a");
        let mut sealed = key.seal("raw", b"{\"body\":\"hello\"}").expect("sealed");
        assert!(key.open("raw", &sealed[..20]).is_none());
        if let Some(last) = sealed.last_mut() {
            *last ^= 1;
        }
        assert!(key.open("raw", &sealed).is_none());
        assert!(key.open("raw", &[2, 0, 0]).is_none());
    }
}
