//! Events, ticket types and event signing keys.

use domain::Timestamp;
use domain::barcode::EventKey;
use domain::event::{Admits, Category, EventStatus, TicketType};
use domain::ids::{EventId, OrganizationId, TicketTypeId, UserId, VenueId};
use domain::money::Money;
use domain::resale::ResalePolicy;
use domain::transfer::TransferPolicy;

use crate::{Result, Store, StoreError, id, money, ms, opt_id, ts};

#[derive(Clone, Debug)]
pub struct EventRecord {
    pub id: EventId,
    pub organization: OrganizationId,
    pub venue: VenueId,
    pub venue_name: String,
    pub timezone: String,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// As stored; see [`EventStatus::effective`] for what the public sees.
    pub status: EventStatus,
    pub created_at: Timestamp,
    pub transfer_policy: TransferPolicy,
    pub resale_policy: ResalePolicy,
    pub rotating_barcodes: bool,
}

#[derive(Clone, Debug)]
pub struct EventSummary {
    pub event: EventRecord,
    pub min_price: Option<Money>,
    /// The lowest price above zero: what the paid tickets start at when
    /// some are free.
    pub min_paid_price: Option<Money>,
}

#[derive(Clone, Debug)]
pub struct NewEvent {
    pub id: EventId,
    pub organization: OrganizationId,
    pub venue: VenueId,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub transfer_policy: TransferPolicy,
    pub resale_policy: ResalePolicy,
    pub rotating_barcodes: bool,
    /// The creation request's key, if it carried one, and a hash of the
    /// request (see `create_event`).
    pub creation_key: Option<String>,
    pub creation_hash: Option<String>,
    /// The venue's time zone the event's times were read in.
    pub venue_timezone: String,
}

/// What [`Store::create_event`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventCreation {
    Created,
    /// An earlier request with the same creation key made this one.
    Earlier(EarlierEvent),
    /// The venue is gone, or its time zone is no longer the one the event
    /// was checked against: nothing was written.
    VenueChanged,
}

/// The event an earlier request with the same creation key made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EarlierEvent {
    pub id: EventId,
    /// That request asked for the same as this one.
    pub same_request: bool,
}

/// Filters for the public event listing. Results are ordered by start time,
/// then id; `after` is the last (starts_at, id) of the previous page.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub query: Option<String>,
    pub category: Option<Category>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub after: Option<(Timestamp, EventId)>,
    pub limit: u32,
}

const EVENT_COLUMNS: &str = "e.id, e.organization_id, e.venue_id, v.name AS venue_name, v.timezone AS timezone, e.title, \
     e.description, e.category, e.starts_at, e.ends_at, e.status, e.created_at, e.transferable, \
     e.transfer_cutoff_hours, e.transfers_per_ticket_max, e.resale_allowed, e.resale_cap_bps, e.resale_royalty_bps, \
     e.rotating_barcodes";

/// What [`Store::delete_ticket_type`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletedTicketType {
    Deleted,
    /// The event has no such type.
    Unknown,
    /// Held or bought at least once: it stays, as the record of those sales.
    InUse,
    /// The last type of an event that must keep one.
    Last,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: String,
    organization_id: String,
    venue_id: String,
    venue_name: String,
    timezone: String,
    title: String,
    description: String,
    category: String,
    starts_at: i64,
    ends_at: i64,
    status: String,
    created_at: i64,
    transferable: i64,
    transfer_cutoff_hours: i64,
    transfers_per_ticket_max: i64,
    resale_allowed: i64,
    resale_cap_bps: i64,
    resale_royalty_bps: i64,
    rotating_barcodes: i64,
}

#[derive(sqlx::FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    event: EventRow,
    min_price: Option<i64>,
    min_paid_price: Option<i64>,
    price_currency: Option<String>,
}

