use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::ids::{EventId, ListingId, TicketId};
use domain::money::Money;
use serde::{Deserialize, Serialize};
use store::ListingRecord;
use ticketing::resale::ResaleFailure;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::dto::{HoldResponse, MoneyDto, ProblemDto, SeatLabelsDto};
use crate::extract::{ApiBytes, ApiJson, ApiPath, AuthUser, MaybeUser, parse_json};
use crate::problem::Problem;

impl From<ResaleFailure> for Problem {
    fn from(e: ResaleFailure) -> Self {
        match e {
            ResaleFailure::Refused(_) | ResaleFailure::NotListable | ResaleFailure::EventOver(_) => {
                Problem::unprocessable("resale-refused", e.to_string())
            }
            ResaleFailure::AlreadyListed
            | ResaleFailure::Unavailable
            | ResaleFailure::OwnListing
            | ResaleFailure::TransferPending => Problem::conflict("listing-state", e.to_string()),
            ResaleFailure::Guarded(h) => h.into(),
            ResaleFailure::Denied(d) => d.into(),
            ResaleFailure::Store(s) => s.into(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingRequest {
    pub price: MoneyDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListingResponse {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub event_id: Uuid,
    /// What a buyer pays.
    pub price: MoneyDto,
    /// The organizer's royalty.
    pub royalty: MoneyDto,
    /// What the seller receives, from escrow, after the event.
    pub seller_receives: MoneyDto,
    /// open, sold or withdrawn.
    pub status: String,
    pub ticket_type_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat: Option<SeatLabelsDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ga_area_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&ListingRecord> for ListingResponse {
    fn from(l: &ListingRecord) -> Self {
        Self {
            id: *l.id.as_uuid(),
            ticket_id: *l.ticket.as_uuid(),
            event_id: *l.event.as_uuid(),
            price: l.price.into(),
            royalty: l.royalty.into(),
            seller_receives: l.escrow.into(),
            status: l.status.clone(),
            ticket_type_name: l.ticket_type_name.clone(),
            seat: l.seat.as_ref().map(|(section, row, seat)| SeatLabelsDto {
                section: section.clone(),
                row: row.clone(),
                seat: seat.clone(),
            }),
            ga_area_name: l.ga_area_name.clone(),
            created_at: l.created_at,
        }
    }
}

/// List your ticket for resale, within the organizer's price cap.
#[utoipa::path(post, path = "/api/v1/tickets/{ticket}/listings", tag = "resale", security(("bearer" = [])),
    params(("ticket" = Uuid, Path)), request_body = ListingRequest,
    responses((status = 201, body = ListingResponse), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto), (status = 422, body = ProblemDto, description = "above the cap, or not resellable")))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(ticket): ApiPath<Uuid>,
    ApiJson(req): ApiJson<ListingRequest>,
) -> Result<(StatusCode, Json<ListingResponse>), Problem> {
    let price = Money::try_from(&req.price)?;
    let l = state.ticketing.list_ticket(user, TicketId::from_uuid(ticket), price).await?;
    Ok((StatusCode::CREATED, Json(ListingResponse::from(&l))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListingListResponse {
    pub items: Vec<ListingResponse>,
}

/// Tickets on resale for an event, cheapest first.
#[utoipa::path(get, path = "/api/v1/events/{event}/listings", tag = "resale", params(("event" = Uuid, Path)),
    responses((status = 200, body = ListingListResponse), (status = 404, body = ProblemDto)))]
pub async fn of_event(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<ListingListResponse>, Problem> {
    let list = state.ticketing.event_listings(viewer, EventId::from_uuid(event)).await?;
    Ok(Json(ListingListResponse { items: list.iter().map(ListingResponse::from).collect() }))
}

/// Withdraw your listing (not while a buyer is paying for it).
#[utoipa::path(delete, path = "/api/v1/listings/{listing}", tag = "resale", security(("bearer" = [])),
    params(("listing" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto), (status = 409, body = ProblemDto)))]
pub async fn withdraw(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(listing): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    state.ticketing.withdraw_listing(user, ListingId::from_uuid(listing)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingHoldRequest {
    /// While the event's waiting room is on: the token it gave you, as for
    /// a hold of seats.
    #[serde(default)]
    pub admission_token: Option<String>,
}

/// Hold a listed ticket while you pay; then `POST /api/v1/orders` with the
/// hold. The event's waiting room, ticket limit per account and blocks apply
/// as they do to holds of seats. The body may be empty.
#[utoipa::path(post, path = "/api/v1/listings/{listing}/holds", tag = "resale", security(("bearer" = [])),
    params(("listing" = Uuid, Path)), request_body(content = Option<ListingHoldRequest>),
    responses((status = 201, body = HoldResponse), (status = 400, body = ProblemDto), (status = 401, body = ProblemDto),
               (status = 403, body = ProblemDto, description = "waiting room on and no valid admission token, or account blocked"),
               (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "taken, or the account's ticket limit is reached"),
               (status = 429, body = ProblemDto)))]
pub async fn hold(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(listing): ApiPath<Uuid>,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<HoldResponse>), Problem> {
    state.limits.check_account(user)?;
    // An empty body is fine: most resale holds need nothing but the path.
    let req: ListingHoldRequest =
        if body.iter().all(u8::is_ascii_whitespace) { ListingHoldRequest::default() } else { parse_json(&body)? };
    let hold =
        state.ticketing.hold_listing(user, ListingId::from_uuid(listing), req.admission_token.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(HoldResponse::new(&hold, state.ticketing.now()))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EscrowDto {
    pub listing_id: Uuid,
    pub event_id: Uuid,
    pub amount: MoneyDto,
    /// held (until the event has taken place), released (paid out) or refunded (event cancelled).
    pub status: String,
    pub release_after: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutListResponse {
    pub items: Vec<EscrowDto>,
}

/// Your resale proceeds and where they stand.
#[utoipa::path(get, path = "/api/v1/me/payouts", tag = "resale", security(("bearer" = [])),
    responses((status = 200, body = PayoutListResponse), (status = 401, body = ProblemDto)))]
pub async fn payouts(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<PayoutListResponse>, Problem> {
    let list = state.ticketing.my_escrow(user).await?;
    Ok(Json(PayoutListResponse {
        items: list
            .iter()
            .map(|e| EscrowDto {
                listing_id: *e.listing.as_uuid(),
                event_id: *e.event.as_uuid(),
                amount: e.amount.into(),
                status: e.status.clone(),
                release_after: e.release_after,
                settled_at: e.settled_at,
            })
            .collect(),
    }))
}
