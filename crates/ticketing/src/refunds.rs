//! Refunds and event cancellation.
//!
//! A refund is recorded first, in one transaction with its consequences:
//! the tickets it covers are revoked at once (check-in and the gates'
//! manifests refuse them; their seats may be sold again) and a job is
//! enqueued that moves the money. The job asks the gateway, then marks the
//! refund done and notifies the buyer in one transaction. A refund leaves
//! `pending` exactly once, so a retried job never pays back twice from this
//! side; the gateway call itself is keyed by the refund (see
//! [`refund_payment_key`]).
//!
//! Cancelling an event flips its status (no more holds or orders) and
//! enqueues one job in the same transaction; that job refunds every paid
//! order, revokes every ticket and tells every buyer. Each step is keyed
//! (`cancel:{order}`, one notice per buyer), so after a crash the job runs
//! again and picks up where it stopped.

use domain::ids::{EventId, OrderId, RefundId, TicketId, UserId};
use domain::money::Money;
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::{
    JobRecord, NewRefund, OrderRecord, RecordRefundError, RecordedRefund, RefundRecord, RefundStatus, RescheduleRecord,
    RevokeTickets, StoreError,
};

use crate::jobs::JobError;
use crate::notifications::{MessageKind, Notice, To, event_data};
use crate::payments::{Charge, PaymentError, RefundRequest as GatewayRefund};
use crate::{Denied, Ticketing, from_visible};

pub const REFUND_EXECUTE: &str = "refund.execute";
pub const EVENT_CANCEL: &str = "event.cancel";
/// Tickets one refund request may name.
pub const REFUND_TICKETS_MAX: usize = 100;
/// Longest Idempotency-Key of a refund request.
pub const REFUND_KEY_LEN_MAX: usize = 255;

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("the amount must be positive")]
    NonPositiveAmount,
    #[error("nothing was paid for these tickets, so there is no money to refund: cancel them instead")]
    FreeTickets,
    #[error("the amount's currency differs from the order's")]
    CurrencyMismatch,
    #[error("only {remaining} minor units are left to refund on this order")]
    ExceedsRemaining { remaining: i64 },
    #[error("this order has been refunded in full already")]
    NothingLeft,
    #[error("ticket {0} is not a valid ticket of this order: it was refunded, passed on or used already")]
    TicketNotRefundable(TicketId),
    #[error("a refund may name at most {REFUND_TICKETS_MAX} tickets")]
    TooManyTickets,
    #[error("Idempotency-Key must be 1 to {REFUND_KEY_LEN_MAX} visible ASCII characters")]
    BadKey,
    #[error("this Idempotency-Key was used for another refund of this order; use a new key for a new refund")]
    KeyReused,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(RefundError);

#[derive(Debug, thiserror::Error)]
pub enum CancelTicketsError {
    #[error("a cancellation may name at most {REFUND_TICKETS_MAX} tickets")]
    TooManyTickets,
    #[error(
        "ticket_ids is empty: name the tickets to cancel, or leave it out to cancel every free ticket of the order"
    )]
    NoneNamed,
    #[error("ticket {0} is not a ticket of this order")]
    NotInOrder(TicketId),
    #[error("this order has no free ticket left that may be cancelled")]
    NothingToCancel,
    #[error("ticket {0} has a price: refund it instead, which cancels it too")]
    HasPrice(TicketId),
    #[error("ticket {0} no longer admits or was used at the gate already: it was cancelled, refunded or checked in")]
    NotCancellable(TicketId),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(CancelTicketsError);

/// Why a ticket stopped admitting, as its holder is told.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Revoked {
    /// Its order was refunded by the organizer.
    Refunded,
    /// The event was cancelled and its order refunded.
    EventCancelled,
    /// It was free, and the organizer cancelled it.
    Cancelled,
}

/// Tries of a cancellation whose tickets change hands meanwhile.
const CANCEL_ATTEMPTS_MAX: u32 = 3;

