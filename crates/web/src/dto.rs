//! JSON shapes of the REST API: what clients send and receive. Request bodies
//! become domain commands here, once, through `TryFrom`.

use chrono::{DateTime, Utc};
use domain::event::{Admits, Category, EventSpec, TicketType, TicketTypeSpec};
use domain::hold::{GaRequest, HoldLine, HoldRequest, SeatRequest};
use domain::ids::{GaAreaId, SeatId, TicketTypeId};
use domain::money::{Currency, Money};
use domain::seatmap::{GaAreaSpec, RowSeats, RowSpec, SeatMapSpec, SectionSpec};
use serde::{Deserialize, Serialize};
use store::{EventRecord, HoldRecord, OrderRecord, TicketRecord};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::problem::Problem;

/// An amount in minor units (cents) of an ISO 4217 currency.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyDto {
    #[schema(example = 4500)]
    pub amount: i64,
    #[schema(example = "EUR")]
    pub currency: String,
}

impl From<Money> for MoneyDto {
    fn from(m: Money) -> Self {
        Self { amount: m.amount_minor(), currency: m.currency().to_string() }
    }
}

impl TryFrom<&MoneyDto> for Money {
    type Error = Problem;

    fn try_from(m: &MoneyDto) -> Result<Self, Problem> {
        let currency: Currency = m
            .currency
            .parse()
            .map_err(|e: domain::money::MoneyError| Problem::unprocessable("invalid-money", e.to_string()))?;
        Money::new(m.amount, currency).map_err(|e| Problem::unprocessable("invalid-money", e.to_string()))
    }
}

// ---- accounts ----

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub name: String,
}

/// Ask for a link to set a new password, mailed to this address if an
/// account has it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

/// The secret from a mailed password link, and the new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirmRequest {
    pub token: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetResponse {
    pub user_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// The secret from the link mailed to confirm an address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyEmailResponse {
    pub user_id: Uuid,
    pub email_verified: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationSentResponse {
    /// The address the new link went to.
    pub sent_to: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipDto {
    pub organization_id: Uuid,
    #[schema(example = "owner")]
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub id: Uuid,
    pub email: String,
    /// Whether the account confirmed the address is theirs (by the link
    /// mailed at sign-up). Tickets passed on to an unconfirmed address are
    /// accepted with the link mailed with the offer.
    pub email_verified: bool,
    pub name: String,
    pub memberships: Vec<MembershipDto>,
}

// ---- organizations ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganizationRequest {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationResponse {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    pub email: String,
    /// `admin` or `gate`.
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberResponse {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
}

/// One member of an organization's team.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamMemberDto {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    /// owner, admin or gate.
    pub role: String,
    pub added_at: DateTime<Utc>,
}

impl From<&store::MemberRecord> for TeamMemberDto {
    fn from(m: &store::MemberRecord) -> Self {
        Self {
            user_id: *m.user.as_uuid(),
            email: m.email.clone(),
            name: m.name.clone(),
            role: m.role.to_string(),
            added_at: m.since,
        }
    }
}

/// A change of a member's role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRoleRequest {
    /// `admin` or `gate`.
    pub role: String,
}

/// Whom to invite to the team.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    /// `admin` or `gate`.
    pub role: String,
}

/// An open invitation to the team.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationDto {
    pub id: String,
    pub email: String,
    /// admin or gate.
    pub role: String,
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<&store::InvitationRecord> for InvitationDto {
    fn from(i: &store::InvitationRecord) -> Self {
        Self {
            id: i.id.clone(),
            email: i.email.clone(),
            role: i.role.to_string(),
            invited_by: i.invited_by_name.clone(),
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// An invitation just made. `link` is shown this once: pass it on yourself
/// if the e-mail does not reach the person.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentInvitationDto {
    pub id: String,
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub link: String,
}

/// What an invitation's link offers, for the person who has it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationViewDto {
    pub organization_id: Uuid,
    pub organization_name: String,
    /// admin or gate.
    pub role: String,
    /// The address the invitation was sent to.
    pub email: String,
    pub invited_by: String,
    pub expires_at: DateTime<Utc>,
}

// ---- venues ----

/// A row's seats: a count (labelled 1..n) or explicit labels.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RowSeatsDto {
    Count(u32),
    Labels(Vec<String>),
}

