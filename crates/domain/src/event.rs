//! Events, their lifecycle, and their ticket types.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration};
use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::ids::{GaAreaId, TicketTypeId};
use crate::money::{Currency, Money};

/// Longest event title, in characters.
pub const TITLE_LEN_MAX: usize = 200;
/// Longest event description, in characters.
pub const DESCRIPTION_LEN_MAX: usize = 20_000;
/// Longest ticket-type name, in characters.
pub const TICKET_TYPE_NAME_LEN_MAX: usize = 100;
/// Years a sales window may open or close in. Nothing was sold before the
/// first; a date outside them (a negative year, say) is a typing mistake
/// that many clients could not even read back.
pub const SALES_YEAR_MIN: i32 = 2000;
pub const SALES_YEAR_MAX: i32 = 9999;
/// Ticket types per event.
pub const TICKET_TYPES_PER_EVENT_MAX: usize = 100;
/// The highest per-order limit an organizer may set for one ticket type.
pub const MAX_PER_ORDER_LIMIT: u32 = 50;
/// Longest an event may last: multi-week festivals exist, multi-month ones are
/// a data-entry mistake.
pub const EVENT_DURATION_DAYS_MAX: i64 = 60;
/// How far ahead an event may start: venues book about two years out, and
/// a start in year 9999 is a typo that would sit at the end of every listing.
pub const EVENT_HORIZON_YEARS: i64 = 10;

/// What kind of event this is; a closed list so that browsing can facet on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Concert,
    Theatre,
    Sports,
    Comedy,
    Festival,
    Conference,
    Family,
    Other,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Concert,
        Category::Theatre,
        Category::Sports,
        Category::Comedy,
        Category::Festival,
        Category::Conference,
        Category::Family,
        Category::Other,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Category::Concert => "concert",
            Category::Theatre => "theatre",
            Category::Sports => "sports",
            Category::Comedy => "comedy",
            Category::Festival => "festival",
            Category::Conference => "conference",
            Category::Family => "family",
            Category::Other => "other",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a category (concert, theatre, sports, comedy, festival, conference, family, other)")]
pub struct UnknownCategory(pub String);

impl FromStr for Category {
    type Err = UnknownCategory;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| UnknownCategory(s.to_owned()))
    }
}

/// The event lifecycle: draft → published → ended, or → cancelled from draft or
/// published. Only a published event sells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Draft,
    Published,
    Ended,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the event is {from}; it cannot be {to}")]
    NotAllowed { from: EventStatus, to: &'static str },
    #[error("an event needs at least one ticket type before it is published")]
    NoTicketTypes,
    #[error("the event has already ended; it cannot be published")]
    InThePast,
    #[error("the sales of every ticket type are over: move a type's sales end to later before publishing")]
    SalesOver,
}

impl EventStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            EventStatus::Draft => "draft",
            EventStatus::Published => "published",
            EventStatus::Ended => "ended",
            EventStatus::Cancelled => "cancelled",
        }
    }

    /// Publishes a draft with `ticket_types`, of which `still_selling` have
    /// sales that are not over: a listed event that can never sell is a
    /// mistake, not an announcement.
    pub fn publish(
        self,
        ticket_types: usize,
        still_selling: usize,
        ends_at: Timestamp,
        now: Timestamp,
    ) -> Result<Self, TransitionError> {
        match self {
            EventStatus::Draft if ticket_types == 0 => Err(TransitionError::NoTicketTypes),
            EventStatus::Draft if ends_at <= now => Err(TransitionError::InThePast),
            EventStatus::Draft if still_selling == 0 => Err(TransitionError::SalesOver),
            EventStatus::Draft => Ok(EventStatus::Published),
            from => Err(TransitionError::NotAllowed { from, to: "published" }),
        }
    }

    pub fn cancel(self) -> Result<Self, TransitionError> {
        match self {
            EventStatus::Draft | EventStatus::Published => Ok(EventStatus::Cancelled),
            from => Err(TransitionError::NotAllowed { from, to: "cancelled" }),
        }
    }

    /// The status as the public sees it at `now`: a published event whose end
    /// has passed is ended, whether or not anything has recorded that yet.
    pub fn effective(self, ends_at: Timestamp, now: Timestamp) -> Self {
        match self {
            EventStatus::Published if ends_at <= now => EventStatus::Ended,
            s => s,
        }
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "draft" => Ok(EventStatus::Draft),
            "published" => Ok(EventStatus::Published),
            "ended" => Ok(EventStatus::Ended),
            "cancelled" => Ok(EventStatus::Cancelled),
            other => Err(format!("unknown event status '{other}'")),
        }
    }
}

