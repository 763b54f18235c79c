//! Venues and seat maps.

use domain::ids::{OrganizationId, UserId, VenueId};
use domain::seatmap::{SeatMapError, SeatMapSpec, plan_seat_map};
use domain::venue::{Timezone, VenueError, check_venue_details};
use store::{SeatMapRecord, StoreError, VenueRecord};

use crate::{Denied, Ticketing, from_visible};

#[derive(Clone, Debug)]
pub struct NewVenue {
    pub name: String,
    pub address: String,
    pub timezone: String,
    pub seat_map: SeatMapSpec,
    /// A key the request carried (the console form's own): sent again, it
    /// answers the venue it made instead of making a second one.
    pub creation_key: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CreatedVenue {
    pub id: VenueId,
    pub seat_count: usize,
    pub ga_capacity: u64,
    /// The key made this venue before: nothing new was made.
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateVenueError {
    #[error(transparent)]
    Venue(#[from] VenueError),
    #[error(transparent)]
    SeatMap(#[from] SeatMapError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum ViewVenueError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
/// What an organizer changes of a venue; `None` keeps a field.
#[derive(Clone, Copy, Debug, Default)]
pub struct VenueEdit<'a> {
    pub name: Option<&'a str>,
    pub address: Option<&'a str>,
    pub timezone: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum EditVenueError {
    #[error(transparent)]
    Venue(#[from] VenueError),
    #[error("events were created at this venue in its time zone: the zone stays, or their times would move")]
    ZoneInUse,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteVenueError {
    #[error("events were created at this venue: it stays, with its seat map, as their record")]
    InUse,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(CreateVenueError, ViewVenueError, EditVenueError, DeleteVenueError);

impl Ticketing {
    pub async fn create_venue(
        &self,
        user: UserId,
        org: OrganizationId,
        new: NewVenue,
    ) -> Result<CreatedVenue, CreateVenueError> {
        self.require_role(user, org, |r| r.can_manage_events(), "only owners and admins manage venues").await?;
        check_venue_details(&new.name, &new.address)?;
        let timezone = Timezone::parse(&new.timezone)?;
        let plan = plan_seat_map(&new.seat_map)?;
        let venue = VenueRecord {
            id: VenueId::new(),
            organization: org,
            name: new.name.trim().to_owned(),
            address: new.address.trim().to_owned(),
            timezone: timezone.name().to_owned(),
        };
        let created = self.store.create_venue(&venue, &plan, new.creation_key.as_deref(), self.now()).await?;
        let (id, replayed) = match created {
            store::VenueCreation::Created => (venue.id, false),
            store::VenueCreation::Earlier(id) => (id, true),
        };
        Ok(CreatedVenue { id, seat_count: plan.seat_count(), ga_capacity: plan.ga_capacity(), replayed })
    }

    /// A venue's seat map. Seat maps are public: buyers need them to choose.
    pub async fn seat_map(&self, venue: VenueId) -> Result<(VenueRecord, SeatMapRecord), ViewVenueError> {
        let record = self.store.venue(venue).await?.ok_or(Denied::NotFound("venue"))?;
        let map = self.store.seat_map(venue).await?;
        Ok((record, map))
    }

    /// Corrects a venue's name or address (a typo, a new street number), and
    /// its time zone while no event was created at it. Its seat map stays:
    /// events are sold on it.
    pub async fn edit_venue(
        &self,
        user: UserId,
        venue: VenueId,
        edit: VenueEdit<'_>,
    ) -> Result<VenueRecord, EditVenueError> {
        let mut record = self.managed_venue(user, venue).await?;
        let name = edit.name.unwrap_or(&record.name).trim().to_owned();
        let address = edit.address.unwrap_or(&record.address).trim().to_owned();
        check_venue_details(&name, &address)?;
        if let Some(zone) = edit.timezone {
            record.timezone = Timezone::parse(zone)?.name().to_owned();
        }
        (record.name, record.address) = (name, address);
        match self.store.edit_venue(&record).await? {
            store::EditedVenue::Edited => Ok(record),
            store::EditedVenue::Unknown => Err(Denied::NotFound("venue").into()),
            store::EditedVenue::ZoneInUse => Err(EditVenueError::ZoneInUse),
        }
    }

    /// Deletes a venue made by mistake, while no event has been created at
    /// it (deleted drafts aside).
    pub async fn delete_venue(&self, user: UserId, venue: VenueId) -> Result<(), DeleteVenueError> {
        self.managed_venue(user, venue).await?;
        match self.store.delete_venue(venue).await? {
            store::DeletedVenue::Deleted => Ok(()),
            store::DeletedVenue::Unknown => Err(Denied::NotFound("venue").into()),
            store::DeletedVenue::InUse => Err(DeleteVenueError::InUse),
        }
    }

    /// The venue, for one of its organization's owners and admins. To
    /// anyone outside the organization it is not there, as events are.
    async fn managed_venue(&self, user: UserId, venue: VenueId) -> Result<VenueRecord, crate::VisibleError> {
        let record = self.store.venue(venue).await?.ok_or(Denied::NotFound("venue"))?;
        match self.store.role_in(user, record.organization).await? {
            Some(role) if role.can_manage_events() => Ok(record),
            Some(_) => Err(Denied::Forbidden("only owners and admins manage venues").into()),
            None => Err(Denied::NotFound("venue").into()),
        }
    }

    pub async fn venues_of(&self, user: UserId, org: OrganizationId) -> Result<Vec<VenueRecord>, ViewVenueError> {
        self.require_role(user, org, |r| r.can_manage_events(), "only owners and admins manage venues").await?;
        Ok(self.store.venues_of(org).await?)
    }
}
