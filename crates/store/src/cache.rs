//! A short-lived, per-node cache of rows an on-sale reads on every request
//! and organizers change rarely: events, ticket types, signing keys, fees,
//! payment gateway lists, webhook endpoints, sale guards and sessions.
//!
//! During an on-sale each checkout read the same event row four times and
//! the same ticket types, fee and keys once each; on SQLite every statement
//! is a hop to a connection's thread and back, on PostgreSQL a round trip.
//! Serving them from memory removes about a third of a checkout's
//! statements.
//!
//! What keeps it correct:
//! - a write made through this node's store drops the entry it changes, so
//!   a node always sees its own writes at once;
//! - an entry lives [`READ_CACHE_TTL`] at most, so a change made on another
//!   node is seen within that time;
//! - a load that raced with a write is not kept (generation check);
//! - nothing a sale's invariants rest on comes from here: seat claims,
//!   holds, orders, admissions and the event's cancellation are read and
//!   decided inside the write transactions, from the database.
//!
//! A few dozen lines do this; a caching crate (moka and the like) would
//! bring far more than these bounded maps need.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use domain::ids::{EventId, OrganizationId};

/// The longest a cached row is used: how late a node sees a change made on
/// another node.
pub const READ_CACHE_TTL: Duration = Duration::from_secs(1);
/// Entries kept per cache; when full, the cache starts over empty.
const READ_CACHE_ENTRIES_MAX: usize = 100_000;

/// One kind of row, by key.
pub(crate) struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
    /// Bumped by every invalidation: a load that started before one must
    /// not store what it read.
    generation: AtomicU64,
}

impl<K: Eq + Hash, V: Clone> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()), generation: AtomicU64::new(0) }
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// The cached value if fresh, and the generation to store a load under.
    pub(crate) fn get(&self, key: &K) -> (Option<V>, u64) {
        let generation = self.generation.load(Ordering::Acquire);
        let entries = self.entries.lock().expect("read cache poisoned");
        let fresh = entries.get(key).filter(|(at, _)| at.elapsed() < READ_CACHE_TTL).map(|(_, v)| v.clone());
        (fresh, generation)
    }

    /// The generation to store a load under that did not start with
    /// [`get`](Self::get) (a row read along with another).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps `value`, read after [`get`](Self::get) returned `generation`,
    /// unless something was invalidated meanwhile.
    pub(crate) fn put(&self, key: K, value: V, generation: u64) {
        let mut entries = self.entries.lock().expect("read cache poisoned");
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= READ_CACHE_ENTRIES_MAX {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub(crate) fn invalidate(&self, key: &K) {
        let mut entries = self.entries.lock().expect("read cache poisoned");
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(key);
    }

    /// Drops every entry: for a change that touches rows by something
    /// other than their key (all of an account's sessions).
    pub(crate) fn clear(&self) {
        let mut entries = self.entries.lock().expect("read cache poisoned");
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

/// The caches a [`Store`](crate::Store) keeps, one per kind of row.
#[derive(Default)]
pub(crate) struct ReadCaches {
    pub(crate) events: TtlCache<EventId, crate::EventRecord>,
    pub(crate) ticket_types: TtlCache<EventId, Vec<domain::event::TicketType>>,
    pub(crate) event_keys: TtlCache<EventId, domain::barcode::EventKey>,
    pub(crate) fees: TtlCache<OrganizationId, Option<crate::OrganizationFeeRecord>>,
    pub(crate) gateways: TtlCache<OrganizationId, Vec<String>>,
    pub(crate) webhook_endpoints: TtlCache<OrganizationId, Vec<crate::WebhookEndpointRecord>>,
    pub(crate) sale_guards: TtlCache<EventId, Option<crate::SaleGuard>>,
    /// Token hash to the session's user and expiry.
    pub(crate) sessions: TtlCache<Vec<u8>, (domain::ids::UserId, i64)>,
    /// An account's name, e-mail and language; loaded with its session.
    pub(crate) recipients: TtlCache<domain::ids::UserId, crate::Recipient>,
}

impl std::fmt::Debug for ReadCaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCaches").finish_non_exhaustive()
    }
}

/// Reads `key` through `cache`: the cached value, or `load`'s, kept when
/// it is `Some` (an absent row is not cached: it may be created any moment).
macro_rules! cached {
    ($cache:expr, $key:expr, $load:expr) => {{
        let (hit, generation) = $cache.get(&$key);
        match hit {
            Some(v) => Ok(Some(v)),
            None => {
                let loaded = $load;
                if let Ok(Some(v)) = &loaded {
                    $cache.put($key, v.clone(), generation);
                }
                loaded
            }
        }
    }};
}
pub(crate) use cached;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_entry_is_served_and_an_invalidated_one_is_not() {
        let cache: TtlCache<u32, &str> = TtlCache::default();
        let (hit, generation) = cache.get(&1);
        assert_eq!(hit, None);
        cache.put(1, "a", generation);
        assert_eq!(cache.get(&1).0, Some("a"));
        cache.invalidate(&1);
        assert_eq!(cache.get(&1).0, None);
    }

    #[test]
    fn a_load_that_raced_with_a_write_is_not_kept() {
        let cache: TtlCache<u32, &str> = TtlCache::default();
        let (_, generation) = cache.get(&1);
        // A write lands while the load is in flight.
        cache.invalidate(&1);
        cache.put(1, "stale", generation);
        assert_eq!(cache.get(&1).0, None);
    }

    #[test]
    fn entries_expire() {
        let cache: TtlCache<u32, &str> = TtlCache::default();
        cache.entries.lock().unwrap().insert(1, (Instant::now() - READ_CACHE_TTL, "old"));
        assert_eq!(cache.get(&1).0, None);
    }
}