/// What a ticket type admits to: the seats of one price zone, or a GA area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admits {
    PriceZone(String),
    GaArea(GaAreaId),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TicketTypeSpec {
    pub name: String,
    pub price: Money,
    pub admits: Admits,
    pub max_per_order: u32,
    pub sales_start: Option<Timestamp>,
    pub sales_end: Option<Timestamp>,
}

impl TicketTypeSpec {
    /// Its sales times fall in the years a sale can be in.
    fn check_sales_years(&self) -> Result<(), EventSpecError> {
        if [self.sales_start, self.sales_end]
            .iter()
            .flatten()
            .all(|t| (SALES_YEAR_MIN..=SALES_YEAR_MAX).contains(&t.year()))
        {
            Ok(())
        } else {
            Err(EventSpecError::SalesTimeOutOfRange(self.name.clone()))
        }
    }

    /// Checks a type about to be created, seen from `now`: one whose sales
    /// window has closed already could never sell a ticket, and is almost
    /// always a date typed wrong. (Closing a type's sales later, by setting
    /// its end to now, is a change, not a creation, and is allowed.)
    pub fn validate_new(&self, now: Timestamp) -> Result<(), EventSpecError> {
        self.check_sales_years()?;
        if self.sales_end.is_some_and(|e| e <= now) {
            return Err(EventSpecError::SalesOverAlready(self.name.clone()));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TicketType {
    pub id: TicketTypeId,
    pub name: String,
    pub price: Money,
    pub admits: Admits,
    pub max_per_order: u32,
    pub sales_start: Option<Timestamp>,
    pub sales_end: Option<Timestamp>,
}

impl TicketType {
    pub fn on_sale_at(&self, now: Timestamp) -> bool {
        self.sales_start.is_none_or(|s| s <= now) && self.sales_end.is_none_or(|e| now < e)
    }

    /// The type as the organizer would describe it, to check it again.
    pub fn spec(&self) -> TicketTypeSpec {
        TicketTypeSpec {
            name: self.name.clone(),
            price: self.price,
            admits: self.admits.clone(),
            max_per_order: self.max_per_order,
            sales_start: self.sales_start,
            sales_end: self.sales_end,
        }
    }

    /// This type with `change` made. What it admits never changes: tickets
    /// sold for a zone stay tickets for that zone; nor does its currency, in
    /// which its orders were paid and its payouts are made.
    pub fn changed(&self, change: &TicketTypeChange) -> Result<TicketType, EventSpecError> {
        if let Some(p) = change.price
            && p.currency() != self.price.currency()
        {
            return Err(EventSpecError::CurrencyChange { name: self.name.clone(), currency: self.price.currency() });
        }
        Ok(TicketType {
            id: self.id,
            name: change.name.as_deref().map_or_else(|| self.name.clone(), |n| n.trim().to_owned()),
            price: change.price.unwrap_or(self.price),
            admits: self.admits.clone(),
            max_per_order: change.max_per_order.unwrap_or(self.max_per_order),
            sales_start: change.sales_start.unwrap_or(self.sales_start),
            sales_end: change.sales_end.unwrap_or(self.sales_end),
        })
    }
}

/// What an organizer changes of a ticket type; `None` leaves a field as it
/// is, and `Some(None)` clears a sales date. A new price applies to holds
/// placed from then on: a hold keeps the price it was placed at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TicketTypeChange {
    pub name: Option<String>,
    pub price: Option<Money>,
    pub max_per_order: Option<u32>,
    pub sales_start: Option<Option<Timestamp>>,
    pub sales_end: Option<Option<Timestamp>>,
}

/// Checks an event's ticket types as they will be after a type is added or
/// changed: each on its own and against the venue, one currency for all,
/// and none whose sales would open only after the event is over.
pub fn validate_ticket_type_set(
    types: &[TicketType],
    venue: &VenueOffer<'_>,
    event_ends_at: Timestamp,
) -> Result<(), EventSpecError> {
    let specs: Vec<TicketTypeSpec> = types.iter().map(TicketType::spec).collect();
    validate_ticket_types(&specs, venue, None)?;
    if let Some(tt) = specs.iter().find(|tt| tt.sales_start.is_some_and(|s| s >= event_ends_at)) {
        return Err(EventSpecError::SalesAfterEvent(tt.name.clone()));
    }
    Ok(())
}

/// A new event as the organizer describes it, before it is checked against
/// its venue.
#[derive(Clone, Debug, PartialEq)]
pub struct EventSpec {
    pub title: String,
    pub description: String,
    pub category: Category,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub ticket_types: Vec<TicketTypeSpec>,
    pub transfer_policy: crate::transfer::TransferPolicy,
    pub resale_policy: crate::resale::ResalePolicy,
    /// Holders show a code that changes every few seconds; static codes
    /// (screenshots, printouts) are refused at the gate.
    pub rotating_barcodes: bool,
}

/// What the venue offers, for checking ticket types against it.
pub struct VenueOffer<'a> {
    pub price_zones: &'a HashSet<String>,
    pub ga_areas: &'a HashSet<GaAreaId>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventSpecError {
    #[error("title must be 1 to {TITLE_LEN_MAX} characters on one line, without control characters")]
    BadTitle,
    #[error("description must be at most {DESCRIPTION_LEN_MAX} characters, without control characters")]
    DescriptionTooLong,
    #[error("the event must end after it starts (ends_at after starts_at)")]
    EndsBeforeStart,
    #[error("an event may last at most {EVENT_DURATION_DAYS_MAX} days")]
    TooLong,
    #[error("an event may start at most {EVENT_HORIZON_YEARS} years from now")]
    TooFarAhead,
    #[error("the event would be over already: it must end after now")]
    AlreadyOver,
    #[error("at most {TICKET_TYPES_PER_EVENT_MAX} ticket types per event")]
    TooManyTicketTypes,
    #[error(
        "ticket type name must be 1 to {TICKET_TYPE_NAME_LEN_MAX} characters on one line, without control characters"
    )]
    BadTicketTypeName,
    #[error("ticket type name '{0}' is used twice")]
    DuplicateTicketType(String),
    #[error("ticket type '{name}': max_per_order must be 1 to {MAX_PER_ORDER_LIMIT}, got {value}")]
    BadMaxPerOrder { name: String, value: u32 },
    #[error("ticket type '{name}': the venue has no price zone '{zone}'")]
    UnknownPriceZone { name: String, zone: String },
    #[error("ticket type '{0}': the GA area is not part of this venue")]
    UnknownGaArea(String),
    #[error("ticket type '{0}': sales_end must be after sales_start")]
    BadSalesWindow(String),
    #[error("ticket type '{0}': sales times must be in the years {SALES_YEAR_MIN} to {SALES_YEAR_MAX} (UTC)")]
    SalesTimeOutOfRange(String),
    #[error("ticket type '{0}': its sales must open before the event ends")]
    SalesAfterEvent(String),
    #[error("ticket type '{0}': its sales window is over already (sales_end must be after now)")]
    SalesOverAlready(String),
    #[error("{0}")]
    BadTransferPolicy(String),
    #[error("ticket type '{name}' is sold in {currency}; its currency cannot change")]
    CurrencyChange { name: String, currency: Currency },
    #[error("all ticket types of an event share one currency; '{name}' is in {found}, others in {expected}")]
    MixedCurrencies { name: String, found: Currency, expected: Currency },
}

