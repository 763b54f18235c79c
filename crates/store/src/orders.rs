//! Orders, tickets and idempotency keys.

use domain::Timestamp;
use domain::checkin::TicketStatus;
use domain::ids::{EventId, GaAreaId, HoldId, OrderId, SeatId, TicketId, TicketTypeId, UserId};
use domain::money::Money;

use crate::direct_reads::Columns;
use crate::holds::SOLD_EXPIRES_AT;
use crate::{Result, Store, StoreError, id, money, ms, opt_id, ts};

#[derive(Clone, Debug)]
pub struct NewTicket {
    pub id: TicketId,
    pub seat: Option<SeatId>,
    pub ga_area: Option<GaAreaId>,
    pub ticket_type: TicketTypeId,
    pub price: Money,
    pub serial: u32,
    pub barcode: String,
    /// For a resale: the seller's ticket, re-issued to the buyer under the
    /// same id with `serial` one higher (its old barcode stops working).
    pub replaces: Option<TicketId>,
}

#[derive(Clone, Debug)]
pub struct CompleteOrder<'a> {
    pub order: OrderId,
    pub hold: HoldId,
    pub user: UserId,
    pub event: EventId,
    /// What was charged, `fee` included.
    pub total: Money,
    /// The platform fee within `total`.
    pub fee: Money,
    pub gateway: &'a str,
    pub payment_reference: &'a str,
    pub tickets: &'a [NewTicket],
    pub idempotency_key: &'a str,
    /// Jobs the order sets off (webhooks, e-mails): enqueued in the order's
    /// own transaction, so they exist exactly when the order does.
    pub outbox: &'a [crate::NewJob],
    /// Notifications of the order (the confirmation e-mail), likewise.
    pub notices: &'a [crate::NewNotice],
    /// Log entries for the tickets issued, appended in the same transaction.
    pub ledger: &'a [crate::NewLedgerEntry],
    /// The hold's lines, for settling resales.
    pub lines: &'a [domain::hold::HoldLine],
    /// When a resale seller's escrow may be paid out: after the event.
    pub escrow_release_after: Timestamp,
    /// The payment attempt whose charge pays for the order: it becomes
    /// `completed` in the same transaction, so a charge is either held by an
    /// order or left for a refund, never both.
    pub payment_attempt: Option<domain::ids::PaymentAttemptId>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompleteOrderError {
    #[error("the hold has expired or was released")]
    HoldNotLive,
    #[error("the hold has already been turned into order {0}")]
    AlreadyOrdered(OrderId),
    #[error("the event has been cancelled")]
    EventCancelled,
    /// The payment attempt was refunded (or is being) meanwhile.
    #[error("the payment was already settled without an order")]
    PaymentSettled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CompleteOrderError {
    fn from(e: sqlx::Error) -> Self {
        CompleteOrderError::Store(e.into())
    }
}

#[derive(Clone, Debug)]
pub struct TicketRecord {
    pub id: TicketId,
    pub order: OrderId,
    pub event: EventId,
    pub event_title: String,
    pub event_starts_at: Timestamp,
    pub venue_name: String,
    pub ticket_type: TicketTypeId,
    pub ticket_type_name: String,
    pub seat: Option<SeatId>,
    /// (section, row, seat) labels for a seated ticket.
    pub seat_labels: Option<(String, String, String)>,
    pub ga_area: Option<GaAreaId>,
    pub ga_area_name: Option<String>,
    pub holder: UserId,
    pub status: TicketStatus,
    pub serial: u32,
    pub barcode: String,
    pub price: Money,
    pub checked_in_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// One order in an organizer's list of an event's orders.
#[derive(Clone, Debug)]
pub struct EventOrderRecord {
    pub id: OrderId,
    pub buyer_email: String,
    pub buyer_name: String,
    /// paid or refunded (in full).
    pub status: String,
    pub total: Money,
    /// Refunds asked for so far, those that failed left out.
    pub refunded: Money,
    pub tickets: u32,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct OrderRecord {
    pub id: OrderId,
    pub event: EventId,
    pub user: UserId,
    pub hold: HoldId,
    pub status: String,
    /// What was charged, `fee` included.
    pub total: Money,
    /// The platform fee within `total`.
    pub fee: Money,
    pub gateway: String,
    pub payment_reference: String,
    pub created_at: Timestamp,
    pub tickets: Vec<TicketRecord>,
    /// Refunds of this order, oldest first.
    pub refunds: Vec<crate::RefundRecord>,
}

/// Where an Idempotency-Key stands when a request arrives with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First use (or a take-over of an abandoned attempt): go ahead.
    Proceed,
    /// Another request with this key is running now.
    InProgress,
    /// Finished before: replay this outcome.
    Done(IdempotentOutcome),
    /// The key was used with a different request body.
    Mismatch,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotentOutcome {
    Order(OrderId),
    Failed { status: u16, detail: String },
}

const TICKET_SELECT: &str = "SELECT t.id, t.order_id, t.event_id, e.title AS event_title, e.starts_at AS event_starts_at, \
       v.name AS venue_name, t.ticket_type_id, tt.name AS ticket_type_name, t.seat_id, sec.name AS section_name, \
       s.row_label, s.label AS seat_label, t.ga_area_id, ga.name AS ga_area_name, t.holder_id, t.status, t.serial, \
       t.barcode, t.price_amount, t.currency, t.checked_in_at, t.created_at \
     FROM tickets t \
     JOIN events e ON e.id = t.event_id \
     JOIN venues v ON v.id = e.venue_id \
     JOIN ticket_types tt ON tt.id = t.ticket_type_id \
     LEFT JOIN seats s ON s.id = t.seat_id \
     LEFT JOIN sections sec ON sec.id = s.section_id \
     LEFT JOIN ga_areas ga ON ga.id = t.ga_area_id";

/// A row of [`TICKET_SELECT`], column for column.
struct TicketRow {
    id: String,
    order_id: String,
    event_id: String,
    event_title: String,
    event_starts_at: i64,
    venue_name: String,
    ticket_type_id: String,
    ticket_type_name: String,
    seat_id: Option<String>,
    section_name: Option<String>,
    row_label: Option<String>,
    seat_label: Option<String>,
    ga_area_id: Option<String>,
    ga_area_name: Option<String>,
    holder_id: String,
    status: String,
    serial: i64,
    barcode: String,
    price_amount: i64,
    currency: String,
    checked_in_at: Option<i64>,
    created_at: i64,
}

impl TicketRow {
    fn decode(r: &dyn Columns) -> Result<Self> {
        Ok(Self {
            id: r.text(0)?,
            order_id: r.text(1)?,
            event_id: r.text(2)?,
            event_title: r.text(3)?,
            event_starts_at: r.int(4)?,
            venue_name: r.text(5)?,
            ticket_type_id: r.text(6)?,
            ticket_type_name: r.text(7)?,
            seat_id: r.opt_text(8)?,
            section_name: r.opt_text(9)?,
            row_label: r.opt_text(10)?,
            seat_label: r.opt_text(11)?,
            ga_area_id: r.opt_text(12)?,
            ga_area_name: r.opt_text(13)?,
            holder_id: r.text(14)?,
            status: r.text(15)?,
            serial: r.int(16)?,
            barcode: r.text(17)?,
            price_amount: r.int(18)?,
            currency: r.text(19)?,
            checked_in_at: r.opt_int(20)?,
            created_at: r.int(21)?,
        })
    }
}

fn ticket(r: TicketRow) -> Result<TicketRecord> {
    let seat_labels = match (r.section_name, r.row_label, r.seat_label) {
        (Some(section), Some(row), Some(seat)) => Some((section, row, seat)),
        _ => None,
    };
    Ok(TicketRecord {
        id: id(&r.id)?,
        order: id(&r.order_id)?,
        event: id(&r.event_id)?,
        event_title: r.event_title,
        event_starts_at: ts(r.event_starts_at)?,
        venue_name: r.venue_name,
        ticket_type: id(&r.ticket_type_id)?,
        ticket_type_name: r.ticket_type_name,
        seat: opt_id(r.seat_id)?,
        seat_labels,
        ga_area: opt_id(r.ga_area_id)?,
        ga_area_name: r.ga_area_name,
        holder: id(&r.holder_id)?,
        status: match r.status.as_str() {
            "valid" => TicketStatus::Valid,
            "revoked" => TicketStatus::Revoked,
            other => return Err(StoreError::Corrupt(format!("bad ticket status '{other}'"))),
        },
        serial: u32::try_from(r.serial).map_err(|_| StoreError::Corrupt("serial".into()))?,
        barcode: r.barcode,
        price: money(r.price_amount, &r.currency)?,
        checked_in_at: r.checked_in_at.map(ts).transpose()?,
        created_at: ts(r.created_at)?,
    })
}

type OrderRow = (String, String, String, String, String, i64, String, String, String, i64, i64);

impl Store {
    /// Records the arrival of a request with an Idempotency-Key.
    ///
    /// A `pending` record older than `stale_after` belongs to a request whose
    /// process died mid-way; the new request takes it over. That is safe
    /// because the payment call reuses the same gateway idempotency key.
    pub async fn begin_idempotent(
        &self,
        user: UserId,
        key: &str,
        request_hash: &[u8],
        now: Timestamp,
        stale_after: chrono::Duration,
    ) -> Result<IdempotencyBegin> {
        let (user_s, now_ms) = (user.to_string(), ms(now));
        let mut tx = self.write().await?;
        // Insert first: of concurrent first uses, exactly one inserts.
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, state, created_at, updated_at) \
             VALUES ($1, $2, $3, 'pending', $4, $5) ON CONFLICT (user_id, key) DO NOTHING",
        )
        .bind(&user_s)
        .bind(key)
        .bind(request_hash)
        .bind(now_ms)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(IdempotencyBegin::Proceed);
        }
        let (hash, state, order, status, detail): (Vec<u8>, String, Option<String>, Option<i64>, Option<String>) =
            sqlx::query_as(
                "SELECT request_hash, state, order_id, failure_status, failure_detail \
                 FROM idempotency_keys WHERE user_id = $1 AND key = $2",
            )
            .bind(&user_s)
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        let outcome = if hash != request_hash {
            IdempotencyBegin::Mismatch
        } else if state == "done" {
            match (order, status) {
                (Some(o), _) => IdempotencyBegin::Done(IdempotentOutcome::Order(id(&o)?)),
                (None, Some(s)) => IdempotencyBegin::Done(IdempotentOutcome::Failed {
                    status: u16::try_from(s).map_err(|_| StoreError::Corrupt("failure status".into()))?,
                    detail: detail.unwrap_or_default(),
                }),
                (None, None) => return Err(StoreError::Corrupt(format!("idempotency key {key} done with no outcome"))),
            }
        } else {
            // Pending. Take it over only if its request died long ago; the
            // conditional update lets exactly one newcomer do so.
            let taken = sqlx::query(
                "UPDATE idempotency_keys SET updated_at = $1 \
                 WHERE user_id = $2 AND key = $3 AND state = 'pending' AND updated_at <= $4",
            )
            .bind(now_ms)
            .bind(&user_s)
            .bind(key)
            .bind(ms(now - stale_after))
            .execute(&mut *tx)
            .await?;
            if taken.rows_affected() == 1 { IdempotencyBegin::Proceed } else { IdempotencyBegin::InProgress }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Records a final failure under a key this request never claimed (it
    /// failed before paying): kept only if no other request has the key.
    /// Returns whether it was kept.
    pub async fn fail_idempotent_unclaimed(
        &self,
        user: UserId,
        key: &str,
        request_hash: &[u8],
        status: u16,
        detail: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let kept = self
            .write_one(
                sqlx::query(
                    "INSERT INTO idempotency_keys (user_id, key, request_hash, state, failure_status, failure_detail, \
                 created_at, updated_at) VALUES ($1, $2, $3, 'done', $4, $5, $6, $6) \
                 ON CONFLICT (user_id, key) DO NOTHING",
                )
                .bind(user.to_string())
                .bind(key)
                .bind(request_hash)
                .bind(i64::from(status))
                .bind(detail)
                .bind(ms(now)),
            )
            .await?;
        Ok(kept.rows_affected() == 1)
    }

    /// Records a final failure for the key, so replays get the same answer.
    pub async fn fail_idempotent(
        &self,
        user: UserId,
        key: &str,
        status: u16,
        detail: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.write_one(
            sqlx::query(
                "UPDATE idempotency_keys SET state = 'done', failure_status = $1, failure_detail = $2, updated_at = $3 \
             WHERE user_id = $4 AND key = $5 AND state = 'pending'",
            )
            .bind(i64::from(status))
            .bind(detail)
            .bind(ms(now))
            .bind(user.to_string())
            .bind(key),
        )
        .await?;
        Ok(())
    }

    /// Forgets a pending key after a transient failure, so a retry with the
    /// same key runs afresh.
    pub async fn abandon_idempotent(&self, user: UserId, key: &str) -> Result<()> {
        self.write_one(
            sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND state = 'pending'")
                .bind(user.to_string())
                .bind(key),
        )
        .await?;
        Ok(())
    }

    /// The outcome of a finished key, or `None` while pending (or gone).
    pub async fn idempotent_outcome(&self, user: UserId, key: &str) -> Result<Option<IdempotentOutcome>> {
        let row: Option<(String, Option<String>, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT state, order_id, failure_status, failure_detail FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(user.to_string())
        .bind(key)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        Ok(match row {
            Some((state, Some(o), _, _)) if state == "done" => Some(IdempotentOutcome::Order(id(&o)?)),
            Some((state, None, Some(s), d)) if state == "done" => Some(IdempotentOutcome::Failed {
                status: u16::try_from(s).unwrap_or(500),
                detail: d.unwrap_or_default(),
            }),
            _ => None,
        })
    }

    /// Turns a live hold into a paid order with its tickets, in one
    /// transaction: seats become sold, the hold becomes ordered, the
    /// idempotency key records the order. Either all of it happens or none.
    ///
    /// Concurrent plain checkouts are completed together, several to a
    /// transaction (`order_batch`); each still gets its own outcome.
    pub async fn complete_order(&self, c: &CompleteOrder<'_>, now: Timestamp) -> Result<(), CompleteOrderError> {
        let Some(order) = crate::order_batch::OrderToComplete::of(c, now) else {
            return self.complete_order_alone(c, now).await;
        };
        let store = self.clone();
        let run = move |orders, turn| {
            let store = store.clone();
            async move { store.complete_orders(orders, turn).await }
        };
        self.order_batches.submit(order, run).await.unwrap_or_else(|lost| Err(StoreError::from(lost).into()))
    }

    /// [`complete_order`](Self::complete_order) in a transaction of its own.
    pub(crate) async fn complete_order_alone(
        &self,
        c: &CompleteOrder<'_>,
        now: Timestamp,
    ) -> Result<(), CompleteOrderError> {
        let (hold_s, event_s, user_s, now_ms) = (c.hold.to_string(), c.event.to_string(), c.user.to_string(), ms(now));
        let mut tx = self.write().await?;
        // Why a checkout is refused: an order that already holds the hold
        // (a replay, a notification) wins over any other reason. Looked up
        // only on the way out, so a checkout that goes through skips it.
        async fn refused(
            tx: &mut crate::WriteTx,
            hold: &str,
            otherwise: CompleteOrderError,
        ) -> Result<(), CompleteOrderError> {
            let existing: Option<(String,)> = sqlx::query_as("SELECT id FROM orders WHERE hold_id = $1")
                .bind(hold)
                .fetch_optional(&mut **tx)
                .await
                .map_err(StoreError::from)?;
            Err(match existing {
                Some((order,)) => CompleteOrderError::AlreadyOrdered(id(&order)?),
                None => otherwise,
            })
        }
        // A cancelled event sells nothing. On PostgreSQL the event row is
        // share-locked, so a cancellation (an update of that row) waits for
        // checkouts in flight and its refund job then sees their orders;
        // checkouts do not block each other.
        let share = self.backend.share_lock();
        let status: Option<(String,)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT status FROM events WHERE id = $1{share}")))
                .bind(&event_s)
                .fetch_optional(&mut *tx)
                .await?;
        if status.is_none_or(|(s,)| s == "cancelled") {
            return refused(&mut tx, &hold_s, CompleteOrderError::EventCancelled).await;
        }
        // Taking the hold is the lock: exactly one transaction moves it from
        // active to ordered, and only while it is live and the buyer's.
        let taken = sqlx::query(
            "UPDATE holds SET status = 'ordered' \
             WHERE id = $1 AND user_id = $2 AND event_id = $3 AND status = 'active' AND expires_at > $4",
        )
        .bind(&hold_s)
        .bind(&user_s)
        .bind(&event_s)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() != 1 {
            return refused(&mut tx, &hold_s, CompleteOrderError::HoldNotLive).await;
        }
        for line in c.lines {
            if !crate::listings::settle_resale(&mut tx, &hold_s, line, c.escrow_release_after, now).await? {
                return Err(CompleteOrderError::HoldNotLive);
            }
        }
        for t in c.tickets.iter().filter(|t| t.replaces.is_none()) {
            if let Some(seat) = t.seat {
                let sold = sqlx::query(
                    "UPDATE seat_claims SET state = 'sold', expires_at = $1 \
                     WHERE event_id = $2 AND seat_id = $3 AND hold_id = $4 AND state = 'held'",
                )
                .bind(SOLD_EXPIRES_AT)
                .bind(&event_s)
                .bind(seat.to_string())
                .bind(&hold_s)
                .execute(&mut *tx)
                .await?;
                if sold.rows_affected() != 1 {
                    // The hold is live, so its claims must be ours: anything
                    // else means the claim table and holds disagree.
                    return Err(CompleteOrderError::HoldNotLive);
                }
            }
        }
        sqlx::query(
            "INSERT INTO orders (id, event_id, user_id, hold_id, status, total_amount, currency, payment_gateway, \
             payment_reference, created_at, fee_amount) VALUES ($1, $2, $3, $4, 'paid', $5, $6, $7, $8, $9, $10)",
        )
        .bind(c.order.to_string())
        .bind(&event_s)
        .bind(&user_s)
        .bind(&hold_s)
        .bind(c.total.amount_minor())
        .bind(c.total.currency().as_str())
        .bind(c.gateway)
        .bind(c.payment_reference)
        .bind(now_ms)
        .bind(c.fee.amount_minor())
        .execute(&mut *tx)
        .await?;
        if let Some(attempt) = c.payment_attempt {
            let held = sqlx::query(
                "UPDATE payment_attempts SET status = 'completed', order_id = $1, reference = $2, updated_at = $3 \
                 WHERE id = $4 AND status IN ('pending', 'charged')",
            )
            .bind(c.order.to_string())
            .bind(c.payment_reference)
            .bind(now_ms)
            .bind(attempt.to_string())
            .execute(&mut *tx)
            .await?;
            if held.rows_affected() != 1 {
                return Err(CompleteOrderError::PaymentSettled);
            }
        }
        for t in c.tickets.iter().filter(|t| t.replaces.is_some()) {
            crate::checkins::retire_serial(&mut tx, t.id, i64::from(t.serial) - 1, now).await?;
            let reissued = sqlx::query(
                "UPDATE tickets SET holder_id = $1, serial = $2, barcode = $3, order_id = $4, price_amount = $5, \
                 entry_code = $9 \
                 WHERE id = $6 AND serial = $7 AND status = 'valid' AND checked_in_at IS NULL \
                 AND holder_id = (SELECT seller_id FROM listings WHERE ticket_id = $6 AND hold_id = $8)",
            )
            .bind(&user_s)
            .bind(i64::from(t.serial))
            .bind(&t.barcode)
            .bind(c.order.to_string())
            .bind(t.price.amount_minor())
            .bind(t.id.to_string())
            .bind(i64::from(t.serial) - 1)
            .bind(&hold_s)
            .bind(domain::barcode::entry_code(&t.barcode))
            .execute(&mut *tx)
            .await?;
            if reissued.rows_affected() != 1 {
                // Used at the gate, or changed hands since it was listed.
                return Err(CompleteOrderError::HoldNotLive);
            }
            // Sold: an offer of it to someone else is void.
            crate::transfers::cancel_open_offers(&mut tx, t.id).await?;
        }
        for t in c.tickets.iter().filter(|t| t.replaces.is_none()) {
            sqlx::query(
                "INSERT INTO tickets (id, order_id, event_id, ticket_type_id, seat_id, ga_area_id, holder_id, status, \
                 serial, barcode, price_amount, currency, created_at, entry_code) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'valid', $8, $9, $10, $11, $12, $13)",
            )
            .bind(t.id.to_string())
            .bind(c.order.to_string())
            .bind(&event_s)
            .bind(t.ticket_type.to_string())
            .bind(t.seat.map(|s| s.to_string()))
            .bind(t.ga_area.map(|a| a.to_string()))
            .bind(&user_s)
            .bind(i64::from(t.serial))
            .bind(&t.barcode)
            .bind(t.price.amount_minor())
            .bind(t.price.currency().as_str())
            .bind(now_ms)
            .bind(domain::barcode::entry_code(&t.barcode))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE idempotency_keys SET state = 'done', order_id = $1, updated_at = $2 WHERE user_id = $3 AND key = $4",
        )
        .bind(c.order.to_string())
        .bind(now_ms)
        .bind(&user_s)
        .bind(c.idempotency_key)
        .execute(&mut *tx)
        .await?;
        for job in c.outbox {
            crate::jobs::insert_job(&mut tx, job, now).await?;
        }
        for entry in c.ledger {
            crate::ledger::insert_ledger_entry(&mut tx, entry, now).await?;
        }
        for n in c.notices {
            crate::notifications::insert_notice(&mut tx, n, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn order(&self, order: OrderId) -> Result<Option<OrderRecord>> {
        let row: Option<OrderRow> = sqlx::query_as(
            "SELECT id, event_id, user_id, hold_id, status, total_amount, currency, payment_gateway, payment_reference, created_at, \
             fee_amount FROM orders WHERE id = $1",
        )
        .bind(order.to_string())
        .fetch_optional(&mut *self.read().await?)
        .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some(self.order_with_tickets(r).await?)),
        }
    }

    /// The order `c` has just completed, as [`Store::order`] would read it,
    /// from what the checkout wrote: only its tickets (whose seat, section
    /// and venue names live in other tables) are read back. A new order has
    /// no refunds yet; reading the order row and its refunds again would be
    /// two more statements per checkout for nothing.
    pub async fn placed_order(&self, c: &CompleteOrder<'_>, now: Timestamp) -> Result<OrderRecord> {
        let tickets = self.order_tickets(&c.order.to_string()).await?;
        Ok(OrderRecord {
            id: c.order,
            event: c.event,
            user: c.user,
            hold: c.hold,
            status: "paid".to_owned(),
            total: c.total,
            fee: c.fee,
            gateway: c.gateway.to_owned(),
            payment_reference: c.payment_reference.to_owned(),
            // As stored: to the millisecond.
            created_at: ts(ms(now))?,
            tickets,
            refunds: Vec::new(),
        })
    }

    pub async fn orders_of(&self, user: UserId) -> Result<Vec<OrderRecord>> {
        let rows: Vec<OrderRow> = sqlx::query_as(
            "SELECT id, event_id, user_id, hold_id, status, total_amount, currency, payment_gateway, payment_reference, created_at, \
             fee_amount FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(user.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.order_with_tickets(r).await?);
        }
        Ok(out)
    }

    /// `event`'s orders, newest first, at most `limit`: those whose buyer's
    /// e-mail address or name contains `search`, whose id starts with it or
    /// whose reference ([`OrderId::reference`]) holds it, when given, and only those placed before the order `before`, when
    /// given.
    pub async fn event_orders(
        &self,
        event: EventId,
        search: Option<&str>,
        before: Option<OrderId>,
        limit: u32,
    ) -> Result<Vec<EventOrderRecord>> {
        // LIKE's own characters in a search are matched as themselves.
        let escaped = search.unwrap_or("").replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        type Row = (String, String, String, String, i64, String, i64, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT o.id, u.email, u.name, o.status, o.total_amount, o.currency, o.created_at, \
               (SELECT COUNT(*) FROM tickets t WHERE t.order_id = o.id), \
               (SELECT CAST(COALESCE(SUM(r.amount), 0) AS BIGINT) FROM refunds r \
                WHERE r.order_id = o.id AND r.status <> 'failed') \
             FROM orders o JOIN users u ON u.id = o.user_id \
             WHERE o.event_id = $1 \
               AND ($2 = '' OR u.email LIKE '%' || $2 || '%' ESCAPE '\\' OR LOWER(u.name) LIKE '%' || $2 || '%' ESCAPE '\\' \
                    OR o.id LIKE $2 || '%' ESCAPE '\\' OR ($5 <> '' AND SUBSTR(o.id, 25) LIKE '%' || $5 || '%')) \
               AND ($3 = '' OR (o.created_at, o.id) < (SELECT b.created_at, b.id FROM orders b WHERE b.id = $3)) \
             ORDER BY o.created_at DESC, o.id DESC LIMIT $4",
        )
        .bind(event.to_string())
        .bind(escaped.to_lowercase())
        .bind(before.map(|b| b.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .bind(search.and_then(OrderId::reference_part).unwrap_or_default())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter()
            .map(|(order, email, name, status, total, currency, created, tickets, refunded)| {
                Ok(EventOrderRecord {
                    id: id(&order)?,
                    buyer_email: email,
                    buyer_name: name,
                    status,
                    total: money(total, &currency)?,
                    refunded: money(refunded, &currency)?,
                    tickets: u32::try_from(tickets).unwrap_or(u32::MAX),
                    created_at: ts(created)?,
                })
            })
            .collect()
    }

    /// An order's tickets, by id.
    async fn order_tickets(&self, order: &str) -> Result<Vec<TicketRecord>> {
        let sql = format!("{TICKET_SELECT} WHERE t.order_id = $1 ORDER BY t.id");
        let rows = self.hot_rows(&sql, &[order.into()], TicketRow::decode).await?;
        rows.into_iter().map(ticket).collect()
    }

    async fn order_with_tickets(&self, r: OrderRow) -> Result<OrderRecord> {
        let tickets = self.order_tickets(&r.0).await?;
        Ok(OrderRecord {
            id: id(&r.0)?,
            event: id(&r.1)?,
            user: id(&r.2)?,
            hold: id(&r.3)?,
            status: r.4,
            total: money(r.5, &r.6)?,
            fee: money(r.10, &r.6)?,
            gateway: r.7,
            payment_reference: r.8,
            created_at: ts(r.9)?,
            tickets,
            refunds: self.refunds_of(id(&r.0)?).await?,
        })
    }

    /// The user's tickets, soonest event first.
    pub async fn tickets_of(&self, user: UserId) -> Result<Vec<TicketRecord>> {
        let sql = format!("{TICKET_SELECT} WHERE t.holder_id = $1 ORDER BY e.starts_at, t.id");
        let rows = self.hot_rows(&sql, &[user.to_string().into()], TicketRow::decode).await?;
        rows.into_iter().map(ticket).collect()
    }

    pub async fn ticket(&self, ticket_id: TicketId) -> Result<Option<TicketRecord>> {
        let sql = format!("{TICKET_SELECT} WHERE t.id = $1");
        let rows = self.hot_rows(&sql, &[ticket_id.to_string().into()], TicketRow::decode).await?;
        rows.into_iter().next().map(ticket).transpose()
    }
}

impl Store {
    pub async fn order_for_hold(&self, hold: HoldId) -> Result<Option<OrderId>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM orders WHERE hold_id = $1")
            .bind(hold.to_string())
            .fetch_optional(&mut *self.read().await?)
            .await?;
        row.map(|(o,)| id(&o)).transpose()
    }
}