fn event_record(r: EventRow) -> Result<EventRecord> {
    Ok(EventRecord {
        id: id(&r.id)?,
        organization: id(&r.organization_id)?,
        venue: id(&r.venue_id)?,
        venue_name: r.venue_name,
        timezone: r.timezone,
        title: r.title,
        description: r.description,
        category: r.category.parse().map_err(|_| StoreError::Corrupt(format!("bad category '{}'", r.category)))?,
        starts_at: ts(r.starts_at)?,
        ends_at: ts(r.ends_at)?,
        status: r.status.parse().map_err(StoreError::Corrupt)?,
        created_at: ts(r.created_at)?,
        transfer_policy: TransferPolicy {
            transferable: r.transferable != 0,
            cutoff_hours: u32::try_from(r.transfer_cutoff_hours)
                .map_err(|_| StoreError::Corrupt("transfer cutoff".into()))?,
            transfers_max: u32::try_from(r.transfers_per_ticket_max)
                .map_err(|_| StoreError::Corrupt("transfers max".into()))?,
        },
        resale_policy: ResalePolicy {
            allowed: r.resale_allowed != 0,
            cap_bps: u32::try_from(r.resale_cap_bps).map_err(|_| StoreError::Corrupt("resale cap".into()))?,
            royalty_bps: u32::try_from(r.resale_royalty_bps).map_err(|_| StoreError::Corrupt("royalty".into()))?,
        },
        rotating_barcodes: r.rotating_barcodes != 0,
    })
}

/// Most words of a search text that each must match.
const SEARCH_WORDS_MAX: usize = 8;

