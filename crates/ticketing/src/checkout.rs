//! Checkout: a live hold plus a payment becomes a paid order with tickets,
//! exactly once per Idempotency-Key.
//!
//! The order of steps is what keeps money and seats consistent:
//! 1. check the hold is live, so an expired hold is refused before any charge;
//! 2. record the key as pending together with a payment attempt, in one
//!    transaction (of concurrent first uses exactly one gets to charge; a key
//!    seen before is replayed, or waited for while its first request runs),
//!    then charge the gateway with a key derived from the Idempotency-Key and
//!    the gateway, so a retry after a crash finds the same charge instead of
//!    making another (failing over to the organization's next gateway when
//!    one is unavailable: `payments/attempts.rs`);
//! 3. in one transaction, turn the hold into an order with signed tickets,
//!    mark the attempt completed and the key done. If the hold expired
//!    between 1 and 3, the charge is refunded and the buyer gets 409.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use domain::barcode::BarcodeClaims;
use domain::hold::HoldLine;
use domain::ids::{HoldId, OrderId, TicketId, UserId};
use sha2::{Digest, Sha256};
use store::{
    CompleteOrder, CompleteOrderError, IdempotencyBegin, IdempotentOutcome, NewTicket, OrderRecord, StoreError,
};

use crate::payments::PaymentError;
use crate::payments::attempts::Paid;
use crate::webhooks::{OrderPaid, PaidTicket};
use crate::{Denied, Ticketing};

/// Longest Idempotency-Key accepted (Stripe allows 255).
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 255;
/// Longest payment token accepted: a gateway's token or payment method id
/// is tens of characters; a longer one is no token, and is not sent on.
pub const PAYMENT_TOKEN_LEN_MAX: usize = 255;
/// How long a replay waits for the first request with its key to finish.
const IDEMPOTENCY_WAIT: Duration = Duration::from_secs(20);
/// How often a waiting replay looks again.
const IDEMPOTENCY_POLL: Duration = Duration::from_millis(20);
/// A key pending for longer than this belongs to a request that died; a new
/// request may take it over. Far longer than any gateway call takes.
const IDEMPOTENCY_STALE_SECS: i64 = 120;

/// A client-chosen Idempotency-Key: 1 to 255 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_LEN_MAX} visible ASCII characters")]
pub struct BadIdempotencyKey;

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, BadIdempotencyKey> {
        if raw.is_empty() || raw.len() > IDEMPOTENCY_KEY_LEN_MAX || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(BadIdempotencyKey);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The gateway an order of free tickets is recorded with: none was asked.
pub const FREE_ORDER_GATEWAY: &str = "free";

/// How an order is paid for.
enum Payment {
    /// A charge at a gateway, recorded as a payment attempt.
    Charged(Paid),
    /// Nothing to pay: every ticket is free and no fee applies.
    Free,
}

#[derive(Clone, Debug)]
pub struct PlaceOrder {
    pub hold: HoldId,
    pub gateway: String,
    pub token: String,
    pub idempotency_key: IdempotencyKey,
}

/// A placed order, and whether this response replays an earlier request's.
#[derive(Clone, Debug)]
pub struct Placed {
    pub order: OrderRecord,
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("payment gateway '{0}' is not available here (this installation accepts: {1})")]
    UnknownGateway(String, String),
    #[error("this Idempotency-Key was already used for a different request")]
    KeyReused,
    #[error("the payment token must be 1 to {PAYMENT_TOKEN_LEN_MAX} visible ASCII characters")]
    BadToken,
    #[error("a request with this Idempotency-Key is still being processed; retry shortly")]
    StillProcessing,
    #[error("the hold has expired or was released; its seats are no longer reserved for you")]
    HoldNotLive,
    #[error("this hold has already been paid for (order {0})")]
    AlreadyOrdered(OrderId),
    #[error("the event has been cancelled; nothing was charged")]
    EventCancelled,
    #[error(transparent)]
    Refused(crate::waiting_room::AdmissionRefused),
    #[error(transparent)]
    Declined(PaymentError),
    #[error(transparent)]
    GatewayUnavailable(PaymentError),
    /// A failure the first request with this key got, replayed.
    #[error("{detail}")]
    Replayed { status: u16, detail: String },
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OrderError {
    /// The status a failure is remembered under for replays; `None` for
    /// transient failures, which a retry with the same key may overcome.
    fn final_status(&self) -> Option<u16> {
        match self {
            OrderError::HoldNotLive | OrderError::AlreadyOrdered(_) | OrderError::EventCancelled => Some(409),
            OrderError::Declined(_) => Some(402),
            OrderError::Denied(Denied::NotFound(_)) => Some(404),
            _ => None,
        }
    }
}

fn request_hash(cmd: &PlaceOrder) -> Vec<u8> {
    let mut h = Sha256::new();
    for part in [cmd.hold.to_string().as_str(), &cmd.gateway, &cmd.token] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().to_vec()
}

/// A checkout's hold on its Idempotency-Key. A fresh key is claimed in the
/// transaction that records the first payment attempt, so the common case
/// writes once before the charge instead of twice.
pub(crate) struct KeyClaim {
    request_hash: Vec<u8>,
    /// Whether this request holds the key: it wrote it, or took it over.
    claimed: AtomicBool,
}

impl KeyClaim {
    /// The request hash to claim the key with, while it is not yet claimed.
    pub(crate) fn to_claim(&self) -> Option<&[u8]> {
        (!self.claimed.load(Ordering::Acquire)).then_some(self.request_hash.as_slice())
    }

    pub(crate) fn mark_claimed(&self) {
        self.claimed.store(true, Ordering::Release);
    }

    fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }
}

