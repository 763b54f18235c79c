//! Compact availability for big events, served from memory.
//!
//! During an on-sale, every buyer's seat map asks for availability, and a
//! 100,000-seat event read from the database and rendered as JSON per
//! request would cost tens of milliseconds and megabytes each time. Here each
//! node keeps one packed status vector per event (two bits a seat, see
//! [`domain::availability`]) and refreshes it from the database at most every
//! [`FRESH_MILLIS`]: a request finds it ready; a request that finds it older
//! starts one refresh in the background and is answered with what is there,
//! as long as that is younger than [`STALE_MAX_MILLIS`]. Live changes reach
//! seat maps through the event stream anyway; this is the snapshot they start
//! from. Holds and orders never read it: the database decides who gets a seat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use domain::Timestamp;
use domain::availability::{HELD, SOLD, all_available, set};
use domain::ids::{EventId, GaAreaId, SeatId, UserId, VenueId};
use sha2::{Digest, Sha256};
use store::{SeatStatus, StoreError};

use crate::Ticketing;
use crate::holds::AvailabilityError;

/// How long a snapshot is served without looking again.
pub const FRESH_MILLIS: u64 = 250;
/// The oldest snapshot served while a newer one is being read.
pub const STALE_MAX_MILLIS: u64 = 2_000;
/// Events kept in memory per node; the least recently asked for go first.
pub const EVENTS_CACHED_MAX: usize = 256;

/// One event's availability at one instant.
#[derive(Debug)]
pub struct CompactAvailability {
    pub event: EventId,
    pub seat_count: u32,
    /// Base64 (standard, padded) of the two-bit statuses in seat-map order.
    pub statuses: String,
    pub available: u32,
    pub held: u32,
    pub sold: u32,
    /// (area, capacity, remaining)
    pub ga: Vec<(GaAreaId, u32, u32)>,
    pub as_of: Timestamp,
    /// Changes exactly when the statuses or GA places do: an HTTP ETag.
    pub version: String,
}

/// Seat positions of a venue: seat maps do not change once made.
struct SeatIndex {
    count: usize,
    position: HashMap<SeatId, u32>,
}

struct Entry {
    venue: VenueId,
    index: Arc<SeatIndex>,
    current: Option<(Arc<CompactAvailability>, Instant)>,
    refreshing: bool,
    last_asked: Instant,
}

#[derive(Default)]
pub struct AvailabilityCache {
    // std Mutex: held for map lookups only, never across an await.
    events: Mutex<HashMap<EventId, Entry>>,
    /// Taken while an event's seat index is first read, so a crowd arriving
    /// at a cold cache reads it once, not once per request.
    loading: tokio::sync::Mutex<()>,
}

impl Ticketing {
    /// Every seat's status of a (visible) event in two bits a seat, and its
    /// GA places, at most [`STALE_MAX_MILLIS`] old.
    pub async fn compact_availability(
        &self,
        viewer: Option<UserId>,
        event: EventId,
    ) -> Result<Arc<CompactAvailability>, AvailabilityError> {
        let record = self.visible_event(viewer, event).await?;
        let now = Instant::now();
        let fresh = Duration::from_millis(FRESH_MILLIS);
        let stale_max = Duration::from_millis(STALE_MAX_MILLIS);
        let known = {
            let mut events = self.availability_cache.events.lock().expect("availability cache poisoned");
            match events.get_mut(&event) {
                Some(entry) => {
                    entry.last_asked = now;
                    match &entry.current {
                        Some((snapshot, at)) if now.duration_since(*at) < fresh => return Ok(snapshot.clone()),
                        Some((snapshot, at)) if now.duration_since(*at) < stale_max => {
                            if !entry.refreshing {
                                entry.refreshing = true;
                                let this = self.clone();
                                tokio::spawn(async move {
                                    if let Err(e) = this.refresh_availability(event).await {
                                        tracing::warn!(%event, error = %e, "refreshing availability failed");
                                    }
                                });
                            }
                            return Ok(snapshot.clone());
                        }
                        _ => true,
                    }
                }
                None => false,
            }
        };
        if !known {
            let _loading = self.availability_cache.loading.lock().await;
            let ready = {
                let events = self.availability_cache.events.lock().expect("availability cache poisoned");
                events.get(&event).and_then(|e| e.current.as_ref().map(|(snapshot, _)| snapshot.clone()))
            };
            if let Some(snapshot) = ready {
                // Another request read it while this one waited.
                return Ok(snapshot);
            }
            let order = self.store.seat_order(record.venue).await?;
            let position = order.iter().enumerate().map(|(i, s)| (*s, i as u32)).collect();
            let index = Arc::new(SeatIndex { count: order.len(), position });
            let mut events = self.availability_cache.events.lock().expect("availability cache poisoned");
            if events.len() >= EVENTS_CACHED_MAX
                && let Some(oldest) = events.iter().min_by_key(|(_, e)| e.last_asked).map(|(id, _)| *id)
            {
                events.remove(&oldest);
            }
            events.entry(event).or_insert(Entry {
                venue: record.venue,
                index,
                current: None,
                refreshing: false,
                last_asked: now,
            });
        }
        Ok(self.refresh_availability(event).await?)
    }

    /// Reads the event's claimed seats and packs a new snapshot.
    async fn refresh_availability(&self, event: EventId) -> Result<Arc<CompactAvailability>, StoreError> {
        let (venue, index) = {
            let events = self.availability_cache.events.lock().expect("availability cache poisoned");
            let entry = events.get(&event).ok_or_else(|| StoreError::Corrupt("availability entry vanished".into()))?;
            (entry.venue, entry.index.clone())
        };
        let as_of = self.now();
        let read = self.store.claimed_seats(event, venue, as_of).await;
        let mut events = self.availability_cache.events.lock().expect("availability cache poisoned");
        let (claimed, ga) = match read {
            Ok(r) => r,
            Err(e) => {
                if let Some(entry) = events.get_mut(&event) {
                    entry.refreshing = false;
                }
                return Err(e);
            }
        };
        let mut packed = all_available(index.count);
        let (mut held, mut sold) = (0u32, 0u32);
        for (seat, status) in claimed {
            // A seat not in the index belongs to another venue: not this map's.
            let Some(&i) = index.position.get(&seat) else { continue };
            match status {
                SeatStatus::Held => {
                    set(&mut packed, i as usize, HELD);
                    held += 1;
                }
                SeatStatus::Sold => {
                    set(&mut packed, i as usize, SOLD);
                    sold += 1;
                }
                SeatStatus::Available => {}
            }
        }
        let seat_count = index.count as u32;
        let mut digest = Sha256::new();
        digest.update(&packed);
        for (area, _, remaining) in &ga {
            digest.update(area.as_uuid().as_bytes());
            digest.update(remaining.to_be_bytes());
        }
        let version = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.finalize()[..12]);
        let snapshot = Arc::new(CompactAvailability {
            version,
            event,
            seat_count,
            statuses: base64::engine::general_purpose::STANDARD.encode(&packed),
            available: seat_count - held - sold,
            held,
            sold,
            ga,
            as_of,
        });
        if let Some(entry) = events.get_mut(&event) {
            entry.current = Some((snapshot.clone(), Instant::now()));
            entry.refreshing = false;
        }
        Ok(snapshot)
    }
}
