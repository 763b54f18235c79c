//! Events: creation, lifecycle and browsing.

use domain::barcode::EventKey;
use domain::event::{
    EventChange, EventSpec, EventSpecError, EventStatus, TicketType, TicketTypeChange, TicketTypeSpec, TransitionError,
    VenueOffer,
};
use domain::ids::{EventId, OrganizationId, TicketTypeId, UserId, VenueId};
use store::{EventFilter, EventRecord, EventSummary, NewEvent, StoreError};

use crate::checkout::IdempotencyKey;
use crate::{Denied, Ticketing, from_visible};

/// Events per page of the public listing, unless the client asks for fewer.
pub const EVENTS_PAGE_SIZE_DEFAULT: u32 = 20;
/// The most events one page may hold.
pub const EVENTS_PAGE_SIZE_MAX: u32 = 100;
/// Longest search text, in characters.
pub const SEARCH_QUERY_LEN_MAX: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum CreateEventError {
    #[error("venue not found in this organization")]
    UnknownVenue,
    #[error("this Idempotency-Key already created event {0} from a different request; use a new key for a new event")]
    KeyReused(EventId),
    #[error(
        "the venue's time zone was changed, or the venue deleted, meanwhile; check the event's times and send it again"
    )]
    VenueChanged,
    #[error(transparent)]
    Invalid(#[from] EventSpecError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeEventError {
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("the event was changed by someone else at the same time; reload and try again")]
    Concurrent,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum ViewEventError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum ListEventsError {
    #[error("search text must be at most {SEARCH_QUERY_LEN_MAX} characters")]
    QueryTooLong,
    #[error("'to' must be after 'from'")]
    EmptyRange,
    #[error(transparent)]
    Store(#[from] StoreError),
}
#[derive(Debug, thiserror::Error)]
pub enum TicketTypeError {
    #[error(transparent)]
    Invalid(#[from] EventSpecError),
    #[error("the event has no such ticket type")]
    UnknownTicketType,
    #[error("the event is {0}; its ticket types can no longer change")]
    SaleOver(EventStatus),
    #[error(
        "this ticket type has been held or sold: it stays, as the record of those sales; end its sales window instead"
    )]
    InUse,
    #[error("an event on sale keeps at least one ticket type: add another before deleting this one")]
    LastOnSale,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(CreateEventError, ChangeEventError, ViewEventError, TicketTypeError);

#[derive(Debug, thiserror::Error)]
pub enum DeleteEventError {
    #[error("the event is not a draft ({0}): only a draft is deleted; cancel an event that went on sale")]
    NotDraft(EventStatus),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(DeleteEventError);

#[derive(Debug, thiserror::Error)]
pub enum EditEventError {
    #[error(transparent)]
    Invalid(#[from] EventSpecError),
    #[error("tickets are sold: move the event with POST /events/{{id}}/reschedule, which tells every ticket holder")]
    DatesSold,
    #[error("ticket type '{0}' goes on sale after the event would end; change its sales window first")]
    SalesAfterEvent(String),
    #[error("the event is {0}; it can no longer change")]
    SaleOver(EventStatus),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(EditEventError);

/// `tt` as the database keeps it (times to the millisecond), so that a
/// caller answers with what a later read returns.
fn stored(mut tt: TicketType) -> TicketType {
    // Milliseconds since the epoch, as the database keeps them: this also
    // turns a leap second (`…:60`) into the second after it, as read back.
    let as_kept = |t: domain::Timestamp| chrono::DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t);
    tt.sales_start = tt.sales_start.map(as_kept);
    tt.sales_end = tt.sales_end.map(as_kept);
    tt
}

#[derive(Clone, Debug)]
pub struct EventDetails {
    pub event: EventRecord,
    pub ticket_types: Vec<TicketType>,
}

/// What a creation request asked for, to tell its retry (the same) from
/// another request sent with its key. The spec's `Debug` rendering names
/// every field; it is stable within a release, and a retry that straddles an
/// upgrade changing it is told the key was reused, which creates nothing.
fn creation_hash(venue: VenueId, spec: &EventSpec) -> String {
    crate::sha256_hex(format!("{venue}\n{spec:?}"))
}

/// A created event, or the one an earlier request with the same key made.
pub struct CreatedEvent {
    pub details: EventDetails,
    pub replayed: bool,
}

impl Ticketing {
    /// Creates a draft event. With `creation_key`, the request can be sent again
    /// safely (a retry after a lost answer, a form submitted twice): the
    /// organization's event made with that key is the answer while it exists;
    /// the key sent with a different request is refused (`KeyReused`).
    pub async fn create_event(
        &self,
        user: UserId,
        org: OrganizationId,
        venue: VenueId,
        spec: EventSpec,
        creation_key: Option<&IdempotencyKey>,
    ) -> Result<CreatedEvent, CreateEventError> {
        self.require_role(user, org, |r| r.can_manage_events(), "only owners and admins create events").await?;
        let venue_record = self.store.venue(venue).await?.filter(|v| v.organization == org);
        let Some(venue_record) = venue_record else {
            return Err(CreateEventError::UnknownVenue);
        };
        let offer = self.store.venue_offer(venue).await?;
        spec.validate(&VenueOffer { price_zones: &offer.price_zones, ga_areas: &offer.ga_areas })?;
        spec.validate_schedule(self.now())?;
        // What was asked, for telling a retry from another request with the key.
        let spec_seen = creation_key.is_some().then(|| spec.clone());
        let ticket_types: Vec<TicketType> = spec
            .ticket_types
            .into_iter()
            .map(|t| TicketType {
                id: TicketTypeId::new(),
                name: t.name.trim().to_owned(),
                price: t.price,
                admits: t.admits,
                max_per_order: t.max_per_order,
                sales_start: t.sales_start,
                sales_end: t.sales_end,
            })
            .collect();
        let new = NewEvent {
            id: EventId::new(),
            organization: org,
            venue,
            title: spec.title.trim().to_owned(),
            description: spec.description,
            category: spec.category,
            starts_at: spec.starts_at,
            ends_at: spec.ends_at,
            transfer_policy: spec.transfer_policy,
            resale_policy: spec.resale_policy,
            rotating_barcodes: spec.rotating_barcodes,
            creation_key: creation_key.map(|k| k.as_str().to_owned()),
            creation_hash: spec_seen.as_ref().map(|seen| creation_hash(venue, seen)),
            venue_timezone: venue_record.timezone.clone(),
        };
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        let key = EventKey::from_secret(secret);
        let now = self.now();
        let created = match self.store.create_event(&new, &ticket_types, &key, now).await {
            // The venue was deleted since it was read.
            Err(e) if e.is_foreign_key_violation() => return Err(CreateEventError::UnknownVenue),
            other => other?,
        };
        if created == store::EventCreation::VenueChanged {
            return Err(CreateEventError::VenueChanged);
        }
        if let store::EventCreation::Earlier(earlier) = created {
            if !earlier.same_request {
                return Err(CreateEventError::KeyReused(earlier.id));
            }
            let details = self.event_details(Some(user), earlier.id).await.map_err(|e| match e {
                ViewEventError::Store(s) => CreateEventError::Store(s),
                ViewEventError::Denied(d) => CreateEventError::Denied(d),
            })?;
            return Ok(CreatedEvent { details, replayed: true });
        }
        let event = EventRecord {
            id: new.id,
            organization: org,
            venue,
            venue_name: venue_record.name,
            timezone: venue_record.timezone,
            title: new.title,
            description: new.description,
            category: new.category,
            starts_at: new.starts_at,
            ends_at: new.ends_at,
            status: EventStatus::Draft,
            created_at: now,
            transfer_policy: new.transfer_policy,
            resale_policy: new.resale_policy,
            rotating_barcodes: new.rotating_barcodes,
        };
        Ok(CreatedEvent { details: EventDetails { event, ticket_types }, replayed: false })
    }

    async fn managed_event(&self, user: UserId, event: EventId) -> Result<EventRecord, ChangeEventError> {
        let record = self.visible_event(Some(user), event).await?;
        self.require_role(user, record.organization, |r| r.can_manage_events(), "only owners and admins manage events")
            .await?;
        Ok(record)
    }

    pub async fn publish_event(&self, user: UserId, event: EventId) -> Result<EventRecord, ChangeEventError> {
        let mut record = self.managed_event(user, event).await?;
        let types = self.store.ticket_types(event).await?;
        let now = self.now();
        let still_selling = types.iter().filter(|t| t.sales_end.is_none_or(|end| end > now)).count();
        let to = record.status.publish(types.len(), still_selling, record.ends_at, now)?;
        if !self.store.set_event_status(event, record.status, to, now).await? {
            return Err(ChangeEventError::Concurrent);
        }
        record.status = to;
        Ok(record)
    }

    /// Deletes a draft: an event that never went on sale leaves no trace.
    pub async fn delete_draft(&self, user: UserId, event: EventId) -> Result<(), DeleteEventError> {
        let record = self.visible_event(Some(user), event).await?;
        self.require_role(user, record.organization, |r| r.can_manage_events(), "only owners and admins manage events")
            .await?;
        if record.status != EventStatus::Draft || !self.store.delete_draft(event).await? {
            // Published (or more) before this request, or while it ran.
            let now = self.store.event(event).await?.map_or(record.status, |e| e.status);
            return Err(DeleteEventError::NotDraft(now));
        }
        Ok(())
    }

    pub async fn cancel_event(&self, user: UserId, event: EventId) -> Result<EventRecord, ChangeEventError> {
        let mut record = self.managed_event(user, event).await?;
        let to = record.status.cancel()?;
        // The job that refunds every order, revokes every ticket and tells
        // every buyer is enqueued with the status change: a crash after the
        // commit still carries the cancellation out.
        let job = self.cancellation_job(event, user);
        if !self.store.set_event_status_with_job(event, record.status, to, &job, self.now()).await? {
            return Err(ChangeEventError::Concurrent);
        }
        // Resale buyers get their money back; sellers are not paid out.
        self.store.refund_event_escrow(event, self.now()).await?;
        record.status = to;
        Ok(record)
    }

    /// Changes an event's title, description, category or times. Its times
    /// move only while nothing is sold: a sold event is moved with
    /// [`Ticketing::reschedule_event`], which tells its ticket holders.
    pub async fn edit_event(
        &self,
        user: UserId,
        event: EventId,
        change: &EventChange,
    ) -> Result<EventRecord, EditEventError> {
        let mut record = self.visible_event(Some(user), event).await?;
        self.require_role(user, record.organization, |r| r.can_manage_events(), "only owners and admins manage events")
            .await?;
        let status = record.status.effective(record.ends_at, self.now());
        if matches!(status, EventStatus::Cancelled | EventStatus::Ended) {
            return Err(EditEventError::SaleOver(status));
        }
        use chrono::SubsecRound;
        let (old_start, old_end) = (record.starts_at, record.ends_at);
        if let Some(t) = &change.title {
            record.title = t.trim().to_owned();
        }
        if let Some(d) = &change.description {
            record.description = d.clone();
        }
        if let Some(c) = change.category {
            record.category = c;
        }
        record.starts_at = change.starts_at.map_or(record.starts_at, |t| t.trunc_subsecs(3));
        record.ends_at = change.ends_at.map_or(record.ends_at, |t| t.trunc_subsecs(3));
        domain::event::validate_facts(&record.title, &record.description, record.starts_at, record.ends_at)?;
        let moved = (record.starts_at, record.ends_at) != (old_start, old_end);
        if moved {
            domain::event::validate_horizon(record.starts_at, record.ends_at, self.now())?;
            if let Some(name) = self.type_on_sale_after(event, record.ends_at).await? {
                return Err(EditEventError::SalesAfterEvent(name));
            }
        }
        if !self.store.update_event(&record, moved).await? {
            return Err(EditEventError::DatesSold);
        }
        record.status = status;
        Ok(record)
    }

    /// A ticket type of `event` whose sales would start once an event ending
    /// at `ends_at` is over: such a move needs its sales window changed first.
    pub(crate) async fn type_on_sale_after(
        &self,
        event: EventId,
        ends_at: domain::Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let types = self.store.ticket_types(event).await?;
        Ok(types.into_iter().find(|t| t.sales_start.is_some_and(|s| s >= ends_at)).map(|t| t.name))
    }

    /// Adds a ticket type to an event, on sale or not yet: a late release of
    /// seats at another price, an early-bird tier with its own sales window.
    pub async fn add_ticket_type(
        &self,
        user: UserId,
        event: EventId,
        spec: TicketTypeSpec,
    ) -> Result<TicketType, TicketTypeError> {
        let record = self.open_for_ticket_types(user, event).await?;
        spec.validate_new(self.now())?;
        let tt = stored(TicketType {
            id: TicketTypeId::new(),
            name: spec.name.trim().to_owned(),
            price: spec.price,
            admits: spec.admits,
            max_per_order: spec.max_per_order,
            sales_start: spec.sales_start,
            sales_end: spec.sales_end,
        });
        self.edit_ticket_types(&record, |types| {
            types.push(tt.clone());
            Ok(tt)
        })
        .await
    }

    /// Changes a ticket type's name, price, limit per order or sales window,
    /// applied to the type as it is when the change is written: two changes
    /// made at once both hold. Holds already placed keep their price.
    pub async fn change_ticket_type(
        &self,
        user: UserId,
        event: EventId,
        ticket_type: TicketTypeId,
        change: &TicketTypeChange,
    ) -> Result<TicketType, TicketTypeError> {
        let record = self.open_for_ticket_types(user, event).await?;
        self.edit_ticket_types(&record, |types| {
            let old = types.iter_mut().find(|t| t.id == ticket_type).ok_or(TicketTypeError::UnknownTicketType)?;
            *old = stored(old.changed(change)?);
            Ok(old.clone())
        })
        .await
    }

    /// Deletes a ticket type made by mistake: one nobody has held or bought.
    pub async fn delete_ticket_type(
        &self,
        user: UserId,
        event: EventId,
        ticket_type: TicketTypeId,
    ) -> Result<(), TicketTypeError> {
        let record = self.open_for_ticket_types(user, event).await?;
        let on_sale = record.status == EventStatus::Published;
        match self.store.delete_ticket_type(event, ticket_type, on_sale).await? {
            store::DeletedTicketType::Deleted => Ok(()),
            store::DeletedTicketType::Unknown => Err(TicketTypeError::UnknownTicketType),
            store::DeletedTicketType::InUse => Err(TicketTypeError::InUse),
            store::DeletedTicketType::Last => Err(TicketTypeError::LastOnSale),
        }
    }

    async fn open_for_ticket_types(&self, user: UserId, event: EventId) -> Result<EventRecord, TicketTypeError> {
        let record = self.visible_event(Some(user), event).await?;
        self.require_role(user, record.organization, |r| r.can_manage_events(), "only owners and admins manage events")
            .await?;
        let status = record.status.effective(record.ends_at, self.now());
        if matches!(status, EventStatus::Cancelled | EventStatus::Ended) {
            return Err(TicketTypeError::SaleOver(status));
        }
        Ok(record)
    }

    /// Runs `edit` on the event's ticket types under the event's lock, and
    /// writes the type it made if the whole set still passes the checks.
    async fn edit_ticket_types(
        &self,
        record: &EventRecord,
        edit: impl FnOnce(&mut Vec<TicketType>) -> Result<TicketType, TicketTypeError>,
    ) -> Result<TicketType, TicketTypeError> {
        let offer = self.store.venue_offer(record.venue).await?;
        let venue = VenueOffer { price_zones: &offer.price_zones, ga_areas: &offer.ga_areas };
        self.store
            .edit_ticket_types(record.id, |types| {
                let tt = edit(types)?;
                domain::event::validate_ticket_type_set(types, &venue, record.ends_at)?;
                Ok(tt)
            })
            .await
    }

    pub async fn event_details(&self, viewer: Option<UserId>, event: EventId) -> Result<EventDetails, ViewEventError> {
        let mut record = self.visible_event(viewer, event).await?;
        record.status = record.status.effective(record.ends_at, self.now());
        let ticket_types = self.store.ticket_types(event).await?;
        Ok(EventDetails { event: record, ticket_types })
    }

    /// Published, upcoming events, filtered; one page and whether more follow.
    pub async fn list_events(&self, mut filter: EventFilter) -> Result<(Vec<EventSummary>, bool), ListEventsError> {
        if let Some(q) = &filter.query {
            if q.chars().count() > SEARCH_QUERY_LEN_MAX {
                return Err(ListEventsError::QueryTooLong);
            }
            let trimmed = q.trim();
            filter.query = (!trimmed.is_empty()).then(|| trimmed.to_owned());
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && to <= from
        {
            return Err(ListEventsError::EmptyRange);
        }
        let page = match filter.limit {
            0 => EVENTS_PAGE_SIZE_DEFAULT,
            n => n.min(EVENTS_PAGE_SIZE_MAX),
        };
        // Fetch one more than a page to know whether another page follows.
        filter.limit = page + 1;
        let mut items = self.store.list_published(&filter, self.now()).await?;
        let more = items.len() > page as usize;
        items.truncate(page as usize);
        Ok((items, more))
    }

    /// All events of an organization, drafts included, for its managers.
    pub async fn events_of(&self, user: UserId, org: OrganizationId) -> Result<Vec<EventRecord>, ViewEventError> {
        self.require_role(user, org, |r| r.can_check_in(), "you are not a member of this organization").await?;
        let now = self.now();
        let mut events = self.store.events_of(org).await?;
        for e in &mut events {
            e.status = e.status.effective(e.ends_at, now);
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_is_answered_as_the_database_keeps_it() {
        let at = |s: &str| s.parse::<domain::Timestamp>().unwrap();
        let tt = stored(TicketType {
            id: TicketTypeId::new(),
            name: "Seat".into(),
            price: domain::money::Money::new(100, "EUR".parse().unwrap()).unwrap(),
            admits: domain::event::Admits::PriceZone("main".into()),
            max_per_order: 4,
            sales_start: Some(at("2026-12-06T23:59:60Z")),
            sales_end: Some(at("2026-12-08T10:00:00.123456Z")),
        });
        assert_eq!(tt.sales_start, Some(at("2026-12-07T00:00:00Z")), "a leap second is the second after it");
        assert_eq!(tt.sales_end, Some(at("2026-12-08T10:00:00.123Z")), "to the millisecond");
    }
}
