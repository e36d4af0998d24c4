//! One small per-instance cache of what rarely changes (issue #19: reads cost money per call),
//! used by every adapter that caches: entries live at most `ttl`, the map holds at most
//! `max_entries` (full, it drops what expired, then everything), and nothing else.
//!
//! What makes it safe to use:
//! - **Bounded staleness.** A value is at most `ttl` old when served; a write through the same
//!   instance calls [`TtlCache::forget`] so that this instance sees its own writes at once. Other
//!   instances see a change within `ttl`: each user documents what that means for its data.
//! - **No crossing of tenants.** The key is the complete lookup key (for a table item, its
//!   partition and sort key, which start with the tenant; for a routing entry, the number or
//!   Page it routes), and the value is exactly what that lookup returned, so an entry answers
//!   only the lookup that made it.
//! - Absent results may be cached too (`Option<V>` as the value): a caller decides.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A map whose entries expire `ttl` after they were stored. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// An empty cache; a `ttl` of zero caches nothing.
    #[must_use]
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self { ttl, max_entries: max_entries.max(1), entries: Mutex::new(HashMap::new()) }
    }

    /// The value stored under `key`, if it is younger than the cache's `ttl`.
    #[must_use]
    pub fn get(&self, key: &K) -> Option<V> {
        let mut entries = self.entries.lock().ok()?;
        match entries.get(key) {
            Some((stored, value)) if stored.elapsed() < self.ttl => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` under `key`, now.
    pub fn put(&self, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries.retain(|_, (stored, _)| stored.elapsed() < ttl);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Drops what is stored under `key` (after this instance changed it).
    pub fn forget(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }

    /// The cached value of `key`, or `load`'s, stored when it succeeds (errors are not cached).
    ///
    /// # Errors
    /// `load`'s.
    pub async fn get_or_load<E, F, Fut>(&self, key: &K, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.get(key) {
            return Ok(value);
        }
        let value = load().await?;
        self.put(key.clone(), value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_entry_is_served_until_its_ttl_and_not_after() {
        // Arrange
        let cache = TtlCache::new(Duration::from_secs(30), 8);
        cache.put("a", 1);

        // Act
        tokio::time::advance(Duration::from_secs(29)).await;
        let young = cache.get(&"a");
        tokio::time::advance(Duration::from_secs(1)).await;
        let old = cache.get(&"a");

        // Assert
        assert_eq!((young, old), (Some(1), None));
    }

    #[tokio::test]
    async fn get_or_load_loads_once_and_never_caches_an_error() {
        // Arrange
        let cache = TtlCache::new(Duration::from_secs(30), 8);
        let loads = std::sync::atomic::AtomicUsize::new(0);
        let load = || async {
            loads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok::<_, ()>(Some(7))
        };

        // Act
        let failed: Result<Option<i32>, &str> = cache.get_or_load(&"k", || async { Err("down") }).await;
        let first = cache.get_or_load(&"k", load).await;
        let second = cache.get_or_load(&"k", load).await;

        // Assert
        assert_eq!(failed, Err("down"));
        assert_eq!((first, second), (Ok(Some(7)), Ok(Some(7))));
        assert_eq!(loads.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[test]
    fn forget_drops_an_entry_and_a_full_cache_stays_bounded() {
        // Arrange
        let cache = TtlCache::new(Duration::from_secs(30), 2);
        cache.put(1, "one");
        cache.put(2, "two");

        // Act
        cache.forget(&1);
        let forgotten = cache.get(&1);
        cache.put(3, "three");
        cache.put(4, "four");

        // Assert
        assert_eq!(forgotten, None);
        assert!(cache.entries.lock().map(|e| e.len()).unwrap_or(0) <= 2);
        assert_eq!(cache.get(&4), Some("four"));
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = TtlCache::new(Duration::ZERO, 8);
        cache.put("a", 1);
        assert_eq!(cache.get(&"a"), None);
    }
}
