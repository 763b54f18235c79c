//! Holds and availability.
//!
//! Seats are arbitrated by `seat_claims`, one row per (event, seat): a hold
//! takes a row with a conditional upsert that succeeds only when the row is
//! absent, or held by a hold that has expired. GA places are counted from live
//! hold lines and valid tickets under the write lock. Either way, availability
//! is derived from rows and is right the instant a hold expires.

use std::collections::HashMap;

use domain::Timestamp;
use domain::hold::{HoldLine, PricedHold};
use domain::ids::{EventId, GaAreaId, HoldId, QueueEntryId, SeatId, TicketTypeId, UserId, VenueId};
use domain::money::Money;

use crate::direct_reads::{Columns, Param};
use crate::{AdmissionSpend, Result, Store, StoreError, id, money, ms, opt_id, ts};

/// A claim that can never expire, for sold seats.
pub(crate) const SOLD_EXPIRES_AT: i64 = i64::MAX;
/// Seats looked up per statement by [`Store::seat_check`]: keeps each
/// statement's parameter list short.
const SEATS_PER_CHECK_MAX: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldStatus {
    Active,
    Ordered,
    Released,
    /// Recorded by the sweeper; a hold past `expires_at` is dead either way.
    Expired,
}

impl HoldStatus {
    fn parse(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(HoldStatus::Active),
            "ordered" => Ok(HoldStatus::Ordered),
            "released" => Ok(HoldStatus::Released),
            "expired" => Ok(HoldStatus::Expired),
            other => Err(StoreError::Corrupt(format!("bad hold status '{other}'"))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct HoldRecord {
    pub id: HoldId,
    pub event: EventId,
    pub user: UserId,
    pub status: HoldStatus,
    /// What the buyer is charged: the tickets' prices plus `fee`.
    pub total: Money,
    /// The platform fee locked in with the hold, part of `total`.
    pub fee: Money,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub lines: Vec<HoldLine>,
}

impl HoldRecord {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.status == HoldStatus::Active && now < self.expires_at
    }

    /// The tickets' prices without the fee.
    pub fn subtotal(&self) -> Money {
        Money::new(self.total.amount_minor() - self.fee.amount_minor(), self.total.currency())
            .expect("the fee is part of the total")
    }
}

/// The seats a hold asks for, as read before it is placed.
#[derive(Clone, Debug, Default)]
pub struct SeatCheck {
    /// Held or sold for the event.
    pub taken: Vec<SeatId>,
    /// The price zone of each seat that is at the event's venue.
    pub zones: HashMap<SeatId, String>,
}

/// A hold with one of its lines; the line's columns are NULL when the hold
/// has none.
struct HoldLineRow {
    id: String,
    event_id: String,
    user_id: String,
    status: String,
    total_amount: i64,
    currency: String,
    created_at: i64,
    expires_at: i64,
    fee_amount: i64,
    seat_id: Option<String>,
    ga_area_id: Option<String>,
    quantity: Option<i64>,
    ticket_type_id: Option<String>,
    unit_price: Option<i64>,
    listing_id: Option<String>,
    replaces_ticket_id: Option<String>,
}

impl HoldLineRow {
    fn decode(r: &dyn Columns) -> Result<Self> {
        Ok(Self {
            id: r.text(0)?,
            event_id: r.text(1)?,
            user_id: r.text(2)?,
            status: r.text(3)?,
            total_amount: r.int(4)?,
            currency: r.text(5)?,
            created_at: r.int(6)?,
            expires_at: r.int(7)?,
            fee_amount: r.int(8)?,
            seat_id: r.opt_text(9)?,
            ga_area_id: r.opt_text(10)?,
            quantity: r.opt_int(11)?,
            ticket_type_id: r.opt_text(12)?,
            unit_price: r.opt_int(13)?,
            listing_id: r.opt_text(14)?,
            replaces_ticket_id: r.opt_text(15)?,
        })
    }

    /// The line, or `None` for the row of a hold without lines.
    fn line(&self) -> Result<Option<HoldLine>> {
        let (Some(tt), Some(price)) = (&self.ticket_type_id, self.unit_price) else {
            return Ok(None);
        };
        let ticket_type: TicketTypeId = id(tt)?;
        let unit_price = money(price, &self.currency)?;
        if let (Some(listing), Some(replaces)) = (&self.listing_id, &self.replaces_ticket_id) {
            return Ok(Some(HoldLine::Resale {
                listing: id(listing)?,
                replaces: id(replaces)?,
                seat: opt_id(self.seat_id.clone())?,
                area: opt_id(self.ga_area_id.clone())?,
                ticket_type,
                unit_price,
            }));
        }
        let line = match (opt_id::<SeatId>(self.seat_id.clone())?, opt_id::<GaAreaId>(self.ga_area_id.clone())?) {
            (Some(seat), None) => HoldLine::Seat { seat, ticket_type, unit_price },
            (None, Some(area)) => HoldLine::Ga {
                area,
                quantity: u32::try_from(self.quantity.unwrap_or(0))
                    .map_err(|_| StoreError::Corrupt("quantity".into()))?,
                ticket_type,
                unit_price,
            },
            _ => return Err(StoreError::Corrupt(format!("hold line of {} names no inventory", self.id))),
        };
        Ok(Some(line))
    }
}

/// Why a hold could not be placed: the inventory named is taken.
#[derive(Debug, Default, thiserror::Error)]
#[error("some of the requested seats or places are no longer available")]
pub struct HoldConflict {
    pub seats: Vec<SeatId>,
    pub ga_areas: Vec<GaAreaId>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlaceHoldError {
    #[error(transparent)]
    Conflict(HoldConflict),
    /// The waiting room's admission was already spent, lapsed, or never given.
    #[error("this admission was already used or has lapsed")]
    AdmissionNotSpendable,
    /// The account would own or hold more than the event allows.
    #[error("at most {max} tickets per account for this event; this account already has {already}")]
    AccountLimit { max: u32, already: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for PlaceHoldError {
    fn from(e: sqlx::Error) -> Self {
        PlaceHoldError::Store(e.into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseHoldError {
    #[error("no such hold")]
    NotFound,
    #[error("the hold has become an order and can no longer be released")]
    Ordered,
    /// Released only if unpaid, and a payment for it has started.
    #[error("a payment for the hold has started")]
    Paying,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the sweeper freed.
#[derive(Clone, Debug)]
pub struct ExpiredHold {
    pub event: EventId,
    pub seats: Vec<SeatId>,
    pub ga_areas: Vec<GaAreaId>,
}

/// Deletes a hold's seat claims that are still only held; returns their seats.
async fn free_claims(tx: &mut crate::WriteTx, hold: &str) -> Result<Vec<SeatId>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("DELETE FROM seat_claims WHERE hold_id = $1 AND state = 'held' RETURNING seat_id")
            .bind(hold)
            .fetch_all(&mut **tx)
            .await?;
    rows.into_iter().map(|(s,)| id(&s)).collect()
}

/// Releases every live hold of `event` (it was cancelled: nothing can be
/// bought) with its seat claims and resale listings, inside the caller's
/// transaction. A checkout already under way finds its hold released and is
/// refunded, as for any hold that ends before it is paid.
pub(crate) async fn release_event_holds(tx: &mut crate::WriteTx, event: EventId) -> Result<()> {
    let e = event.to_string();
    sqlx::query(
        "UPDATE listings SET hold_id = NULL, held_until = NULL WHERE status = 'open' \
         AND hold_id IN (SELECT id FROM holds WHERE event_id = $1 AND status = 'active')",
    )
    .bind(&e)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM seat_claims WHERE event_id = $1 AND state = 'held'").bind(&e).execute(&mut **tx).await?;
    sqlx::query("UPDATE holds SET status = 'released' WHERE event_id = $1 AND status = 'active'")
        .bind(&e)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatStatus {
    Available,
    Held,
    Sold,
}

#[derive(Clone, Debug)]
pub struct Availability {
    pub seats: Vec<(SeatId, SeatStatus)>,
    /// (area, capacity, remaining)
    pub ga: Vec<(GaAreaId, u32, u32)>,
}

/// GA places of `area` taken for `event` at `now`: in live holds or sold.
async fn ga_taken(conn: &mut sqlx::AnyConnection, event: &str, area: &str, now: i64) -> Result<i64> {
    let (held,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM hold_lines l JOIN holds h ON h.id = l.hold_id \
         WHERE l.ga_area_id = $1 AND l.listing_id IS NULL AND h.event_id = $2 AND h.status = 'active' AND h.expires_at > $3",
    )
    .bind(area)
    .bind(event)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let (sold,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM tickets WHERE event_id = $1 AND ga_area_id = $2 AND status = 'valid'")
            .bind(event)
            .bind(area)
            .fetch_one(&mut *conn)
            .await?;
    Ok(held + sold)
}

/// A hold to place.
#[derive(Clone, Copy, Debug)]
pub struct NewHold<'a> {
    pub id: HoldId,
    pub event: EventId,
    pub user: UserId,
    pub priced: &'a PricedHold,
    pub guards: HoldGuards,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// Checks a hold must pass inside its own transaction, so that concurrent
/// holds cannot both slip past them.
#[derive(Clone, Copy, Debug, Default)]
pub struct HoldGuards {
    /// The waiting room's admission to spend: the hold is refused unless it
    /// was admitted and unspent, and it is spent only if the hold succeeds.
    pub admission: Option<QueueEntryId>,
    /// Most tickets one account may own and hold for the event, across orders.
    pub per_account_max: Option<u32>,
}

/// Checks the account's ticket limit for `asked` more units and spends the
/// waiting room's admission, inside the hold's transaction. Spent before
/// anything is claimed: a failed claim rolls the whole transaction back, the
/// spend with it, so a buyer who lost a race for a seat keeps their turn.
pub(crate) async fn apply_guards(
    tx: &mut crate::WriteTx,
    event_s: &str,
    user: UserId,
    asked: i64,
    guards: &HoldGuards,
    now_ms: i64,
) -> Result<(), PlaceHoldError> {
    if let Some(max) = guards.per_account_max {
        let user_s = user.to_string();
        // One account's holds are counted one at a time: a no-op update
        // of a non-key column takes the user's row lock on PostgreSQL
        // without blocking inserts that merely reference the user.
        sqlx::query("UPDATE users SET name = name WHERE id = $1").bind(&user_s).execute(&mut **tx).await?;
        let already = crate::sale_controls::account_units(tx, event_s, &user_s, now_ms).await?;
        if already + asked > i64::from(max) {
            return Err(PlaceHoldError::AccountLimit { max, already: u32::try_from(already).unwrap_or(u32::MAX) });
        }
    }
    if let Some(entry) = guards.admission
        && crate::sale_controls::spend_admission(tx, entry, now_ms).await? != AdmissionSpend::Spent
    {
        return Err(PlaceHoldError::AdmissionNotSpendable);
    }
    Ok(())
}

/// Each GA area of `venue` as (area, capacity, remaining) for `event`.
async fn ga_availability(
    conn: &mut sqlx::AnyConnection,
    event: &str,
    venue: VenueId,
    now_ms: i64,
) -> Result<Vec<(GaAreaId, u32, u32)>> {
    let areas: Vec<(String, i64)> =
        sqlx::query_as("SELECT id, capacity FROM ga_areas WHERE venue_id = $1 ORDER BY position")
            .bind(venue.to_string())
            .fetch_all(&mut *conn)
            .await?;
    let mut ga = Vec::with_capacity(areas.len());
    for (area, capacity) in areas {
        let taken = ga_taken(conn, event, &area, now_ms).await?;
        let remaining = (capacity - taken).max(0);
        ga.push((id(&area)?, u32::try_from(capacity).unwrap_or(u32::MAX), u32::try_from(remaining).unwrap_or(0)));
    }
    Ok(ga)
}

impl Store {
    /// Places a hold, all or nothing: either every seat and GA place is
    /// claimed for `hold`, or nothing is written and the conflict names what
    /// was taken.
    ///
    /// Concurrent holds of seats alone, without guards, are placed together,
    /// several to a transaction (`hold_batch`); each gets its own outcome.
    pub async fn place_hold(&self, new: &NewHold<'_>) -> Result<(), PlaceHoldError> {
        let Some(hold) = crate::hold_batch::HoldToPlace::of(new) else {
            return self.place_hold_alone(new).await;
        };
        let store = self.clone();
        let run = move |holds, turn| {
            let store = store.clone();
            async move { store.place_holds(holds, turn).await }
        };
        self.hold_batches.submit(hold, run).await.unwrap_or_else(|lost| Err(StoreError::from(lost).into()))
    }

    /// [`place_hold`](Self::place_hold) in a transaction of its own.
    pub(crate) async fn place_hold_alone(&self, new: &NewHold<'_>) -> Result<(), PlaceHoldError> {
        let NewHold { id: hold, event, user, priced, guards, now, expires_at } = *new;
        let (event_s, hold_s, now_ms, exp_ms) = (event.to_string(), hold.to_string(), ms(now), ms(expires_at));
        let mut tx = self.write().await?;
        let asked: i64 = priced.lines.iter().map(|l| i64::from(l.units())).sum();
        if let Err(e) = apply_guards(&mut tx, &event_s, user, asked, &guards, now_ms).await {
            tx.rollback().await?;
            return Err(e);
        }
        sqlx::query(
            "INSERT INTO holds (id, event_id, user_id, status, total_amount, currency, created_at, expires_at, fee_amount) \
             VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8)",
        )
        .bind(&hold_s)
        .bind(&event_s)
        .bind(user.to_string())
        .bind(priced.total.amount_minor())
        .bind(priced.total.currency().as_str())
        .bind(now_ms)
        .bind(exp_ms)
        .bind(priced.fee.amount_minor())
        .execute(&mut *tx)
        .await?;

        let mut conflict = HoldConflict::default();
        // Sorted, so that concurrent holds over overlapping seats always lock
        // rows in the same order (pretix's rule; matters on PostgreSQL).
        let mut lines: Vec<(usize, &HoldLine)> = priced.lines.iter().enumerate().collect();
        lines.sort_by_key(|(_, l)| match l {
            HoldLine::Seat { seat, .. } => (0, *seat.as_uuid()),
            HoldLine::Ga { area, .. } => (1, *area.as_uuid()),
            HoldLine::Resale { listing, .. } => (2, *listing.as_uuid()),
        });
        for (line_no, line) in lines {
            let (seat, area, quantity) = match line {
                HoldLine::Seat { seat, .. } => (Some(seat.to_string()), None, 1u32),
                HoldLine::Ga { area, quantity, .. } => (None, Some(area.to_string()), *quantity),
                HoldLine::Resale { .. } => {
                    return Err(StoreError::Corrupt("resale lines are held by place_resale_hold".into()).into());
                }
            };
            if let Some(seat_s) = &seat {
                let claimed = sqlx::query(
                    "INSERT INTO seat_claims (event_id, seat_id, hold_id, state, expires_at) VALUES ($1, $2, $3, 'held', $4) \
                     ON CONFLICT (event_id, seat_id) DO UPDATE \
                       SET hold_id = excluded.hold_id, state = 'held', expires_at = excluded.expires_at \
                       WHERE seat_claims.state = 'held' AND seat_claims.expires_at <= $5",
                )
                .bind(&event_s)
                .bind(seat_s)
                .bind(&hold_s)
                .bind(exp_ms)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                if claimed.rows_affected() != 1 {
                    if let HoldLine::Seat { seat, .. } = line {
                        conflict.seats.push(*seat);
                    }
                    continue;
                }
            }
            if let (Some(area_s), HoldLine::Ga { area, .. }) = (&area, line) {
                // Lock the area first: a no-op UPDATE takes its row lock on
                // PostgreSQL (SQLite's write lock is already held), so GA holds
                // on one area are counted one at a time.
                sqlx::query("UPDATE ga_areas SET capacity = capacity WHERE id = $1")
                    .bind(area_s)
                    .execute(&mut *tx)
                    .await?;
                let (capacity,): (i64,) = sqlx::query_as("SELECT capacity FROM ga_areas WHERE id = $1")
                    .bind(area_s)
                    .fetch_one(&mut *tx)
                    .await?;
                let taken = ga_taken(&mut tx, &event_s, area_s, now_ms).await?;
                if taken + i64::from(quantity) > capacity {
                    conflict.ga_areas.push(*area);
                    continue;
                }
            }
            sqlx::query(
                "INSERT INTO hold_lines (hold_id, line_no, seat_id, ga_area_id, quantity, ticket_type_id, unit_price) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&hold_s)
            .bind(line_no as i64)
            .bind(&seat)
            .bind(&area)
            .bind(i64::from(quantity))
            .bind(line.ticket_type().to_string())
            .bind(line.unit_price().amount_minor())
            .execute(&mut *tx)
            .await?;
        }
        if !conflict.seats.is_empty() || !conflict.ga_areas.is_empty() {
            tx.rollback().await?;
            return Err(PlaceHoldError::Conflict(conflict));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn hold(&self, hold: HoldId) -> Result<Option<HoldRecord>> {
        // One statement for the hold and its lines (a row per line; one row
        // of NULL line columns for a hold without lines): every checkout
        // reads its hold, and each statement is a hop to a connection.
        let rows = self
            .hot_rows(
                "SELECT h.id, h.event_id, h.user_id, h.status, h.total_amount, h.currency, h.created_at, h.expires_at, \
                 h.fee_amount, l.seat_id, l.ga_area_id, l.quantity, l.ticket_type_id, l.unit_price, l.listing_id, \
                 l.replaces_ticket_id \
                 FROM holds h LEFT JOIN hold_lines l ON l.hold_id = h.id WHERE h.id = $1 ORDER BY l.line_no",
                &[hold.to_string().into()],
                HoldLineRow::decode,
            )
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let lines = rows.iter().filter_map(|r| r.line().transpose()).collect::<Result<_>>()?;
        Ok(Some(HoldRecord {
            id: id(&first.id)?,
            event: id(&first.event_id)?,
            user: id(&first.user_id)?,
            status: HoldStatus::parse(&first.status)?,
            total: money(first.total_amount, &first.currency)?,
            fee: money(first.fee_amount, &first.currency)?,
            created_at: ts(first.created_at)?,
            expires_at: ts(first.expires_at)?,
            lines,
        }))
    }

    /// The user's live holds on `event` (active and not yet expired at
    /// `now`), newest first: what the event page offers to continue.
    pub async fn live_holds_of(&self, user: UserId, event: EventId, now: Timestamp) -> Result<Vec<HoldRecord>> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM holds WHERE user_id = $1 AND event_id = $2 AND status = 'active' AND expires_at > $3 \
             ORDER BY created_at DESC LIMIT 10",
        )
        .bind(user.to_string())
        .bind(event.to_string())
        .bind(ms(now))
        .fetch_all(&mut *self.read().await?)
        .await?;
        let mut holds = Vec::with_capacity(ids.len());
        for (hold,) in ids {
            if let Some(h) = self.hold(id(&hold)?).await? {
                holds.push(h);
            }
        }
        Ok(holds)
    }

    /// Releases the user's hold and frees its seats at once; returns the
    /// seats freed.
    pub async fn release_hold(&self, hold: HoldId, user: UserId) -> Result<Vec<SeatId>, ReleaseHoldError> {
        self.release(hold, user, false).await
    }

    /// [`release_hold`](Self::release_hold), unless a payment for the hold
    /// has started (any payment attempt): decided in the transaction that
    /// releases it, so a checkout that recorded its attempt first keeps it.
    pub async fn release_unpaid_hold(&self, hold: HoldId, user: UserId) -> Result<Vec<SeatId>, ReleaseHoldError> {
        self.release(hold, user, true).await
    }

    async fn release(&self, hold: HoldId, user: UserId, unpaid_only: bool) -> Result<Vec<SeatId>, ReleaseHoldError> {
        let mut tx = self.write().await?;
        // Locked first on PostgreSQL: a checkout recording its payment
        // attempt share-locks the hold, so the check for attempts below
        // runs after any such checkout has committed, and sees its attempt
        // (see `payments::live_holds`).
        let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT status FROM holds WHERE id = $1 AND user_id = $2{}",
            self.backend.update_lock()
        )))
        .bind(hold.to_string())
        .bind(user.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        match row.as_ref().map(|(s,)| s.as_str()) {
            None => return Err(ReleaseHoldError::NotFound),
            Some("ordered") => return Err(ReleaseHoldError::Ordered),
            Some(_) => {}
        }
        let unpaid = if unpaid_only {
            " AND NOT EXISTS (SELECT 1 FROM payment_attempts a WHERE a.hold_id = holds.id)"
        } else {
            ""
        };
        let released = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE holds SET status = 'released' WHERE id = $1 AND status = 'active'{unpaid}"
        )))
        .bind(hold.to_string())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if unpaid_only && released.rows_affected() == 0 {
            return Err(ReleaseHoldError::Paying);
        }
        let freed = free_claims(&mut tx, &hold.to_string()).await?;
        sqlx::query("UPDATE listings SET hold_id = NULL, held_until = NULL WHERE hold_id = $1 AND status = 'open'")
            .bind(hold.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(freed)
    }

    /// Marks up to `limit` holds that expired by `now` as expired and deletes
    /// their seat claims. Only tidying: an expired hold holds nothing anyway.
    /// Safe to run on several processes at once.
    pub async fn expire_holds(&self, now: Timestamp, limit: u32) -> Result<Vec<ExpiredHold>> {
        let due: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, event_id FROM holds WHERE status = 'active' AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
        )
        .bind(ms(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.read().await?)
        .await?;
        let mut expired = Vec::with_capacity(due.len());
        for (hold, event) in due {
            let mut tx = self.write().await?;
            let done = sqlx::query(
                "UPDATE holds SET status = 'expired' WHERE id = $1 AND status = 'active' AND expires_at <= $2",
            )
            .bind(&hold)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                continue; // ordered, released or swept elsewhere meanwhile
            }
            let seats = free_claims(&mut tx, &hold).await?;
            let areas: Vec<(String,)> = sqlx::query_as(
                "SELECT DISTINCT ga_area_id FROM hold_lines WHERE hold_id = $1 AND ga_area_id IS NOT NULL",
            )
            .bind(&hold)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            expired.push(ExpiredHold {
                event: id(&event)?,
                seats,
                ga_areas: areas.into_iter().map(|(a,)| id(&a)).collect::<Result<_>>()?,
            });
        }
        Ok(expired)
    }

    /// GA places remaining in `areas` for `event` at `now`.
    pub async fn ga_remaining(
        &self,
        event: EventId,
        areas: &[GaAreaId],
        now: Timestamp,
    ) -> Result<Vec<(GaAreaId, u32)>> {
        // Every seat sold is published with its areas' counts: a seats-only
        // change, the common case, must not cost a read transaction.
        if areas.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.snapshot().await?;
        let event_s = event.to_string();
        let mut out = Vec::with_capacity(areas.len());
        for area in areas {
            let (capacity,): (i64,) = sqlx::query_as("SELECT capacity FROM ga_areas WHERE id = $1")
                .bind(area.to_string())
                .fetch_one(&mut *conn)
                .await?;
            let taken = ga_taken(&mut conn, &event_s, &area.to_string(), ms(now)).await?;
            out.push((*area, u32::try_from((capacity - taken).max(0)).unwrap_or(0)));
        }
        Ok(out)
    }

    /// What a hold needs to know of the seats it asks for, in one read on a
    /// read connection before it takes the writer: which are held or sold
    /// for `event` at `now` (most holds that fail during an on-sale fail
    /// here, and are refused without writing), and the price zone of each
    /// that is at `venue` (a seat missing from `zones` is not).
    pub async fn seat_check(
        &self,
        event: EventId,
        venue: VenueId,
        seats: &[SeatId],
        now: Timestamp,
    ) -> Result<SeatCheck> {
        let mut check = SeatCheck { taken: Vec::new(), zones: HashMap::with_capacity(seats.len()) };
        // One statement per few dozen seats keeps the parameter list short.
        for chunk in seats.chunks(SEATS_PER_CHECK_MAX) {
            let marks = (0..chunk.len()).map(|i| format!("${}", i + 4)).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT s.id, sec.price_zone, c.seat_id FROM seats s JOIN sections sec ON sec.id = s.section_id \
                 LEFT JOIN seat_claims c ON c.event_id = $1 AND c.seat_id = s.id \
                   AND (c.state = 'sold' OR (c.state = 'held' AND c.expires_at > $2)) \
                 WHERE s.venue_id = $3 AND s.id IN ({marks})"
            );
            let mut params: Vec<Param> = vec![event.to_string().into(), ms(now).into(), venue.to_string().into()];
            params.extend(chunk.iter().map(|seat| seat.to_string().into()));
            let rows = self.hot_rows(&sql, &params, |r| Ok((r.text(0)?, r.text(1)?, r.opt_text(2)?))).await?;
            for (seat, zone, claimed) in rows {
                let seat: SeatId = id(&seat)?;
                if claimed.is_some() {
                    check.taken.push(seat);
                }
                check.zones.insert(seat, zone);
            }
        }
        Ok(check)
    }

    /// A venue's seats in seat-map order: the order compact availability
    /// encodes statuses in.
    pub async fn seat_order(&self, venue: VenueId) -> Result<Vec<SeatId>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM seats WHERE venue_id = $1 ORDER BY position")
            .bind(venue.to_string())
            .fetch_all(&mut *self.read().await?)
            .await?;
        rows.into_iter().map(|(s,)| id(&s)).collect()
    }

    /// Seats of `event` that are held or sold at `now` (every other seat is
    /// free), and its GA areas, from one snapshot. Reads only claimed seats,
    /// so it stays cheap on a huge venue that is mostly free.
    pub async fn claimed_seats(
        &self,
        event: EventId,
        venue: VenueId,
        now: Timestamp,
    ) -> Result<(Vec<(SeatId, SeatStatus)>, Vec<(GaAreaId, u32, u32)>)> {
        let now_ms = ms(now);
        let event_s = event.to_string();
        let mut conn = self.snapshot().await?;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT seat_id, state FROM seat_claims \
             WHERE event_id = $1 AND (state = 'sold' OR (state = 'held' AND expires_at > $2))",
        )
        .bind(&event_s)
        .bind(now_ms)
        .fetch_all(&mut *conn)
        .await?;
        let seats = rows
            .into_iter()
            .map(|(seat, state)| Ok((id(&seat)?, if state == "sold" { SeatStatus::Sold } else { SeatStatus::Held })))
            .collect::<Result<_>>()?;
        let ga = ga_availability(&mut conn, &event_s, venue, now_ms).await?;
        Ok((seats, ga))
    }

    pub async fn availability(&self, event: EventId, venue: VenueId, now: Timestamp) -> Result<Availability> {
        let now_ms = ms(now);
        // One read transaction: seats, holds and tickets from one snapshot.
        let mut conn = self.snapshot().await?;
        let rows: Vec<(String, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT s.id, c.state, c.expires_at FROM seats s \
             LEFT JOIN seat_claims c ON c.event_id = $1 AND c.seat_id = s.id \
             WHERE s.venue_id = $2 ORDER BY s.position",
        )
        .bind(event.to_string())
        .bind(venue.to_string())
        .fetch_all(&mut *conn)
        .await?;
        let seats = rows
            .into_iter()
            .map(|(seat, state, expires)| {
                let status = match (state.as_deref(), expires) {
                    (Some("sold"), _) => SeatStatus::Sold,
                    (Some("held"), Some(e)) if e > now_ms => SeatStatus::Held,
                    _ => SeatStatus::Available,
                };
                Ok((id(&seat)?, status))
            })
            .collect::<Result<_>>()?;

        let ga = ga_availability(&mut conn, &event.to_string(), venue, now_ms).await?;
        Ok(Availability { seats, ga })
    }
}
