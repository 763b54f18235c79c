//! Venues and their seat maps.

use std::collections::{HashMap, HashSet};

use domain::Timestamp;
use domain::ids::{GaAreaId, OrganizationId, SeatId, SectionId, VenueId};
use domain::seatmap::SeatMapPlan;

use crate::{Result, Store, id, ms};

/// What [`Store::create_venue`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenueCreation {
    Created,
    /// The key made this venue before; nothing was written.
    Earlier(VenueId),
}

#[derive(Clone, Debug)]
pub struct VenueRecord {
    pub id: VenueId,
    pub organization: OrganizationId,
    pub name: String,
    pub address: String,
    pub timezone: String,
}

#[derive(Clone, Debug)]
pub struct SeatRecord {
    pub id: SeatId,
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub accessible: bool,
}

#[derive(Clone, Debug)]
pub struct RowRecord {
    pub label: String,
    pub seats: Vec<SeatRecord>,
}

#[derive(Clone, Debug)]
pub struct SectionRecord {
    pub id: SectionId,
    pub name: String,
    pub price_zone: String,
    pub rows: Vec<RowRecord>,
}

#[derive(Clone, Debug)]
pub struct GaAreaRecord {
    pub id: GaAreaId,
    pub name: String,
    pub capacity: u32,
}

#[derive(Clone, Debug)]
pub struct SeatMapRecord {
    pub sections: Vec<SectionRecord>,
    pub ga_areas: Vec<GaAreaRecord>,
}

/// What a venue offers, for validating ticket types.
#[derive(Clone, Debug, Default)]
pub struct VenueOfferRecord {
    pub price_zones: HashSet<String>,
    pub ga_areas: HashSet<GaAreaId>,
}

/// Whether an event was created at the venue (a deleted draft is gone).
async fn venue_has_events(tx: &mut crate::WriteTx, org: &str, venue: &str) -> Result<bool> {
    // The organization's events, by their index: a venue's events are among
    // them.
    let (used,): (i64,) = sqlx::query_as(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM events WHERE organization_id = $1 AND venue_id = $2) \
         THEN 1 ELSE 0 END",
    )
    .bind(org)
    .bind(venue)
    .fetch_one(&mut **tx)
    .await?;
    Ok(used != 0)
}

/// What [`Store::edit_venue`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditedVenue {
    Edited,
    Unknown,
    /// A new time zone for a venue with events: nothing was changed.
    ZoneInUse,
}

/// What [`Store::delete_venue`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletedVenue {
    Deleted,
    Unknown,
    /// An event was created at it: it stays, with its seat map.
    InUse,
}

