//! Holds and availability.
//!
//! Seats are arbitrated by `seat_claims`, one row per (event, seat): a hold
//! takes a row with a conditional upsert that succeeds only when the row is
//! absent, or held by a hold that has expired. GA places are counted from live
//! hold lines and valid tickets under the write lock. Either way, availability
//! is derived from rows and is right the instant a hold expires.

use domain::Timestamp;
use domain::hold::{HoldLine, PricedHold};
use domain::ids::{EventId, GaAreaId, HoldId, SeatId, TicketTypeId, UserId, VenueId};
use domain::money::Money;

use crate::{Result, Store, StoreError, id, money, ms, opt_id, ts};

/// A claim that can never expire, for sold seats.
pub(crate) const SOLD_EXPIRES_AT: i64 = i64::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldStatus {
    Active,
    Ordered,
    Released,
}

impl HoldStatus {
    fn parse(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(HoldStatus::Active),
            "ordered" => Ok(HoldStatus::Ordered),
            "released" => Ok(HoldStatus::Released),
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
    pub total: Money,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub lines: Vec<HoldLine>,
}

impl HoldRecord {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.status == HoldStatus::Active && now < self.expires_at
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
    #[error(transparent)]
    Store(#[from] StoreError),
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
async fn ga_taken(conn: &mut sqlx::SqliteConnection, event: &str, area: &str, now: i64) -> Result<i64> {
    let (held,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(SUM(l.quantity), 0) FROM hold_lines l JOIN holds h ON h.id = l.hold_id \
         WHERE l.ga_area_id = ? AND h.event_id = ? AND h.status = 'active' AND h.expires_at > ?",
    )
    .bind(area)
    .bind(event)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let (sold,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM tickets WHERE event_id = ? AND ga_area_id = ? AND status = 'valid'")
            .bind(event)
            .bind(area)
            .fetch_one(&mut *conn)
            .await?;
    Ok(held + sold)
}

impl Store {
    /// Places a hold, all or nothing: either every seat and GA place is
    /// claimed for `hold`, or nothing is written and the conflict names what
    /// was taken.
    pub async fn place_hold(
        &self,
        hold: HoldId,
        event: EventId,
        user: UserId,
        priced: &PricedHold,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), PlaceHoldError> {
        let (event_s, hold_s, now_ms, exp_ms) = (event.to_string(), hold.to_string(), ms(now), ms(expires_at));
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO holds (id, event_id, user_id, status, total_amount, currency, created_at, expires_at) \
             VALUES (?, ?, ?, 'active', ?, ?, ?, ?)",
        )
        .bind(&hold_s)
        .bind(&event_s)
        .bind(user.to_string())
        .bind(priced.total.amount_minor())
        .bind(priced.total.currency().as_str())
        .bind(now_ms)
        .bind(exp_ms)
        .execute(&mut *tx)
        .await?;

        let mut conflict = HoldConflict::default();
        // Sorted, so that concurrent holds over overlapping seats always lock
        // rows in the same order (pretix's rule; matters on PostgreSQL).
        let mut lines: Vec<(usize, &HoldLine)> = priced.lines.iter().enumerate().collect();
        lines.sort_by_key(|(_, l)| match l {
            HoldLine::Seat { seat, .. } => (0, *seat.as_uuid()),
            HoldLine::Ga { area, .. } => (1, *area.as_uuid()),
        });
        for (line_no, line) in lines {
            let (seat, area, quantity) = match line {
                HoldLine::Seat { seat, .. } => (Some(seat.to_string()), None, 1u32),
                HoldLine::Ga { area, quantity, .. } => (None, Some(area.to_string()), *quantity),
            };
            if let Some(seat_s) = &seat {
                let claimed = sqlx::query(
                    "INSERT INTO seat_claims (event_id, seat_id, hold_id, state, expires_at) VALUES (?, ?, ?, 'held', ?) \
                     ON CONFLICT (event_id, seat_id) DO UPDATE \
                       SET hold_id = excluded.hold_id, state = 'held', expires_at = excluded.expires_at \
                       WHERE seat_claims.state = 'held' AND seat_claims.expires_at <= ?",
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
                let (capacity,): (i64,) = sqlx::query_as("SELECT capacity FROM ga_areas WHERE id = ?")
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
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
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
        let row: Option<(String, String, String, String, i64, String, i64, i64)> = sqlx::query_as(
            "SELECT id, event_id, user_id, status, total_amount, currency, created_at, expires_at FROM holds WHERE id = ?",
        )
        .bind(hold.to_string())
        .fetch_optional(&self.reader)
        .await?;
        let Some((h, e, u, status, total, currency, created, expires)) = row else {
            return Ok(None);
        };
        let currency_code = currency.clone();
        let lines: Vec<(Option<String>, Option<String>, i64, String, i64)> = sqlx::query_as(
            "SELECT seat_id, ga_area_id, quantity, ticket_type_id, unit_price FROM hold_lines WHERE hold_id = ? ORDER BY line_no",
        )
        .bind(hold.to_string())
        .fetch_all(&self.reader)
        .await?;
        let lines = lines
            .into_iter()
            .map(|(seat, area, quantity, tt, price)| {
                let ticket_type: TicketTypeId = id(&tt)?;
                let unit_price = money(price, &currency_code)?;
                match (opt_id::<SeatId>(seat)?, opt_id::<GaAreaId>(area)?) {
                    (Some(seat), None) => Ok(HoldLine::Seat { seat, ticket_type, unit_price }),
                    (None, Some(area)) => Ok(HoldLine::Ga {
                        area,
                        quantity: u32::try_from(quantity).map_err(|_| StoreError::Corrupt("quantity".into()))?,
                        ticket_type,
                        unit_price,
                    }),
                    _ => Err(StoreError::Corrupt(format!("hold line of {h} names no inventory"))),
                }
            })
            .collect::<Result<_>>()?;
        Ok(Some(HoldRecord {
            id: id(&h)?,
            event: id(&e)?,
            user: id(&u)?,
            status: HoldStatus::parse(&status)?,
            total: money(total, &currency)?,
            created_at: ts(created)?,
            expires_at: ts(expires)?,
            lines,
        }))
    }

    /// Releases the user's hold and frees its seats at once.
    pub async fn release_hold(&self, hold: HoldId, user: UserId) -> Result<(), ReleaseHoldError> {
        let mut tx = self.write().await?;
        let row: Option<(String,)> = sqlx::query_as("SELECT status FROM holds WHERE id = ? AND user_id = ?")
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
        sqlx::query("UPDATE holds SET status = 'released' WHERE id = ? AND status = 'active'")
            .bind(hold.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        sqlx::query("DELETE FROM seat_claims WHERE hold_id = ? AND state = 'held'")
            .bind(hold.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Every seat of the venue with its status for the event, and the GA
    /// places remaining, as of `now`.
    pub async fn availability(&self, event: EventId, venue: VenueId, now: Timestamp) -> Result<Availability> {
        let now_ms = ms(now);
        // One read transaction: seats, holds and tickets from one snapshot.
        let mut conn = self.reader.begin().await?;
        let rows: Vec<(String, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT s.id, c.state, c.expires_at FROM seats s \
             LEFT JOIN seat_claims c ON c.event_id = ? AND c.seat_id = s.id \
             WHERE s.venue_id = ? ORDER BY s.position",
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

        let areas: Vec<(String, i64)> =
            sqlx::query_as("SELECT id, capacity FROM ga_areas WHERE venue_id = ? ORDER BY position")
                .bind(venue.to_string())
                .fetch_all(&mut *conn)
                .await?;
        let event_s = event.to_string();
        let mut ga = Vec::with_capacity(areas.len());
        for (area, capacity) in areas {
            let taken = ga_taken(&mut conn, &event_s, &area, now_ms).await?;
            let remaining = (capacity - taken).max(0);
            ga.push((id(&area)?, u32::try_from(capacity).unwrap_or(u32::MAX), u32::try_from(remaining).unwrap_or(0)));
        }
        Ok(Availability { seats, ga })
    }
}
