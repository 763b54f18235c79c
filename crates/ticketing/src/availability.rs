//! Compact availability for big events, served from memory.
//!
//! During an on-sale, every buyer's seat map asks for availability, and a
//! 100,000-seat event read from the database and rendered as JSON per
//! request would cost tens of milliseconds and megabytes each time. Here each
//! node keeps one packed status vector per event (two bits a seat, see
//! [`domain::availability`]) and refreshes it from the database at most every
//! [`FRESH_MILLIS`]: a request finds it ready; a request that finds it older
//! starts one refresh in the background and is answered with what is there,
//! as long as that is younger than [`STALE_MAX_MILLIS`].
//!
//! Between reads, the live changes this node hears (its own holds and sales,
//! and on PostgreSQL every node's) are applied to the vector as they come,
//! and a new snapshot is packed at most every [`CHANGES_FOLDED_MILLIS`]. In
//! an on-sale, a seat map that lags by a quarter second offers hundreds of
//! seats already taken, and every buyer who picks one gets a 409 and looks
//! again. A database read that began before a change was heard gets that
//! change applied again, so a read does not undo it.
//!
//! Live changes reach open seat maps through the event stream anyway; this is
//! the snapshot they start from. Holds and orders never read it: the database
//! decides who gets a seat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use domain::Timestamp;
use domain::availability::{AVAILABLE, HELD, SOLD, all_available, get, set};
use domain::ids::{EventId, GaAreaId, SeatId, UserId, VenueId};
use sha2::{Digest, Sha256};
use store::{SeatStatus, StoreError};

use crate::Ticketing;
use crate::holds::AvailabilityError;

/// How long a database read is used (with the changes heard since) before
/// the database is read again, unless `Settings::availability_reread` says
/// otherwise.
pub const FRESH_MILLIS: u64 = 250;
/// The oldest snapshot served while a newer one is being read (at least
/// twice the re-read interval).
pub const STALE_MAX_MILLIS: u64 = 2_000;
/// Events kept in memory per node; the least recently asked for go first.
pub const EVENTS_CACHED_MAX: usize = 256;
/// How often changes heard since the last snapshot are packed into a new one.
pub const CHANGES_FOLDED_MILLIS: u64 = 20;
/// Changes kept per event between database reads; past it, the next request
/// reads the database again.
const HEARD_MAX: usize = 65_536;

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
    /// The snapshot served, and when the database was last read for it.
    current: Option<(Arc<CompactAvailability>, Instant)>,
    statuses: Statuses,
    refreshing: bool,
    last_asked: Instant,
}

/// A change this node heard of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Heard {
    /// A seat (its position in the seat map) and its new two-bit code.
    Seat(u32, u8),
    /// A GA area and its places remaining.
    Ga(GaAreaId, u32),
}

/// One event's statuses as this node knows them: the last database read with
/// the changes heard since applied.
#[derive(Debug, Default)]
struct Statuses {
    packed: Vec<u8>,
    seat_count: u32,
    /// Seats per two-bit code: available, held, sold.
    counts: [u32; 3],
    /// (area, capacity, remaining)
    ga: Vec<(GaAreaId, u32, u32)>,
    /// Changes heard since the last database read began, oldest first.
    heard: Vec<(Instant, Heard)>,
    /// The last packed snapshot, and when it was packed.
    packed_at: Option<Instant>,
    /// Whether anything changed since then.
    changed: bool,
}

impl Statuses {
    fn apply(&mut self, change: Heard) {
        match change {
            Heard::Seat(i, code) => {
                let i = i as usize;
                if i >= self.seat_count as usize {
                    return;
                }
                let old = get(&self.packed, i);
                if old != code {
                    set(&mut self.packed, i, code);
                    self.counts[usize::from(old)] -= 1;
                    self.counts[usize::from(code)] += 1;
                    self.changed = true;
                }
            }
            Heard::Ga(area, remaining) => {
                if let Some(ga) = self.ga.iter_mut().find(|(a, _, _)| *a == area)
                    && ga.2 != remaining
                {
                    ga.2 = remaining;
                    self.changed = true;
                }
            }
        }
    }

    /// A change heard at `at`. `false` when too many are kept: the statuses
    /// must be read again.
    fn hear(&mut self, at: Instant, change: Heard) -> bool {
        if self.heard.len() >= HEARD_MAX {
            return false;
        }
        self.heard.push((at, change));
        self.apply(change);
        true
    }