impl Store {
    /// Stores a venue and its whole seat map in one transaction.
    /// Writes a venue and its seat map. With a `creation_key` that made a
    /// venue of the organization before, nothing is written and that venue
    /// is answered: the form that made it was sent again.
    pub async fn create_venue(
        &self,
        venue: &VenueRecord,
        plan: &SeatMapPlan,
        creation_key: Option<&str>,
        now: Timestamp,
    ) -> Result<VenueCreation> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO venues (id, organization_id, name, address, timezone, created_at, creation_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(venue.id.to_string())
        .bind(venue.organization.to_string())
        .bind(&venue.name)
        .bind(&venue.address)
        .bind(&venue.timezone)
        .bind(ms(now))
        .bind(creation_key)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            // As for events: a concurrent request with the key waited for
            // the first one's commit (PostgreSQL) or shares its group
            // (SQLite), so the venue is there to read.
            let (earlier,): (String,) =
                sqlx::query_as("SELECT id FROM venues WHERE organization_id = $1 AND creation_key = $2")
                    .bind(venue.organization.to_string())
                    .bind(creation_key)
                    .fetch_one(&mut *tx)
                    .await?;
            tx.commit().await?;
            return Ok(VenueCreation::Earlier(crate::id(&earlier)?));
        }
        let venue_id = venue.id.to_string();
        let mut seats = Vec::with_capacity(plan.sections.iter().map(|s| s.seats.len()).sum());
        for (s_pos, section) in plan.sections.iter().enumerate() {
            sqlx::query("INSERT INTO sections (id, venue_id, name, price_zone, position) VALUES ($1, $2, $3, $4, $5)")
                .bind(section.id.to_string())
                .bind(&venue_id)
                .bind(&section.name)
                .bind(&section.price_zone)
                .bind(s_pos as i64)
                .execute(&mut *tx)
                .await?;
            let section_id = section.id.to_string();
            seats.extend(section.seats.iter().map(|seat| (section_id.clone(), seat)));
        }
        // Hundreds of seats to a statement: a stadium's map is written in
        // hundreds of statements, not hundreds of thousands, so it holds the
        // write connection (and an on-sale of another event) briefly.
        let positions: Vec<(i64, &(String, &domain::seatmap::PlannedSeat))> =
            seats.iter().enumerate().map(|(i, s)| (i as i64, s)).collect();
        crate::batch::insert_rows(
            &mut tx,
            "INSERT INTO seats (id, venue_id, section_id, row_label, label, x, y, accessible, position)",
            9,
            &positions,
            |q, (position, (section_id, seat))| {
                q.bind(seat.id.to_string())
                    .bind(venue_id.clone())
                    .bind(section_id.clone())
                    .bind(seat.row_label.clone())
                    .bind(seat.label.clone())
                    .bind(seat.x)
                    .bind(seat.y)
                    .bind(i64::from(seat.accessible))
                    .bind(*position)
            },
        )
        .await?;
        for (pos, area) in plan.ga_areas.iter().enumerate() {
            sqlx::query("INSERT INTO ga_areas (id, venue_id, name, capacity, position) VALUES ($1, $2, $3, $4, $5)")
                .bind(area.id.to_string())
                .bind(&venue_id)
                .bind(&area.name)
                .bind(i64::from(area.capacity))
                .bind(pos as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(VenueCreation::Created)
    }

    pub async fn venue(&self, venue: VenueId) -> Result<Option<VenueRecord>> {
        let row: Option<(String, String, String, String, String)> =
            sqlx::query_as("SELECT id, organization_id, name, address, timezone FROM venues WHERE id = $1")
                .bind(venue.to_string())
                .fetch_optional(&mut *self.read().await?)
                .await?;
        row.map(|(v, o, name, address, timezone)| {
            Ok(VenueRecord { id: id(&v)?, organization: id(&o)?, name, address, timezone })
        })
        .transpose()
    }

    /// Writes a venue's name, address and time zone. Its events show the
    /// name and address within the read cache's lifetime (a second). The
    /// time zone changes only while no event was created at the venue: its
    /// events' times were typed in the zone it had.
    pub async fn edit_venue(&self, venue: &VenueRecord) -> Result<EditedVenue> {
        let venue_s = venue.id.to_string();
        let mut tx = self.write().await?;
        let zone: Option<String> = sqlx::query_scalar("SELECT timezone FROM venues WHERE id = $1")
            .bind(&venue_s)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(zone) = zone else { return Ok(EditedVenue::Unknown) };
        // The row first, then the check: an event being created here holds
        // the row until it commits (see `create_event`), and is then seen.
        sqlx::query("UPDATE venues SET name = $1, address = $2, timezone = $3 WHERE id = $4")
            .bind(&venue.name)
            .bind(&venue.address)
            .bind(&venue.timezone)
            .bind(&venue_s)
            .execute(&mut *tx)
            .await?;
        if zone != venue.timezone && venue_has_events(&mut tx, &venue.organization.to_string(), &venue_s).await? {
            return Ok(EditedVenue::ZoneInUse);
        }
        tx.commit().await?;
        Ok(EditedVenue::Edited)
    }

    /// Deletes a venue made by mistake, with its seat map: one no event was
    /// ever created at (a deleted draft does not count; an event cancelled
    /// or over does, as the record of its tickets' seats).
    pub async fn delete_venue(&self, venue: VenueId) -> Result<DeletedVenue> {
        let venue_s = venue.to_string();
        let mut tx = self.write().await?;
        let org: Option<String> = sqlx::query_scalar("SELECT organization_id FROM venues WHERE id = $1")
            .bind(&venue_s)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(org) = org else { return Ok(DeletedVenue::Unknown) };
        if venue_has_events(&mut tx, &org, &venue_s).await? {
            return Ok(DeletedVenue::InUse);
        }
        for sql in [
            "DELETE FROM seats WHERE venue_id = $1",
            "DELETE FROM sections WHERE venue_id = $1",
            "DELETE FROM ga_areas WHERE venue_id = $1",
            "DELETE FROM venues WHERE id = $1",
        ] {
            sqlx::query(sql).bind(&venue_s).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(DeletedVenue::Deleted)
    }

    pub async fn venues_of(&self, org: OrganizationId) -> Result<Vec<VenueRecord>> {
        let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
            "SELECT id, organization_id, name, address, timezone FROM venues WHERE organization_id = $1 ORDER BY created_at, id",
        )
        .bind(org.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter()
            .map(|(v, o, name, address, timezone)| {
                Ok(VenueRecord { id: id(&v)?, organization: id(&o)?, name, address, timezone })
            })
            .collect()
    }

    pub async fn seat_map(&self, venue: VenueId) -> Result<SeatMapRecord> {
        let venue_id = venue.to_string();
        let sections: Vec<(String, String, String)> =
            sqlx::query_as("SELECT id, name, price_zone FROM sections WHERE venue_id = $1 ORDER BY position")
                .bind(&venue_id)
                .fetch_all(&mut *self.read().await?)
                .await?;
        let seats: Vec<(String, String, String, String, f64, f64, i64)> = sqlx::query_as(
            "SELECT section_id, row_label, id, label, x, y, accessible FROM seats WHERE venue_id = $1 ORDER BY position",
        )
        .bind(&venue_id)
        .fetch_all(&mut *self.read().await?)
        .await?;
        let mut out: Vec<SectionRecord> = Vec::with_capacity(sections.len());
        let mut index = HashMap::new();
        for (i, (s_id, name, price_zone)) in sections.into_iter().enumerate() {
            index.insert(s_id.clone(), i);
            out.push(SectionRecord { id: id(&s_id)?, name, price_zone, rows: Vec::new() });
        }
        for (section_id, row_label, seat_id, label, x, y, accessible) in seats {
            let Some(&i) = index.get(&section_id) else {
                return Err(crate::StoreError::Corrupt(format!("seat {seat_id} in unknown section")));
            };
            let rows = &mut out[i].rows;
            // Seats come in position order, so a row's seats are contiguous.
            if rows.last().is_none_or(|r| r.label != row_label) {
                rows.push(RowRecord { label: row_label, seats: Vec::new() });
            }
            rows.last_mut().expect("pushed above").seats.push(SeatRecord {
                id: id(&seat_id)?,
                label,
                x,
                y,
                accessible: accessible != 0,
            });
        }
        let areas: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT id, name, capacity FROM ga_areas WHERE venue_id = $1 ORDER BY position")
                .bind(&venue_id)
                .fetch_all(&mut *self.read().await?)
                .await?;
        let ga_areas = areas
            .into_iter()
            .map(|(a, name, capacity)| {
                Ok(GaAreaRecord {
                    id: id(&a)?,
                    name,
                    capacity: u32::try_from(capacity).map_err(|_| crate::StoreError::Corrupt("capacity".into()))?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(SeatMapRecord { sections: out, ga_areas })
    }

    pub async fn venue_offer(&self, venue: VenueId) -> Result<VenueOfferRecord> {
        let zones: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT price_zone FROM sections WHERE venue_id = $1")
            .bind(venue.to_string())
            .fetch_all(&mut *self.read().await?)
            .await?;
        let areas: Vec<(String,)> = sqlx::query_as("SELECT id FROM ga_areas WHERE venue_id = $1")
            .bind(venue.to_string())
            .fetch_all(&mut *self.read().await?)
            .await?;
        Ok(VenueOfferRecord {
            price_zones: zones.into_iter().map(|(z,)| z).collect(),
            ga_areas: areas.into_iter().map(|(a,)| id(&a)).collect::<Result<_>>()?,
        })
    }
}