/// Escapes LIKE wildcards so a search for "50%" means the text "50%".
fn like_pattern(q: &str) -> String {
    let escaped = q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

type TicketTypeRow = (String, String, i64, String, Option<String>, Option<String>, i64, Option<i64>, Option<i64>);

/// Writes a new ticket type at `position` in its event's order.
async fn insert_ticket_type(tx: &mut crate::WriteTx, event: &str, tt: &TicketType, position: usize) -> Result<()> {
    let (zone, area) = match &tt.admits {
        Admits::PriceZone(z) => (Some(z.clone()), None),
        Admits::GaArea(a) => (None, Some(a.to_string())),
    };
    sqlx::query(
        "INSERT INTO ticket_types (id, event_id, name, price_amount, currency, price_zone, ga_area_id, \
         max_per_order, sales_start, sales_end, position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tt.id.to_string())
    .bind(event)
    .bind(&tt.name)
    .bind(tt.price.amount_minor())
    .bind(tt.price.currency().as_str())
    .bind(zone)
    .bind(area)
    .bind(i64::from(tt.max_per_order))
    .bind(tt.sales_start.map(ms))
    .bind(tt.sales_end.map(ms))
    .bind(position as i64)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn ticket_type(row: TicketTypeRow) -> Result<TicketType> {
    let (t, name, amount, currency, zone, area, max, start, end) = row;
    let admits = match (zone, opt_id(area)?) {
        (Some(z), None) => Admits::PriceZone(z),
        (None, Some(a)) => Admits::GaArea(a),
        _ => return Err(StoreError::Corrupt(format!("ticket type {t} admits to nothing"))),
    };
    Ok(TicketType {
        id: id(&t)?,
        name,
        price: money(amount, &currency)?,
        admits,
        max_per_order: u32::try_from(max).map_err(|_| StoreError::Corrupt("max_per_order".into()))?,
        sales_start: start.map(ts).transpose()?,
        sales_end: end.map(ts).transpose()?,
    })
}

impl Store {
    /// Stores a draft event with its ticket types and signing key, atomically.
    pub async fn create_event(
        &self,
        new: &NewEvent,
        ticket_types: &[TicketType],
        key: &EventKey,
        now: Timestamp,
    ) -> Result<EventCreation> {
        let mut tx = self.write().await?;
        // The venue as the event was checked against it, kept so until the
        // commit: on PostgreSQL this takes the venue's row, which a change
        // of its time zone takes first too (see `edit_venue`).
        let kept = sqlx::query("UPDATE venues SET timezone = timezone WHERE id = $1 AND timezone = $2")
            .bind(new.venue.to_string())
            .bind(&new.venue_timezone)
            .execute(&mut *tx)
            .await?;
        if kept.rows_affected() == 0 {
            return Ok(EventCreation::VenueChanged);
        }
        let inserted = sqlx::query(
            "INSERT INTO events (id, organization_id, venue_id, title, description, category, starts_at, ends_at, status, \
             created_at, transferable, transfer_cutoff_hours, transfers_per_ticket_max, resale_allowed, resale_cap_bps, \
             resale_royalty_bps, rotating_barcodes, creation_key, creation_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'draft', $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (organization_id, creation_key) DO NOTHING",
        )
        .bind(new.id.to_string())
        .bind(new.organization.to_string())
        .bind(new.venue.to_string())
        .bind(&new.title)
        .bind(&new.description)
        .bind(new.category.as_str())
        .bind(ms(new.starts_at))
        .bind(ms(new.ends_at))
        .bind(ms(now))
        .bind(i64::from(new.transfer_policy.transferable))
        .bind(i64::from(new.transfer_policy.cutoff_hours))
        .bind(i64::from(new.transfer_policy.transfers_max))
        .bind(i64::from(new.resale_policy.allowed))
        .bind(i64::from(new.resale_policy.cap_bps))
        .bind(i64::from(new.resale_policy.royalty_bps))
        .bind(i64::from(new.rotating_barcodes))
        .bind(new.creation_key.as_deref())
        .bind(new.creation_hash.as_deref())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            // The key made an event before. On PostgreSQL a concurrent
            // request with it waited for that one's commit; on SQLite it may
            // be in the group still being committed, so this transaction's
            // commit waits for that group: the event is readable once this
            // returns.
            let (id, hash): (String, Option<String>) =
                sqlx::query_as("SELECT id, creation_hash FROM events WHERE organization_id = $1 AND creation_key = $2")
                    .bind(new.organization.to_string())
                    .bind(new.creation_key.as_deref())
                    .fetch_one(&mut *tx)
                    .await?;
            tx.commit().await?;
            return Ok(EventCreation::Earlier(EarlierEvent {
                id: crate::id(&id)?,
                same_request: hash == new.creation_hash,
            }));
        }
        sqlx::query("INSERT INTO event_keys (event_id, public_key, secret_key, created_at) VALUES ($1, $2, $3, $4)")
            .bind(new.id.to_string())
            .bind(key.public_bytes().to_vec())
            .bind(key.secret_bytes().to_vec())
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        let event_s = new.id.to_string();
        for (pos, tt) in ticket_types.iter().enumerate() {
            insert_ticket_type(&mut tx, &event_s, tt, pos).await?;
        }
        tx.commit().await?;
        // A read of this id before it existed may have cached an empty list
        // of ticket types.
        self.cache.ticket_types.invalidate(&new.id);
        Ok(EventCreation::Created)
    }

    /// The event, from the read cache when fresh (see `cache`).
    pub async fn event(&self, event: EventId) -> Result<Option<EventRecord>> {
        crate::cache::cached!(self.cache.events, event, self.load_event(event).await)
    }

    async fn load_event(&self, event: EventId) -> Result<Option<EventRecord>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events e JOIN venues v ON v.id = e.venue_id WHERE e.id = $1");
        let row: Option<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(event.to_string())
            .fetch_optional(&mut *self.read().await?)
            .await?;
        row.map(event_record).transpose()
    }

    pub async fn events_of(&self, org: OrganizationId) -> Result<Vec<EventRecord>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events e JOIN venues v ON v.id = e.venue_id \
             WHERE e.organization_id = $1 ORDER BY e.starts_at, e.id"
        );
        let rows: Vec<EventRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(org.to_string()).fetch_all(&mut *self.read().await?).await?;
        rows.into_iter().map(event_record).collect()
    }

    /// The event's ticket types, from the read cache when fresh.
    pub async fn ticket_types(&self, event: EventId) -> Result<Vec<TicketType>> {
        let types =
            crate::cache::cached!(self.cache.ticket_types, event, self.load_ticket_types(event).await.map(Some));
        types.map(Option::unwrap_or_default)
    }

    async fn load_ticket_types(&self, event: EventId) -> Result<Vec<TicketType>> {
        let rows: Vec<TicketTypeRow> = sqlx::query_as(
            "SELECT id, name, price_amount, currency, price_zone, ga_area_id, max_per_order, sales_start, sales_end \
             FROM ticket_types WHERE event_id = $1 ORDER BY position",
        )
        .bind(event.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(ticket_type).collect()
    }

    /// Adds a ticket type to `event`, or changes one. `edit` gets the event's
    /// types as they are, read under the event's row lock, changes the set
    /// (adds one, or changes one in place) and says which type it made, or
    /// refuses. So two organizers saving at once work on each other's
    /// result: neither change is lost, and together they cannot make a set
    /// neither would have been allowed (two types of one name). Nothing is
    /// written when `edit` refuses.
    /// Deletes a ticket type nobody has held or bought, under the event's
    /// lock. With `keep_one`, the event's last type stays: an event on sale
    /// without one would sell nothing.
    pub async fn delete_ticket_type(
        &self,
        event: EventId,
        ticket_type: TicketTypeId,
        keep_one: bool,
    ) -> Result<DeletedTicketType> {
        let (event_s, tt_s) = (event.to_string(), ticket_type.to_string());
        let mut tx = self.write().await?;
        sqlx::query("UPDATE events SET status = status WHERE id = $1").bind(&event_s).execute(&mut *tx).await?;
        let (count, known): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN id = $1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM ticket_types WHERE event_id = $2",
        )
        .bind(&tt_s)
        .bind(&event_s)
        .fetch_one(&mut *tx)
        .await?;
        if known == 0 {
            return Ok(DeletedTicketType::Unknown);
        }
        // Rare and an organizer's: a scan of lines and tickets is fine here.
        let (used,): (i64,) = sqlx::query_as(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM hold_lines WHERE ticket_type_id = $1) \
               OR EXISTS (SELECT 1 FROM tickets WHERE ticket_type_id = $2) THEN 1 ELSE 0 END",
        )
        .bind(&tt_s)
        .bind(&tt_s)
        .fetch_one(&mut *tx)
        .await?;
        if used != 0 {
            return Ok(DeletedTicketType::InUse);
        }
        if keep_one && count == 1 {
            return Ok(DeletedTicketType::Last);
        }
        sqlx::query("DELETE FROM ticket_types WHERE id = $1 AND event_id = $2")
            .bind(&tt_s)
            .bind(&event_s)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.cache.ticket_types.invalidate(&event);
        Ok(DeletedTicketType::Deleted)
    }

    pub async fn edit_ticket_types<E: From<StoreError>>(
        &self,
        event: EventId,
        edit: impl FnOnce(&mut Vec<TicketType>) -> std::result::Result<TicketType, E>,
    ) -> std::result::Result<TicketType, E> {
        let event_s = event.to_string();
        let mut tx = self.write().await?;
        sqlx::query("UPDATE events SET status = status WHERE id = $1")
            .bind(&event_s)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let rows: Vec<TicketTypeRow> = sqlx::query_as(
            "SELECT id, name, price_amount, currency, price_zone, ga_area_id, max_per_order, sales_start, sales_end \
             FROM ticket_types WHERE event_id = $1 ORDER BY position",
        )
        .bind(&event_s)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        let mut types = rows.into_iter().map(ticket_type).collect::<Result<Vec<_>>>()?;
        let before: Vec<_> = types.iter().map(|t| t.id).collect();
        let tt = edit(&mut types)?;
        let exists = before.contains(&tt.id);
        let written = if exists {
            sqlx::query(
                "UPDATE ticket_types SET name = $1, price_amount = $2, currency = $3, max_per_order = $4, \
                 sales_start = $5, sales_end = $6 WHERE id = $7 AND event_id = $8",
            )
            .bind(&tt.name)
            .bind(tt.price.amount_minor())
            .bind(tt.price.currency().as_str())
            .bind(i64::from(tt.max_per_order))
            .bind(tt.sales_start.map(ms))
            .bind(tt.sales_end.map(ms))
            .bind(tt.id.to_string())
            .bind(&event_s)
            .execute(&mut *tx)
            .await
            .map(|_| ())
            .map_err(StoreError::from)
        } else {
            insert_ticket_type(&mut tx, &event_s, &tt, before.len()).await
        };
        written?;
        tx.commit().await.map_err(StoreError::from)?;
        self.cache.ticket_types.invalidate(&event);
        Ok(tt)
    }

    /// Writes an event's title, description, category and times. With
    /// `keep_dates_if_sold`, nothing is written once the event has an order
    /// (checked under the event's row lock): moving a sold event is a
    /// postponement its buyers must hear of, not an edit.
    /// Returns false when that refused the change.
    pub async fn update_event(&self, event: &EventRecord, keep_dates_if_sold: bool) -> Result<bool> {
        let event_s = event.id.to_string();
        let mut tx = self.write().await?;
        sqlx::query("UPDATE events SET status = status WHERE id = $1").bind(&event_s).execute(&mut *tx).await?;
        if keep_dates_if_sold {
            let sold: Option<(String,)> = sqlx::query_as("SELECT id FROM orders WHERE event_id = $1 LIMIT 1")
                .bind(&event_s)
                .fetch_optional(&mut *tx)
                .await?;
            if sold.is_some() {
                return Ok(false);
            }
        }
        sqlx::query(
            "UPDATE events SET title = $1, description = $2, category = $3, starts_at = $4, ends_at = $5 WHERE id = $6",
        )
        .bind(&event.title)
        .bind(&event.description)
        .bind(event.category.as_str())
        .bind(ms(event.starts_at))
        .bind(ms(event.ends_at))
        .bind(&event_s)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.cache.events.invalidate(&event.id);
        Ok(true)
    }

    /// Moves an event from `from` to `to`; false if it was no longer in `from`
    /// (someone else changed it first).
    pub async fn set_event_status(
        &self,
        event: EventId,
        from: EventStatus,
        to: EventStatus,
        now: Timestamp,
    ) -> Result<bool> {
        let published_at = (to == EventStatus::Published).then(|| ms(now));
        let done = self.write_one(sqlx::query(
            "UPDATE events SET status = $1, published_at = COALESCE($2, published_at) WHERE id = $3 AND status = $4",
        )
        .bind(to.as_str())
        .bind(published_at)
        .bind(event.to_string())
        .bind(from.as_str())
        )
        .await?;
        self.cache.events.invalidate(&event);
        Ok(done.rows_affected() == 1)
    }

    /// Published events that have not ended at `now`, filtered and paged;
    /// a search matches the title, the description, and the venue's name
    /// and address (so a city finds what is on there).
    /// The price an event is listed "from" is its cheapest ticket type on
    /// sale now or, before any is, still to come; never one whose sale has
    /// ended.
    ///
    /// Each word of a search must appear somewhere in that text, in any
    /// order ("lights nordic" finds "Nordic Lights"); words past
    /// `SEARCH_WORDS_MAX` are not looked at.
    pub async fn list_published(&self, filter: &EventFilter, now: Timestamp) -> Result<Vec<EventSummary>> {
        let words: Vec<String> = filter
            .query
            .as_deref()
            .map(|q| q.split_whitespace().take(SEARCH_WORDS_MAX).map(like_pattern).collect())
            .unwrap_or_default();
        // Parameters $16 on are the words.
        let matches: String = (0..words.len())
            .map(|i| {
                format!(
                    " AND lower(e.title || ' ' || e.description || ' ' || v.name || ' ' || v.address) \
                     LIKE ${} ESCAPE '\\'",
                    16 + i
                )
            })
            .collect();
        let sql = format!(
            "SELECT {EVENT_COLUMNS}, \
               COALESCE( \
                 (SELECT MIN(price_amount) FROM ticket_types t WHERE t.event_id = e.id \
                    AND (t.sales_start IS NULL OR t.sales_start <= $2) AND (t.sales_end IS NULL OR t.sales_end > $3)), \
                 (SELECT MIN(price_amount) FROM ticket_types t WHERE t.event_id = e.id \
                    AND (t.sales_end IS NULL OR t.sales_end > $4))) AS min_price, \
               (SELECT MIN(price_amount) FROM ticket_types t WHERE t.event_id = e.id AND t.price_amount > 0 \
                    AND (t.sales_end IS NULL OR t.sales_end > $4)) AS min_paid_price, \
               (SELECT currency FROM ticket_types t WHERE t.event_id = e.id LIMIT 1) AS price_currency \
             FROM events e JOIN venues v ON v.id = e.venue_id \
             WHERE e.status = 'published' AND e.ends_at > $1{matches} \
               AND ($5 IS NULL OR e.category = $6) \
               AND ($7 IS NULL OR e.starts_at >= $8) \
               AND ($9 IS NULL OR e.starts_at < $10) \
               AND ($11 IS NULL OR e.starts_at > $12 OR (e.starts_at = $13 AND e.id > $14)) \
             ORDER BY e.starts_at, e.id LIMIT $15"
        );
        let category = filter.category.map(|c| c.as_str());
        let from = filter.from.map(ms);
        let to = filter.to.map(ms);
        let after_ts = filter.after.map(|(t, _)| ms(t));
        let after_id = filter.after.map(|(_, e)| e.to_string());
        let mut query = sqlx::query_as::<_, ListedRow>(sqlx::AssertSqlSafe(sql))
            .bind(ms(now))
            .bind(ms(now))
            .bind(ms(now))
            .bind(ms(now))
            .bind(category)
            .bind(category)
            .bind(from)
            .bind(from)
            .bind(to)
            .bind(to)
            .bind(after_ts)
            .bind(after_ts)
            .bind(after_ts)
            .bind(&after_id)
            .bind(i64::from(filter.limit));
        for word in &words {
            query = query.bind(word);
        }
        let rows = query.fetch_all(&mut *self.read().await?).await?;
        rows.into_iter()
            .map(|r| {
                let price = |amount: Option<i64>| match (amount, r.price_currency.as_deref()) {
                    (Some(a), Some(c)) => money(a, c).map(Some),
                    _ => Ok(None),
                };
                let (min_price, min_paid_price) = (price(r.min_price)?, price(r.min_paid_price)?);
                Ok(EventSummary { event: event_record(r.event)?, min_price, min_paid_price })
            })
            .collect()
    }

    /// The event's signing key, from the read cache when fresh; it never changes.
    pub async fn event_key(&self, event: EventId) -> Result<Option<EventKey>> {
        crate::cache::cached!(self.cache.event_keys, event, self.load_event_key(event).await)
    }

    async fn load_event_key(&self, event: EventId) -> Result<Option<EventKey>> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT secret_key FROM event_keys WHERE event_id = $1")
            .bind(event.to_string())
            .fetch_optional(&mut *self.read().await?)
            .await?;
        row.map(|(secret,)| {
            let bytes: [u8; 32] = secret.try_into().map_err(|_| StoreError::Corrupt("event key length".into()))?;
            Ok(EventKey::from_secret(bytes))
        })
        .transpose()
    }

    pub async fn event_public_key(&self, event: EventId) -> Result<Option<[u8; 32]>> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT public_key FROM event_keys WHERE event_id = $1")
            .bind(event.to_string())
            .fetch_optional(&mut *self.read().await?)
            .await?;
        row.map(|(public,)| public.try_into().map_err(|_| StoreError::Corrupt("public key length".into()))).transpose()
    }
}

