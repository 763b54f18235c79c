use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::ids::{OrganizationId, VenueId};
use ticketing::venues::{NewVenue, VenueEdit};
use uuid::Uuid;

use crate::AppState;
use crate::dto::{
    CreateVenueRequest, GaAreaResponse, ProblemDto, RowResponse, SeatDto, SeatMapResponse, SectionResponse,
    VenueCreatedResponse, VenuePatch, VenueResponse,
};
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::problem::Problem;

/// Create a venue with its seat map: sections of rows of seats, and GA areas.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/venues", tag = "venues", security(("bearer" = [])),
    params(("org" = Uuid, Path)), request_body = CreateVenueRequest,
    responses((status = 201, body = VenueCreatedResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 422, body = ProblemDto)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CreateVenueRequest>,
) -> Result<(StatusCode, Json<VenueCreatedResponse>), Problem> {
    let venue = NewVenue {
        name: req.name,
        address: req.address,
        timezone: req.timezone,
        seat_map: req.seat_map.into(),
        creation_key: None,
    };
    let created = state.ticketing.create_venue(user, OrganizationId::from_uuid(org), venue).await?;
    Ok((
        StatusCode::CREATED,
        Json(VenueCreatedResponse {
            id: *created.id.as_uuid(),
            seat_count: created.seat_count,
            ga_capacity: created.ga_capacity,
        }),
    ))
}

/// The organization's venues.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/venues", tag = "venues", security(("bearer" = [])),
    params(("org" = Uuid, Path)),
    responses((status = 200, body = Vec<VenueResponse>), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
) -> Result<Json<Vec<VenueResponse>>, Problem> {
    let venues = state.ticketing.venues_of(user, OrganizationId::from_uuid(org)).await?;
    Ok(Json(venues.into_iter().map(VenueResponse::from).collect()))
}

/// Correct a venue's name or address, and its time zone while no event was
/// created at it. Its seat map stays: events are sold on it.
#[utoipa::path(patch, path = "/api/v1/venues/{venue}", tag = "venues", security(("bearer" = [])),
    params(("venue" = Uuid, Path)), request_body = VenuePatch,
    responses((status = 200, body = VenueResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto), (status = 409, body = ProblemDto, description = "venue-in-use: a new time zone for a venue with events"),
               (status = 422, body = ProblemDto)))]
pub async fn edit(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(venue): ApiPath<Uuid>,
    ApiJson(req): ApiJson<VenuePatch>,
) -> Result<Json<VenueResponse>, Problem> {
    let v = state
        .ticketing
        .edit_venue(
            user,
            VenueId::from_uuid(venue),
            VenueEdit { name: req.name.as_deref(), address: req.address.as_deref(), timezone: req.timezone.as_deref() },
        )
        .await?;
    Ok(Json(VenueResponse::from(v)))
}

/// Delete a venue made by mistake, with its seat map, while no event has
/// been created at it (a deleted draft does not count).
#[utoipa::path(delete, path = "/api/v1/venues/{venue}", tag = "venues", security(("bearer" = [])),
    params(("venue" = Uuid, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto), (status = 409, body = ProblemDto, description = "venue-in-use: it has events")))]
pub async fn delete(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(venue): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    state.ticketing.delete_venue(user, VenueId::from_uuid(venue)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A venue's seat map with coordinates for drawing. Public.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/seat-map", tag = "venues", params(("venue" = Uuid, Path)),
    responses((status = 200, body = SeatMapResponse), (status = 404, body = ProblemDto)))]
pub async fn seat_map(
    State(state): State<AppState>,
    ApiPath(venue): ApiPath<Uuid>,
) -> Result<Json<SeatMapResponse>, Problem> {
    let (venue, map) = state.ticketing.seat_map(VenueId::from_uuid(venue)).await?;
    Ok(Json(SeatMapResponse {
        venue_id: *venue.id.as_uuid(),
        name: venue.name,
        timezone: venue.timezone,
        sections: map
            .sections
            .into_iter()
            .map(|s| SectionResponse {
                id: *s.id.as_uuid(),
                name: s.name,
                price_zone: s.price_zone,
                rows: s
                    .rows
                    .into_iter()
                    .map(|r| RowResponse {
                        label: r.label,
                        seats: r
                            .seats
                            .into_iter()
                            .map(|seat| SeatDto {
                                id: *seat.id.as_uuid(),
                                label: seat.label,
                                x: seat.x,
                                y: seat.y,
                                accessible: seat.accessible,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
        ga_areas: map
            .ga_areas
            .into_iter()
            .map(|a| GaAreaResponse { id: *a.id.as_uuid(), name: a.name, capacity: a.capacity })
            .collect(),
    }))
}
