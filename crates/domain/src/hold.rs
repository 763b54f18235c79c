//! Holds: a buyer's short, all-or-nothing claim on seats and GA places while
//! they pay. This module prices and checks a hold request against the event's
//! catalogue; whether the inventory is actually free is decided by the store,
//! inside one transaction.

use std::collections::{HashMap, HashSet};

use crate::Timestamp;
use crate::event::{Admits, EventStatus, TicketType};
use crate::ids::{GaAreaId, ListingId, SeatId, TicketId, TicketTypeId};
use crate::money::{Money, MoneyError};

/// How long a hold lasts unless configured otherwise: long enough to type in
/// card details, short enough that abandoned carts return seats quickly.
pub const HOLD_TTL_SECS_DEFAULT: u64 = 600;
/// Shortest and longest hold lifetimes an operator may configure.
pub const HOLD_TTL_SECS_MIN: u64 = 1;
pub const HOLD_TTL_SECS_MAX: u64 = 3_600;
/// Seats plus GA places in one hold. A cap on what one request can lock up;
/// per-ticket-type limits are usually lower.
pub const UNITS_PER_HOLD_MAX: u32 = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatRequest {
    pub seat: SeatId,
    /// Which ticket type to sell the seat as; by default the cheapest on sale for
    /// the seat's price zone.
    pub ticket_type: Option<TicketTypeId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaRequest {
    pub area: GaAreaId,
    pub quantity: u32,
    pub ticket_type: Option<TicketTypeId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct HoldRequest {
    pub seats: Vec<SeatRequest>,
    pub ga: Vec<GaRequest>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldLine {
    Seat {
        seat: SeatId,
        ticket_type: TicketTypeId,
        unit_price: Money,
    },
    Ga {
        area: GaAreaId,
        quantity: u32,
        ticket_type: TicketTypeId,
        unit_price: Money,
    },
    /// A ticket bought from another fan: `replaces` is revoked and a new
    /// ticket for the same place is issued to the buyer.
    Resale {
        listing: ListingId,
        replaces: TicketId,
        seat: Option<SeatId>,
        area: Option<GaAreaId>,
        ticket_type: TicketTypeId,
        unit_price: Money,
    },
}

impl HoldLine {
    pub fn units(&self) -> u32 {
        match self {
            HoldLine::Seat { .. } | HoldLine::Resale { .. } => 1,
            HoldLine::Ga { quantity, .. } => *quantity,
        }
    }

    pub fn ticket_type(&self) -> TicketTypeId {
        match self {
            HoldLine::Seat { ticket_type, .. }
            | HoldLine::Ga { ticket_type, .. }
            | HoldLine::Resale { ticket_type, .. } => *ticket_type,
        }
    }

    pub fn unit_price(&self) -> Money {
        match self {
            HoldLine::Seat { unit_price, .. }
            | HoldLine::Ga { unit_price, .. }
            | HoldLine::Resale { unit_price, .. } => *unit_price,
        }
    }
}

/// A hold request that passed every check that needs no inventory: priced at
/// the prices in force now, which the hold then locks in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedHold {
    pub lines: Vec<HoldLine>,
    /// The platform fee, included in `total` (zero until [`PricedHold::with_fee`]).
    pub fee: Money,
    /// What the buyer is charged: the lines' prices plus `fee`.
    pub total: Money,
}

impl PricedHold {
    /// The hold with the organization's platform fee added to its total.
    pub fn with_fee(self, policy: &crate::fees::FeePolicy) -> Result<Self, crate::fees::FeeError> {
        let b = policy.breakdown(&self.lines)?;
        Ok(Self { lines: self.lines, fee: b.fee, total: b.total })
    }

    /// The tickets' prices without the fee.
    pub fn subtotal(&self) -> Money {
        Money::new(self.total.amount_minor() - self.fee.amount_minor(), self.total.currency())
            .expect("the fee is part of the total")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldError {
    #[error("the event is {0}, not on sale")]
    EventNotOnSale(EventStatus),
    #[error("a hold needs at least one seat or GA place")]
    Empty,
    #[error("a hold may cover at most {UNITS_PER_HOLD_MAX} seats and places")]
    TooManyUnits,
    #[error("seat {0} is listed twice")]
    DuplicateSeat(SeatId),
    #[error("GA area {0} is listed twice for the same ticket type")]
    DuplicateGaArea(GaAreaId),
    #[error("GA quantity must be at least 1")]
    ZeroQuantity,
    #[error("seat {0} is not a seat of this event's venue")]
    SeatNotAtVenue(SeatId),
    #[error("GA area {0} is not part of this event's venue")]
    GaAreaNotAtVenue(GaAreaId),
    /// No type for the seat's price zone (named) is on sale now.
    #[error("the seats of price zone '{0}' are not on sale now")]
    NoTicketTypeForSeat(String),
    #[error("the places of this standing area are not on sale now")]
    NoTicketTypeForArea(GaAreaId),
    #[error("ticket type {0} does not belong to this event or does not admit to that place")]
    TicketTypeMismatch(TicketTypeId),
    #[error("ticket type '{0}' is not on sale right now")]
    SalesClosed(String),
    #[error("at most {max} tickets of type '{name}' per order")]
    PerOrderLimit { name: String, max: u32 },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Checks the shape of a request before anything is looked up: not empty,
/// no zero quantities, at most [`UNITS_PER_HOLD_MAX`] units. Cheap, so a huge
/// request is refused before it costs a database round trip per seat.
pub fn check_hold_size(request: &HoldRequest) -> Result<(), HoldError> {
    if request.seats.is_empty() && request.ga.is_empty() {
        return Err(HoldError::Empty);
    }
    let mut units: u64 = request.seats.len() as u64;
    for ga in &request.ga {
        if ga.quantity == 0 {
            return Err(HoldError::ZeroQuantity);
        }
        units += u64::from(ga.quantity);
    }
    if units > u64::from(UNITS_PER_HOLD_MAX) {
        return Err(HoldError::TooManyUnits);
    }
    Ok(())
}

/// The type a seat or place is sold as when the buyer names none: the
/// lowest price on sale for it (the first such type on a tie). An
/// organizer's early-bird tier at a lower price applies while it is on sale,
/// whatever order the types were added in.
pub fn default_type<'a>(
    ticket_types: &'a [TicketType],
    admits: &dyn Fn(&Admits) -> bool,
    now: Timestamp,
) -> Option<&'a TicketType> {
    ticket_types.iter().filter(|t| admits(&t.admits) && t.on_sale_at(now)).min_by_key(|t| t.price.amount_minor())
}

/// Checks and prices a hold request.
///
/// `seat_zones` maps each requested seat that belongs to the event's venue to
/// its price zone; a requested seat missing from it is not at this venue.
pub fn price_hold(
    status: EventStatus,
    ticket_types: &[TicketType],
    seat_zones: &HashMap<SeatId, String>,
    request: &HoldRequest,
    now: Timestamp,
) -> Result<PricedHold, HoldError> {
    if status != EventStatus::Published {
        return Err(HoldError::EventNotOnSale(status));
    }
    check_hold_size(request)?;

    let by_id: HashMap<TicketTypeId, &TicketType> = ticket_types.iter().map(|t| (t.id, t)).collect();
    let pick =
        |requested: Option<TicketTypeId>, admits: &dyn Fn(&Admits) -> bool| -> Result<Option<&TicketType>, HoldError> {
            match requested {
                Some(id) => {
                    let tt = by_id.get(&id).filter(|t| admits(&t.admits)).ok_or(HoldError::TicketTypeMismatch(id))?;
                    if !tt.on_sale_at(now) {
                        return Err(HoldError::SalesClosed(tt.name.clone()));
                    }
                    Ok(Some(*tt))
                }
                None => Ok(default_type(ticket_types, admits, now)),
            }
        };

    let mut lines = Vec::with_capacity(request.seats.len() + request.ga.len());
    let mut seen_seats = HashSet::new();
    for req in &request.seats {
        if !seen_seats.insert(req.seat) {
            return Err(HoldError::DuplicateSeat(req.seat));
        }
        let zone = seat_zones.get(&req.seat).ok_or(HoldError::SeatNotAtVenue(req.seat))?;
        let admits = |a: &Admits| matches!(a, Admits::PriceZone(z) if z == zone);
        let tt = pick(req.ticket_type, &admits)?.ok_or_else(|| HoldError::NoTicketTypeForSeat(zone.clone()))?;
        lines.push(HoldLine::Seat { seat: req.seat, ticket_type: tt.id, unit_price: tt.price });
    }
    let venue_areas: HashSet<GaAreaId> = ticket_types
        .iter()
        .filter_map(|t| match t.admits {
            Admits::GaArea(a) => Some(a),
            Admits::PriceZone(_) => None,
        })
        .collect();
    let mut seen_areas = HashSet::new();
    for req in &request.ga {
        if !venue_areas.contains(&req.area) {
            // Either not at this venue or not sold for this event: to the
            // buyer both mean the same.
            return Err(HoldError::GaAreaNotAtVenue(req.area));
        }
        let admits = |a: &Admits| matches!(a, Admits::GaArea(x) if *x == req.area);
        let tt = pick(req.ticket_type, &admits)?.ok_or(HoldError::NoTicketTypeForArea(req.area))?;
        // One line per area and ticket type: the same area may be asked for
        // as different types (adult, child), but not twice as the same one.
        if !seen_areas.insert((req.area, tt.id)) {
            return Err(HoldError::DuplicateGaArea(req.area));
        }
        lines.push(HoldLine::Ga { area: req.area, quantity: req.quantity, ticket_type: tt.id, unit_price: tt.price });
    }

    let mut per_type: HashMap<TicketTypeId, u32> = HashMap::new();
    for line in &lines {
        *per_type.entry(line.ticket_type()).or_default() += line.units();
    }
    for (id, count) in per_type {
        let tt = by_id[&id];
        if count > tt.max_per_order {
            return Err(HoldError::PerOrderLimit { name: tt.name.clone(), max: tt.max_per_order });
        }
    }

    let currency = lines[0].unit_price().currency();
    let mut total = Money::zero(currency);
    for line in &lines {
        total = total.checked_add(line.unit_price().checked_mul(line.units())?)?;
    }
    Ok(PricedHold { lines, fee: Money::zero(currency), total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap()
    }

    fn eur(a: i64) -> Money {
        Money::new(a, "EUR".parse().unwrap()).unwrap()
    }

    fn types(area: GaAreaId) -> Vec<TicketType> {
        vec![
            TicketType {
                id: TicketTypeId::new(),
                name: "Stalls".into(),
                price: eur(4500),
                admits: Admits::PriceZone("A".into()),
                max_per_order: 4,
                sales_start: None,
                sales_end: None,
            },
            TicketType {
                id: TicketTypeId::new(),
                name: "Standing".into(),
                price: eur(2000),
                admits: Admits::GaArea(area),
                max_per_order: 6,
                sales_start: None,
                sales_end: None,
            },
        ]
    }

    #[test]
    fn prices_seats_and_ga_at_current_prices() {
        let area = GaAreaId::new();
        let (s1, s2) = (SeatId::new(), SeatId::new());
        let zones = HashMap::from([(s1, "A".to_string()), (s2, "A".to_string())]);
        let req = HoldRequest {
            seats: vec![SeatRequest { seat: s1, ticket_type: None }, SeatRequest { seat: s2, ticket_type: None }],
            ga: vec![GaRequest { area, quantity: 3, ticket_type: None }],
        };
        let priced = price_hold(EventStatus::Published, &types(area), &zones, &req, now()).unwrap();
        assert_eq!(priced.total.amount_minor(), 2 * 4500 + 3 * 2000);
        assert_eq!(priced.lines.len(), 3);
    }

    #[test]
    fn a_cheaper_tier_on_sale_applies_whatever_its_place_in_the_list() {
        let area = GaAreaId::new();
        let mut tts = types(area);
        tts.push(TicketType {
            id: TicketTypeId::new(),
            name: "Early bird".into(),
            price: eur(3900),
            admits: Admits::PriceZone("A".into()),
            max_per_order: 4,
            sales_start: None,
            sales_end: Some(now() + chrono::Duration::days(1)),
        });
        let seat = SeatId::new();
        let zones = HashMap::from([(seat, "A".to_string())]);
        let req = HoldRequest { seats: vec![SeatRequest { seat, ticket_type: None }], ga: vec![] };
        let early = price_hold(EventStatus::Published, &tts, &zones, &req, now()).unwrap();
        assert_eq!(early.total.amount_minor(), 3900);
        let later = price_hold(EventStatus::Published, &tts, &zones, &req, now() + chrono::Duration::days(2)).unwrap();
        assert_eq!(later.total.amount_minor(), 4500, "once the tier's sales end, the regular price");
        // Named, the dearer type is sold as asked.
        let named = HoldRequest { seats: vec![SeatRequest { seat, ticket_type: Some(tts[0].id) }], ga: vec![] };
        assert_eq!(price_hold(EventStatus::Published, &tts, &zones, &named, now()).unwrap().total.amount_minor(), 4500);
    }

    #[test]
    fn refuses_what_cannot_be_sold() {
        let area = GaAreaId::new();
        let tts = types(area);
        let seat = SeatId::new();
        let zones = HashMap::from([(seat, "A".to_string())]);
        let one_seat = HoldRequest { seats: vec![SeatRequest { seat, ticket_type: None }], ga: vec![] };
        assert_eq!(
            price_hold(EventStatus::Draft, &tts, &zones, &one_seat, now()),
            Err(HoldError::EventNotOnSale(EventStatus::Draft))
        );
        assert_eq!(
            price_hold(EventStatus::Published, &tts, &zones, &HoldRequest::default(), now()),
            Err(HoldError::Empty)
        );
        let stranger = SeatId::new();
        let foreign = HoldRequest { seats: vec![SeatRequest { seat: stranger, ticket_type: None }], ga: vec![] };
        assert_eq!(
            price_hold(EventStatus::Published, &tts, &zones, &foreign, now()),
            Err(HoldError::SeatNotAtVenue(stranger))
        );
        let twice = HoldRequest { seats: vec![SeatRequest { seat, ticket_type: None }; 2], ga: vec![] };
        assert_eq!(
            price_hold(EventStatus::Published, &tts, &zones, &twice, now()),
            Err(HoldError::DuplicateSeat(seat))
        );
        let zero = HoldRequest { seats: vec![], ga: vec![GaRequest { area, quantity: 0, ticket_type: None }] };
        assert_eq!(price_hold(EventStatus::Published, &tts, &zones, &zero, now()), Err(HoldError::ZeroQuantity));
        let greedy = HoldRequest { seats: vec![], ga: vec![GaRequest { area, quantity: 7, ticket_type: None }] };
        assert!(matches!(
            price_hold(EventStatus::Published, &tts, &zones, &greedy, now()),
            Err(HoldError::PerOrderLimit { max: 6, .. })
        ));
        let wrong_type = HoldRequest { seats: vec![SeatRequest { seat, ticket_type: Some(tts[1].id) }], ga: vec![] };
        assert_eq!(
            price_hold(EventStatus::Published, &tts, &zones, &wrong_type, now()),
            Err(HoldError::TicketTypeMismatch(tts[1].id))
        );
    }

    #[test]
    fn closed_sales_windows_are_refused() {
        let area = GaAreaId::new();
        let mut tts = types(area);
        tts[1].sales_end = Some(now());
        let req =
            HoldRequest { seats: vec![], ga: vec![GaRequest { area, quantity: 1, ticket_type: Some(tts[1].id) }] };
        assert_eq!(
            price_hold(EventStatus::Published, &tts, &HashMap::new(), &req, now()),
            Err(HoldError::SalesClosed("Standing".into()))
        );
    }
}
