//! Placing and releasing holds; availability.

use domain::hold::{HoldError, HoldLine, HoldRequest, check_hold_size, price_hold};
use domain::ids::{EventId, GaAreaId, HoldId, SeatId, UserId};
use store::{Availability, HoldConflict, HoldRecord, NewHold, PlaceHoldError, ReleaseHoldError, StoreError};

use crate::waiting_room::AdmissionRefused;
use crate::{Denied, Ticketing, from_visible};

#[derive(Debug, thiserror::Error)]
pub enum HoldFailure {
    #[error(transparent)]
    Rejected(#[from] HoldError),
    #[error(transparent)]
    Unavailable(HoldConflict),
    #[error(transparent)]
    Refused(#[from] crate::waiting_room::AdmissionRefused),
    #[error("at most {max} tickets per account for this event; this account already holds or owns {already}")]
    AccountLimit { max: u32, already: u32 },
    /// Best available found too few free seats.
    #[error("{0}")]
    NotEnoughSeats(String),
    /// Best available was asked for something no map can give: a count out
    /// of range, or a price zone the venue does not have.
    #[error("{0}")]
    BadBestAvailable(String),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseFailure {
    #[error("the hold has become an order and can no longer be released")]
    Ordered,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum AvailabilityError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(HoldFailure, AvailabilityError);

/// The seats and GA areas a hold's lines cover.
pub(crate) fn inventory_of(lines: &[HoldLine]) -> (Vec<SeatId>, Vec<GaAreaId>) {
    let mut seats = Vec::new();
    let mut areas = Vec::new();
    for line in lines {
        match line {
            HoldLine::Seat { seat, .. } => seats.push(*seat),
            HoldLine::Ga { area, .. } if !areas.contains(area) => areas.push(*area),
            HoldLine::Ga { .. } => {}
            HoldLine::Resale { .. } => {}
        }
    }
    (seats, areas)
}

impl Ticketing {
    /// Holds seats and GA places for `user`, all or nothing, at today's
    /// prices. While the event's waiting room is active, `admission` must be
    /// the token the buyer was given; the hold spends it.
    pub async fn place_hold(
        &self,
        user: UserId,
        event: EventId,
        request: HoldRequest,
        admission: Option<&str>,
    ) -> Result<HoldRecord, HoldFailure> {
        check_hold_size(&request)?;
        let record = self.visible_event(Some(user), event).await?;
        let guards = self.admission_guards(user, event, admission).await?;
        let now = self.now();
        let seats: Vec<_> = request.seats.iter().map(|s| s.seat).collect();
        // Most holds that fail during an on-sale ask for a seat someone else
        // already has. Finding that on a read connection, before anything
        // else, keeps the one write connection for holds that can succeed.
        // The write transaction still decides: a seat taken after this
        // read is refused there.
        let checked = if seats.is_empty() {
            store::SeatCheck::default()
        } else {
            self.store.seat_check(event, record.venue, &seats, now).await?
        };
        if !checked.taken.is_empty() {
            metrics::counter!("holds_rejected_total").increment(1);
            self.after_hold_attempt(event, user);
            return Err(HoldFailure::Unavailable(HoldConflict { seats: checked.taken, ga_areas: Vec::new() }));
        }
        let status = record.status.effective(record.ends_at, now);
        let ticket_types = self.store.ticket_types(event).await?;
        let priced = price_hold(status, &ticket_types, &checked.zones, &request, now)?;
        // The fee is locked in with the hold: the buyer pays what was shown.
        let policy = self.fee_policy(record.organization).await?;
        let priced = priced.with_fee(&policy).map_err(|e| match e {
            domain::fees::FeeError::Money(m) => HoldError::Money(m),
            // A stored policy was checked when it was set.
            _ => HoldError::Money(domain::money::MoneyError::Overflow),
        })?;
        let hold = HoldId::new();
        let expires_at = now + self.settings.hold_ttl;
        let placed =
            self.store.place_hold(&NewHold { id: hold, event, user, priced: &priced, guards, now, expires_at }).await;
        self.after_hold_attempt(event, user);
        match placed {
            Ok(()) => {}
            Err(e) => {
                if matches!(e, PlaceHoldError::Conflict(_)) {
                    metrics::counter!("holds_rejected_total").increment(1);
                }
                return Err(refusal(e));
            }
        }
        metrics::counter!("holds_placed_total").increment(1);
        let (seats, areas) = inventory_of(&priced.lines);
        self.publish(event, &seats, store::SeatStatus::Held, &areas).await;
        Ok(HoldRecord {
            id: hold,
            event,
            user,
            status: store::HoldStatus::Active,
            total: priced.total,
            fee: priced.fee,
            created_at: now,
            expires_at,
            lines: priced.lines,
        })
    }

    /// After a hold attempt: the velocity rules, on a sample of attempts.
    pub(crate) fn after_hold_attempt(&self, event: EventId, user: UserId) {
        if self.velocity_sample(event, user) {
            self.run_velocity_rules(event, user);
        }
    }

    /// Runs the velocity rules for `user` on `event` off the request's path:
    /// a slow check must not slow a sale, and a failed one only means a flag
    /// comes later.
    pub(crate) fn run_velocity_rules(&self, event: EventId, user: UserId) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.check_velocity(event, user).await {
                tracing::warn!(error = %e, "velocity check failed");
            }
        });
    }

    /// The user's own hold.
    pub async fn hold(&self, user: UserId, hold: HoldId) -> Result<HoldRecord, AvailabilityError> {
        match self.store.hold(hold).await? {
            Some(h) if h.user == user => Ok(h),
            _ => Err(Denied::NotFound("hold").into()),
        }
    }

    /// The user's holds on `event` that still keep their places.
    pub async fn live_holds(&self, user: UserId, event: EventId) -> Result<Vec<HoldRecord>, StoreError> {
        self.store.live_holds_of(user, event, self.now()).await
    }

    /// Releases `user`'s other live holds on `event` once they hold `kept`:
    /// a buyer who chose places again wants the new ones instead, not both
    /// (the web's one cart per event). A hold whose payment has started (any
    /// payment attempt, decided in the releasing transaction) is left alone:
    /// money may be on its way for it. A checkout of a hold released here
    /// records no attempt and charges nothing (see
    /// `store::payments::live_holds`). Returns those released.
    pub async fn release_earlier_holds(
        &self,
        user: UserId,
        event: EventId,
        kept: HoldId,
    ) -> Result<Vec<HoldRecord>, StoreError> {
        let mut released = Vec::new();
        for hold in self.live_holds(user, event).await? {
            if hold.id == kept {
                continue;
            }
            match self.store.release_unpaid_hold(hold.id, user).await {
                Ok(freed) => {
                    metrics::counter!("holds_released_total").increment(1);
                    let (_, areas) = inventory_of(&hold.lines);
                    self.publish(hold.event, &freed, store::SeatStatus::Available, &areas).await;
                    released.push(hold);
                }
                // Being paid for, ordered or gone meanwhile: it stays as it is.
                Err(ReleaseHoldError::Paying | ReleaseHoldError::Ordered | ReleaseHoldError::NotFound) => {}
                Err(ReleaseHoldError::Store(e)) => return Err(e),
            }
        }
        Ok(released)
    }

    pub async fn release_hold(&self, user: UserId, hold: HoldId) -> Result<(), ReleaseFailure> {
        let record = self.store.hold(hold).await?.filter(|h| h.user == user).ok_or(Denied::NotFound("hold"))?;
        match self.store.release_hold(hold, user).await {
            Ok(freed) => {
                metrics::counter!("holds_released_total").increment(1);
                let (_, areas) = inventory_of(&record.lines);
                self.publish(record.event, &freed, store::SeatStatus::Available, &areas).await;
                Ok(())
            }
            Err(ReleaseHoldError::NotFound) => Err(Denied::NotFound("hold").into()),
            // Only an unpaid-only release answers Paying; either way the hold
            // is the buyer's to finish.
            Err(ReleaseHoldError::Ordered | ReleaseHoldError::Paying) => Err(ReleaseFailure::Ordered),
            Err(ReleaseHoldError::Store(e)) => Err(e.into()),
        }
    }

    pub async fn availability(
        &self,
        viewer: Option<UserId>,
        event: EventId,
    ) -> Result<Availability, AvailabilityError> {
        let record = self.visible_event(viewer, event).await?;
        Ok(self.store.availability(event, record.venue, self.now()).await?)
    }
}

/// What the store's refusal of a hold means to the buyer.
pub(crate) fn refusal(e: PlaceHoldError) -> HoldFailure {
    match e {
        PlaceHoldError::Conflict(c) => HoldFailure::Unavailable(c),
        PlaceHoldError::AdmissionNotSpendable => AdmissionRefused::Spent.into(),
        PlaceHoldError::AccountLimit { max, already } => HoldFailure::AccountLimit { max, already },
        PlaceHoldError::Store(e) => e.into(),
    }
}