/// Checks what an event is called, says and when it is: the same rules at
/// creation and for every later change.
pub fn validate_facts(
    title: &str,
    description: &str,
    starts_at: Timestamp,
    ends_at: Timestamp,
) -> Result<(), EventSpecError> {
    if !crate::text::is_name(title, TITLE_LEN_MAX) {
        return Err(EventSpecError::BadTitle);
    }
    if description.chars().count() > DESCRIPTION_LEN_MAX || !crate::text::is_printable(description) {
        return Err(EventSpecError::DescriptionTooLong);
    }
    if ends_at <= starts_at {
        return Err(EventSpecError::EndsBeforeStart);
    }
    if ends_at - starts_at > Duration::days(EVENT_DURATION_DAYS_MAX) {
        return Err(EventSpecError::TooLong);
    }
    Ok(())
}

/// Checks an event's dates seen from `now`: not too far ahead, and not over
/// already (an event that has ended could never be published or sold).
pub fn validate_horizon(starts_at: Timestamp, ends_at: Timestamp, now: Timestamp) -> Result<(), EventSpecError> {
    if starts_at > now + Duration::days(EVENT_HORIZON_YEARS * 366) {
        return Err(EventSpecError::TooFarAhead);
    }
    if ends_at <= now {
        return Err(EventSpecError::AlreadyOver);
    }
    Ok(())
}