    /// A database read that began at `began`: the changes heard since then
    /// are applied to it again (it may not have seen them).
    fn install(&mut self, packed: Vec<u8>, seat_count: u32, ga: Vec<(GaAreaId, u32, u32)>, began: Instant) {
        let mut counts = [0u32; 3];
        for i in 0..seat_count as usize {
            counts[usize::from(get(&packed, i))] += 1;
        }
        self.packed = packed;
        self.seat_count = seat_count;
        self.counts = counts;
        self.ga = ga;
        self.heard.retain(|(at, _)| *at >= began);
        let heard = std::mem::take(&mut self.heard);
        for (_, change) in &heard {
            self.apply(*change);
        }
        self.heard = heard;
        self.changed = true;
    }

    /// A snapshot of what is known now.
    fn snapshot(&mut self, event: EventId, as_of: Timestamp, now: Instant) -> Arc<CompactAvailability> {
        self.changed = false;
        self.packed_at = Some(now);
        let mut digest = Sha256::new();
        digest.update(&self.packed);
        for (area, _, remaining) in &self.ga {
            digest.update(area.as_uuid().as_bytes());
            digest.update(remaining.to_be_bytes());
        }
        let version = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.finalize()[..12]);
        Arc::new(CompactAvailability {
            version,
            event,
            seat_count: self.seat_count,
            statuses: base64::engine::general_purpose::STANDARD.encode(&self.packed),
            available: self.counts[usize::from(AVAILABLE)],
            held: self.counts[usize::from(HELD)],
            sold: self.counts[usize::from(SOLD)],
            ga: self.ga.clone(),
            as_of,
        })
    }

    /// Whether changes heard since the last snapshot are due to be packed.
    fn due(&self, now: Instant) -> bool {
        self.changed
            && self.packed_at.is_none_or(|at| now.duration_since(at) >= Duration::from_millis(CHANGES_FOLDED_MILLIS))
    }
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
        let (fresh, stale_max) = self.availability_windows();
        let known = {
            let mut events = self.availability_cache.events.lock().expect("availability cache poisoned");
            match events.get_mut(&event) {
                Some(entry) => {
                    entry.last_asked = now;
                    let read_at = entry.current.as_ref().map(|(_, read_at)| *read_at);
                    match (read_at, &entry.current) {
                        (Some(read_at), Some((served, _))) if now.duration_since(read_at) < stale_max => {
                            let mut served = served.clone();
                            if now.duration_since(read_at) >= fresh && !entry.refreshing {
                                entry.refreshing = true;
                                let this = self.clone();
                                tokio::spawn(async move {
                                    if let Err(e) = this.refresh_availability(event).await {
                                        tracing::warn!(%event, error = %e, "refreshing availability failed");
                                    }
                                });
                            }
                            if entry.statuses.due(now) {
                                served = entry.statuses.snapshot(event, self.now(), now);
                                entry.current = Some((served.clone(), read_at));
                            }
                            return Ok(served);
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
                statuses: Statuses::default(),
                refreshing: false,
                last_asked: now,
            });
        }
        Ok(self.refresh_availability(event).await?)
    }

    /// How long a database read is fresh, and the oldest one served.
    fn availability_windows(&self) -> (Duration, Duration) {
        let fresh = self.settings.availability_reread;
        (fresh, Duration::from_millis(STALE_MAX_MILLIS).max(2 * fresh))
    }

    /// Reads the event's claimed seats and packs a new snapshot.
    async fn refresh_availability(&self, event: EventId) -> Result<Arc<CompactAvailability>, StoreError> {
        let (venue, index) = {
            let events = self.availability_cache.events.lock().expect("availability cache poisoned");
            let entry = events.get(&event).ok_or_else(|| StoreError::Corrupt("availability entry vanished".into()))?;
            (entry.venue, entry.index.clone())
        };
        let began = Instant::now();
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
        for (seat, status) in claimed {
            // A seat not in the index belongs to another venue: not this map's.
            let Some(&i) = index.position.get(&seat) else { continue };
            set(&mut packed, i as usize, code_of(status));
        }
        let mut statuses = events.get_mut(&event).map(|e| std::mem::take(&mut e.statuses)).unwrap_or_default();
        statuses.install(packed, index.count as u32, ga, began);
        let snapshot = statuses.snapshot(event, as_of, Instant::now());
        // Gone only if evicted meanwhile: this request is answered all the same.
        if let Some(entry) = events.get_mut(&event) {
            entry.statuses = statuses;
            entry.current = Some((snapshot.clone(), Instant::now()));
            entry.refreshing = false;
        }
        Ok(snapshot)
    }

    /// Applies a live change this node heard to the event's statuses, if
    /// they are kept here.
    pub(crate) fn hear_availability(&self, change: &crate::live::AvailabilityChange) {
        let now = Instant::now();
        let (_, stale_max) = self.availability_windows();
        let mut events = self.availability_cache.events.lock().expect("availability cache poisoned");
        let Some(entry) = events.get_mut(&change.event) else { return };
        // Nobody asked for a while: the next request reads the database.
        let kept = entry.refreshing
            || entry.current.as_ref().is_some_and(|(_, read_at)| now.duration_since(*read_at) < stale_max);
        if !kept {
            return;
        }
        let seats = change.seats.iter().filter_map(|s| {
            let i = *entry.index.position.get(&s.id)?;
            Some(Heard::Seat(i, code_of(crate::live::status_of(&s.status)?)))
        });
        let ga = change.ga.iter().map(|g| Heard::Ga(g.area_id, g.remaining));
        let mut all_kept = true;
        for heard in seats.chain(ga).collect::<Vec<_>>() {
            all_kept &= entry.statuses.hear(now, heard);
        }
        if !all_kept {
            entry.current = None;
            entry.statuses.heard.clear();
        }
    }
}