/// A move of a published event's dates, as recorded.
#[derive(Clone, Debug)]
pub struct RescheduleRecord {
    pub id: String,
    pub event: EventId,
    pub old_starts_at: Timestamp,
    pub old_ends_at: Timestamp,
    pub new_starts_at: Timestamp,
    pub new_ends_at: Timestamp,
    /// What the organizer tells the holders; may be empty.
    pub note: String,
    pub moved_by: UserId,
    pub created_at: Timestamp,
    /// Until when buyers from before the move may refund themselves.
    pub refunds_until: Option<Timestamp>,
}

type RescheduleRow = (String, String, i64, i64, i64, i64, String, String, i64, Option<i64>);

const RESCHEDULE_COLUMNS: &str =
    "id, event_id, old_starts_at, old_ends_at, new_starts_at, new_ends_at, note, moved_by, created_at, refunds_until";

fn reschedule(r: RescheduleRow) -> Result<RescheduleRecord> {
    Ok(RescheduleRecord {
        id: r.0,
        event: id(&r.1)?,
        old_starts_at: ts(r.2)?,
        old_ends_at: ts(r.3)?,
        new_starts_at: ts(r.4)?,
        new_ends_at: ts(r.5)?,
        note: r.6,
        moved_by: id(&r.7)?,
        created_at: ts(r.8)?,
        refunds_until: r.9.map(ts).transpose()?,
    })
}