/// What an organizer changes of an event after creating it; `None` leaves
/// a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventChange {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<Category>,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
}

impl EventSpec {
    /// Checks the event on its own and against the venue it is held at.
    pub fn validate(&self, venue: &VenueOffer<'_>) -> Result<(), EventSpecError> {
        validate_facts(&self.title, &self.description, self.starts_at, self.ends_at)?;
        self.transfer_policy.validate().map_err(|e| EventSpecError::BadTransferPolicy(e.to_string()))?;
        self.resale_policy.validate().map_err(|e| EventSpecError::BadTransferPolicy(e.to_string()))?;
        validate_ticket_types(&self.ticket_types, venue, None)?;
        // A ticket type that only goes on sale once the event is over could
        // never be sold.
        if let Some(tt) = self.ticket_types.iter().find(|tt| tt.sales_start.is_some_and(|s| s >= self.ends_at)) {
            return Err(EventSpecError::SalesAfterEvent(tt.name.clone()));
        }
        Ok(())
    }

    /// Checks when the event and its ticket types' sales are, seen from `now`.
    pub fn validate_schedule(&self, now: Timestamp) -> Result<(), EventSpecError> {
        validate_horizon(self.starts_at, self.ends_at, now)?;
        self.ticket_types.iter().try_for_each(|tt| tt.validate_new(now))
    }
}

/// Checks ticket types against the venue, and against the currency already in
/// use by the event, if any.
pub fn validate_ticket_types(
    types: &[TicketTypeSpec],
    venue: &VenueOffer<'_>,
    currency: Option<Currency>,
) -> Result<(), EventSpecError> {
    if types.len() > TICKET_TYPES_PER_EVENT_MAX {
        return Err(EventSpecError::TooManyTicketTypes);
    }
    let mut names = HashSet::new();
    let mut currency = currency;
    for tt in types {
        if !crate::text::is_name(&tt.name, TICKET_TYPE_NAME_LEN_MAX) {
            return Err(EventSpecError::BadTicketTypeName);
        }
        if !names.insert(crate::text::name_key(&tt.name)) {
            return Err(EventSpecError::DuplicateTicketType(tt.name.clone()));
        }
        if tt.max_per_order == 0 || tt.max_per_order > MAX_PER_ORDER_LIMIT {
            return Err(EventSpecError::BadMaxPerOrder { name: tt.name.clone(), value: tt.max_per_order });
        }
        match &tt.admits {
            Admits::PriceZone(zone) if !venue.price_zones.contains(zone) => {
                return Err(EventSpecError::UnknownPriceZone { name: tt.name.clone(), zone: zone.clone() });
            }
            Admits::GaArea(area) if !venue.ga_areas.contains(area) => {
                return Err(EventSpecError::UnknownGaArea(tt.name.clone()));
            }
            _ => {}
        }
        tt.check_sales_years()?;
        if let (Some(s), Some(e)) = (tt.sales_start, tt.sales_end)
            && e <= s
        {
            return Err(EventSpecError::BadSalesWindow(tt.name.clone()));
        }
        match currency {
            Some(expected) if expected != tt.price.currency() => {
                return Err(EventSpecError::MixedCurrencies {
                    name: tt.name.clone(),
                    found: tt.price.currency(),
                    expected,
                });
            }
            _ => currency = Some(tt.price.currency()),
        }
    }
    Ok(())
}

