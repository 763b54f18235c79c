//! Live availability: who is watching which event's seat map, and telling
//! them, within a moment, what changed.
//!
//! Changes are published after the transaction that made them commits. With
//! PostgreSQL they travel through `pg_notify`, so every node's watchers hear
//! of every node's sales; with SQLite (one process) they are delivered
//! directly. Delivery is best effort: a watcher that falls behind is told to
//! re-read availability rather than being given a partial picture.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::ids::{EventId, GaAreaId, SeatId};
use serde::{Deserialize, Serialize};
use store::SeatStatus;
use tokio::sync::broadcast;

use crate::Ticketing;

/// Changes buffered per event for a slow watcher before it must resync.
const WATCHER_BACKLOG_MAX: usize = 256;
/// Seats per notification: keeps a PostgreSQL payload under its 8 kB limit.
const SEATS_PER_MESSAGE_MAX: usize = 100;

/// What changed for one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailabilityChange {
    pub event: EventId,
    pub seats: Vec<SeatChange>,
    pub ga: Vec<GaChange>,
    /// Tickets admitted so far, when a check-in caused the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_in: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatChange {
    pub id: SeatId,
    /// available, held or sold.
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GaChange {
    pub area_id: GaAreaId,
    pub remaining: u32,
}

pub fn status_name(s: SeatStatus) -> &'static str {
    match s {
        SeatStatus::Available => "available",
        SeatStatus::Held => "held",
        SeatStatus::Sold => "sold",
    }
}

/// The status a [`status_name`] names.
pub fn status_of(name: &str) -> Option<SeatStatus> {
    match name {
        "available" => Some(SeatStatus::Available),
        "held" => Some(SeatStatus::Held),
        "sold" => Some(SeatStatus::Sold),
        _ => None,
    }
}

/// The watchers of this process, by event.
#[derive(Default)]
pub struct LiveHub {
    // std Mutex: held only to look up or insert a sender, never across await.
    senders: Mutex<HashMap<EventId, broadcast::Sender<Arc<AvailabilityChange>>>>,
}

impl LiveHub {
    pub fn subscribe(&self, event: EventId) -> broadcast::Receiver<Arc<AvailabilityChange>> {
        let mut senders = self.senders.lock().expect("live hub poisoned");
        senders.entry(event).or_insert_with(|| broadcast::channel(WATCHER_BACKLOG_MAX).0).subscribe()
    }

    fn deliver(&self, change: AvailabilityChange) {
        let mut senders = self.senders.lock().expect("live hub poisoned");
        let event = change.event;
        if let Some(tx) = senders.get(&event)
            && tx.send(Arc::new(change)).is_err()
        {
            // Nobody watches any more.
            senders.remove(&event);
        }
    }
}

impl Ticketing {
    pub fn watch(&self, event: EventId) -> broadcast::Receiver<Arc<AvailabilityChange>> {
        self.live.subscribe(event)
    }

    /// Tells every watcher of the event, on every node, what changed. Never
    /// fails the caller: the change itself is committed already.
    pub(crate) async fn publish(&self, event: EventId, seats: &[SeatId], status: SeatStatus, ga_areas: &[GaAreaId]) {
        let ga = match self.store.ga_remaining(event, ga_areas, self.now()).await {
            Ok(ga) => ga.into_iter().map(|(area_id, remaining)| GaChange { area_id, remaining }).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read GA availability for a live update");
                Vec::new()
            }
        };
        let mut chunks: Vec<&[SeatId]> = seats.chunks(SEATS_PER_MESSAGE_MAX).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for (i, chunk) in chunks.into_iter().enumerate() {
            let change = AvailabilityChange {
                event,
                seats: chunk.iter().map(|id| SeatChange { id: *id, status: status_name(status).to_owned() }).collect(),
                ga: if i == 0 { ga.clone() } else { Vec::new() },
                checked_in: None,
            };
            if change.seats.is_empty() && change.ga.is_empty() {
                continue;
            }
            self.send(change).await;
        }
    }

    /// Tells watchers how many tickets have been admitted.
    pub(crate) async fn publish_checkins(&self, event: EventId) {
        match self.store.checked_in_count(event).await {
            Ok(n) => {
                self.send(AvailabilityChange { event, seats: Vec::new(), ga: Vec::new(), checked_in: Some(n) }).await
            }
            Err(e) => tracing::warn!(error = %e, "cannot count check-ins for a live update"),
        }
    }

    async fn send(&self, change: AvailabilityChange) {
        if self.store.is_shared() {
            let payload = serde_json::to_string(&change).expect("a change serialises");
            if let Err(e) = self.store.notify(&payload).await {
                tracing::warn!(error = %e, "cannot publish a live update");
            }
        } else {
            self.hear(change);
        }
    }

    /// A change this node heard of: into its availability snapshots and to
    /// its watchers.
    fn hear(&self, change: AvailabilityChange) {
        self.hear_availability(&change);
        self.live.deliver(change);
    }

    /// Forwards what other nodes (and this one) publish to this node's
    /// watchers. Runs until the process ends; PostgreSQL only.
    pub async fn relay_live_updates(&self) -> Result<(), store::StoreError> {
        let mut listener = self.store.listen().await?;
        loop {
            match listener.recv().await {
                Ok(payload) => match serde_json::from_str::<AvailabilityChange>(&payload) {
                    Ok(change) => self.hear(change),
                    Err(e) => tracing::warn!(error = %e, "ignoring a malformed live update"),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "live update listener failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Expires holds whose time is up and tells watchers their seats are
    /// free. Correctness never depends on this; live maps do.
    pub async fn sweep_expired_holds(&self) -> Result<usize, store::StoreError> {
        /// Holds expired per sweep: bounds one sweep's work.
        const HOLDS_PER_SWEEP_MAX: u32 = 500;
        let expired = self.store.expire_holds(self.now(), HOLDS_PER_SWEEP_MAX).await?;
        for hold in &expired {
            self.publish(hold.event, &hold.seats, SeatStatus::Available, &hold.ga_areas).await;
        }
        Ok(expired.len())
    }
}
