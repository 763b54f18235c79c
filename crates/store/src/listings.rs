//! The resale marketplace: listings, resale holds, escrow.

use domain::Timestamp;
use domain::hold::HoldLine;
use domain::ids::{EventId, HoldId, ListingId, TicketId, UserId};
use domain::money::Money;

use crate::{Result, Store, StoreError, id, money, ms, ts};

#[derive(Clone, Debug)]
pub struct ListingRecord {
    pub id: ListingId,
    pub ticket: TicketId,
    pub event: EventId,
    pub seller: UserId,
    pub price: Money,
    pub royalty: Money,
    pub escrow: Money,
    /// open, sold or withdrawn.
    pub status: String,
    pub created_at: Timestamp,
    /// The ticket's place, for showing the listing.
    pub seat: Option<(String, String, String)>,
    pub ga_area_name: Option<String>,
    pub ticket_type_name: String,
}

#[derive(Clone, Debug)]
pub struct EscrowRecord {
    pub listing: ListingId,
    pub event: EventId,
    pub amount: Money,
    /// held, released or refunded.
    pub status: String,
    pub release_after: Timestamp,
    pub settled_at: Option<Timestamp>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("this ticket is listed already")]
    AlreadyListed,
    #[error(
        "this ticket is offered to someone as a transfer: it can be listed once the offer is accepted, declined or lapsed"
    )]
    TransferPending,
    #[error("the ticket changed hands, was used or was revoked meanwhile")]
    TicketChanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum ResaleHoldError {
    #[error("this listing has been sold, withdrawn, or is being bought by someone else")]
    Unavailable,
    /// The sale's guards refused it, as they would a hold of seats.
    #[error(transparent)]
    Guarded(crate::PlaceHoldError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ResaleHoldError {
    fn from(e: sqlx::Error) -> Self {
        ResaleHoldError::Store(e.into())
    }
}

const LISTING_SELECT: &str = "SELECT l.id, l.ticket_id, l.event_id, l.seller_id, l.price_amount, l.royalty_amount, \
       l.escrow_amount, l.currency, l.status, l.created_at, sec.name AS section_name, s.row_label, s.label AS seat_label, \
       ga.name AS ga_area_name, tt.name AS ticket_type_name \
     FROM listings l JOIN tickets t ON t.id = l.ticket_id JOIN ticket_types tt ON tt.id = t.ticket_type_id \
     LEFT JOIN seats s ON s.id = t.seat_id LEFT JOIN sections sec ON sec.id = s.section_id \
     LEFT JOIN ga_areas ga ON ga.id = t.ga_area_id";

#[derive(sqlx::FromRow)]
struct ListingRow {
    id: String,
    ticket_id: String,
    event_id: String,
    seller_id: String,
    price_amount: i64,
    royalty_amount: i64,
    escrow_amount: i64,
    currency: String,
    status: String,
    created_at: i64,
    section_name: Option<String>,
    row_label: Option<String>,
    seat_label: Option<String>,
    ga_area_name: Option<String>,
    ticket_type_name: String,
}

fn listing(r: ListingRow) -> Result<ListingRecord> {
    let seat = match (r.section_name, r.row_label, r.seat_label) {
        (Some(a), Some(b), Some(c)) => Some((a, b, c)),
        _ => None,
    };
    Ok(ListingRecord {
        id: id(&r.id)?,
        ticket: id(&r.ticket_id)?,
        event: id(&r.event_id)?,
        seller: id(&r.seller_id)?,
        price: money(r.price_amount, &r.currency)?,
        royalty: money(r.royalty_amount, &r.currency)?,
        escrow: money(r.escrow_amount, &r.currency)?,
        status: r.status,
        created_at: ts(r.created_at)?,
        seat,
        ga_area_name: r.ga_area_name,
        ticket_type_name: r.ticket_type_name,
    })
}

/// Settles a resale inside the order's transaction: the listing becomes
/// sold and the seller's share goes into escrow. (The ticket itself is
/// re-issued to the buyer by the order's ticket writes.)
pub(crate) async fn settle_resale(
    tx: &mut crate::WriteTx,
    hold: &str,
    line: &HoldLine,
    release_after: Timestamp,
    now: Timestamp,
) -> Result<bool> {
    let HoldLine::Resale { listing, .. } = line else {
        return Ok(true);
    };
    let sold = sqlx::query(
        "UPDATE listings SET status = 'sold', sold_at = $1 WHERE id = $2 AND status = 'open' AND hold_id = $3",
    )
    .bind(ms(now))
    .bind(listing.to_string())
    .bind(hold)
    .execute(&mut **tx)
    .await?;
    if sold.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO escrow (listing_id, seller_id, event_id, amount, currency, status, release_after, created_at) \
         SELECT id, seller_id, event_id, escrow_amount, currency, 'held', $1, $2 FROM listings WHERE id = $3",
    )
    .bind(ms(release_after))
    .bind(ms(now))
    .bind(listing.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// Whether the ticket has an open listing, held by a buyer or not.
pub(crate) async fn open_listing_exists(tx: &mut crate::WriteTx, ticket: TicketId) -> Result<bool> {
    let found: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM listings WHERE ticket_id = $1 AND status = 'open' LIMIT 1")
            .bind(ticket.to_string())
            .fetch_optional(&mut **tx)
            .await?;
    Ok(found.is_some())
}

impl Store {
    pub async fn create_listing(&self, l: &ListingRecord) -> Result<(), ListError> {
        let mut tx = self.write().await?;
        // As for a transfer offer: the seller must still hold the ticket,
        // and the ticket's row is locked while the listing is decided.
        if !crate::transfers::lock_held_ticket(&mut tx, l.ticket, l.seller).await? {
            return Err(ListError::TicketChanged);
        }
        if crate::transfers::open_offer_exists(&mut tx, l.ticket, l.created_at).await? {
            return Err(ListError::TransferPending);
        }
        let inserted = sqlx::query(
            "INSERT INTO listings (id, ticket_id, event_id, seller_id, price_amount, royalty_amount, escrow_amount, currency, \
             status, created_at, seller_order_id, seller_paid_amount) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, t.order_id, t.price_amount FROM tickets t WHERE t.id = $2 \
             ON CONFLICT DO NOTHING",
        )
        .bind(l.id.to_string())
        .bind(l.ticket.to_string())
        .bind(l.event.to_string())
        .bind(l.seller.to_string())
        .bind(l.price.amount_minor())
        .bind(l.royalty.amount_minor())
        .bind(l.escrow.amount_minor())
        .bind(l.price.currency().as_str())
        .bind(ms(l.created_at))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if inserted.rows_affected() == 0 {
            return Err(ListError::AlreadyListed);
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    pub async fn listing(&self, listing_id: ListingId) -> Result<Option<ListingRecord>> {
        let row: Option<ListingRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{LISTING_SELECT} WHERE l.id = $1")))
            .bind(listing_id.to_string())
            .fetch_optional(&mut *self.read().await?)
            .await?;
        row.map(listing).transpose()
    }

    /// Open listings of an event, cheapest first.
    pub async fn open_listings(&self, event: EventId) -> Result<Vec<ListingRecord>> {
        let rows: Vec<ListingRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{LISTING_SELECT} WHERE l.event_id = $1 AND l.status = 'open' ORDER BY l.price_amount, l.id"
        )))
        .bind(event.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(listing).collect()
    }

    /// The seller's open listings, for their tickets page.
    pub async fn open_listings_of(&self, seller: UserId) -> Result<Vec<ListingRecord>> {
        let rows: Vec<ListingRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{LISTING_SELECT} WHERE l.seller_id = $1 AND l.status = 'open' ORDER BY l.created_at, l.id"
        )))
        .bind(seller.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(listing).collect()
    }

    /// Withdraws the seller's open listing unless a buyer is paying for it.
    pub async fn withdraw_listing(&self, listing_id: ListingId, seller: UserId, now: Timestamp) -> Result<bool> {
        let done = self
            .write_one(
                sqlx::query(
                    "UPDATE listings SET status = 'withdrawn' WHERE id = $1 AND seller_id = $2 AND status = 'open' \
             AND (held_until IS NULL OR held_until <= $3)",
                )
                .bind(listing_id.to_string())
                .bind(seller.to_string())
                .bind(ms(now)),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Holds a listing for a buyer, like a seat: only if it is open and no
    /// live hold has it. The hold carries one resale line at the listing's
    /// price.
    pub async fn place_resale_hold(
        &self,
        hold: HoldId,
        buyer: UserId,
        line: &HoldLine,
        guards: &crate::HoldGuards,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), ResaleHoldError> {
        let HoldLine::Resale { listing, replaces, seat, area, ticket_type, unit_price } = line else {
            return Err(StoreError::Corrupt("not a resale line".into()).into());
        };
        let mut tx = self.write().await?;
        // The same waiting room and ticket limit as a hold of seats: the
        // resale market is no way around them.
        let (event_s,): (String,) = sqlx::query_as("SELECT event_id FROM listings WHERE id = $1")
            .bind(listing.to_string())
            .fetch_one(&mut *tx)
            .await?;
        if let Err(e) = crate::holds::apply_guards(&mut tx, &event_s, buyer, 1, guards, ms(now)).await {
            tx.rollback().await?;
            return Err(ResaleHoldError::Guarded(e));
        }
        let taken = sqlx::query(
            "UPDATE listings SET hold_id = $1, held_until = $2 WHERE id = $3 AND status = 'open' AND seller_id <> $4 \
             AND (held_until IS NULL OR held_until <= $5)",
        )
        .bind(hold.to_string())
        .bind(ms(expires_at))
        .bind(listing.to_string())
        .bind(buyer.to_string())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() != 1 {
            return Err(ResaleHoldError::Unavailable);
        }
        sqlx::query(
            "INSERT INTO holds (id, event_id, user_id, status, total_amount, currency, created_at, expires_at) \
             VALUES ($1, $2, $3, 'active', $4, $5, $6, $7)",
        )
        .bind(hold.to_string())
        .bind(&event_s)
        .bind(buyer.to_string())
        .bind(unit_price.amount_minor())
        .bind(unit_price.currency().as_str())
        .bind(ms(now))
        .bind(ms(expires_at))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO hold_lines (hold_id, line_no, seat_id, ga_area_id, quantity, ticket_type_id, unit_price, \
             listing_id, replaces_ticket_id) VALUES ($1, 0, $2, $3, 1, $4, $5, $6, $7)",
        )
        .bind(hold.to_string())
        .bind(seat.map(|s| s.to_string()))
        .bind(area.map(|a| a.to_string()))
        .bind(ticket_type.to_string())
        .bind(unit_price.amount_minor())
        .bind(listing.to_string())
        .bind(replaces.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Escrow of a seller, newest first.
    pub async fn escrow_of(&self, seller: UserId) -> Result<Vec<EscrowRecord>> {
        let rows: Vec<(String, String, i64, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT listing_id, event_id, amount, currency, status, release_after, settled_at FROM escrow \
             WHERE seller_id = $1 ORDER BY created_at DESC",
        )
        .bind(seller.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter()
            .map(|(l, e, amount, currency, status, release, settled)| {
                Ok(EscrowRecord {
                    listing: id(&l)?,
                    event: id(&e)?,
                    amount: money(amount, &currency)?,
                    status,
                    release_after: ts(release)?,
                    settled_at: settled.map(ts).transpose()?,
                })
            })
            .collect()
    }

    /// Releases held escrow whose event has ended; returns how many.
    pub async fn release_due_escrow(&self, now: Timestamp) -> Result<u64> {
        let done = self.write_one(sqlx::query(
            "UPDATE escrow SET status = 'released', settled_at = $1 WHERE status = 'held' AND release_after <= $2",
        )
        .bind(ms(now))
        .bind(ms(now))
        )
        .await?;
        Ok(done.rows_affected())
    }

    /// Returns held escrow of a cancelled event to its buyers.
    pub async fn refund_event_escrow(&self, event: EventId, now: Timestamp) -> Result<u64> {
        let done = self
            .write_one(
                sqlx::query(
                    "UPDATE escrow SET status = 'refunded', settled_at = $1 WHERE event_id = $2 AND status = 'held'",
                )
                .bind(ms(now))
                .bind(event.to_string()),
            )
            .await?;
        Ok(done.rows_affected())
    }
}
