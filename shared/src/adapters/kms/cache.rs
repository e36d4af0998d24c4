//! The in-memory data-key cache (the AWS Encryption SDK's caching rules, by hand).
//!
//! - Entries are keyed by the full encryption context (and, for decryption, the SHA-256 of the
//!   wrapped key), so a key can never serve another tenant or purpose.
//! - Each entry lives at most `max_age` and serves at most `max_uses` operations; the cache holds
//!   at most `max_entries` entries of each kind, dropping the oldest first.
//! - Keys are zeroized when evicted or dropped and never leave the process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::domain::ports::EncryptionContext;
use crate::kernel::digest::sha256;

/// Bounds of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// How long a plaintext data key may be used after KMS returned it.
    pub max_age: Duration,
    /// How many seals or opens one cached key may serve.
    pub max_uses: u64,
    /// How many keys of each kind (encryption, decryption) the cache holds.
    pub max_entries: usize,
}

impl Default for CachePolicy {
    /// Five minutes, 10,000 uses, 512 entries: about one KMS call per tenant every five minutes
    /// on a warm function, and a bounded memory footprint (well under 100 KiB).
    fn default() -> Self {
        Self { max_age: Duration::from_secs(300), max_uses: 10_000, max_entries: 512 }
    }
}

struct Entry {
    key: Zeroizing<[u8; 32]>,
    wrapped: Vec<u8>,
    created: Instant,
    uses: u64,
}

type DecryptKey = (EncryptionContext, [u8; 32]);

/// The cache; shared by all invocations of a warm function.
pub struct DataKeyCache {
    policy: CachePolicy,
    encrypt: Mutex<HashMap<EncryptionContext, Entry>>,
    decrypt: Mutex<HashMap<DecryptKey, Entry>>,
}

impl std::fmt::Debug for DataKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeyCache").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl DataKeyCache {
    /// An empty cache with `policy`.
    #[must_use]
    pub fn new(policy: CachePolicy) -> Self {
        Self { policy, encrypt: Mutex::new(HashMap::new()), decrypt: Mutex::new(HashMap::new()) }
    }

    /// Takes one use of `entry` if it is still within its bounds.
    fn take_use(policy: &CachePolicy, entry: &mut Entry) -> bool {
        if entry.created.elapsed() >= policy.max_age || entry.uses >= policy.max_uses {
            return false;
        }
        entry.uses += 1;
        true
    }

    fn insert<K: Eq + std::hash::Hash + Clone>(
        policy: &CachePolicy,
        map: &mut HashMap<K, Entry>,
        key: K,
        entry: Entry,
    ) {
        map.retain(|_, e| e.created.elapsed() < policy.max_age && e.uses < policy.max_uses);
        while map.len() >= policy.max_entries.max(1) {
            let Some(oldest) = map.iter().min_by_key(|(_, e)| e.created).map(|(k, _)| k.clone()) else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(key, entry);
    }

    /// A cached key (plaintext, wrapped) to seal under `context`, counting one use.
    #[must_use]
    pub fn encryption_key(&self, context: &EncryptionContext) -> Option<(Zeroizing<[u8; 32]>, Vec<u8>)> {
        let mut map = self.encrypt.lock().ok()?;
        let entry = map.get_mut(context)?;
        if Self::take_use(&self.policy, entry) {
            Some((entry.key.clone(), entry.wrapped.clone()))
        } else {
            map.remove(context);
            None
        }
    }

    /// Caches a fresh key for sealing, and for opening what it seals.
    pub fn remember_for_encryption(&self, context: &EncryptionContext, key: &[u8; 32], wrapped: &[u8]) {
        let entry = || Entry {
            key: Zeroizing::new(*key),
            wrapped: wrapped.to_vec(),
            created: Instant::now(),
            uses: 1,
        };
        if let Ok(mut map) = self.encrypt.lock() {
            Self::insert(&self.policy, &mut map, context.clone(), entry());
        }
        if let Ok(mut map) = self.decrypt.lock() {
            let mut fresh = entry();
            fresh.uses = 0;
            Self::insert(&self.policy, &mut map, (context.clone(), sha256(wrapped)), fresh);
        }
    }

    /// A cached plaintext key for `wrapped` under `context`, counting one use.
    #[must_use]
    pub fn decryption_key(&self, context: &EncryptionContext, wrapped: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
        let mut map = self.decrypt.lock().ok()?;
        let cache_key = (context.clone(), sha256(wrapped));
        let entry = map.get_mut(&cache_key)?;
        if Self::take_use(&self.policy, entry) {
            Some(entry.key.clone())
        } else {
            map.remove(&cache_key);
            None
        }
    }

    /// Caches a key KMS just unwrapped (its first use is the open that asked for it).
    pub fn remember_for_decryption(&self, context: &EncryptionContext, wrapped: &[u8], key: &[u8; 32]) {
        if let Ok(mut map) = self.decrypt.lock() {
            let entry =
                Entry { key: Zeroizing::new(*key), wrapped: Vec::new(), created: Instant::now(), uses: 1 };
            Self::insert(&self.policy, &mut map, (context.clone(), sha256(wrapped)), entry);
        }
    }
}

