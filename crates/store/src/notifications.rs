//! Notifications (in-app and e-mail), refunds, event cancellation fan-out and
//! reminders.
//!
//! A notification row is written in the same transaction as the fact it
//! tells (an order, a refund, a transfer offer, a cancellation), together with
//! the job that e-mails it: the message exists exactly when the fact does.
//! `dedupe_key` is unique, so a job that fans out again after a crash writes
//! nothing twice.

use domain::Timestamp;
use domain::ids::{EventId, GaAreaId, OrderId, SeatId, TicketId, UserId};
use domain::money::Money;

use crate::{NewJob, Result, Store, StoreError, id, money, ms, opt_id, ts};

/// A notification to write inside a fact's transaction.
#[derive(Clone, Debug)]
pub struct NewNotice {
    /// Also the e-mail's Message-ID: stable across delivery attempts.
    pub id: String,
    /// One notice per key, ever: re-running a fan-out adds nothing.
    pub dedupe_key: String,
    /// Shown in the app to this account, when the recipient has one.
    pub user: Option<UserId>,
    /// E-mailed to this address, when known.
    pub email: Option<String>,
    pub kind: String,
    pub locale: String,
    pub title: String,
    pub link: Option<String>,
    /// JSON: what the message templates render.
    pub data: String,
    /// The job that sends the e-mail; inserted only if the notice is new.
    pub mail_job: Option<NewJob>,
}

#[derive(Clone, Debug)]
pub struct NotificationRecord {
    pub id: String,
    pub user: Option<UserId>,
    pub email: Option<String>,
    pub kind: String,
    pub locale: String,
    pub title: String,
    pub link: Option<String>,
    pub data: String,
    /// none (no address), queued or sent.
    pub email_status: String,
    pub email_sent_at: Option<Timestamp>,
    pub read_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

type NotificationRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<i64>,
    Option<i64>,
    i64,
);

const NOTIFICATION_COLUMNS: &str =
    "id, user_id, email, kind, locale, title, link, data, email_status, email_sent_at, read_at, created_at";

fn notification(r: NotificationRow) -> Result<NotificationRecord> {
    Ok(NotificationRecord {
        id: r.0,
        user: opt_id(r.1)?,
        email: r.2,
        kind: r.3,
        locale: r.4,
        title: r.5,
        link: r.6,
        data: r.7,
        email_status: r.8,
        email_sent_at: r.9.map(ts).transpose()?,
        read_at: r.10.map(ts).transpose()?,
        created_at: ts(r.11)?,
    })
}

/// Writes a notice and its e-mail job inside the caller's transaction; false
/// when a notice with its dedupe key exists already.
pub(crate) async fn insert_notice(tx: &mut crate::WriteTx, n: &NewNotice, now: Timestamp) -> Result<bool> {
    let email_status = if n.email.is_some() { "queued" } else { "none" };
    let inserted = sqlx::query(
        "INSERT INTO notifications (id, dedupe_key, user_id, email, kind, locale, title, link, data, email_status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(&n.id)
    .bind(&n.dedupe_key)
    .bind(n.user.map(|u| u.to_string()))
    .bind(&n.email)
    .bind(&n.kind)
    .bind(&n.locale)
    .bind(&n.title)
    .bind(&n.link)
    .bind(&n.data)
    .bind(email_status)
    .bind(ms(now))
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() != 1 {
        return Ok(false);
    }
    if let (Some(job), Some(_)) = (&n.mail_job, &n.email) {
        crate::jobs::insert_job(tx, job, now).await?;
    }
    Ok(true)
}

/// Where and how to write to an account.
#[derive(Clone, Debug)]
pub struct Recipient {
    pub user: UserId,
    pub email: String,
    pub name: String,
    pub locale: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundStatus {
    Pending,
    Refunded,
    Failed,
}

impl RefundStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Refunded => "refunded",
            RefundStatus::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug)]
pub struct RefundRecord {
    pub id: String,
    pub order: OrderId,
    pub amount: Money,
    /// organizer or event_cancelled.
    pub reason: String,
    pub status: RefundStatus,
    pub requested_by: Option<UserId>,
    pub tickets: Vec<TicketId>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub refunded_at: Option<Timestamp>,
}