impl Store {
    /// Moves a published event to new dates, records the move and enqueues
    /// `job` (which tells the holders) in one transaction. The event's
    /// reminder is released, so one goes out again before the new date.
    /// False when the event is no longer published at the old dates:
    /// someone else moved or cancelled it first.
    /// Moves the event and, with it, the sales times of `types` (as given),
    /// in one transaction; `false` when the event changed meanwhile.
    pub async fn reschedule_event(
        &self,
        r: &RescheduleRecord,
        types: &[domain::event::TicketType],
        job: &crate::NewJob,
        now: Timestamp,
    ) -> Result<bool> {
        let event_s = r.event.to_string();
        let mut tx = self.write().await?;
        let moved = sqlx::query(
            "UPDATE events SET starts_at = $1, ends_at = $2 \
             WHERE id = $3 AND status = 'published' AND starts_at = $4 AND ends_at = $5",
        )
        .bind(ms(r.new_starts_at))
        .bind(ms(r.new_ends_at))
        .bind(&event_s)
        .bind(ms(r.old_starts_at))
        .bind(ms(r.old_ends_at))
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO event_reschedules ({RESCHEDULE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(&r.id)
        .bind(&event_s)
        .bind(ms(r.old_starts_at))
        .bind(ms(r.old_ends_at))
        .bind(ms(r.new_starts_at))
        .bind(ms(r.new_ends_at))
        .bind(&r.note)
        .bind(r.moved_by.to_string())
        .bind(ms(r.created_at))
        .bind(r.refunds_until.map(ms))
        .execute(&mut *tx)
        .await?;
        for t in types {
            sqlx::query("UPDATE ticket_types SET sales_start = $1, sales_end = $2 WHERE id = $3 AND event_id = $4")
                .bind(t.sales_start.map(ms))
                .bind(t.sales_end.map(ms))
                .bind(t.id.to_string())
                .bind(&event_s)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM event_reminders WHERE event_id = $1").bind(&event_s).execute(&mut *tx).await?;
        crate::jobs::insert_job(&mut tx, job, now).await?;
        tx.commit().await?;
        self.cache.events.invalidate(&r.event);
        self.cache.ticket_types.invalidate(&r.event);
        Ok(true)
    }

    pub async fn reschedule(&self, id: &str) -> Result<Option<RescheduleRecord>> {
        let row: Option<RescheduleRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {RESCHEDULE_COLUMNS} FROM event_reschedules WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(reschedule).transpose()
    }

    /// The moves of an event's dates, oldest first.
    pub async fn reschedules_of(&self, event: EventId) -> Result<Vec<RescheduleRecord>> {
        let rows: Vec<RescheduleRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {RESCHEDULE_COLUMNS} FROM event_reschedules WHERE event_id = $1 ORDER BY created_at, id"
        )))
        .bind(event.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(reschedule).collect()
    }
}

impl Store {
    /// Deletes a draft and what only a draft has (its ticket types, signing
    /// key and sale settings). False when the event is not a draft (it was
    /// published meanwhile) or, defensively, when anything was ever held or
    /// sold for it: those rows are history that stays.
    pub async fn delete_draft(&self, event: EventId) -> Result<bool> {
        let event_s = event.to_string();
        let mut tx = self.write().await?;
        let draft = sqlx::query("UPDATE events SET status = status WHERE id = $1 AND status = 'draft'")
            .bind(&event_s)
            .execute(&mut *tx)
            .await?;
        if draft.rows_affected() != 1 {
            return Ok(false);
        }
        let used: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM holds WHERE event_id = $1 UNION ALL SELECT id FROM orders WHERE event_id = $1 LIMIT 1",
        )
        .bind(&event_s)
        .fetch_optional(&mut *tx)
        .await?;
        if used.is_some() {
            return Ok(false);
        }
        for table in [
            "queue_entries",
            "account_flags",
            "sale_controls",
            "event_reminders",
            "event_reschedules",
            "ticket_types",
            "event_keys",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE event_id = $1")))
                .bind(&event_s)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM events WHERE id = $1").bind(&event_s).execute(&mut *tx).await?;
        tx.commit().await?;
        self.cache.events.invalidate(&event);
        self.cache.ticket_types.invalidate(&event);
        Ok(true)
    }
}