/// Plaintext keys by an arbitrary cache key (a tenant, a contact), under the same bounds as
/// [`DataKeyCache`]: for keys that are stored once and read many times (the keyring's).
pub struct KeyCache<K> {
    policy: CachePolicy,
    map: Mutex<HashMap<K, Entry>>,
}

impl<K> std::fmt::Debug for KeyCache<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl<K: Eq + std::hash::Hash + Clone> KeyCache<K> {
    /// An empty cache with `policy`.
    #[must_use]
    pub fn new(policy: CachePolicy) -> Self {
        Self { policy, map: Mutex::new(HashMap::new()) }
    }

    /// The cached key, counting one use; `None` when absent or past its bounds.
    #[must_use]
    pub fn get(&self, cache_key: &K) -> Option<Zeroizing<[u8; 32]>> {
        let mut map = self.map.lock().ok()?;
        let entry = map.get_mut(cache_key)?;
        if DataKeyCache::take_use(&self.policy, entry) {
            Some(entry.key.clone())
        } else {
            map.remove(cache_key);
            None
        }
    }

    /// Caches `key` (this is its first use).
    pub fn remember(&self, cache_key: K, key: &[u8; 32]) {
        if let Ok(mut map) = self.map.lock() {
            let entry =
                Entry { key: Zeroizing::new(*key), wrapped: Vec::new(), created: Instant::now(), uses: 1 };
            DataKeyCache::insert(&self.policy, &mut map, cache_key, entry);
        }
    }

    /// Drops the key (it was destroyed, or must be read again).
    pub fn forget(&self, cache_key: &K) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(cache_key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ports::Purpose;
    use crate::domain::TenantId;

    fn context(tenant: &str) -> EncryptionContext {
        EncryptionContext {
            tenant_id: TenantId::parse(tenant).expect("valid"),
            purpose: Purpose::WhatsAppAccessToken,
        }
    }

    #[tokio::test]
    async fn decryption_key_serves_its_context_only_and_within_max_uses() {
        // Arrange
        let cache =
            DataKeyCache::new(CachePolicy { max_age: Duration::from_secs(60), max_uses: 3, max_entries: 8 });
        cache.remember_for_decryption(&context("tn_a"), b"wrapped", &[7; 32]);

        // Act + Assert: the insert was use 1, so two more uses remain.
        assert!(cache.decryption_key(&context("tn_b"), b"wrapped").is_none(), "another tenant never matches");
        assert!(
            cache.decryption_key(&context("tn_a"), b"other").is_none(),
            "another wrapped key never matches"
        );
        assert!(cache.decryption_key(&context("tn_a"), b"wrapped").is_some());
        assert!(cache.decryption_key(&context("tn_a"), b"wrapped").is_some());
        assert!(cache.decryption_key(&context("tn_a"), b"wrapped").is_none(), "max_uses reached");
    }

    #[tokio::test(start_paused = true)]
    async fn keys_expire_after_max_age() {
        let cache = DataKeyCache::new(CachePolicy {
            max_age: Duration::from_secs(60),
            max_uses: 100,
            max_entries: 8,
        });
        cache.remember_for_encryption(&context("tn_a"), &[1; 32], b"w");
        assert!(cache.encryption_key(&context("tn_a")).is_some());
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(cache.encryption_key(&context("tn_a")).is_none());
        assert!(cache.decryption_key(&context("tn_a"), b"w").is_none());
    }

    #[tokio::test]
    async fn holds_at_most_max_entries() {
        let cache = DataKeyCache::new(CachePolicy {
            max_age: Duration::from_secs(60),
            max_uses: 100,
            max_entries: 2,
        });
        for tenant in ["tn_a", "tn_b", "tn_c"] {
            cache.remember_for_decryption(&context(tenant), b"w", &[1; 32]);
        }
        let live = ["tn_a", "tn_b", "tn_c"]
            .iter()
            .filter(|t| cache.decryption_key(&context(t), b"w").is_some())
            .count();
        assert_eq!(live, 2);
    }
}
