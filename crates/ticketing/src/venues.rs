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
}

#[derive(Clone, Debug)]
pub struct CreatedVenue {
    pub id: VenueId,
    pub seat_count: usize,
    pub ga_capacity: u64,
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
from_visible!(CreateVenueError, ViewVenueError);

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
        self.store.create_venue(&venue, &plan, self.now()).await?;
        Ok(CreatedVenue { id: venue.id, seat_count: plan.seat_count(), ga_capacity: plan.ga_capacity() })
    }

    /// A venue's seat map. Seat maps are public: buyers need them to choose.
    pub async fn seat_map(&self, venue: VenueId) -> Result<(VenueRecord, SeatMapRecord), ViewVenueError> {
        let record = self.store.venue(venue).await?.ok_or(Denied::NotFound("venue"))?;
        let map = self.store.seat_map(venue).await?;
        Ok((record, map))
    }

    pub async fn venues_of(&self, user: UserId, org: OrganizationId) -> Result<Vec<VenueRecord>, ViewVenueError> {
        self.require_role(user, org, |r| r.can_manage_events(), "only owners and admins manage venues").await?;
        Ok(self.store.venues_of(org).await?)
    }
}