type RefundRow = (String, String, i64, String, String, String, Option<String>, Option<String>, i64, Option<i64>);

const REFUND_COLUMNS: &str =
    "id, order_id, amount, currency, reason, status, requested_by, last_error, created_at, refunded_at";

/// Which tickets a refund revokes.
#[derive(Clone, Copy, Debug)]
pub enum RevokeTickets<'a> {
    /// These, each of which must belong to the order and still be valid.
    Listed(&'a [TicketId]),
    /// Every ticket of the order that is still valid.
    AllValid,
}

#[derive(Clone)]
pub struct NewRefund<'a> {
    pub id: String,
    pub order: OrderId,
    /// `None`: everything not yet refunded.
    pub amount: Option<Money>,
    pub reason: &'a str,
    pub idempotency_key: &'a str,
    pub requested_by: Option<UserId>,
    pub tickets: RevokeTickets<'a>,
    /// The job that moves the money.
    pub job: NewJob,
    pub notices: &'a [NewNotice],
    /// The public log's entry for each ticket revoked, given its holder.
    pub revoke_entry: RevokeEntry<'a>,
}

/// Makes the public log's `revoke` entry for a ticket of an event, given
/// who holds it when it is revoked.
pub type RevokeEntry<'a> = &'a (dyn Fn(TicketId, EventId, UserId) -> crate::NewLedgerEntry + Send + Sync);

/// A refund as recorded, with the inventory it gave back.
#[derive(Clone, Debug)]
pub struct RecordedRefund {
    pub refund: RefundRecord,
    pub event: EventId,
    pub freed_seats: Vec<SeatId>,
    pub freed_areas: Vec<GaAreaId>,
}

/// Free tickets of an order an organizer cancels.
pub struct CancelFreeTickets<'a> {
    pub order: OrderId,
    /// Each must be a valid, unused, free ticket of the order, held by the
    /// account given with it (whom its notice is for).
    pub tickets: &'a [(TicketId, UserId)],
    /// The public log's entry for each ticket revoked, given its holder.
    pub revoke_entry: RevokeEntry<'a>,
    /// The holders' notices, written with the cancellation.
    pub notices: &'a [NewNotice],
}