impl Ticketing {
    pub async fn place_order(&self, user: UserId, cmd: PlaceOrder) -> Result<Placed, OrderError> {
        if self.payments.get(&cmd.gateway).is_none() {
            return Err(OrderError::UnknownGateway(cmd.gateway.clone(), self.payments.names().join(", ")));
        }
        // A malformed token is the client's mistake (422), not a card the
        // gateway declined (402); nothing is recorded or charged.
        if cmd.token.is_empty()
            || cmd.token.len() > PAYMENT_TOKEN_LEN_MAX
            || !cmd.token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(OrderError::BadToken);
        }
        let key = cmd.idempotency_key.as_str();
        let claim = KeyClaim { request_hash: request_hash(&cmd), claimed: AtomicBool::new(false) };
        // The key is not looked up first: the payment attempt claims it (a
        // key seen before is rare, and every checkout of an on-sale would
        // pay for the read). A checkout that finds it claimed stops before
        // the charge, and the key's state decides: replay, wait, or take
        // over a request that died.
        let mut result = self.checkout(user, &cmd, None, Some(&claim)).await;
        if matches!(result, Err(OrderError::StillProcessing)) && !claim.is_claimed() {
            match self.begin_idempotent(user, key, &claim.request_hash).await? {
                IdempotencyBegin::Proceed => {
                    claim.mark_claimed();
                    result = self.checkout(user, &cmd, None, Some(&claim)).await;
                }
                IdempotencyBegin::Mismatch => return Err(OrderError::KeyReused),
                IdempotencyBegin::Done(outcome) => return self.replay(outcome).await,
                IdempotencyBegin::InProgress => return self.await_first(user, key).await,
            }
        }
        match &result {
            Ok(_) => metrics::counter!("orders_paid_total").increment(1),
            Err(e) => match (e.final_status(), claim.is_claimed()) {
                (Some(status), true) => {
                    self.store.fail_idempotent(user, key, status, &e.to_string(), self.now()).await?
                }
                (Some(status), false) => {
                    let hash = &claim.request_hash;
                    let detail = e.to_string();
                    let kept =
                        self.store.fail_idempotent_unclaimed(user, key, hash, status, &detail, self.now()).await?;
                    // A replay that failed because its first request got
                    // further (say, the hold is ordered now) answers as
                    // that request does.
                    if !kept {
                        return self.defer_to_key(user, key, &claim).await;
                    }
                }
                (None, true) => self.store.abandon_idempotent(user, key).await?,
                (None, false) => {}
            },
        }
        result.map(|order| Placed { order, replayed: false })
    }

    /// The outcome of the request that holds `key`: replayed, or waited
    /// for; with a different body, the key was reused.
    async fn defer_to_key(&self, user: UserId, key: &str, claim: &KeyClaim) -> Result<Placed, OrderError> {
        match self.begin_idempotent(user, key, &claim.request_hash).await? {
            IdempotencyBegin::Mismatch => Err(OrderError::KeyReused),
            IdempotencyBegin::Done(outcome) => self.replay(outcome).await,
            IdempotencyBegin::InProgress => self.await_first(user, key).await,
            // The holder let go of it meanwhile (a transient failure):
            // this request did nothing, and the client retries.
            IdempotencyBegin::Proceed => {
                self.store.abandon_idempotent(user, key).await?;
                Err(OrderError::StillProcessing)
            }
        }
    }

    async fn begin_idempotent(&self, user: UserId, key: &str, hash: &[u8]) -> Result<IdempotencyBegin, StoreError> {
        self.store
            .begin_idempotent(user, key, hash, self.now(), chrono::Duration::seconds(IDEMPOTENCY_STALE_SECS))
            .await
    }

    async fn replay(&self, outcome: IdempotentOutcome) -> Result<Placed, OrderError> {
        match outcome {
            IdempotentOutcome::Order(order) => {
                let order = self
                    .store
                    .order(order)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("idempotency key names missing order {order}")))?;
                Ok(Placed { order, replayed: true })
            }
            IdempotentOutcome::Failed { status, detail } => Err(OrderError::Replayed { status, detail }),
        }
    }

    /// A concurrent replay: wait for the first request's outcome.
    async fn await_first(&self, user: UserId, key: &str) -> Result<Placed, OrderError> {
        let deadline = tokio::time::Instant::now() + IDEMPOTENCY_WAIT;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(IDEMPOTENCY_POLL).await;
            if let Some(outcome) = self.store.idempotent_outcome(user, key).await? {
                return self.replay(outcome).await;
            }
        }
        Err(OrderError::StillProcessing)
    }

    /// Pays for the hold (or takes `paid`, a charge already made for it that
    /// a gateway notification or the reconciler brings) and records the order.
    ///
    /// `claim` is the request's hold on its Idempotency-Key (`None` when
    /// `paid` is given: the request that charged claimed it).
    pub(crate) async fn checkout(
        &self,
        user: UserId,
        cmd: &PlaceOrder,
        paid: Option<Paid>,
        claim: Option<&KeyClaim>,
    ) -> Result<OrderRecord, OrderError> {
        let hold = match self.store.hold(cmd.hold).await? {
            Some(h) if h.user == user => h,
            _ => return Err(Denied::NotFound("hold").into()),
        };
        if hold.status == store::HoldStatus::Ordered {
            let order = self.store.order_for_hold(hold.id).await?;
            return Err(order.map_or(OrderError::HoldNotLive, OrderError::AlreadyOrdered));
        }
        if !hold.is_live(self.now()) {
            return Err(OrderError::HoldNotLive);
        }
        let key = self
            .store
            .event_key(hold.event)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("event {} has no signing key", hold.event)))?;
        let order_id = OrderId::new();
        // Everything the order writes is prepared before the money moves, so a
        // failure here charges nothing.
        let mut tickets = Vec::new();
        for line in &hold.lines {
            if let HoldLine::Resale { replaces, seat, area, ticket_type, unit_price, .. } = line {
                // The seller's ticket, re-issued to the buyer under a new serial.
                let current = self
                    .store
                    .ticket(*replaces)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("listed ticket {replaces} is missing")))?;
                let serial = current.serial + 1;
                tickets.push(NewTicket {
                    id: *replaces,
                    seat: *seat,
                    ga_area: *area,
                    ticket_type: *ticket_type,
                    price: *unit_price,
                    serial,
                    barcode: key.sign(&BarcodeClaims { ticket: *replaces, event: hold.event, serial }),
                    replaces: Some(*replaces),
                });
                continue;
            }
            let (seat, area) = match line {
                HoldLine::Seat { seat, .. } => (Some(*seat), None),
                HoldLine::Ga { area, .. } => (None, Some(*area)),
                HoldLine::Resale { .. } => unreachable!("handled above"),
            };
            for _ in 0..line.units() {
                let id = TicketId::new();
                let serial = 1;
                tickets.push(NewTicket {
                    id,
                    seat,
                    ga_area: area,
                    ticket_type: line.ticket_type(),
                    price: line.unit_price(),
                    serial,
                    barcode: key.sign(&BarcodeClaims { ticket: id, event: hold.event, serial }),
                    replaces: None,
                });
            }
        }
        let outbox = self.order_paid_outbox(order_id, user, &hold, &tickets).await?;
        let mut ledger = Vec::with_capacity(tickets.len());
        for t in &tickets {
            let kind = if t.replaces.is_some() { ledger::EntryKind::Resale } else { ledger::EntryKind::Issue };
            ledger.push(self.ledger_entry(kind, t.id, hold.event, user, self.now()).await?);
        }
        let event = self
            .store
            .event(hold.event)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("hold {} names a missing event", hold.id)))?;
        if event.status == domain::event::EventStatus::Cancelled {
            return Err(OrderError::EventCancelled);
        }
        // The confirmation e-mail and in-app notice, written with the order.
        // The tickets (with their QR codes) are read when it is sent.
        let confirmation = self.notice(crate::notifications::Notice {
            kind: crate::notifications::MessageKind::OrderConfirmation,
            to: crate::notifications::To::Account(self.recipient(user).await?),
            dedupe_key: format!("order:{order_id}"),
            link: format!("/orders/{order_id}"),
            data: serde_json::json!({
                "event": crate::notifications::event_data(&event),
                "order": {"id": order_id.to_string(), "reference": order_id.reference(), "total": hold.total.to_string()},
            }),
        });
        let mut notices = vec![confirmation];
        notices.extend(self.resale_sold_notices(&hold, &event).await?);
        // The money moves last: through the organization's gateways in
        // order, each try recorded as a payment attempt before it is made.
        let payment = match paid {
            Some(paid) => Payment::Charged(paid),
            None => {
                // A buyer an organizer's review has yet to clear pays nothing.
                // Accounts are blocked only on events with sale controls.
                if self.store.sale_guard(hold.event).await?.is_some()
                    && self.store.account_blocked(hold.event, user).await?
                {
                    return Err(OrderError::Refused(crate::waiting_room::AdmissionRefused::Blocked));
                }
                if hold.total.amount_minor() == 0 {
                    // Free tickets: no gateway, no attempt, nothing to charge.
                    self.claim_key_without_payment(user, cmd, claim).await?;
                    Payment::Free
                } else {
                    let paid = self.pay(user, &hold, event.organization, cmd, claim).await;
                    if let Err(OrderError::Declined(_)) = &paid {
                        // Declines are what card testing looks like.
                        self.run_velocity_rules(hold.event, user);
                    }
                    Payment::Charged(paid?)
                }
            }
        };
        let (gateway_name, reference, attempt) = match &payment {
            Payment::Charged(paid) => (paid.gateway.name(), paid.charge.reference.as_str(), Some(paid.attempt)),
            Payment::Free => (FREE_ORDER_GATEWAY, "", None),
        };

        let complete = CompleteOrder {
            order: order_id,
            hold: hold.id,
            user,
            event: hold.event,
            total: hold.total,
            fee: hold.fee,
            gateway: gateway_name,
            payment_reference: reference,
            tickets: &tickets,
            idempotency_key: cmd.idempotency_key.as_str(),
            outbox: &outbox,
            notices: &notices,
            ledger: &ledger,
            lines: &hold.lines,
            // A resale seller is paid once the event has taken place.
            escrow_release_after: event.ends_at,
            payment_attempt: attempt,
        };
        let completed_at = self.now();
        match self.store.complete_order(&complete, completed_at).await {
            Ok(()) => {}
            // A notification of this very charge completed the order first.
            Err(CompleteOrderError::AlreadyOrdered(o)) if matches!(attempt, Some(a) if self.attempt_holds_order(a, o).await?) =>
            {
                return self
                    .store
                    .order(o)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("order {o} vanished")).into());
            }
            // The commit's outcome is unknown: the reconciler looks at the
            // attempt later and completes or refunds it, never both.
            Err(CompleteOrderError::Store(s)) => return Err(OrderError::Store(s)),
            Err(CompleteOrderError::PaymentSettled) => {
                return Err(OrderError::GatewayUnavailable(PaymentError::Unavailable(
                    "the payment was settled without an order meanwhile; retry".into(),
                )));
            }
            Err(e) => {
                if let Payment::Charged(paid) = &payment {
                    self.refund_attempt(paid.gateway.as_ref(), paid.attempt, &paid.charge, hold.total).await?;
                }
                return Err(match e {
                    CompleteOrderError::HoldNotLive => OrderError::HoldNotLive,
                    CompleteOrderError::AlreadyOrdered(o) => OrderError::AlreadyOrdered(o),
                    CompleteOrderError::EventCancelled => OrderError::EventCancelled,
                    CompleteOrderError::Store(s) => OrderError::Store(s),
                    CompleteOrderError::PaymentSettled => unreachable!("handled above"),
                });
            }
        }
        metrics::counter!("tickets_issued_total").increment(tickets.len() as u64);
        let (seats, areas) = crate::holds::inventory_of(&hold.lines);
        self.publish(hold.event, &seats, store::SeatStatus::Sold, &areas).await;
        Ok(self.store.placed_order(&complete, completed_at).await?)
    }

    /// Claims the Idempotency-Key of a checkout that charges nothing (the
    /// payment attempt claims it otherwise). A key someone else holds, or
    /// used before, is `StillProcessing`: `place_order` then looks at the
    /// key and replays, waits or refuses.
    async fn claim_key_without_payment(
        &self,
        user: UserId,
        cmd: &PlaceOrder,
        claim: Option<&KeyClaim>,
    ) -> Result<(), OrderError> {
        let Some((claim, hash)) = claim.and_then(|c| c.to_claim().map(|h| (c, h))) else {
            return Ok(());
        };
        match self.begin_idempotent(user, cmd.idempotency_key.as_str(), hash).await? {
            IdempotencyBegin::Proceed => {
                claim.mark_claimed();
                Ok(())
            }
            IdempotencyBegin::Mismatch | IdempotencyBegin::Done(_) | IdempotencyBegin::InProgress => {
                Err(OrderError::StillProcessing)
            }
        }
    }

    /// The jobs a paid order sets off, built before the order's transaction
    /// so they can be written inside it.
    async fn order_paid_outbox(
        &self,
        order_id: OrderId,
        user: UserId,
        hold: &store::HoldRecord,
        tickets: &[NewTicket],
    ) -> Result<Vec<store::NewJob>, StoreError> {
        let Some(event) = self.store.event(hold.event).await? else {
            return Ok(Vec::new());
        };
        let paid = OrderPaid {
            order_id: order_id.to_string(),
            event_id: hold.event.to_string(),
            buyer_id: user.to_string(),
            total: hold.total,
            tickets: tickets
                .iter()
                .map(|t| PaidTicket {
                    id: t.id.to_string(),
                    ticket_type_id: t.ticket_type.to_string(),
                    seat_id: t.seat.map(|s| s.to_string()),
                    ga_area_id: t.ga_area.map(|a| a.to_string()),
                })
                .collect(),
        };
        self.order_paid_webhooks(event.organization, &paid).await
    }

    /// The user's own order.
    pub async fn order(&self, user: UserId, order: OrderId) -> Result<OrderRecord, OrderError> {
        match self.store.order(order).await? {
            Some(o) if o.user == user => Ok(o),
            _ => Err(Denied::NotFound("order").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_bounded_printable_ascii() {
        assert!(IdempotencyKey::parse("order-42").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("ключ").is_err());
    }
}
