//! Completing many orders in one transaction.
//!
//! [`Store::complete_order`] sends plain checkouts (new tickets only, no
//! resale) here. A batch writes each table once for all its orders, with
//! the same checks the single path makes, counted over the batch: every
//! hold taken while live, every seat claim turned from held to sold, every
//! payment attempt still open. If any check fails, or any statement does,
//! the batch is rolled back as a whole and each order is run on its own
//! through the single path, which finds and reports what was wrong with
//! it. So a batch changes how many statements are run, never what an
//! order's outcome is. If the commit itself fails, every order of the
//! batch gets that error, as a single order whose commit failed would.

use domain::Timestamp;
use domain::ids::{EventId, HoldId, OrderId, PaymentAttemptId, UserId};
use domain::money::Money;

use crate::batch::{ROWS_PER_INSERT_MAX, Turn, batch_query, batch_query_as, commit_failed, insert_rows, placeholders};
use crate::holds::SOLD_EXPIRES_AT;
use crate::{CompleteOrder, CompleteOrderError, NewJob, NewLedgerEntry, NewNotice, NewTicket, Store, StoreError, ms};

/// Most orders completed in one transaction. Multi-row statements are cut
/// at `ROWS_PER_INSERT_MAX` rows, so any batch stays inside both engines'
/// limits on bound parameters (SQLite 32,766; PostgreSQL 65,535).
pub(crate) const ORDER_BATCH_MAX: usize = 64;

/// A checkout to complete, owned so that it can wait in a batch.
#[derive(Clone, Debug)]
pub(crate) struct OrderToComplete {
    pub order: OrderId,
    pub hold: HoldId,
    pub user: UserId,
    pub event: EventId,
    pub total: Money,
    pub fee: Money,
    pub gateway: String,
    pub payment_reference: String,
    pub tickets: Vec<NewTicket>,
    pub idempotency_key: String,
    pub outbox: Vec<NewJob>,
    pub notices: Vec<NewNotice>,
    pub ledger: Vec<NewLedgerEntry>,
    pub escrow_release_after: Timestamp,
    pub payment_attempt: Option<PaymentAttemptId>,
    pub now: Timestamp,
}

impl OrderToComplete {
    /// `c` as a batch member, or `None` when it re-issues resold tickets,
    /// which only the single path settles.
    pub(crate) fn of(c: &CompleteOrder<'_>, now: Timestamp) -> Option<Self> {
        let plain = c.tickets.iter().all(|t| t.replaces.is_none())
            && c.lines.iter().all(|l| !matches!(l, domain::hold::HoldLine::Resale { .. }));
        plain.then(|| Self {
            order: c.order,
            hold: c.hold,
            user: c.user,
            event: c.event,
            total: c.total,
            fee: c.fee,
            gateway: c.gateway.to_owned(),
            payment_reference: c.payment_reference.to_owned(),
            tickets: c.tickets.to_vec(),
            idempotency_key: c.idempotency_key.to_owned(),
            outbox: c.outbox.to_vec(),
            notices: c.notices.to_vec(),
            ledger: c.ledger.to_vec(),
            escrow_release_after: c.escrow_release_after,
            payment_attempt: c.payment_attempt,
            now,
        })
    }

    fn as_complete(&self) -> CompleteOrder<'_> {
        CompleteOrder {
            order: self.order,
            hold: self.hold,
            user: self.user,
            event: self.event,
            total: self.total,
            fee: self.fee,
            gateway: &self.gateway,
            payment_reference: &self.payment_reference,
            tickets: &self.tickets,
            idempotency_key: &self.idempotency_key,
            outbox: &self.outbox,
            notices: &self.notices,
            ledger: &self.ledger,
            // Plain checkouts only: no line has a resale to settle.
            lines: &[],
            escrow_release_after: self.escrow_release_after,
            payment_attempt: self.payment_attempt,
        }
    }
}

/// Why a batch was given up before its commit: a check that failed, or an
/// error.
enum Abandon {
    Check,
    Store(StoreError),
}

impl From<sqlx::Error> for Abandon {
    fn from(e: sqlx::Error) -> Self {
        Abandon::Store(e.into())
    }
}

impl From<StoreError> for Abandon {
    fn from(e: StoreError) -> Self {
        Abandon::Store(e)
    }
}

impl Store {
    /// Completes `orders`, one result each, in order.
    pub(crate) async fn complete_orders(
        &self,
        orders: Vec<OrderToComplete>,
        turn: Turn,
    ) -> Vec<Result<(), CompleteOrderError>> {
        if orders.len() > 1 {
            match self.complete_orders_together(&orders, turn).await {
                Ok(Ok(())) => return orders.iter().map(|_| Ok(())).collect(),
                // The outcome is unknown: each caller treats it as a commit
                // that failed without an answer (the reconciler settles it).
                Err(e) => return orders.iter().map(|_| Err(commit_failed(&e).into())).collect(),
                Ok(Err(Abandon::Check)) => {}
                Ok(Err(Abandon::Store(e))) => {
                    tracing::debug!(error = %e, "an order batch failed; completing one by one")
                }
            }
        }
        let mut results = Vec::with_capacity(orders.len());
        for o in &orders {
            results.push(self.complete_order_alone(&o.as_complete(), o.now).await);
        }
        results
    }