/// [`RowSeatsDto`] read with an error that says what a row's seats may be
/// (serde's own, for an untagged enum, names only the type).
fn row_seats<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RowSeatsDto, D::Error> {
    use serde::de::Error;
    let expected = || D::Error::custom("a row's seats are a number of seats (0 or more) or a list of seat labels");
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => {
            n.as_u64().and_then(|n| u32::try_from(n).ok()).map(RowSeatsDto::Count).ok_or_else(expected)
        }
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(expected()),
            })
            .collect::<Result<_, _>>()
            .map(RowSeatsDto::Labels),
        _ => Err(expected()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowDto {
    pub label: String,
    #[serde(deserialize_with = "row_seats")]
    pub seats: RowSeatsDto,
    /// Labels of accessible (wheelchair) seats in this row.
    #[serde(default)]
    pub accessible: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointDto {
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionDto {
    pub name: String,
    pub price_zone: String,
    pub rows: Vec<RowDto>,
    /// Front-centre of the section on the map; sections without one are stacked.
    #[serde(default)]
    pub origin: Option<PointDto>,
    /// Bend rows on circles of this radius (in seat widths); omit for straight rows.
    #[serde(default)]
    pub curve_radius: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GaAreaDto {
    pub name: String,
    pub capacity: u32,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeatMapDto {
    #[serde(default)]
    pub sections: Vec<SectionDto>,
    #[serde(default)]
    pub ga_areas: Vec<GaAreaDto>,
}

impl From<SeatMapDto> for SeatMapSpec {
    fn from(m: SeatMapDto) -> Self {
        SeatMapSpec {
            sections: m
                .sections
                .into_iter()
                .map(|s| SectionSpec {
                    name: s.name,
                    price_zone: s.price_zone,
                    rows: s
                        .rows
                        .into_iter()
                        .map(|r| RowSpec {
                            label: r.label,
                            seats: match r.seats {
                                RowSeatsDto::Count(n) => RowSeats::Count(n),
                                RowSeatsDto::Labels(l) => RowSeats::Labels(l),
                            },
                            accessible: r.accessible,
                        })
                        .collect(),
                    origin: s.origin.map(|p| (p.x, p.y)),
                    curve_radius: s.curve_radius,
                })
                .collect(),
            ga_areas: m.ga_areas.into_iter().map(|a| GaAreaSpec { name: a.name, capacity: a.capacity }).collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVenueRequest {
    pub name: String,
    #[serde(default)]
    pub address: String,
    /// IANA time zone, for example `Europe/Berlin`.
    pub timezone: String,
    pub seat_map: SeatMapDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VenueCreatedResponse {
    pub id: Uuid,
    pub seat_count: usize,
    pub ga_capacity: u64,
}

/// What `PATCH /venues/{venue}` changes; a field left out stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VenuePatch {
    pub name: Option<String>,
    pub address: Option<String>,
    /// An IANA time zone; changes only while no event was created at the
    /// venue (409 `venue-in-use` otherwise).
    pub timezone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VenueResponse {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub address: String,
    pub timezone: String,
}

impl From<store::VenueRecord> for VenueResponse {
    fn from(v: store::VenueRecord) -> Self {
        Self {
            id: *v.id.as_uuid(),
            organization_id: *v.organization.as_uuid(),
            name: v.name,
            address: v.address,
            timezone: v.timezone,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeatDto {
    pub id: Uuid,
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub accessible: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowResponse {
    pub label: String,
    pub seats: Vec<SeatDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SectionResponse {
    pub id: Uuid,
    pub name: String,
    pub price_zone: String,
    pub rows: Vec<RowResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GaAreaResponse {
    pub id: Uuid,
    pub name: String,
    pub capacity: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeatMapResponse {
    pub venue_id: Uuid,
    pub name: String,
    pub timezone: String,
    pub sections: Vec<SectionResponse>,
    pub ga_areas: Vec<GaAreaResponse>,
}

// ---- events ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketTypeRequest {
    pub name: String,
    pub price: MoneyDto,
    /// Seats of this price zone; give this or `ga_area_id`.
    #[serde(default)]
    pub price_zone: Option<String>,
    /// Places in this GA area; give this or `price_zone`.
    #[serde(default)]
    pub ga_area_id: Option<Uuid>,
    /// Most tickets of this type in one order (default 10).
    #[serde(default = "default_max_per_order")]
    pub max_per_order: u32,
    #[serde(default)]
    pub sales_start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub sales_end: Option<DateTime<Utc>>,
}

fn default_max_per_order() -> u32 {
    10
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEventRequest {
    pub venue_id: Uuid,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// concert, theatre, sports, comedy, festival, conference, family or other.
    pub category: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub ticket_types: Vec<TicketTypeRequest>,
    /// Who may pass tickets on, and until when; transferable up to the start,
    /// three times per ticket, when omitted.
    #[serde(default)]
    pub transfer_policy: Option<TransferPolicyDto>,
    /// Resale rules; resale allowed up to face value + 10 % with a 5 %
    /// royalty when omitted.
    #[serde(default)]
    pub resale_policy: Option<ResalePolicyDto>,
    /// `static` (default; printable) or `rotating` (a code that changes
    /// every 15 seconds in the holder's app; screenshots are refused).
    #[serde(default)]
    pub barcodes: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResalePolicyDto {
    pub allowed: bool,
    /// Highest resale price in percent of face value (110 = face + 10 %).
    #[serde(default = "default_cap_percent")]
    pub max_price_percent: u32,
    /// The organizer's royalty in percent of the resale price.
    #[serde(default = "default_royalty_percent")]
    pub royalty_percent: u32,
}

fn default_cap_percent() -> u32 {
    domain::resale::ResalePolicy::default().cap_bps / 100
}

fn default_royalty_percent() -> u32 {
    domain::resale::ResalePolicy::default().royalty_bps / 100
}

impl From<&domain::resale::ResalePolicy> for ResalePolicyDto {
    fn from(p: &domain::resale::ResalePolicy) -> Self {
        Self { allowed: p.allowed, max_price_percent: p.cap_bps / 100, royalty_percent: p.royalty_bps / 100 }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferPolicyDto {
    pub transferable: bool,
    /// Transfers close this many hours before the start.
    #[serde(default)]
    pub closes_hours_before_start: u32,
    /// How many times one ticket may change hands by transfer.
    #[serde(default = "default_transfers_max")]
    pub max_transfers: u32,
}

fn default_transfers_max() -> u32 {
    domain::transfer::TransferPolicy::default().transfers_max
}

impl From<&domain::transfer::TransferPolicy> for TransferPolicyDto {
    fn from(p: &domain::transfer::TransferPolicy) -> Self {
        Self { transferable: p.transferable, closes_hours_before_start: p.cutoff_hours, max_transfers: p.transfers_max }
    }
}

impl TryFrom<TicketTypeRequest> for TicketTypeSpec {
    type Error = Problem;

    fn try_from(t: TicketTypeRequest) -> Result<Self, Problem> {
        let admits = match (t.price_zone, t.ga_area_id) {
            (Some(z), None) => Admits::PriceZone(z),
            (None, Some(a)) => Admits::GaArea(GaAreaId::from_uuid(a)),
            _ => {
                return Err(Problem::unprocessable(
                    "invalid-event",
                    format!("ticket type '{}' needs exactly one of price_zone and ga_area_id", t.name),
                ));
            }
        };
        Ok(TicketTypeSpec {
            price: Money::try_from(&t.price)?,
            name: t.name,
            admits,
            max_per_order: t.max_per_order,
            sales_start: t.sales_start,
            sales_end: t.sales_end,
        })
    }
}

/// Changes to an event; a field left out stays as it is. The times move
/// only while nothing is sold.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventPatch {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
}

/// New dates for an event on sale, sold or not. Every ticket holder is told
/// by e-mail and in the app; `note` is passed on to them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// What the organizer tells the holders (at most 2,000 characters).
    #[serde(default)]
    pub note: Option<String>,
    /// Offer the buyers from before the move their money back, until this
    /// time (after now, no later than the new start):
    /// `POST /orders/{order}/refund-request`.
    #[serde(default)]
    pub refunds_until: Option<DateTime<Utc>>,
    /// Move the ticket types' sales times that are still ahead by as much
    /// as the start moves (a sale set to end at the old start then ends at
    /// the new one). A sale that opened or closed already stays as it was.
    #[serde(default)]
    pub move_sales_windows: bool,
}

/// A move of an event's dates.
#[derive(Debug, Serialize, ToSchema)]
pub struct RescheduleDto {
    pub id: String,
    pub old_starts_at: DateTime<Utc>,
    pub old_ends_at: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub note: String,
    pub moved_at: DateTime<Utc>,
    pub refunds_until: Option<DateTime<Utc>>,
}

impl From<&store::RescheduleRecord> for RescheduleDto {
    fn from(r: &store::RescheduleRecord) -> Self {
        Self {
            id: r.id.clone(),
            old_starts_at: r.old_starts_at,
            old_ends_at: r.old_ends_at,
            starts_at: r.new_starts_at,
            ends_at: r.new_ends_at,
            note: r.note.clone(),
            moved_at: r.created_at,
            refunds_until: r.refunds_until,
        }
    }
}

/// An event just moved, and the move.
#[derive(Debug, Serialize, ToSchema)]
pub struct RescheduledDto {
    pub event: EventResponse,
    pub reschedule: RescheduleDto,
}

impl TryFrom<EventPatch> for domain::event::EventChange {
    type Error = Problem;

    fn try_from(p: EventPatch) -> Result<Self, Problem> {
        let category = p
            .category
            .map(|c| c.parse::<Category>())
            .transpose()
            .map_err(|e: domain::event::UnknownCategory| Problem::unprocessable("invalid-event", e.to_string()))?;
        Ok(Self { title: p.title, description: p.description, category, starts_at: p.starts_at, ends_at: p.ends_at })
    }
}

/// Changes to a ticket type; a field left out stays as it is. What it
/// admits (`price_zone`, `ga_area_id`) cannot change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketTypePatch {
    #[serde(default)]
    pub name: Option<String>,
    /// Applies to holds placed from now on; a hold keeps the price it was
    /// placed at.
    #[serde(default)]
    pub price: Option<MoneyDto>,
    #[serde(default)]
    pub max_per_order: Option<u32>,
    /// `null` clears it: on sale from publication.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub sales_start: Option<Option<DateTime<Utc>>>,
    /// `null` clears it: on sale until the event ends.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub sales_end: Option<Option<DateTime<Utc>>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
pub(crate) fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl TryFrom<TicketTypePatch> for domain::event::TicketTypeChange {
    type Error = Problem;

    fn try_from(p: TicketTypePatch) -> Result<Self, Problem> {
        Ok(Self {
            name: p.name,
            price: p.price.as_ref().map(Money::try_from).transpose()?,
            max_per_order: p.max_per_order,
            sales_start: p.sales_start,
            sales_end: p.sales_end,
        })
    }
}

impl TryFrom<CreateEventRequest> for EventSpec {
    type Error = Problem;

    fn try_from(r: CreateEventRequest) -> Result<Self, Problem> {
        let category: Category = r
            .category
            .parse()
            .map_err(|e: domain::event::UnknownCategory| Problem::unprocessable("invalid-event", e.to_string()))?;
        let ticket_types = r.ticket_types.into_iter().map(TicketTypeSpec::try_from).collect::<Result<_, Problem>>()?;
        let transfer_policy = match r.transfer_policy {
            Some(p) => domain::transfer::TransferPolicy {
                transferable: p.transferable,
                cutoff_hours: p.closes_hours_before_start,
                transfers_max: p.max_transfers,
            },
            None => domain::transfer::TransferPolicy::default(),
        };
        let resale_policy = match r.resale_policy {
            Some(p) => domain::resale::ResalePolicy {
                allowed: p.allowed,
                cap_bps: p.max_price_percent.saturating_mul(100),
                royalty_bps: p.royalty_percent.saturating_mul(100),
            },
            None => domain::resale::ResalePolicy::default(),
        };
        let rotating_barcodes = match r.barcodes.as_deref() {
            None | Some("static") => false,
            Some("rotating") => true,
            Some(other) => {
                return Err(Problem::unprocessable(
                    "invalid-event",
                    format!("barcodes must be 'static' or 'rotating', not '{other}'"),
                ));
            }
        };
        Ok(EventSpec {
            transfer_policy,
            resale_policy,
            rotating_barcodes,
            title: r.title,
            description: r.description,
            category,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            ticket_types,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketTypeResponse {
    pub id: Uuid,
    pub name: String,
    pub price: MoneyDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ga_area_id: Option<Uuid>,
    pub max_per_order: u32,
    pub sales_start: Option<DateTime<Utc>>,
    pub sales_end: Option<DateTime<Utc>>,
}

impl From<&TicketType> for TicketTypeResponse {
    fn from(t: &TicketType) -> Self {
        let (price_zone, ga_area_id) = match &t.admits {
            Admits::PriceZone(z) => (Some(z.clone()), None),
            Admits::GaArea(a) => (None, Some(*a.as_uuid())),
        };
        Self {
            id: *t.id.as_uuid(),
            name: t.name.clone(),
            price: t.price.into(),
            price_zone,
            ga_area_id,
            max_per_order: t.max_per_order,
            sales_start: t.sales_start,
            sales_end: t.sales_end,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VenueRef {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub venue_id: Uuid,
    pub venue: VenueRef,
    pub title: String,
    pub description: String,
    pub category: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The venue's IANA time zone, for showing local times.
    pub timezone: String,
    /// draft, published, ended or cancelled.
    pub status: String,
    pub ticket_types: Vec<TicketTypeResponse>,
    pub transfer_policy: TransferPolicyDto,
    pub resale_policy: ResalePolicyDto,
    /// static or rotating.
    pub barcodes: &'static str,
}

impl EventResponse {
    pub fn new(e: &EventRecord, types: &[TicketType]) -> Self {
        Self {
            id: *e.id.as_uuid(),
            organization_id: *e.organization.as_uuid(),
            venue_id: *e.venue.as_uuid(),
            venue: venue_ref(e),
            title: e.title.clone(),
            description: e.description.clone(),
            category: e.category.to_string(),
            starts_at: e.starts_at,
            ends_at: e.ends_at,
            timezone: e.timezone.clone(),
            status: e.status.to_string(),
            ticket_types: types.iter().map(TicketTypeResponse::from).collect(),
            transfer_policy: TransferPolicyDto::from(&e.transfer_policy),
            resale_policy: ResalePolicyDto::from(&e.resale_policy),
            barcodes: if e.rotating_barcodes { "rotating" } else { "static" },
        }
    }
}

fn venue_ref(e: &EventRecord) -> VenueRef {
    VenueRef { id: *e.venue.as_uuid(), name: e.venue_name.clone(), timezone: e.timezone.clone() }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventStatusResponse {
    pub id: Uuid,
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventSummaryDto {
    pub id: Uuid,
    pub title: String,
    pub category: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: String,
    pub venue: VenueRef,
    /// In the public listing, the cheapest price on sale or still to come;
    /// null when there is none, and always in an organization's own list of
    /// its events (which has each event's types at `/events/{id}`).
    pub min_price: Option<MoneyDto>,
}

impl EventSummaryDto {
    pub fn new(e: &EventRecord, min_price: Option<Money>) -> Self {
        Self {
            id: *e.id.as_uuid(),
            title: e.title.clone(),
            category: e.category.to_string(),
            starts_at: e.starts_at,
            ends_at: e.ends_at,
            status: e.status.to_string(),
            venue: venue_ref(e),
            min_price: min_price.map(MoneyDto::from),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventListResponse {
    pub items: Vec<EventSummaryDto>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListQuery {
    /// Words to look for in title, description and venue.
    pub q: Option<String>,
    pub category: Option<String>,
    /// Only events starting at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only events starting before this time.
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    /// Page size, at least 1 (default 20); more than 100 gives 100.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeatAvailabilityDto {
    pub id: Uuid,
    /// available, held or sold.
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GaAvailabilityDto {
    pub area_id: Uuid,
    pub capacity: u32,
    pub remaining: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityResponse {
    pub event_id: Uuid,
    pub seats: Vec<SeatAvailabilityDto>,
    pub ga: Vec<GaAvailabilityDto>,
}

/// Every seat's status in two bits, for big seat maps.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompactAvailabilityResponse {
    pub event_id: Uuid,
    /// Seats in the venue's seat map, in its order (sections, rows, seats).
    pub seat_count: u32,
    /// Always `2bit-lsb`: seat `i` is bits `2*(i%4)`..`2*(i%4)+1` of byte `i/4`
    /// of `statuses`: 0 available, 1 held, 2 sold.
    pub encoding: &'static str,
    /// Base64 (standard alphabet, padded) of the packed statuses.
    pub statuses: String,
    pub available: u32,
    pub held: u32,
    pub sold: u32,
    pub ga: Vec<GaAvailabilityDto>,
    /// When this snapshot was read; at most two seconds old.
    pub as_of: chrono::DateTime<chrono::Utc>,
}

// ---- holds ----

/// A seat to hold: its id, or an object choosing the ticket type too.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SeatPick {
    Id(Uuid),
    WithType { seat_id: Uuid, ticket_type_id: Option<Uuid> },
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GaPick {
    pub area_id: Uuid,
    pub quantity: u32,
    #[serde(default)]
    pub ticket_type_id: Option<Uuid>,
}

/// Let the server choose: the best `count` seats, adjacent where possible,
/// front rows and centre first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BestAvailableDto {
    pub count: u32,
    /// Only seats of this price zone; any zone when omitted.
    #[serde(default)]
    pub price_zone: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequestDto {
    #[serde(default)]
    pub seats: Vec<SeatPick>,
    #[serde(default)]
    pub ga: Vec<GaPick>,
    /// Instead of (or besides GA places with) named seats: let the server pick.
    #[serde(default)]
    pub best_available: Option<BestAvailableDto>,
    /// While the event's waiting room is on: the token the line handed out.
    /// A successful hold spends it.
    #[serde(default)]
    pub admission_token: Option<String>,
}

impl From<HoldRequestDto> for HoldRequest {
    /// The named seats and GA places; `best_available` is handled apart.
    fn from(r: HoldRequestDto) -> Self {
        HoldRequest {
            seats: r
                .seats
                .into_iter()
                .map(|p| match p {
                    SeatPick::Id(id) => SeatRequest { seat: SeatId::from_uuid(id), ticket_type: None },
                    SeatPick::WithType { seat_id, ticket_type_id } => SeatRequest {
                        seat: SeatId::from_uuid(seat_id),
                        ticket_type: ticket_type_id.map(TicketTypeId::from_uuid),
                    },
                })
                .collect(),
            ga: r
                .ga
                .into_iter()
                .map(|g| GaRequest {
                    area: GaAreaId::from_uuid(g.area_id),
                    quantity: g.quantity,
                    ticket_type: g.ticket_type_id.map(TicketTypeId::from_uuid),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldItemDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ga_area_id: Option<Uuid>,
    /// For a resale purchase: the listing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing_id: Option<Uuid>,
    pub quantity: u32,
    pub ticket_type_id: Uuid,
    /// Locked in when the hold was placed.
    pub unit_price: MoneyDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldResponse {
    pub id: Uuid,
    pub event_id: Uuid,
    /// active, ordered or released (an active hold past expires_at is expired).
    pub status: &'static str,
    pub expires_at: DateTime<Utc>,
    pub items: Vec<HoldItemDto>,
    /// The tickets' prices.
    pub subtotal: MoneyDto,
    /// The platform fee, charged on top of the tickets' prices.
    pub fee: MoneyDto,
    /// What will be charged: `subtotal + fee`.
    pub total: MoneyDto,
}

impl HoldResponse {
    pub fn new(h: &HoldRecord, now: DateTime<Utc>) -> Self {
        let status = match h.status {
            store::HoldStatus::Active if h.is_live(now) => "active",
            store::HoldStatus::Active => "expired",
            store::HoldStatus::Ordered => "ordered",
            store::HoldStatus::Released => "released",
            store::HoldStatus::Expired => "expired",
        };
        Self {
            id: *h.id.as_uuid(),
            event_id: *h.event.as_uuid(),
            status,
            expires_at: h.expires_at,
            items: h
                .lines
                .iter()
                .map(|l| {
                    let (seat_id, ga_area_id, listing_id) = match l {
                        HoldLine::Seat { seat, .. } => (Some(*seat.as_uuid()), None, None),
                        HoldLine::Ga { area, .. } => (None, Some(*area.as_uuid()), None),
                        HoldLine::Resale { listing, seat, area, .. } => {
                            (seat.map(|s| *s.as_uuid()), area.map(|a| *a.as_uuid()), Some(*listing.as_uuid()))
                        }
                    };
                    HoldItemDto {
                        seat_id,
                        ga_area_id,
                        listing_id,
                        quantity: l.units(),
                        ticket_type_id: *l.ticket_type().as_uuid(),
                        unit_price: l.unit_price().into(),
                    }
                })
                .collect(),
            subtotal: h.subtotal().into(),
            fee: h.fee.into(),
            total: h.total.into(),
        }
    }
}

// ---- orders and tickets ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentDto {
    /// `test` in the default installation.
    pub gateway: String,
    /// A gateway token; never card data. The test gateway takes `tok_ok` and declines `tok_declined`.
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    pub hold_id: Uuid,
    pub payment: PaymentDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeatLabelsDto {
    pub section: String,
    pub row: String,
    pub seat: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketResponse {
    pub id: Uuid,
    pub order_id: Uuid,
    pub event_id: Uuid,
    pub event_title: String,
    pub starts_at: DateTime<Utc>,
    pub venue_name: String,
    pub ticket_type_id: Uuid,
    pub ticket_type_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat: Option<SeatLabelsDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ga_area_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ga_area_name: Option<String>,
    /// valid or revoked.
    pub status: &'static str,
    /// Signed barcode payload: what the QR code encodes and the gate scans.
    pub barcode: String,
    /// The same ticket in ten characters, for a gate to type when the QR
    /// code cannot be scanned (e.g. `K7QF3-M2PXA`). It changes when the
    /// barcode does; events whose barcodes rotate refuse it.
    pub entry_code: String,
    pub price: MoneyDto,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub qr_svg_url: String,
    pub qr_png_url: String,
    /// Only on `GET /api/v1/tickets/{ticket}`, for the holder, when the event's
    /// barcodes rotate: what the app needs to show the live code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotating: Option<RotatingDto>,
    /// True in an order when the ticket now belongs to someone else (it was
    /// transferred): its `barcode` and `entry_code` are then empty, since
    /// they admit whoever shows them and are the new holder's alone.
    pub passed_on: bool,
}

/// What the holder's app needs to show a rotating code: "RT2." + base64url of
/// the barcode's 101 bytes | step u64 BE | HMAC-SHA256(secret, "rt2" | step BE |
/// ticket id)[..16], with step = floor(unix seconds / step_secs).
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatingDto {
    /// The ticket's rotating secret, base64url without padding.
    pub secret: String,
    pub step_secs: i64,
}

impl From<&TicketRecord> for TicketResponse {
    fn from(t: &TicketRecord) -> Self {
        Self {
            id: *t.id.as_uuid(),
            order_id: *t.order.as_uuid(),
            event_id: *t.event.as_uuid(),
            event_title: t.event_title.clone(),
            starts_at: t.event_starts_at,
            venue_name: t.venue_name.clone(),
            ticket_type_id: *t.ticket_type.as_uuid(),
            ticket_type_name: t.ticket_type_name.clone(),
            seat_id: t.seat.map(|s| *s.as_uuid()),
            seat: t.seat_labels.as_ref().map(|(section, row, seat)| SeatLabelsDto {
                section: section.clone(),
                row: row.clone(),
                seat: seat.clone(),
            }),
            ga_area_id: t.ga_area.map(|a| *a.as_uuid()),
            ga_area_name: t.ga_area_name.clone(),
            status: match t.status {
                domain::checkin::TicketStatus::Valid => "valid",
                domain::checkin::TicketStatus::Revoked => "revoked",
            },
            barcode: t.barcode.clone(),
            entry_code: domain::barcode::display_entry_code(&domain::barcode::entry_code(&t.barcode)),
            price: t.price.into(),
            checked_in_at: t.checked_in_at,
            qr_svg_url: format!("/api/v1/tickets/{}/qr.svg", t.id),
            qr_png_url: format!("/api/v1/tickets/{}/qr.png", t.id),
            rotating: None,
            passed_on: false,
        }
    }
}

impl TicketResponse {
    /// A ticket as its order shows it to the buyer (or the organizer): one
    /// passed on to someone else keeps its seat and price there, but not
    /// the codes that would let the buyer in on the new holder's ticket.
    pub fn in_order(t: &TicketRecord, buyer: domain::ids::UserId) -> Self {
        let mut r = Self::from(t);
        if t.holder != buyer {
            r.barcode = String::new();
            r.entry_code = String::new();
            r.passed_on = true;
        }
        r
    }
}

#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventOrdersQuery {
    /// Part of the buyer's e-mail address or name, the start of the
    /// order's id, or its reference or a part of it of four digits or more
    /// (`A1B2-C3D4-E5F6`, any case, dashes or not).
    pub q: Option<String>,
    /// The last order of the page before: the next page starts after it.
    pub before: Option<Uuid>,
}

/// One order in an organizer's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOrderDto {
    pub id: Uuid,
    /// The order's reference for people (`A1B2-C3D4-E5F6`); `q` finds it.
    pub reference: String,
    pub buyer_email: String,
    pub buyer_name: String,
    /// paid, or refunded (in full; for an order of free tickets: every
    /// ticket was cancelled).
    pub status: String,
    pub total: MoneyDto,
    /// Refunds made or under way.
    pub refunded_total: MoneyDto,
    pub tickets: u32,
    pub created_at: DateTime<Utc>,
}

impl From<&store::EventOrderRecord> for EventOrderDto {
    fn from(o: &store::EventOrderRecord) -> Self {
        Self {
            id: *o.id.as_uuid(),
            reference: o.id.reference(),
            buyer_email: o.buyer_email.clone(),
            buyer_name: o.buyer_name.clone(),
            status: o.status.clone(),
            total: o.total.into(),
            refunded_total: o.refunded.into(),
            tickets: o.tickets,
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventOrderListResponse {
    pub items: Vec<EventOrderDto>,
    /// Pass as `before` for the next page; null on the last page.
    pub next_before: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderResponse {
    pub id: Uuid,
    /// The order's reference for people (`A1B2-C3D4-E5F6`: the end of its
    /// id), as receipts and e-mails show it.
    pub reference: String,
    /// paid, or refunded (in full; for an order of free tickets: every
    /// ticket was cancelled).
    pub status: String,
    pub event_id: Uuid,
    pub hold_id: Uuid,
    /// The tickets' prices.
    pub subtotal: MoneyDto,
    /// The platform fee paid on top.
    pub fee: MoneyDto,
    /// What was charged: `subtotal + fee`.
    pub total: MoneyDto,
    pub payment_gateway: String,
    pub created_at: DateTime<Utc>,
    pub tickets: Vec<TicketResponse>,
    /// Refunds of this order, oldest first.
    pub refunds: Vec<RefundResponse>,
    /// What has been paid back or is being paid back (pending and refunded).
    pub refunded_total: MoneyDto,
}

impl From<&OrderRecord> for OrderResponse {
    fn from(o: &OrderRecord) -> Self {
        Self {
            id: *o.id.as_uuid(),
            reference: o.id.reference(),
            status: o.status.clone(),
            event_id: *o.event.as_uuid(),
            hold_id: *o.hold.as_uuid(),
            subtotal: Money::new(o.total.amount_minor() - o.fee.amount_minor(), o.total.currency())
                .expect("the fee is part of the total")
                .into(),
            fee: o.fee.into(),
            total: o.total.into(),
            payment_gateway: o.gateway.clone(),
            created_at: o.created_at,
            tickets: o.tickets.iter().map(|t| TicketResponse::in_order(t, o.user)).collect(),
            refunds: o.refunds.iter().map(RefundResponse::from).collect(),
            refunded_total: MoneyDto {
                amount: o
                    .refunds
                    .iter()
                    .filter(|r| r.status != store::RefundStatus::Failed)
                    .map(|r| r.amount.amount_minor())
                    .sum(),
                currency: o.total.currency().to_string(),
            },
        }
    }
}

// ---- refunds ----

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequestDto {
    /// Tickets to revoke (at once). Without `amount`, their prices are refunded.
    #[serde(default)]
    pub ticket_ids: Vec<Uuid>,
    /// How much to pay back. With neither field: everything not yet refunded,
    /// and every ticket of the order is revoked.
    pub amount: Option<MoneyDto>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelTicketsDto {
    /// Free tickets of the order to cancel (1 to 100). Left out: every free
    /// ticket of the order that is still valid and unused.
    #[serde(default)]
    pub ticket_ids: Option<Vec<Uuid>>,
}

/// Free tickets cancelled: they no longer admit, their places are on sale
/// again, and each holder was told.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelledTicketsResponse {
    pub order_id: Uuid,
    pub ticket_ids: Vec<Uuid>,
    /// No valid ticket is left: the order is closed (`refunded`, with nothing paid).
    pub order_closed: bool,
}

impl From<&ticketing::refunds::Cancelled> for CancelledTicketsResponse {
    fn from(c: &ticketing::refunds::Cancelled) -> Self {
        Self {
            order_id: *c.order.as_uuid(),
            ticket_ids: c.tickets.iter().map(|t| *t.as_uuid()).collect(),
            order_closed: c.order_closed,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundResponse {
    pub id: String,
    pub order_id: Uuid,
    pub amount: MoneyDto,
    /// organizer, event_cancelled, or event_moved (the buyer took the refund a move offered).
    pub reason: String,
    /// pending (the gateway is being asked), refunded, or failed (the gateway refused).
    pub status: String,
    /// Who asked for it: the organizer, or the buyer after a move.
    pub requested_by: Option<Uuid>,
    pub ticket_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub refunded_at: Option<DateTime<Utc>>,
    /// Why the gateway refused, when it did.
    pub error: Option<String>,
}

impl From<&store::RefundRecord> for RefundResponse {
    fn from(r: &store::RefundRecord) -> Self {
        Self {
            id: r.id.clone(),
            order_id: *r.order.as_uuid(),
            amount: r.amount.into(),
            reason: r.reason.clone(),
            status: r.status.as_str().to_owned(),
            requested_by: r.requested_by.map(|u| *u.as_uuid()),
            ticket_ids: r.tickets.iter().map(|t| *t.as_uuid()).collect(),
            created_at: r.created_at,
            refunded_at: r.refunded_at,
            error: r.last_error.clone(),
        }
    }
}

// ---- notifications ----

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationResponse {
    pub id: String,
    /// order_confirmation, transfer_offer, refund, event_reminder, event_cancelled,
    /// event_rescheduled, team_invitation or resale_sold.
    pub kind: String,
    pub title: String,
    /// Where in the web app it leads.
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    /// none (no address), queued (waiting for the mail server) or sent.
    pub email_status: String,
    pub email_sent_at: Option<DateTime<Utc>>,
}

impl From<&store::NotificationRecord> for NotificationResponse {
    fn from(n: &store::NotificationRecord) -> Self {
        Self {
            id: n.id.clone(),
            kind: n.kind.clone(),
            title: n.title.clone(),
            link: n.link.clone(),
            created_at: n.created_at,
            read_at: n.read_at,
            email_status: n.email_status.clone(),
            email_sent_at: n.email_sent_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocaleRequest {
    /// The language of your messages: en or de.
    #[schema(example = "de")]
    pub locale: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationListResponse {
    pub items: Vec<NotificationResponse>,
    pub unread: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderListResponse {
    pub items: Vec<OrderResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketListResponse {
    pub items: Vec<TicketResponse>,
}

// ---- check-in ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    /// The scanned barcode or live code, or the ticket's entry code as typed
    /// (case, spaces and dashes do not matter).
    pub barcode: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinResponse {
    /// admitted (200); errors carry already_checked_in (409), invalid, wrong_event or revoked (422).
    pub result: &'static str,
    pub ticket_id: Uuid,
    pub checked_in_at: DateTime<Utc>,
    /// Where the holder goes: "Stalls, row A, seat 5", or the standing area.
    pub place: String,
    pub ticket_type_name: String,
}

/// An RFC 9457 problem: every error response has this shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDto {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    pub status: &'static str,
}