/// How one try of a cancellation ended without cancelling.
enum TryCancel {
    HolderChanged,
    Failed(CancelTicketsError),
}

impl<E: Into<CancelTicketsError>> From<E> for TryCancel {
    fn from(e: E) -> Self {
        TryCancel::Failed(e.into())
    }
}

/// Free tickets an organizer cancelled.
#[derive(Clone, Debug)]
pub struct Cancelled {
    pub order: OrderId,
    pub tickets: Vec<TicketId>,
    /// No valid ticket is left: the order is closed.
    pub order_closed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MoveRefundError {
    #[error(
        "no refund is offered for this order: the event was not moved, the window has closed, or the order was made after the move"
    )]
    NotOffered,
    #[error("none of this order's tickets is yours and valid any more: nothing is left to refund")]
    NothingLeft,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(MoveRefundError);

/// Orders an organizer's list shows at once: enough for a support desk
/// searching by e-mail address; the rest is a page further.
pub const EVENT_ORDERS_PAGE: u32 = 50;
/// Longest search text for an event's orders.
pub const ORDER_SEARCH_LEN_MAX: usize = 254;

#[derive(Debug, thiserror::Error)]
pub enum EventOrdersError {
    #[error("search text must be at most {ORDER_SEARCH_LEN_MAX} characters")]
    SearchTooLong,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(EventOrdersError);

/// What an organizer asks for.
#[derive(Clone, Debug, Default)]
pub struct RefundRequest {
    /// Tickets to revoke. With no amount, their prices are refunded.
    pub tickets: Vec<TicketId>,
    /// Money to give back. With neither tickets nor amount: everything left,
    /// and every ticket of the order is revoked.
    pub amount: Option<Money>,
    /// A client's key: repeating the request returns the first refund.
    pub idempotency_key: Option<String>,
}

/// A recorded refund, and whether this answer replays an earlier request's.
#[derive(Clone, Debug)]
pub struct Refunded {
    pub refund: RefundRecord,
    pub replayed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct RefundJob {
    refund_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CancelJob {
    event_id: String,
    cancelled_by: String,
}

/// The gateway-side key of a refund: derived from the refund's id, so every
/// attempt for one refund is the same request to the gateway.
pub fn refund_payment_key(refund_id: &str) -> String {
    format!("refund:{refund_id}")
}

fn refund_job(refund_id: &str, now: domain::Timestamp) -> store::NewJob {
    let payload = serde_json::to_string(&RefundJob { refund_id: refund_id.to_owned() }).expect("serialises");
    crate::jobs::new_job(REFUND_EXECUTE, payload, now)
}

impl Ticketing {
    /// An event's orders for its organizer, newest first, a page at a time:
    /// those whose buyer's address or name contains `search` or whose id
    /// starts with it, placed before the order `before`.
    pub async fn event_orders(
        &self,
        user: UserId,
        event: EventId,
        search: Option<&str>,
        before: Option<OrderId>,
    ) -> Result<Vec<store::EventOrderRecord>, EventOrdersError> {
        let record = self.visible_event(Some(user), event).await?;
        self.require_role(user, record.organization, |r| r.can_manage_events(), "only owners and admins see orders")
            .await?;
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        if search.is_some_and(|s| s.chars().count() > ORDER_SEARCH_LEN_MAX) {
            return Err(EventOrdersError::SearchTooLong);
        }
        Ok(self.store.event_orders(event, search, before, EVENT_ORDERS_PAGE).await?)
    }

    /// One of an event's orders, with its tickets and refunds, for the
    /// event's organizer.
    pub async fn event_order(
        &self,
        user: UserId,
        event: EventId,
        order: OrderId,
    ) -> Result<store::OrderRecord, EventOrdersError> {
        let record = self.visible_event(Some(user), event).await?;
        self.require_role(user, record.organization, |r| r.can_manage_events(), "only owners and admins see orders")
            .await?;
        match self.store.order(order).await? {
            Some(o) if o.event == event => Ok(o),
            _ => Err(Denied::NotFound("order").into()),
        }
    }

    /// An organizer (owner or admin of the event's organization) refunds an
    /// order fully or in part.
    pub async fn refund_order(
        &self,
        user: UserId,
        order: OrderId,
        req: RefundRequest,
    ) -> Result<Refunded, RefundError> {
        let record = self
            .order_to_manage(
                user,
                order,
                "refunds are made by the event's organizer; ask them for one",
                "only owners and admins refund orders",
            )
            .await?;
        if req.tickets.len() > REFUND_TICKETS_MAX {
            return Err(RefundError::TooManyTickets);
        }
        if let Some(key) = &req.idempotency_key
            && (key.is_empty() || key.len() > REFUND_KEY_LEN_MAX || !key.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(RefundError::BadKey);
        }
        if req.amount.is_some_and(|a| a.amount_minor() <= 0) {
            return Err(RefundError::NonPositiveAmount);
        }
        let mut tickets = req.tickets.clone();
        tickets.sort_unstable();
        tickets.dedup();
        for t in &tickets {
            if !record.tickets.iter().any(|rt| rt.id == *t) {
                return Err(RefundError::TicketNotRefundable(*t));
            }
        }
        // Tickets alone: their prices.
        let amount = match (req.amount, tickets.is_empty()) {
            (Some(a), _) => Some(a),
            (None, true) => None,
            (None, false) => {
                let mut sum = Money::zero(record.total.currency());
                for rt in record.tickets.iter().filter(|rt| tickets.contains(&rt.id)) {
                    sum = sum.checked_add(rt.price).map_err(|_| RefundError::CurrencyMismatch)?;
                }
                // Free tickets: nothing to pay back (and `None` would mean "all").
                if sum.amount_minor() <= 0 {
                    return Err(RefundError::FreeTickets);
                }
                Some(sum)
            }
        };
        if record.total.amount_minor() == 0 {
            return Err(RefundError::FreeTickets);
        }
        let revoke = if tickets.is_empty() && req.amount.is_none() {
            RevokeTickets::AllValid
        } else {
            RevokeTickets::Listed(&tickets)
        };
        // Tickets refunded by their prices after an earlier refund by amount
        // may cost more than is left: then what is left comes back, and they
        // are revoked all the same (one retry, with the remainder).
        let by_ticket_prices = req.amount.is_none() && !tickets.is_empty();
        let mut amount = amount;
        let mut retried = false;
        loop {
            let key = req.idempotency_key.as_ref().map(|k| format!("request:{order}:{user}:{k}"));
            let recorded = self.record_asked_refund(order, amount, "organizer", key.as_deref(), user, revoke).await;
            return match recorded {
                Ok(refunded) => Ok(refunded),
                Err(RecordRefundError::ExceedsRemaining { remaining }) if by_ticket_prices && !retried => {
                    amount = Some(
                        Money::new(remaining, record.total.currency())
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    );
                    retried = true;
                    continue;
                }
                Err(RecordRefundError::Exists(r)) => {
                    // A key sent again with another refund is a client's mistake,
                    // not a replay: what it asks for would silently not happen.
                    let mut listed = r.tickets.clone();
                    listed.sort_unstable();
                    let other_amount = req.amount.is_some_and(|a| a != r.amount);
                    let other_tickets = !tickets.is_empty() && listed != tickets;
                    if other_amount || other_tickets {
                        return Err(RefundError::KeyReused);
                    }
                    Ok(Refunded { refund: *r, replayed: true })
                }
                Err(e) => Err(match e {
                    RecordRefundError::NothingLeft => RefundError::NothingLeft,
                    RecordRefundError::ExceedsRemaining { remaining } => RefundError::ExceedsRemaining { remaining },
                    RecordRefundError::CurrencyMismatch => RefundError::CurrencyMismatch,
                    RecordRefundError::TicketNotRefundable(t) => RefundError::TicketNotRefundable(t),
                    RecordRefundError::UnknownOrder => Denied::NotFound("order").into(),
                    RecordRefundError::Store(s) => s.into(),
                    RecordRefundError::Exists(_) => unreachable!("handled above"),
                }),
            };
        }
    }

    /// An order, for an owner or admin of its event's organization, who may
    /// refund or cancel it. Its buyer is told `to_buyer`, other members
    /// `to_member`; to anyone else it does not exist.
    async fn order_to_manage(
        &self,
        user: UserId,
        order: OrderId,
        to_buyer: &'static str,
        to_member: &'static str,
    ) -> Result<OrderRecord, crate::VisibleError> {
        let record = self.store.order(order).await?.ok_or(Denied::NotFound("order"))?;
        let event = self.store.event(record.event).await?.ok_or(Denied::NotFound("order"))?;
        match self.store.role_in(user, event.organization).await? {
            Some(role) if role.can_manage_events() => Ok(record),
            // The buyer sees the order, so it exists for them.
            None if record.user == user => Err(Denied::Forbidden(to_buyer).into()),
            None => Err(Denied::NotFound("order").into()),
            Some(_) => Err(Denied::Forbidden(to_member).into()),
        }
    }

    /// An organizer (owner or admin) cancels free tickets of an order: with
    /// nothing paid there is nothing to refund, but a ticket given away by
    /// mistake, or to someone who cannot come, must stop admitting and its
    /// place go back on sale. With no tickets named, every free ticket of
    /// the order still valid and unused. Each holder is told.
    pub async fn cancel_free_tickets(
        &self,
        user: UserId,
        order: OrderId,
        tickets: Option<Vec<TicketId>>,
    ) -> Result<Cancelled, CancelTicketsError> {
        let named = tickets.is_some();
        let mut tickets = tickets.unwrap_or_default();
        tickets.sort_unstable();
        tickets.dedup();
        if named && tickets.is_empty() {
            return Err(CancelTicketsError::NoneNamed);
        }
        if tickets.len() > REFUND_TICKETS_MAX {
            return Err(CancelTicketsError::TooManyTickets);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_cancel_free_tickets(user, order, named.then_some(tickets.as_slice())).await {
                // A ticket was passed on between the read and the write:
                // read again, so that its new holder is the one told.
                Err(TryCancel::HolderChanged) if attempt < CANCEL_ATTEMPTS_MAX => continue,
                Err(TryCancel::HolderChanged) => {
                    return Err(
                        StoreError::Corrupt("tickets kept changing hands during the cancellation".into()).into()
                    );
                }
                Err(TryCancel::Failed(e)) => return Err(e),
                Ok(done) => return Ok(done),
            }
        }
    }

    /// One try of [`Self::cancel_free_tickets`]; `named` is deduplicated.
    async fn try_cancel_free_tickets(
        &self,
        user: UserId,
        order: OrderId,
        named: Option<&[TicketId]>,
    ) -> Result<Cancelled, TryCancel> {
        let record = self
            .order_to_manage(
                user,
                order,
                "tickets are cancelled by the event's organizer; ask them",
                "only owners and admins cancel tickets",
            )
            .await
            .map_err(CancelTicketsError::from)?;
        for t in named.unwrap_or_default() {
            match record.tickets.iter().find(|rt| rt.id == *t) {
                None => return Err(CancelTicketsError::NotInOrder(*t).into()),
                Some(rt) if rt.price.amount_minor() > 0 => return Err(CancelTicketsError::HasPrice(*t).into()),
                Some(_) => {}
            }
        }
        // None named: those that may go now. The store checks each again
        // under the order's lock (a gate may let one in meanwhile).
        let going: Vec<&store::TicketRecord> = match named {
            Some(named) => record.tickets.iter().filter(|t| named.contains(&t.id)).collect(),
            None => record
                .tickets
                .iter()
                .filter(|t| {
                    t.status == domain::checkin::TicketStatus::Valid
                        && t.checked_in_at.is_none()
                        && t.price.amount_minor() == 0
                })
                .collect(),
        };
        if going.is_empty() {
            return Err(CancelTicketsError::NothingToCancel.into());
        }
        let event = self.store.event(record.event).await?.ok_or(CancelTicketsError::from(Denied::NotFound("order")))?;
        // One notice per holder, naming all of their tickets that go.
        let mut by_holder: std::collections::BTreeMap<UserId, Vec<&store::TicketRecord>> = Default::default();
        for t in &going {
            by_holder.entry(t.holder).or_default().push(t);
        }
        let mut notices = Vec::new();
        for held in by_holder.values() {
            notices.push(self.revoked_notice(held, &event, Revoked::Cancelled).await?);
        }
        let now = self.now();
        let revoke_entry = self.revoke_entries(now).await?;
        let tickets: Vec<(TicketId, UserId)> = going.iter().map(|t| (t.id, t.holder)).collect();
        let cancel =
            store::CancelFreeTickets { order, tickets: &tickets, revoke_entry: &revoke_entry, notices: &notices };
        let done = self.store.cancel_free_tickets(&cancel, now).await.map_err(|e| match e {
            store::CancelTicketsError::HolderChanged => TryCancel::HolderChanged,
            store::CancelTicketsError::UnknownOrder => CancelTicketsError::from(Denied::NotFound("order")).into(),
            store::CancelTicketsError::NotCancellable(t) => CancelTicketsError::NotCancellable(t).into(),
            store::CancelTicketsError::Store(s) => s.into(),
        })?;
        metrics::counter!("tickets_cancelled_total").increment(done.tickets.len() as u64);
        if !done.freed_seats.is_empty() || !done.freed_areas.is_empty() {
            self.publish(done.event, &done.freed_seats, store::SeatStatus::Available, &done.freed_areas).await;
        }
        Ok(Cancelled { order, tickets: done.tickets, order_closed: done.order_closed })
    }

    /// Records a refund someone asked for (an organizer, or a buyer after a
    /// move), with the job that pays it, and sets it off. Without a key of
    /// the asker's, the refund is keyed by its own id.
    async fn record_asked_refund(
        &self,
        order: OrderId,
        amount: Option<Money>,
        reason: &str,
        key: Option<&str>,
        user: UserId,
        tickets: RevokeTickets<'_>,
    ) -> Result<Refunded, RecordRefundError> {
        let now = self.now();
        let refund_id = RefundId::new().to_string();
        let key = key.map_or_else(|| format!("refund:{refund_id}"), str::to_owned);
        let revoke_entry = self.revoke_entries(now).await?;
        let refund = NewRefund {
            id: refund_id.clone(),
            order,
            amount,
            reason,
            idempotency_key: &key,
            requested_by: Some(user),
            tickets,
            job: refund_job(&refund_id, now),
            notices: &[],
            revoke_entry: &revoke_entry,
        };
        let recorded = self.store.record_refund(&refund, now).await?;
        self.after_refund_recorded(&recorded).await;
        Ok(Refunded { refund: recorded.refund, replayed: false })
    }

    /// The move of `order`'s event that lets its buyer refund themselves now:
    /// the latest move with a refund window still open, made after the order.
    pub async fn refund_offer(
        &self,
        user: UserId,
        order: &OrderRecord,
    ) -> Result<Option<RescheduleRecord>, StoreError> {
        // Free tickets have nothing to give back.
        if order.user != user || order.status != "paid" || order.total.amount_minor() == 0 {
            return Ok(None);
        }
        let now = self.now();
        let moves = self.store.reschedules_of(order.event).await?;
        Ok(moves
            .into_iter()
            .rev()
            .find(|m| m.created_at > order.created_at && m.refunds_until.is_some_and(|until| until > now)))
    }

    /// A buyer who cannot come on a moved event's new date takes their money
    /// back within the window the organizer offered: every ticket of the
    /// order still valid and still theirs (one passed on is the new
    /// holder's), at the price paid, and the service fee too when that is
    /// every ticket of the order. Asking again answers the same refund.
    pub async fn refund_after_move(&self, user: UserId, order: OrderId) -> Result<Refunded, MoveRefundError> {
        let record = match self.store.order(order).await? {
            Some(o) if o.user == user => o,
            // Someone else's order does not exist, as far as they know.
            _ => return Err(Denied::NotFound("order").into()),
        };
        let Some(moved) = self.refund_offer(user, &record).await? else {
            return Err(MoveRefundError::NotOffered);
        };
        let key = format!("moved:{}:{order}", moved.id);
        let tickets: Vec<TicketId> = record
            .tickets
            .iter()
            .filter(|t| {
                t.status == domain::checkin::TicketStatus::Valid && t.holder == user && t.checked_in_at.is_none()
            })
            .map(|t| t.id)
            .collect();
        // The whole order given back: everything left of what was paid, its
        // service fee included (the buyer did not choose the new date). Part
        // of it (a ticket passed on, or used): those tickets' prices.
        let whole_order = tickets.len() == record.tickets.len();
        let mut amount = Money::zero(record.total.currency());
        for t in record.tickets.iter().filter(|t| tickets.contains(&t.id)) {
            amount = amount.checked_add(t.price).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        let mut amount = (!whole_order).then_some(amount);
        // An organizer's earlier refund by amount may leave less than the
        // tickets cost: then what is left is what comes back.
        for _ in 0..2 {
            let tickets = RevokeTickets::Listed(&tickets);
            let recorded = self.record_asked_refund(order, amount, "event_moved", Some(&key), user, tickets).await;
            return match recorded {
                Ok(refunded) => Ok(refunded),
                Err(RecordRefundError::Exists(r)) => Ok(Refunded { refund: *r, replayed: true }),
                Err(RecordRefundError::ExceedsRemaining { remaining }) => {
                    amount = Some(
                        Money::new(remaining, record.total.currency())
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    );
                    continue;
                }
                Err(RecordRefundError::NothingLeft | RecordRefundError::TicketNotRefundable(_)) => {
                    Err(MoveRefundError::NothingLeft)
                }
                Err(RecordRefundError::Store(e)) => Err(e.into()),
                Err(e) => Err(StoreError::Corrupt(format!("refund after a move: {e}")).into()),
            };
        }
        Err(MoveRefundError::NothingLeft)
    }

    /// Freed seats show as available on live seat maps at once, and whoever
    /// holds a revoked ticket without having bought it is told.
    async fn after_refund_recorded(&self, r: &RecordedRefund) {
        metrics::counter!("refunds_recorded_total").increment(1);
        if !r.freed_seats.is_empty() || !r.freed_areas.is_empty() {
            self.publish(r.event, &r.freed_seats, store::SeatStatus::Available, &r.freed_areas).await;
        }
        // After the commit, so at worst (a crash in between) the holder
        // learns it at the gate; the buyer's own notice is in the refund's
        // transaction.
        if let Err(e) = self.tell_holders_of_revoked(r).await {
            tracing::warn!(refund = %r.refund.id, error = %e, "holders of revoked tickets were not told");
        }
    }

    /// Tells the holders of a refund's tickets who are not the order's buyer
    /// (it was passed on to them) that their ticket no longer admits.
    async fn tell_holders_of_revoked(&self, r: &RecordedRefund) -> Result<(), StoreError> {
        if r.refund.tickets.is_empty() {
            return Ok(());
        }
        let Some(order) = self.store.order(r.refund.order).await? else { return Ok(()) };
        let Some(event) = self.store.event(r.event).await? else { return Ok(()) };
        let mut notices = Vec::new();
        for t in order.tickets.iter().filter(|t| r.refund.tickets.contains(&t.id) && t.holder != order.user) {
            let why = if r.refund.reason == "event_cancelled" { Revoked::EventCancelled } else { Revoked::Refunded };
            notices.push(self.revoked_notice(&[t], &event, why).await?);
        }
        if !notices.is_empty() {
            self.store.record_notices(&notices, self.now()).await?;
        }
        Ok(())
    }

    /// The notice telling the holder of `tickets` (one or more, all theirs)
    /// that they no longer admit, and why.
    async fn revoked_notice(
        &self,
        tickets: &[&store::TicketRecord],
        event: &store::EventRecord,
        why: Revoked,
    ) -> Result<store::NewNotice, StoreError> {
        let first = tickets.first().ok_or_else(|| StoreError::Corrupt("a notice of no ticket".into()))?;
        let places: Vec<String> = tickets.iter().map(|t| ticket_label(t)).collect();
        Ok(self.notice(Notice {
            kind: MessageKind::TicketRevoked,
            to: To::Account(self.recipient(first.holder).await?),
            // A ticket is revoked once: its id keys the notice.
            dedupe_key: format!("revoked:{}", first.id),
            link: "/tickets".into(),
            data: json!({
                "event": event_data(event),
                "ticket": {
                    "place": places.join("; "),
                    "count": tickets.len(),
                    "withdrawn": why == Revoked::Cancelled,
                    "cancelled": why == Revoked::EventCancelled,
                    "used_before": false,
                },
            }),
        }))
    }

    /// The `refund.execute` job: pays the money back through the order's
    /// gateway, then marks the refund done and tells the buyer.
    pub(crate) async fn execute_refund(&self, job: &JobRecord) -> Result<(), JobError> {
        let RefundJob { refund_id } =
            serde_json::from_str(&job.payload).map_err(|e| JobError::Permanent(format!("malformed job: {e}")))?;
        let Some(todo) = self.store.refund_to_execute(&refund_id).await? else {
            return Err(JobError::Permanent(format!("refund {refund_id} is missing")));
        };
        if todo.refund.status != RefundStatus::Pending {
            return Ok(());
        }
        let Some(gateway) = self.payments.get(&todo.gateway).cloned() else {
            // Left pending: once the gateway is configured again a retry works.
            return Err(JobError::Retry(format!("payment gateway '{}' is not configured", todo.gateway)));
        };
        let charge = Charge { reference: todo.payment_reference.clone() };
        let key = refund_payment_key(&refund_id);
        let request = GatewayRefund { idempotency_key: &key, charge: &charge, amount: todo.refund.amount };
        match gateway.refund(request).await {
            Ok(()) => {}
            Err(PaymentError::Unavailable(e)) => return Err(JobError::Retry(e)),
            Err(PaymentError::Declined(e)) => {
                self.store.fail_refund(&refund_id, &e).await?;
                return Err(JobError::Permanent(format!("the gateway refused refund {refund_id}: {e}")));
            }
        }
        let event = self.store.event(todo.event).await?;
        let order = self.store.order(todo.refund.order).await?;
        let labels: Vec<String> = order
            .iter()
            .flat_map(|o| o.tickets.iter())
            .filter(|t| todo.refund.tickets.contains(&t.id))
            .map(ticket_label)
            .collect();
        let notice = self.notice(Notice {
            kind: MessageKind::Refund,
            to: To::Account(self.recipient(todo.buyer).await?),
            dedupe_key: format!("refund:{refund_id}"),
            link: format!("/orders/{}", todo.refund.order),
            data: json!({
                "event": event.as_ref().map(event_data),
                "order": {"id": todo.refund.order.to_string(), "reference": todo.refund.order.reference()},
                "refund": {"id": refund_id, "amount": todo.refund.amount.to_string(), "tickets": labels},
            }),
        });
        self.store.complete_refund(&refund_id, &[notice], self.now()).await?;
        metrics::counter!("payments_refunded_total").increment(1);
        Ok(())
    }

    /// The durable job of a cancellation, enqueued with the status change.
    pub(crate) fn cancellation_job(&self, event: EventId, by: UserId) -> store::NewJob {
        let payload = serde_json::to_string(&CancelJob { event_id: event.to_string(), cancelled_by: by.to_string() })
            .expect("serialises");
        crate::jobs::new_job(EVENT_CANCEL, payload, self.now())
    }

    /// The `event.cancel` job: every paid order refunded in full (its
    /// tickets revoked), every buyer told, then any ticket left revoked.
    pub(crate) async fn carry_out_cancellation(&self, job: &JobRecord) -> Result<(), JobError> {
        let CancelJob { event_id, cancelled_by } =
            serde_json::from_str(&job.payload).map_err(|e| JobError::Permanent(format!("malformed job: {e}")))?;
        let event_id: EventId = event_id.parse().map_err(|_| JobError::Permanent("bad event id".into()))?;
        let by: Option<UserId> = cancelled_by.parse().ok();
        let Some(event) = self.store.event(event_id).await? else {
            return Err(JobError::Permanent(format!("event {event_id} is missing")));
        };
        // Resale escrow goes back before the orders are refunded (the
        // cancellation did so already unless it crashed first): a seller
        // whose share went back gets the face value of the ticket they sold
        // back with their own order, and is never paid out for an event that
        // did not happen.
        self.store.refund_event_escrow(event_id, self.now()).await?;
        for (order, buyer) in self.store.paid_orders_of_event(event_id).await? {
            let told = self.notice(Notice {
                kind: MessageKind::EventCancelled,
                to: To::Account(self.recipient(buyer).await?),
                dedupe_key: format!("cancelled:{event_id}:{buyer}"),
                link: format!("/orders/{order}"),
                data: json!({ "event": event_data(&event), "order": {"id": order.to_string(), "reference": order.reference()} }),
            });
            let refund_id = RefundId::new().to_string();
            let now = self.now();
            let revoke_entry = self.revoke_entries(now).await?;
            let recorded = self
                .store
                .record_refund(
                    &NewRefund {
                        id: refund_id.clone(),
                        order,
                        amount: None,
                        reason: "event_cancelled",
                        idempotency_key: &format!("cancel:{order}"),
                        requested_by: by,
                        tickets: RevokeTickets::AllValid,
                        job: refund_job(&refund_id, now),
                        notices: std::slice::from_ref(&told),
                        revoke_entry: &revoke_entry,
                    },
                    now,
                )
                .await;
            match recorded {
                Ok(r) => self.after_refund_recorded(&r).await,
                // Done before this run, or nothing left: the buyer is still told.
                Err(RecordRefundError::Exists(_) | RecordRefundError::NothingLeft) => {
                    self.store.record_notices(&[told], now).await?;
                }
                Err(RecordRefundError::Store(s)) => return Err(s.into()),
                Err(e) => return Err(JobError::Retry(e.to_string())),
            }
        }
        let now = self.now();
        let revoke_entry = self.revoke_entries(now).await?;
        let revoked = self.store.revoke_event_tickets(event_id, now, &revoke_entry).await?;
        tracing::info!(event = %event_id, revoked, "event cancelled: orders refunded, tickets revoked");
        Ok(())
    }
}

/// How a ticket is named in messages: seat or standing area.
pub(crate) fn ticket_label(t: &store::TicketRecord) -> String {
    // The place as the buyer's tickets and the gate name it, after the
    // ticket type unless that only repeats the section or area's name.
    let (place, named_alike) = match (&t.seat_labels, &t.ga_area_name) {
        (Some((section, row, seat)), _) => {
            (format!("{section}, row {row}, seat {seat}"), *section == t.ticket_type_name)
        }
        (None, Some(area)) => (area.clone(), *area == t.ticket_type_name),
        (None, None) => return t.ticket_type_name.clone(),
    };
    if named_alike { place } else { format!("{} · {place}", t.ticket_type_name) }
}