    /// All of `orders` in one transaction, or none of them. The outer error
    /// is a failed commit, the inner one a batch given up before it.
    async fn complete_orders_together(
        &self,
        orders: &[OrderToComplete],
        turn: Turn,
    ) -> Result<Result<(), Abandon>, StoreError> {
        let mut tx = match self.write().await {
            Ok(tx) => tx,
            Err(e) => return Ok(Err(Abandon::Store(e))),
        };
        match write_orders(&mut tx, orders, self.backend).await {
            Ok(()) => {
                tx.commit_and(|| turn.end()).await?;
                Ok(Ok(()))
            }
            Err(e) => Ok(match tx.rollback().await {
                Ok(()) => Err(e),
                Err(r) => Err(Abandon::Store(r.into())),
            }),
        }
    }
}

async fn write_orders(
    tx: &mut crate::WriteTx,
    orders: &[OrderToComplete],
    backend: crate::Backend,
) -> Result<(), Abandon> {
    // Events still selling. On PostgreSQL share-locked, as on the single path.
    let mut events: Vec<String> = orders.iter().map(|o| o.event.to_string()).collect();
    events.sort();
    events.dedup();
    let share = backend.share_lock();
    let marks = (1..=events.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT id FROM events WHERE id IN ({marks}) AND status <> 'cancelled'{share}");
    let mut q = batch_query_as::<(String,)>(tx, sql);
    for e in &events {
        q = q.bind(e.as_str());
    }
    if q.fetch_all(&mut **tx).await?.len() != events.len() {
        return Err(Abandon::Check);
    }

    // Every hold taken, live and the buyer's: the lock, as on the single path.
    let sql = format!(
        "UPDATE holds SET status = 'ordered' FROM (VALUES {}) AS v \
         WHERE holds.id = v.column1 AND holds.user_id = v.column2 AND holds.event_id = v.column3 \
           AND holds.status = 'active' AND holds.expires_at > v.column4",
        placeholders(orders.len(), 4, 1)
    );
    let mut q = batch_query(tx, sql);
    for o in orders {
        q = q.bind(o.hold.to_string()).bind(o.user.to_string()).bind(o.event.to_string()).bind(ms(o.now));
    }
    if q.execute(&mut **tx).await?.rows_affected() != orders.len() as u64 {
        return Err(Abandon::Check);
    }

    // Every seat claim of those holds, from held to sold.
    let seats: Vec<(String, String, String)> = orders
        .iter()
        .flat_map(|o| {
            o.tickets
                .iter()
                .filter_map(move |t| t.seat.map(|s| (o.event.to_string(), s.to_string(), o.hold.to_string())))
        })
        .collect();
    for chunk in seats.chunks(ROWS_PER_INSERT_MAX) {
        let sql = format!(
            "UPDATE seat_claims SET state = 'sold', expires_at = $1 FROM (VALUES {}) AS v \
             WHERE seat_claims.event_id = v.column1 AND seat_claims.seat_id = v.column2 \
               AND seat_claims.hold_id = v.column3 AND seat_claims.state = 'held'",
            placeholders(chunk.len(), 3, 2)
        );
        let mut q = batch_query(tx, sql).bind(SOLD_EXPIRES_AT);
        for (event, seat, hold) in chunk {
            q = q.bind(event.as_str()).bind(seat.as_str()).bind(hold.as_str());
        }
        if q.execute(&mut **tx).await?.rows_affected() != chunk.len() as u64 {
            return Err(Abandon::Check);
        }
    }

    insert_rows(
        tx,
        "INSERT INTO orders (id, event_id, user_id, hold_id, status, total_amount, currency, payment_gateway, \
         payment_reference, created_at, fee_amount)",
        11,
        orders,
        |q, o| {
            q.bind(o.order.to_string())
                .bind(o.event.to_string())
                .bind(o.user.to_string())
                .bind(o.hold.to_string())
                .bind("paid")
                .bind(o.total.amount_minor())
                .bind(o.total.currency().as_str())
                .bind(o.gateway.as_str())
                .bind(o.payment_reference.as_str())
                .bind(ms(o.now))
                .bind(o.fee.amount_minor())
        },
    )
    .await?;

    // Every payment attempt still open becomes the order's.
    let paid: Vec<&OrderToComplete> = orders.iter().filter(|o| o.payment_attempt.is_some()).collect();
    if !paid.is_empty() {
        let sql = format!(
            "UPDATE payment_attempts SET status = 'completed', order_id = v.column2, reference = v.column3, \
               updated_at = v.column4 FROM (VALUES {}) AS v \
             WHERE payment_attempts.id = v.column1 AND payment_attempts.status IN ('pending', 'charged')",
            placeholders(paid.len(), 4, 1)
        );
        let mut q = batch_query(tx, sql);
        for o in &paid {
            let attempt = o.payment_attempt.map(|a| a.to_string());
            q = q.bind(attempt).bind(o.order.to_string()).bind(o.payment_reference.as_str()).bind(ms(o.now));
        }
        if q.execute(&mut **tx).await?.rows_affected() != paid.len() as u64 {
            return Err(Abandon::Check);
        }
    }

    let tickets: Vec<(&OrderToComplete, &NewTicket)> =
        orders.iter().flat_map(|o| o.tickets.iter().map(move |t| (o, t))).collect();
    insert_rows(
        tx,
        "INSERT INTO tickets (id, order_id, event_id, ticket_type_id, seat_id, ga_area_id, holder_id, status, \
         serial, barcode, entry_code, price_amount, currency, created_at)",
        14,
        &tickets,
        |q, (o, t)| {
            q.bind(t.id.to_string())
                .bind(o.order.to_string())
                .bind(o.event.to_string())
                .bind(t.ticket_type.to_string())
                .bind(t.seat.map(|s| s.to_string()))
                .bind(t.ga_area.map(|a| a.to_string()))
                .bind(o.user.to_string())
                .bind("valid")
                .bind(i64::from(t.serial))
                .bind(t.barcode.as_str())
                .bind(domain::barcode::entry_code(&t.barcode))
                .bind(t.price.amount_minor())
                .bind(t.price.currency().as_str())
                .bind(ms(o.now))
        },
    )
    .await?;

    let sql = format!(
        "UPDATE idempotency_keys SET state = 'done', order_id = v.column3, updated_at = v.column4 \
         FROM (VALUES {}) AS v WHERE idempotency_keys.user_id = v.column1 AND idempotency_keys.key = v.column2",
        placeholders(orders.len(), 4, 1)
    );
    let mut q = batch_query(tx, sql);
    for o in orders {
        q = q.bind(o.user.to_string()).bind(o.idempotency_key.as_str()).bind(o.order.to_string()).bind(ms(o.now));
    }
    q.execute(&mut **tx).await?;

    let entries: Vec<(&OrderToComplete, &NewLedgerEntry)> =
        orders.iter().flat_map(|o| o.ledger.iter().map(move |e| (o, e))).collect();
    insert_rows(
        tx,
        "INSERT INTO ledger_entries (id, leaf_input, kind, ticket_id, event_id, created_at)",
        6,
        &entries,
        |q, (o, e)| {
            q.bind(uuid::Uuid::now_v7().to_string())
                .bind(e.leaf_input.as_slice())
                .bind(e.kind)
                .bind(e.ticket.to_string())
                .bind(e.event.to_string())
                .bind(ms(o.now))
        },
    )
    .await?;

    // Notices are new unless a fan-out wrote them before (their dedupe key
    // is unique); a notice's e-mail job is written only with the notice.
    let notices: Vec<(&OrderToComplete, &NewNotice)> =
        orders.iter().flat_map(|o| o.notices.iter().map(move |n| (o, n))).collect();
    let mut written = std::collections::HashSet::new();
    for chunk in notices.chunks(ROWS_PER_INSERT_MAX) {
        let sql = format!(
            "INSERT INTO notifications (id, dedupe_key, user_id, email, kind, locale, title, link, data, email_status, \
             created_at) VALUES {} ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key",
            placeholders(chunk.len(), 11, 1)
        );
        let mut q = batch_query_as::<(String,)>(tx, sql);
        for (o, n) in chunk {
            q = q
                .bind(n.id.as_str())
                .bind(n.dedupe_key.as_str())
                .bind(n.user.map(|u| u.to_string()))
                .bind(n.email.as_deref())
                .bind(n.kind.as_str())
                .bind(n.locale.as_str())
                .bind(n.title.as_str())
                .bind(n.link.as_deref())
                .bind(n.data.as_str())
                .bind(if n.email.is_some() { "queued" } else { "none" })
                .bind(ms(o.now));
        }
        written.extend(q.fetch_all(&mut **tx).await?.into_iter().map(|(k,)| k));
    }

    let mut jobs: Vec<(&OrderToComplete, &NewJob)> =
        orders.iter().flat_map(|o| o.outbox.iter().map(move |j| (o, j))).collect();
    for (o, n) in &notices {
        // `remove`: of two notices with one key, only the one written counts.
        if let (Some(job), Some(_), true) = (&n.mail_job, &n.email, written.remove(&n.dedupe_key)) {
            jobs.push((o, job));
        }
    }
    insert_rows(
        tx,
        "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at)",
        9,
        &jobs,
        |q, (o, j)| {
            q.bind(uuid::Uuid::now_v7().to_string())
                .bind(j.kind.as_str())
                .bind(j.payload.as_str())
                .bind("pending")
                .bind(0i64)
                .bind(i64::from(j.max_attempts))
                .bind(ms(j.run_at))
                .bind(ms(o.now))
                .bind(ms(o.now))
        },
    )
    .await?;
    Ok(())
}
