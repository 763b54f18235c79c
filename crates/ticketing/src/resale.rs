//! The resale marketplace: holders list tickets within the organizer's price
//! cap; buyers buy them through the normal hold and order path; the seller's
//! share waits in escrow until the event has taken place (and goes back to
//! the buyer if it is cancelled); the organizer takes a royalty.

use domain::checkin::TicketStatus;
use domain::event::EventStatus;
use domain::hold::HoldLine;
use domain::ids::{EventId, HoldId, ListingId, TicketId, UserId};
use domain::money::Money;
use domain::resale::ResaleError;
use store::{EscrowRecord, HoldRecord, ListError, ListingRecord, ResaleHoldError, StoreError};

use crate::{Denied, Ticketing, from_visible};

#[derive(Debug, thiserror::Error)]
pub enum ResaleFailure {
    #[error(transparent)]
    Refused(#[from] ResaleError),
    #[error("this ticket has been used at the gate or is no longer valid")]
    NotListable,
    #[error("the event is {0}; its tickets cannot be resold")]
    EventOver(EventStatus),
    #[error("this ticket is listed already")]
    AlreadyListed,
    #[error("this ticket is offered to someone as a transfer: it can be listed once the offer is accepted or lapsed")]
    TransferPending,
    #[error("this listing has been sold, withdrawn, or is being bought by someone else")]
    Unavailable,
    #[error("this is your own listing: withdraw it to keep the ticket")]
    OwnListing,
    /// The sale's waiting room or ticket limit refused it, as it would a
    /// hold of seats.
    #[error(transparent)]
    Guarded(crate::holds::HoldFailure),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(ResaleFailure);

impl Ticketing {
    /// Lists the holder's ticket for resale at `price`.
    pub async fn list_ticket(
        &self,
        user: UserId,
        ticket: TicketId,
        price: Money,
    ) -> Result<ListingRecord, ResaleFailure> {
        let record = match self.store.ticket(ticket).await? {
            Some(t) if t.holder == user => t,
            _ => return Err(Denied::NotFound("ticket").into()),
        };
        if record.status != TicketStatus::Valid || record.checked_in_at.is_some() {
            return Err(ResaleFailure::NotListable);
        }
        let event = self.store.event(record.event).await?.ok_or(Denied::NotFound("event"))?;
        let now = self.now();
        let status = event.status.effective(event.ends_at, now);
        if status != EventStatus::Published {
            return Err(ResaleFailure::EventOver(status));
        }
        // The cap follows the face value the ticket type sells at.
        let face = self
            .store
            .ticket_types(record.event)
            .await?
            .into_iter()
            .find(|t| t.id == record.ticket_type)
            .map(|t| t.price)
            .ok_or_else(|| StoreError::Corrupt(format!("ticket {ticket} has no ticket type")))?;
        let split = event.resale_policy.split(face, price)?;
        let listing = ListingRecord {
            id: ListingId::new(),
            ticket,
            event: record.event,
            seller: user,
            price: split.price,
            royalty: split.royalty,
            escrow: split.escrow,
            status: "open".into(),
            created_at: now,
            seat: record.seat_labels.clone(),
            ga_area_name: record.ga_area_name.clone(),
            ticket_type_name: record.ticket_type_name.clone(),
        };
        match self.store.create_listing(&listing).await {
            Ok(()) => Ok(listing),
            Err(ListError::AlreadyListed) => Err(ResaleFailure::AlreadyListed),
            Err(ListError::TransferPending) => Err(ResaleFailure::TransferPending),
            // The ticket was passed on or used between the check above and
            // the listing: what the check would now say.
            Err(ListError::TicketChanged) => Err(ResaleFailure::NotListable),
            Err(ListError::Store(e)) => Err(e.into()),
        }
    }

    pub async fn withdraw_listing(&self, user: UserId, listing: ListingId) -> Result<(), ResaleFailure> {
        match self.store.listing(listing).await? {
            Some(l) if l.seller == user => {}
            _ => return Err(Denied::NotFound("listing").into()),
        }
        if self.store.withdraw_listing(listing, user, self.now()).await? {
            Ok(())
        } else {
            Err(ResaleFailure::Unavailable)
        }
    }

    /// The user's own tickets on the market.
    pub async fn my_listings(&self, user: UserId) -> Result<Vec<ListingRecord>, StoreError> {
        self.store.open_listings_of(user).await
    }

    /// What the sellers of a hold's resale tickets are told, written with the
    /// order that buys them: the ticket is gone, and what they are paid.
    pub(crate) async fn resale_sold_notices(
        &self,
        hold: &HoldRecord,
        event: &store::EventRecord,
    ) -> Result<Vec<store::NewNotice>, StoreError> {
        use crate::notifications::{MessageKind, Notice, To, event_data};
        let mut notices = Vec::new();
        for line in &hold.lines {
            let HoldLine::Resale { listing, .. } = line else { continue };
            let Some(sold) = self.store.listing(*listing).await? else { continue };
            let place = match (&sold.seat, &sold.ga_area_name) {
                (Some((section, row, seat)), _) => format!("{section}, row {row}, seat {seat}"),
                (None, Some(area)) => area.clone(),
                (None, None) => sold.ticket_type_name.clone(),
            };
            notices.push(self.notice(Notice {
                kind: MessageKind::ResaleSold,
                to: To::Account(self.recipient(sold.seller).await?),
                dedupe_key: format!("resold:{listing}"),
                link: "/tickets".into(),
                data: serde_json::json!({
                    "event": event_data(event),
                    "resale": {
                        "place": place,
                        "price": sold.price.to_string(),
                        "seller_receives": sold.escrow.to_string(),
                    },
                }),
            }));
        }
        Ok(notices)
    }

    /// Open listings of an event anyone can see.
    pub async fn event_listings(
        &self,
        viewer: Option<UserId>,
        event: EventId,
    ) -> Result<Vec<ListingRecord>, ResaleFailure> {
        self.visible_event(viewer, event).await?;
        Ok(self.store.open_listings(event).await?)
    }

    /// Holds a listed ticket for the buyer; pay for it with `place_order`.
    pub async fn hold_listing(
        &self,
        user: UserId,
        listing: ListingId,
        admission: Option<&str>,
    ) -> Result<HoldRecord, ResaleFailure> {
        let l = self.store.listing(listing).await?.ok_or(Denied::NotFound("listing"))?;
        if l.seller == user {
            return Err(ResaleFailure::OwnListing);
        }
        let guards = self.admission_guards(user, l.event, admission).await.map_err(ResaleFailure::Guarded)?;
        let ticket = self.store.ticket(l.ticket).await?.ok_or_else(|| StoreError::Corrupt("listed ticket".into()))?;
        let line = HoldLine::Resale {
            listing,
            replaces: l.ticket,
            seat: ticket.seat,
            area: ticket.ga_area,
            ticket_type: ticket.ticket_type,
            unit_price: l.price,
        };
        let hold = HoldId::new();
        let now = self.now();
        let expires_at = now + self.settings.hold_ttl;
        match self.store.place_resale_hold(hold, user, &line, &guards, now, expires_at).await {
            Ok(()) => {}
            Err(ResaleHoldError::Unavailable) => return Err(ResaleFailure::Unavailable),
            Err(ResaleHoldError::Guarded(e)) => return Err(ResaleFailure::Guarded(crate::holds::refusal(e))),
            Err(ResaleHoldError::Store(e)) => return Err(e.into()),
        }
        Ok(HoldRecord {
            id: hold,
            event: l.event,
            user,
            status: store::HoldStatus::Active,
            total: l.price,
            // Resales carry the organizer's royalty, not the platform fee.
            fee: domain::money::Money::zero(l.price.currency()),
            created_at: now,
            expires_at,
            lines: vec![line],
        })
    }

    pub async fn my_escrow(&self, user: UserId) -> Result<Vec<EscrowRecord>, StoreError> {
        self.store.escrow_of(user).await
    }

    /// Pays out escrow of events that have ended. Runs with housekeeping.
    pub async fn release_due_escrow(&self) -> Result<u64, StoreError> {
        self.store.release_due_escrow(self.now()).await
    }
}
