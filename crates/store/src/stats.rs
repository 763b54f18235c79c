//! Numbers for organizers: capacity, sales, check-ins, revenue.

use domain::Timestamp;
use domain::ids::{EventId, VenueId};

use crate::{Result, Store, ms, ts};

#[derive(Clone, Debug)]
pub struct EventStats {
    /// Seats plus GA places.
    pub capacity: i64,
    /// Valid tickets.
    pub sold: i64,
    /// Seats and places in live holds.
    pub held: i64,
    pub checked_in: i64,
    /// Paid orders' totals, in minor units of the event's currency.
    pub revenue_minor: i64,
    /// Tickets issued per minute: (start of the minute, count).
    pub sales_per_minute: Vec<(Timestamp, i64)>,
}

impl Store {
    /// How many people the gates have let in, also on tickets revoked
    /// after an offline gate admitted them.
    pub async fn checked_in_count(&self, event: EventId) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(checked_in_at) FROM tickets WHERE event_id = $1")
            .bind(event.to_string())
            .fetch_one(&mut *self.read().await?)
            .await?;
        Ok(n)
    }

    pub async fn event_stats(&self, event: EventId, venue: VenueId, now: Timestamp) -> Result<EventStats> {
        let mut tx = self.snapshot().await?;
        let (e, v, now_ms) = (event.to_string(), venue.to_string(), ms(now));
        let (seats,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM seats WHERE venue_id = $1").bind(&v).fetch_one(&mut *tx).await?;
        let (ga,): (i64,) =
            sqlx::query_as("SELECT CAST(COALESCE(SUM(capacity), 0) AS BIGINT) FROM ga_areas WHERE venue_id = $1")
                .bind(&v)
                .fetch_one(&mut *tx)
                .await?;
        // Everyone let in counts, also on a ticket revoked after an offline
        // gate admitted it.
        let (sold, checked_in): (i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'valid' THEN 1 ELSE 0 END), 0) AS BIGINT), COUNT(checked_in_at) \
             FROM tickets WHERE event_id = $1",
        )
        .bind(&e)
        .fetch_one(&mut *tx)
        .await?;
        let (held,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM hold_lines l JOIN holds h ON h.id = l.hold_id \
             WHERE l.listing_id IS NULL AND h.event_id = $1 AND h.status = 'active' AND h.expires_at > $2",
        )
        .bind(&e)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let (revenue,): (i64,) = sqlx::query_as(
            // The organizer's revenue: what buyers paid less the platform's
            // fee, less what was given back of it. A refund pays back ticket
            // money first and the fee only beyond it, as the payout counts.
            "SELECT CAST(COALESCE(SUM(o.total_amount - o.fee_amount - CASE \
                 WHEN COALESCE(r.amount, 0) > o.total_amount - o.fee_amount THEN o.total_amount - o.fee_amount \
                 ELSE COALESCE(r.amount, 0) END), 0) AS BIGINT) \
             FROM orders o LEFT JOIN (SELECT order_id, SUM(amount) AS amount FROM refunds \
                 WHERE status IN ('pending', 'refunded') GROUP BY order_id) r ON r.order_id = o.id \
             WHERE o.event_id = $1",
        )
        .bind(&e)
        .fetch_one(&mut *tx)
        .await?;
        let per_minute: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT (created_at / 60000) * 60000 AS minute, COUNT(*) FROM tickets WHERE event_id = $1 \
             GROUP BY (created_at / 60000) * 60000 ORDER BY minute",
        )
        .bind(&e)
        .fetch_all(&mut *tx)
        .await?;
        Ok(EventStats {
            capacity: seats + ga,
            sold,
            held,
            checked_in,
            revenue_minor: revenue,
            sales_per_minute: per_minute.into_iter().map(|(m, n)| Ok((ts(m)?, n))).collect::<Result<_>>()?,
        })
    }
}