/// Tickets cancelled, with the inventory they gave back.
#[derive(Clone, Debug)]
pub struct CancelledTickets {
    pub event: EventId,
    pub tickets: Vec<TicketId>,
    pub freed_seats: Vec<SeatId>,
    pub freed_areas: Vec<GaAreaId>,
    /// No valid ticket is left and nothing was paid: the order is closed.
    pub order_closed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CancelTicketsError {
    #[error("order not found")]
    UnknownOrder,
    #[error("ticket {0} is not a valid, unused, free ticket of this order")]
    NotCancellable(TicketId),
    #[error("a ticket was passed on meanwhile; nothing was cancelled")]
    HolderChanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CancelTicketsError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordRefundError {
    #[error("a refund with this key exists already")]
    Exists(Box<RefundRecord>),
    #[error("nothing is left to refund on this order")]
    NothingLeft,
    #[error("the amount is more than the {remaining} minor units left to refund")]
    ExceedsRemaining { remaining: i64 },
    #[error("the currency differs from the order's")]
    CurrencyMismatch,
    #[error("ticket {0} is not a valid ticket of this order")]
    TicketNotRefundable(TicketId),
    #[error("order not found")]
    UnknownOrder,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RecordRefundError {
    fn from(e: sqlx::Error) -> Self {
        RecordRefundError::Store(e.into())
    }
}

/// What the refund job needs to move the money.
#[derive(Clone, Debug)]
pub struct RefundToExecute {
    pub refund: RefundRecord,
    pub gateway: String,
    pub payment_reference: String,
    pub buyer: UserId,
    pub event: EventId,
}

impl Store {
    fn refund_from(&self, r: RefundRow, tickets: Vec<TicketId>) -> Result<RefundRecord> {
        Ok(RefundRecord {
            id: r.0,
            order: id(&r.1)?,
            amount: money(r.2, &r.3)?,
            reason: r.4,
            status: match r.5.as_str() {
                "pending" => RefundStatus::Pending,
                "refunded" => RefundStatus::Refunded,
                "failed" => RefundStatus::Failed,
                other => return Err(StoreError::Corrupt(format!("bad refund status '{other}'"))),
            },
            requested_by: opt_id(r.6)?,
            last_error: r.7,
            created_at: ts(r.8)?,
            tickets,
            refunded_at: r.9.map(ts).transpose()?,
        })
    }

    async fn refund_tickets(&self, refund_id: &str) -> Result<Vec<TicketId>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT ticket_id FROM refund_tickets WHERE refund_id = $1 ORDER BY ticket_id")
                .bind(refund_id)
                .fetch_all(&mut *self.read().await?)
                .await?;
        rows.iter().map(|(t,)| id(t)).collect()
    }

    pub async fn refund(&self, refund_id: &str) -> Result<Option<RefundRecord>> {
        let row: Option<RefundRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1")))
                .bind(refund_id)
                .fetch_optional(&mut *self.read().await?)
                .await?;
        match row {
            None => Ok(None),
            Some(r) => {
                let tickets = self.refund_tickets(&r.0).await?;
                Ok(Some(self.refund_from(r, tickets)?))
            }
        }
    }

    /// The refunds of an order, oldest first.
    pub async fn refunds_of(&self, order: OrderId) -> Result<Vec<RefundRecord>> {
        let rows: Vec<RefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE order_id = $1 ORDER BY created_at, id"
        )))
        .bind(order.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let tickets = self.refund_tickets(&r.0).await?;
            out.push(self.refund_from(r, tickets)?);
        }
        Ok(out)
    }

    /// Records a refund in one transaction: the refund row (pending), its
    /// tickets revoked (their seats free to sell again, open listings
    /// withdrawn, pending transfers cancelled), the order closed when nothing
    /// is left, and the job that moves the money. Refunds of one order are
    /// serialised by a lock on the order row, so two can never together
    /// exceed what was paid.
    pub async fn record_refund(&self, r: &NewRefund<'_>, now: Timestamp) -> Result<RecordedRefund, RecordRefundError> {
        let order_s = r.order.to_string();
        let mut tx = self.write().await?;
        // The lock (a no-op update), taken before anything is checked.
        let order: Option<(String, i64, String, String)> = sqlx::query_as(
            "UPDATE orders SET status = status WHERE id = $1 RETURNING event_id, total_amount, currency, status",
        )
        .bind(&order_s)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((event_s, total, currency, _status)) = order else {
            return Err(RecordRefundError::UnknownOrder);
        };
        let existing: Option<RefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE idempotency_key = $1"
        )))
        .bind(r.idempotency_key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            drop(tx);
            let tickets = self.refund_tickets(&row.0).await?;
            return Err(RecordRefundError::Exists(Box::new(self.refund_from(row, tickets)?)));
        }
        let (refunded,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds WHERE order_id = $1 AND status <> 'failed'",
        )
        .bind(&order_s)
        .fetch_one(&mut *tx)
        .await?;
        // A ticket of this order resold on the market paid its seller back
        // through escrow: its face value is no longer this order's to
        // refund (unless that escrow went back to the resale's buyer).
        let (resold_away,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(l.seller_paid_amount), 0) AS BIGINT) FROM listings l \
             WHERE l.seller_order_id = $1 AND l.status = 'sold' \
             AND NOT EXISTS (SELECT 1 FROM escrow e WHERE e.listing_id = l.id AND e.status = 'refunded')",
        )
        .bind(&order_s)
        .fetch_one(&mut *tx)
        .await?;
        let remaining = total - refunded - resold_away;
        if remaining <= 0 {
            return Err(RecordRefundError::NothingLeft);
        }
        let amount = match r.amount {
            Some(a) if a.currency().as_str() != currency => return Err(RecordRefundError::CurrencyMismatch),
            Some(a) if a.amount_minor() > remaining => return Err(RecordRefundError::ExceedsRemaining { remaining }),
            Some(a) => a.amount_minor(),
            None => remaining,
        };
        if amount <= 0 {
            return Err(RecordRefundError::NothingLeft);
        }
        // Whoever gets back everything that is left keeps no ticket: a
        // refund of the rest by amount (naming no ticket) revokes the
        // tickets still valid too. A refund naming tickets revokes those
        // alone, even when it takes what is left: the others may be someone
        // else's by now (passed on), or simply not asked about.
        let all_valid = match r.tickets {
            RevokeTickets::AllValid => true,
            RevokeTickets::Listed(list) => list.is_empty() && amount == remaining,
        };
        let tickets: Vec<TicketId> = match &r.tickets {
            RevokeTickets::Listed(list) if !all_valid => list.to_vec(),
            _ => {
                let rows: Vec<(String,)> =
                    // A ticket used at the gate keeps its place: someone
                    // sat in that seat (or stood in that area), so it is not
                    // sold again, whatever money comes back.
                    sqlx::query_as(
                        "SELECT id FROM tickets WHERE order_id = $1 AND status = 'valid' AND checked_in_at IS NULL \
                         ORDER BY id",
                    )
                        .bind(&order_s)
                        .fetch_all(&mut *tx)
                        .await?;
                rows.iter().map(|(t,)| id(t)).collect::<Result<_>>()?
            }
        };
        if let RevokeTickets::Listed(list) = &r.tickets
            && let Some(t) = list.iter().find(|t| !tickets.contains(t))
        {
            return Err(RecordRefundError::TicketNotRefundable(*t));
        }
        sqlx::query(
            "INSERT INTO refunds (id, order_id, amount, currency, reason, status, idempotency_key, requested_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8)",
        )
        .bind(&r.id)
        .bind(&order_s)
        .bind(amount)
        .bind(&currency)
        .bind(r.reason)
        .bind(r.idempotency_key)
        .bind(r.requested_by.map(|u| u.to_string()))
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        let mut freed = Freed::default();
        for t in &tickets {
            let revoke = RevokeOne { order: &order_s, event: &event_s, ticket: *t, free_only: false };
            if revoke_order_ticket(&mut tx, &revoke, r.revoke_entry, &mut freed, now).await?.is_none() {
                return Err(RecordRefundError::TicketNotRefundable(*t));
            }
            sqlx::query("INSERT INTO refund_tickets (refund_id, ticket_id) VALUES ($1, $2)")
                .bind(&r.id)
                .bind(t.to_string())
                .execute(&mut *tx)
                .await?;
        }
        if amount == remaining {
            sqlx::query("UPDATE orders SET status = 'refunded' WHERE id = $1").bind(&order_s).execute(&mut *tx).await?;
        }
        crate::jobs::insert_job(&mut tx, &r.job, now).await?;
        for n in r.notices {
            insert_notice(&mut tx, n, now).await?;
        }
        tx.commit().await?;
        let Freed { seats: freed_seats, areas: freed_areas } = freed.sorted();
        let refund = RefundRecord {
            id: r.id.clone(),
            order: r.order,
            amount: money(amount, &currency)?,
            reason: r.reason.to_owned(),
            status: RefundStatus::Pending,
            requested_by: r.requested_by,
            tickets,
            last_error: None,
            created_at: now,
            refunded_at: None,
        };
        Ok(RecordedRefund { refund, event: id(&event_s)?, freed_seats, freed_areas })
    }

    /// Cancels free tickets of an order (an organizer's decision; there is
    /// no money to give back): each revoked as a refund revokes it, with the
    /// holders' notices, in one transaction; all or none. An order with no
    /// valid ticket left and nothing paid is closed.
    pub async fn cancel_free_tickets(
        &self,
        c: &CancelFreeTickets<'_>,
        now: Timestamp,
    ) -> Result<CancelledTickets, CancelTicketsError> {
        let order_s = c.order.to_string();
        let mut tx = self.write().await?;
        // Serialised with refunds of the order by the same row lock.
        let order: Option<(String, i64)> =
            sqlx::query_as("UPDATE orders SET status = status WHERE id = $1 RETURNING event_id, total_amount")
                .bind(&order_s)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((event_s, total)) = order else {
            return Err(CancelTicketsError::UnknownOrder);
        };
        let mut freed = Freed::default();
        for (t, holder) in c.tickets {
            let revoke = RevokeOne { order: &order_s, event: &event_s, ticket: *t, free_only: true };
            match revoke_order_ticket(&mut tx, &revoke, c.revoke_entry, &mut freed, now).await? {
                None => return Err(CancelTicketsError::NotCancellable(*t)),
                // The notices are for the holders the caller read.
                Some(now_held_by) if now_held_by != *holder => return Err(CancelTicketsError::HolderChanged),
                Some(_) => {}
            }
        }
        let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tickets WHERE order_id = $1 AND status = 'valid'")
            .bind(&order_s)
            .fetch_one(&mut *tx)
            .await?;
        let closed = left == 0 && total == 0;
        if closed {
            sqlx::query("UPDATE orders SET status = 'refunded' WHERE id = $1").bind(&order_s).execute(&mut *tx).await?;
        }
        for n in c.notices {
            insert_notice(&mut tx, n, now).await?;
        }
        tx.commit().await?;
        let Freed { seats, areas } = freed.sorted();
        Ok(CancelledTickets {
            event: id(&event_s)?,
            tickets: c.tickets.iter().map(|(t, _)| *t).collect(),
            freed_seats: seats,
            freed_areas: areas,
            order_closed: closed,
        })
    }

    /// The refund with what its job needs, if it is still pending.
    pub async fn refund_to_execute(&self, refund_id: &str) -> Result<Option<RefundToExecute>> {
        let Some(refund) = self.refund(refund_id).await? else {
            return Ok(None);
        };
        let row: Option<(String, String, String, String)> =
            sqlx::query_as("SELECT payment_gateway, payment_reference, user_id, event_id FROM orders WHERE id = $1")
                .bind(refund.order.to_string())
                .fetch_optional(&mut *self.read().await?)
                .await?;
        let Some((gateway, payment_reference, buyer, event)) = row else {
            return Err(StoreError::Corrupt(format!("refund {refund_id} names a missing order")));
        };
        Ok(Some(RefundToExecute { refund, gateway, payment_reference, buyer: id(&buyer)?, event: id(&event)? }))
    }

    /// Marks a pending refund done (the gateway has paid it back) and writes
    /// the notices that tell the buyer, in one transaction. False if it was
    /// no longer pending.
    pub async fn complete_refund(&self, refund_id: &str, notices: &[NewNotice], now: Timestamp) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE refunds SET status = 'refunded', refunded_at = $1, last_error = NULL WHERE id = $2 AND status = 'pending'",
        )
        .bind(ms(now))
        .bind(refund_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for n in notices {
            insert_notice(&mut tx, n, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The gateway refused the refund for good: it stays on record as failed
    /// (its amount counts as not refunded), for the organizer to settle.
    pub async fn fail_refund(&self, refund_id: &str, error: &str) -> Result<bool> {
        let done = self
            .write_one(
                sqlx::query(
                    "UPDATE refunds SET status = 'failed', last_error = $1 WHERE id = $2 AND status = 'pending'",
                )
                .bind(error)
                .bind(refund_id),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The orders of an event that were paid, refunded since or not, and
    /// their buyers, for cancellation: each is refunded what is left of it.
    pub async fn paid_orders_of_event(&self, event: EventId) -> Result<Vec<(OrderId, UserId)>> {
        let rows: Vec<(String, String)> =
            // A refunded order may have money left to give back once the
            // resale escrow went back (its resold tickets' face value).
            sqlx::query_as(
                "SELECT id, user_id FROM orders WHERE event_id = $1 AND status IN ('paid', 'refunded') ORDER BY id",
            )
                .bind(event.to_string())
                .fetch_all(&mut *self.read().await?)
                .await?;
        rows.iter().map(|(o, u)| Ok((id(o)?, id(u)?))).collect()
    }

    /// Revokes every ticket of an event that is still valid (after its
    /// orders were refunded: what is left came in by another way).
    pub async fn revoke_event_tickets(
        &self,
        event: EventId,
        now: Timestamp,
        revoke_entry: RevokeEntry<'_>,
    ) -> Result<u64> {
        let mut tx = self.write().await?;
        let ids: Vec<(String, String)> =
            sqlx::query_as("SELECT id, holder_id FROM tickets WHERE event_id = $1 AND status = 'valid'")
                .bind(event.to_string())
                .fetch_all(&mut *tx)
                .await?;
        for (t, holder) in &ids {
            release_ticket(&mut tx, t).await?;
            crate::ledger::insert_ledger_entry(&mut tx, &revoke_entry(id(t)?, event, id(holder)?), now).await?;
        }
        let done = sqlx::query(
            "UPDATE tickets SET status = 'revoked', revoked_at = $2 WHERE event_id = $1 AND status = 'valid'",
        )
        .bind(event.to_string())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Moves an event to `to` (cancelled) and enqueues the job that carries
    /// out the consequences, in one transaction.
    pub async fn set_event_status_with_job(
        &self,
        event: EventId,
        from: domain::event::EventStatus,
        to: domain::event::EventStatus,
        job: &NewJob,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query("UPDATE events SET status = $1 WHERE id = $2 AND status = $3")
            .bind(to.as_str())
            .bind(event.to_string())
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if to == domain::event::EventStatus::Cancelled {
            crate::holds::release_event_holds(&mut tx, event).await?;
        }
        crate::jobs::insert_job(&mut tx, job, now).await?;
        tx.commit().await?;
        self.cache.events.invalidate(&event);
        Ok(true)
    }

    /// Served from the read cache when fresh (a session's load fills it).
    pub async fn recipient(&self, user: UserId) -> Result<Option<Recipient>> {
        crate::cache::cached!(self.cache.recipients, user, self.load_recipient(user).await)
    }

    async fn load_recipient(&self, user: UserId) -> Result<Option<Recipient>> {
        let row: Option<(String, String, String)> =
            sqlx::query_as("SELECT email, name, locale FROM users WHERE id = $1")
                .bind(user.to_string())
                .fetch_optional(&mut *self.read().await?)
                .await?;
        Ok(row.map(|(email, name, locale)| Recipient { user, email, name, locale }))
    }

    /// Sets the language messages to this account are written in.
    pub async fn set_locale(&self, user: UserId, locale: &str) -> Result<bool> {
        let done = self
            .write_one(sqlx::query("UPDATE users SET locale = $1 WHERE id = $2").bind(locale).bind(user.to_string()))
            .await?;
        self.cache.recipients.invalidate(&user);
        Ok(done.rows_affected() == 1)
    }

    /// Writes notices on their own (a fan-out job); returns how many were new.
    pub async fn record_notices(&self, notices: &[NewNotice], now: Timestamp) -> Result<usize> {
        let mut tx = self.write().await?;
        let mut new = 0;
        for n in notices {
            if insert_notice(&mut tx, n, now).await? {
                new += 1;
            }
        }
        tx.commit().await?;
        Ok(new)
    }

    pub async fn notification(&self, notification_id: &str) -> Result<Option<NotificationRecord>> {
        let row: Option<NotificationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1"
        )))
        .bind(notification_id)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(notification).transpose()
    }

    /// A user's notifications, newest first.
    pub async fn notifications_of(&self, user: UserId, limit: u32) -> Result<Vec<NotificationRecord>> {
        let rows: Vec<NotificationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        )))
        .bind(user.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(notification).collect()
    }

    /// Marks one of the user's notifications read; false if it is not theirs.
    pub async fn mark_notification_read(&self, user: UserId, notification_id: &str, now: Timestamp) -> Result<bool> {
        let done = self
            .write_one(
                sqlx::query("UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3")
                    .bind(ms(now))
                    .bind(notification_id)
                    .bind(user.to_string()),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that the mail server accepted the message; false if it was
    /// marked before (a second worker, or a retry after a lost commit).
    pub async fn mark_email_sent(&self, notification_id: &str, now: Timestamp) -> Result<bool> {
        let done = self.write_one(sqlx::query(
            "UPDATE notifications SET email_status = 'sent', email_sent_at = $1 WHERE id = $2 AND email_status = 'queued'",
        )
        .bind(ms(now))
        .bind(notification_id)
        )
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Published events starting in [from, to) whose reminders have not
    /// been scheduled yet.
    pub async fn events_due_for_reminder(&self, from: Timestamp, to: Timestamp) -> Result<Vec<EventId>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT e.id FROM events e WHERE e.status = 'published' AND e.starts_at >= $1 AND e.starts_at < $2 \
             AND NOT EXISTS (SELECT 1 FROM event_reminders r WHERE r.event_id = e.id) ORDER BY e.starts_at LIMIT 100",
        )
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter().map(|(e,)| id(e)).collect()
    }

    /// Claims an event's reminders and enqueues the job that sends them, in
    /// one transaction; false if another node claimed them first.
    pub async fn claim_event_reminder(&self, event: EventId, job: &NewJob, now: Timestamp) -> Result<bool> {
        let mut tx = self.write().await?;
        let claimed =
            sqlx::query("INSERT INTO event_reminders (event_id, scheduled_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(event.to_string())
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
        if claimed.rows_affected() != 1 {
            return Ok(false);
        }
        crate::jobs::insert_job(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Distinct holders of an event's valid tickets.
    pub async fn ticket_holders(&self, event: EventId) -> Result<Vec<UserId>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT holder_id FROM tickets WHERE event_id = $1 AND status = 'valid' ORDER BY holder_id",
        )
        .bind(event.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter().map(|(u,)| id(u)).collect()
    }
}

/// A revoked ticket leaves the market: its open listing is withdrawn and a
/// pending transfer offer cancelled.
/// One ticket of an order to revoke.
struct RevokeOne<'a> {
    order: &'a str,
    event: &'a str,
    ticket: TicketId,
    /// Only if it has no price (a cancellation without a refund).
    free_only: bool,
}

/// What revoking tickets put back on sale.
#[derive(Default)]
struct Freed {
    seats: Vec<SeatId>,
    areas: Vec<GaAreaId>,
}

impl Freed {
    fn sorted(mut self) -> Self {
        self.areas.sort_unstable();
        self.areas.dedup();
        self
    }
}

/// Revokes a ticket of an order if it is still valid and unused: the public
/// log records it, its seat may be sold again, its open listing and pending
/// transfer end. Its holder, or `None` when the ticket is not one that may
/// be revoked.
async fn revoke_order_ticket(
    tx: &mut crate::WriteTx,
    r: &RevokeOne<'_>,
    revoke_entry: RevokeEntry<'_>,
    freed: &mut Freed,
    now: Timestamp,
) -> Result<Option<UserId>> {
    // A ticket used at the gate keeps its place: someone sat in that seat.
    let free_only = if r.free_only { " AND price_amount = 0" } else { "" };
    let revoked: Option<(Option<String>, Option<String>, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE tickets SET status = 'revoked', revoked_at = $3 \
         WHERE id = $1 AND order_id = $2 AND status = 'valid' AND checked_in_at IS NULL{free_only} \
         RETURNING seat_id, ga_area_id, holder_id"
    )))
    .bind(r.ticket.to_string())
    .bind(r.order)
    .bind(ms(now))
    .fetch_optional(&mut **tx)
    .await?;
    let Some((seat, area, holder)) = revoked else {
        return Ok(None);
    };
    let holder: UserId = id(&holder)?;
    let entry = revoke_entry(r.ticket, id(r.event)?, holder);
    crate::ledger::insert_ledger_entry(tx, &entry, now).await?;
    if let Some(seat) = seat {
        // The seat may be sold again: no claim row means free.
        sqlx::query("DELETE FROM seat_claims WHERE event_id = $1 AND seat_id = $2 AND state = 'sold'")
            .bind(r.event)
            .bind(&seat)
            .execute(&mut **tx)
            .await?;
        freed.seats.push(id(&seat)?);
    }
    if let Some(area) = area {
        freed.areas.push(id(&area)?);
    }
    release_ticket(tx, &r.ticket.to_string()).await?;
    Ok(Some(holder))
}

async fn release_ticket(tx: &mut crate::WriteTx, ticket: &str) -> Result<()> {
    sqlx::query("UPDATE listings SET status = 'withdrawn', hold_id = NULL, held_until = NULL WHERE ticket_id = $1 AND status = 'open'")
        .bind(ticket)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE transfers SET status = 'cancelled' WHERE ticket_id = $1 AND status = 'pending'")
        .bind(ticket)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