/// The ticket types of an event moved by `by`, with their sales times moved
/// the same: those still ahead at `now`. A sale that opened or closed
/// already stays as it was: moving its start would stop a running sale,
/// moving its end would reopen a finished one. Returns only the types that
/// change; refused whole when a moved window would make no sense (an end
/// moved to before now or before its start, a time out of range).
pub fn moved_sales_windows(
    types: &[TicketType],
    by: Duration,
    now: Timestamp,
) -> Result<Vec<TicketType>, EventSpecError> {
    let mut moved = Vec::new();
    for t in types {
        let out_of_range = || EventSpecError::SalesTimeOutOfRange(t.name.clone());
        let ahead = |time: Option<Timestamp>| -> Result<Option<Timestamp>, EventSpecError> {
            match time.filter(|time| *time > now) {
                Some(time) => {
                    let to = time.checked_add_signed(by).ok_or_else(out_of_range)?;
                    if !(SALES_YEAR_MIN..=SALES_YEAR_MAX).contains(&to.year()) {
                        return Err(out_of_range());
                    }
                    Ok(Some(to))
                }
                None => Ok(None),
            }
        };
        let (start, end) = (ahead(t.sales_start)?, ahead(t.sales_end)?);
        if start.is_none() && end.is_none() {
            continue;
        }
        let t = TicketType { sales_start: start.or(t.sales_start), sales_end: end.or(t.sales_end), ..t.clone() };
        if t.sales_end.is_some_and(|e| e <= now) {
            return Err(EventSpecError::SalesOverAlready(t.name));
        }
        if let (Some(s), Some(e)) = (t.sales_start, t.sales_end)
            && s >= e
        {
            return Err(EventSpecError::BadSalesWindow(t.name));
        }
        moved.push(t);
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono::Utc;

    #[test]
    fn moving_an_event_moves_the_sales_times_still_ahead() {
        let now = t(10);
        let of = |start: Option<u32>, end: Option<u32>| TicketType {
            id: TicketTypeId::new(),
            name: "Seat".into(),
            price: eur(100),
            admits: Admits::PriceZone("main".into()),
            max_per_order: 10,
            sales_start: start.map(t),
            sales_end: end.map(t),
        };
        let running = of(Some(8), Some(20));
        let later = of(Some(12), None);
        let over = of(Some(1), Some(9));
        let open_ended = of(None, None);
        let types = [running.clone(), later.clone(), over, open_ended];
        let moved = moved_sales_windows(&types, Duration::hours(3), now).unwrap();
        assert_eq!(moved.len(), 2, "a sale over and one without times stay");
        assert_eq!((moved[0].id, moved[0].sales_start, moved[0].sales_end), (running.id, Some(t(8)), Some(t(23))));
        assert_eq!((moved[1].id, moved[1].sales_start, moved[1].sales_end), (later.id, Some(t(15)), None));
        // Earlier: a start still ahead may come to lie behind; the sale opens.
        let moved = moved_sales_windows(&[later], Duration::hours(-5), now).unwrap();
        assert_eq!(moved[0].sales_start, Some(t(7)));
        // A running sale's end moved to before now, or before its start,
        // or beyond the years a sale can be in: refused, not made up.
        let refused = moved_sales_windows(std::slice::from_ref(&running), Duration::hours(-11), now);
        assert!(matches!(refused, Err(EventSpecError::SalesOverAlready(_))), "{refused:?}");
        let refused = moved_sales_windows(&[of(Some(8), Some(20))], Duration::days(3_000_000), now);
        assert!(matches!(refused, Err(EventSpecError::SalesTimeOutOfRange(_))), "{refused:?}");
        let upcoming = of(Some(11), Some(22));
        let moved = moved_sales_windows(&[upcoming], Duration::hours(-10), now).unwrap();
        assert_eq!((moved[0].sales_start, moved[0].sales_end), (Some(t(1)), Some(t(12))));
    }

    fn t(h: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2030, 1, 1, h, 0, 0).unwrap()
    }

    fn eur(a: i64) -> Money {
        Money::new(a, "EUR".parse().unwrap()).unwrap()
    }

    fn tt(name: &str, zone: &str, price: Money) -> TicketTypeSpec {
        TicketTypeSpec {
            name: name.into(),
            price,
            admits: Admits::PriceZone(zone.into()),
            max_per_order: 10,
            sales_start: None,
            sales_end: None,
        }
    }

    fn spec(types: Vec<TicketTypeSpec>) -> EventSpec {
        EventSpec {
            title: "Gig".into(),
            description: String::new(),
            category: Category::Concert,
            starts_at: t(19),
            ends_at: t(22),
            ticket_types: types,
            transfer_policy: crate::transfer::TransferPolicy::default(),
            resale_policy: crate::resale::ResalePolicy::default(),
            rotating_barcodes: false,
        }
    }

    #[test]
    fn lifecycle_allows_only_forward_moves() {
        let now = t(1);
        assert_eq!(EventStatus::Draft.publish(1, 1, t(22), now), Ok(EventStatus::Published));
        assert_eq!(EventStatus::Draft.publish(0, 0, t(22), now), Err(TransitionError::NoTicketTypes));
        assert_eq!(EventStatus::Draft.publish(2, 0, t(22), now), Err(TransitionError::SalesOver));
        assert!(EventStatus::Published.publish(1, 1, t(22), now).is_err());
        assert!(EventStatus::Cancelled.cancel().is_err());
        assert_eq!(EventStatus::Published.effective(t(22), t(23)), EventStatus::Ended);
        assert_eq!(EventStatus::Draft.effective(t(22), t(23)), EventStatus::Draft);
    }

    #[test]
    fn ticket_types_must_fit_the_venue() {
        let zones: HashSet<String> = ["A".to_string()].into();
        let areas = HashSet::new();
        let venue = VenueOffer { price_zones: &zones, ga_areas: &areas };
        assert!(spec(vec![tt("Adult", "A", eur(4500))]).validate(&venue).is_ok());
        assert!(matches!(
            spec(vec![tt("Adult", "Z", eur(4500))]).validate(&venue),
            Err(EventSpecError::UnknownPriceZone { .. })
        ));
        let usd = Money::new(100, "USD".parse().unwrap()).unwrap();
        assert!(matches!(
            spec(vec![tt("Adult", "A", eur(1)), tt("Child", "A", usd)]).validate(&venue),
            Err(EventSpecError::MixedCurrencies { .. })
        ));
        let mut bad = tt("Adult", "A", eur(1));
        bad.max_per_order = 0;
        assert!(matches!(spec(vec![bad]).validate(&venue), Err(EventSpecError::BadMaxPerOrder { .. })));
        let mut backwards = spec(vec![]);
        backwards.ends_at = t(18);
        assert_eq!(backwards.validate(&venue), Err(EventSpecError::EndsBeforeStart));
    }

    #[test]
    fn sales_window_is_half_open() {
        let mut x = TicketType {
            id: TicketTypeId::new(),
            name: "A".into(),
            price: eur(1),
            admits: Admits::PriceZone("A".into()),
            max_per_order: 1,
            sales_start: Some(t(10)),
            sales_end: Some(t(12)),
        };
        assert!(!x.on_sale_at(t(9)));
        assert!(x.on_sale_at(t(10)));
        assert!(!x.on_sale_at(t(12)));
        x.sales_start = None;
        assert!(x.on_sale_at(t(1)));
    }
}