fn code_of(status: SeatStatus) -> u8 {
    match status {
        SeatStatus::Available => AVAILABLE,
        SeatStatus::Held => HELD,
        SeatStatus::Sold => SOLD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area() -> GaAreaId {
        GaAreaId::from_uuid(uuid::Uuid::from_u128(7))
    }

    /// Statuses read from the database at `began`: seat 1 held, the GA area
    /// at 10 of 10.
    fn read_at(began: Instant) -> Statuses {
        let mut packed = all_available(6);
        set(&mut packed, 1, HELD);
        let mut s = Statuses::default();
        s.install(packed, 6, vec![(area(), 10, 10)], began);
        s
    }

    fn snapshot(s: &mut Statuses, now: Instant) -> Arc<CompactAvailability> {
        s.snapshot(EventId::from_uuid(uuid::Uuid::from_u128(1)), chrono::Utc::now(), now)
    }

    fn code(snapshot: &CompactAvailability, i: usize) -> u8 {
        get(&base64::engine::general_purpose::STANDARD.decode(&snapshot.statuses).unwrap(), i)
    }

    #[test]
    fn heard_changes_are_in_the_next_snapshot_with_their_counts() {
        let t0 = Instant::now();
        let mut s = read_at(t0);
        let first = snapshot(&mut s, t0);
        assert_eq!((first.available, first.held, first.sold), (5, 1, 0));
        assert!(!s.due(t0 + Duration::from_secs(1)), "nothing heard, nothing to pack");

        assert!(s.hear(t0, Heard::Seat(4, HELD)));
        assert!(s.hear(t0, Heard::Seat(1, SOLD)));
        assert!(s.hear(t0, Heard::Ga(area(), 8)));
        assert!(!s.due(t0), "packed at most every CHANGES_FOLDED_MILLIS");
        let later = t0 + Duration::from_millis(CHANGES_FOLDED_MILLIS);
        assert!(s.due(later));
        let next = snapshot(&mut s, later);
        assert_eq!((next.available, next.held, next.sold), (4, 1, 1));
        assert_eq!((code(&next, 1), code(&next, 4)), (SOLD, HELD));
        assert_eq!(next.ga, vec![(area(), 10, 8)]);
        assert_ne!(next.version, first.version);

        // The same status again changes nothing, not even the version.
        s.hear(later, Heard::Seat(4, HELD));
        assert!(!s.due(later + Duration::from_secs(1)));
    }

    #[test]
    fn a_read_that_began_before_a_change_was_heard_does_not_undo_it() {
        let t0 = Instant::now();
        let mut s = read_at(t0);
        let began = t0 + Duration::from_millis(10);
        // Heard before the next read began: that read sees it.
        s.hear(t0 + Duration::from_millis(5), Heard::Seat(2, HELD));
        // Heard while it ran: it may not have.
        s.hear(t0 + Duration::from_millis(15), Heard::Seat(3, SOLD));
        let mut from_db = all_available(6);
        set(&mut from_db, 1, HELD);
        set(&mut from_db, 2, HELD);
        s.install(from_db, 6, vec![(area(), 10, 10)], began);
        let after = snapshot(&mut s, t0 + Duration::from_millis(20));
        assert_eq!((code(&after, 2), code(&after, 3)), (HELD, SOLD));
        assert_eq!((after.available, after.held, after.sold), (3, 2, 1));
        assert_eq!(s.heard.len(), 1, "only what the read may have missed is kept");
    }

    #[test]
    fn a_position_outside_the_map_is_ignored() {
        let t0 = Instant::now();
        let mut s = read_at(t0);
        snapshot(&mut s, t0);
        s.hear(t0, Heard::Seat(6, SOLD));
        assert!(!s.due(t0 + Duration::from_secs(1)));
    }
}
