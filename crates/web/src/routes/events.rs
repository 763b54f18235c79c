use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::event::{Category, EventChange, EventSpec, TicketTypeChange, TicketTypeSpec};
use domain::ids::{EventId, OrganizationId, TicketTypeId, VenueId};
use store::{EventFilter, SeatStatus};
use uuid::Uuid;

use crate::AppState;
use crate::dto::{
    AvailabilityResponse, CompactAvailabilityResponse, CreateEventRequest, EventListQuery, EventListResponse,
    EventPatch, EventResponse, EventStatusResponse, EventSummaryDto, GaAvailabilityDto, ProblemDto, RescheduleDto,
    RescheduleRequest, RescheduledDto, SeatAvailabilityDto, TicketTypePatch, TicketTypeRequest, TicketTypeResponse,
};
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser, MaybeUser};
use crate::problem::Problem;
use crate::routes::orders::idempotency_key;

/// Create a draft event with its ticket types at one of the organization's
/// venues. An optional `Idempotency-Key` makes a retry safe: the
/// organization's event first made with that key is the answer (marked
/// `Idempotent-Replayed: true`), and no second event is made.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/events", tag = "events", security(("bearer" = [])),
    params(("org" = Uuid, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "Unique per event to create, chosen by the client")),
    request_body = CreateEventRequest,
    responses((status = 201, body = EventResponse, headers(("Idempotent-Replayed" = String, description = "true on a replay"))),
               (status = 400, body = ProblemDto, description = "a malformed Idempotency-Key"),
               (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 422, body = ProblemDto, description = "an invalid event, or idempotency-key-reused: the key made an event from another request")))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CreateEventRequest>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let venue = VenueId::from_uuid(req.venue_id);
    let spec = EventSpec::try_from(req)?;
    let created = state.ticketing.create_event(user, OrganizationId::from_uuid(org), venue, spec, key.as_ref()).await?;
    let d = &created.details;
    let mut response = (StatusCode::CREATED, Json(EventResponse::new(&d.event, &d.ticket_types))).into_response();
    if created.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// All of an organization's events, drafts included.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/events", tag = "events", security(("bearer" = [])),
    params(("org" = Uuid, Path)),
    responses((status = 200, body = Vec<EventSummaryDto>), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto)))]
pub async fn list_of_organization(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
) -> Result<Json<Vec<EventSummaryDto>>, Problem> {
    let events = state.ticketing.events_of(user, OrganizationId::from_uuid(org)).await?;
    Ok(Json(events.iter().map(|e| EventSummaryDto::new(e, None)).collect()))
}

/// Publish a draft event: it appears in listings and goes on sale.
#[utoipa::path(post, path = "/api/v1/events/{event}/publish", tag = "events", security(("bearer" = [])),
    params(("event" = Uuid, Path)),
    responses((status = 200, body = EventStatusResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto), (status = 409, body = ProblemDto)))]
pub async fn publish(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<EventStatusResponse>, Problem> {
    let e = state.ticketing.publish_event(user, EventId::from_uuid(event)).await?;
    Ok(Json(EventStatusResponse { id: *e.id.as_uuid(), status: e.status.to_string() }))
}

/// Cancel an event: it stops selling at once; every paid order is then
/// refunded in full, every ticket revoked and every buyer told (by a durable
/// job, so a crash part-way resumes).
#[utoipa::path(post, path = "/api/v1/events/{event}/cancel", tag = "events", security(("bearer" = [])),
    params(("event" = Uuid, Path)),
    responses((status = 200, body = EventStatusResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto), (status = 409, body = ProblemDto)))]
pub async fn cancel(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<EventStatusResponse>, Problem> {
    let e = state.ticketing.cancel_event(user, EventId::from_uuid(event)).await?;
    Ok(Json(EventStatusResponse { id: *e.id.as_uuid(), status: e.status.to_string() }))
}

fn encode_cursor(starts_at: chrono::DateTime<chrono::Utc>, id: EventId) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{id}", starts_at.timestamp_millis()))
}

fn decode_cursor(cursor: &str) -> Result<(chrono::DateTime<chrono::Utc>, EventId), Problem> {
    let bad = || Problem::bad_request("'cursor' is not one this API handed out; use next_cursor from a previous page");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (ms, id) = raw.split_once(':').ok_or_else(bad)?;
    let ms: i64 = ms.parse().map_err(|_| bad())?;
    let at = chrono::DateTime::from_timestamp_millis(ms).ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// Upcoming published events, soonest first, with search and filters.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventListQuery),
    responses((status = 200, body = EventListResponse), (status = 400, body = ProblemDto)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EventListQuery>,
) -> Result<Json<EventListResponse>, Problem> {
    let category = match q.category.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(c.parse::<Category>().map_err(|e| Problem::bad_request(e.to_string()))?),
        None => None,
    };
    let after = q.cursor.as_deref().filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
    if q.limit == Some(0) {
        return Err(Problem::bad_request(format!(
            "'limit' must be at least 1 (pages hold at most {})",
            ticketing::events::EVENTS_PAGE_SIZE_MAX
        )));
    }
    let filter = EventFilter { query: q.q, category, from: q.from, to: q.to, after, limit: q.limit.unwrap_or(0) };
    let (items, more) = state.ticketing.list_events(filter).await?;
    let next_cursor = if more { items.last().map(|s| encode_cursor(s.event.starts_at, s.event.id)) } else { None };
    Ok(Json(EventListResponse {
        items: items.iter().map(|s| EventSummaryDto::new(&s.event, s.min_price)).collect(),
        next_cursor,
    }))
}

/// One event with its ticket types. Drafts are visible to their organization only.
#[utoipa::path(get, path = "/api/v1/events/{event}", tag = "events", params(("event" = Uuid, Path)),
    responses((status = 200, body = EventResponse), (status = 404, body = ProblemDto)))]
pub async fn get(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<EventResponse>, Problem> {
    let details = state.ticketing.event_details(viewer, EventId::from_uuid(event)).await?;
    Ok(Json(EventResponse::new(&details.event, &details.ticket_types)))
}

/// Every seat's status in two bits a seat (seat-map order) and the GA places
/// remaining, from a snapshot at most two seconds old: what big seat maps
/// load first, before following `/live`. Send `If-None-Match` with the last
/// `ETag` to get 304 when nothing was re-read.
#[utoipa::path(get, path = "/api/v1/events/{event}/availability/compact", tag = "events", params(("event" = Uuid, Path)),
    responses((status = 200, body = CompactAvailabilityResponse), (status = 304), (status = 404, body = ProblemDto)))]
pub async fn compact_availability(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    ApiPath(event): ApiPath<Uuid>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, Problem> {
    use axum::response::IntoResponse;
    let a = state.ticketing.compact_availability(viewer, EventId::from_uuid(event)).await?;
    let etag = format!("\"{}\"", a.version);
    let headers_out =
        [(axum::http::header::ETAG, etag.clone()), (axum::http::header::CACHE_CONTROL, "no-cache".to_owned())];
    if headers
        .get(axum::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| none_match(v, &etag))
    {
        return Ok((StatusCode::NOT_MODIFIED, headers_out).into_response());
    }
    let body = state.compact_bodies.render(EventId::from_uuid(event), &a, || compact_dto(&a))?;
    let content_type = (axum::http::header::CONTENT_TYPE, "application/json".to_owned());
    Ok((headers_out, [content_type], body).into_response())
}

/// Whether an `If-None-Match` value names `etag` (RFC 9110 13.1.2: a list,
/// weak comparison, or `*`).
fn none_match(header: &str, etag: &str) -> bool {
    header.trim() == "*" || header.split(',').any(|t| t.trim().trim_start_matches("W/") == etag)
}

fn compact_dto(a: &ticketing::availability::CompactAvailability) -> CompactAvailabilityResponse {
    CompactAvailabilityResponse {
        event_id: *a.event.as_uuid(),
        seat_count: a.seat_count,
        encoding: "2bit-lsb",
        statuses: a.statuses.clone(),
        available: a.available,
        held: a.held,
        sold: a.sold,
        ga: a
            .ga
            .iter()
            .map(|(area, capacity, remaining)| GaAvailabilityDto {
                area_id: *area.as_uuid(),
                capacity: *capacity,
                remaining: *remaining,
            })
            .collect(),
        as_of: a.as_of,
    }
}

/// The JSON of each event's current compact availability, rendered once
/// per snapshot. Every buyer's seat map asks for it during an on-sale, and
/// rendering a 100,000-seat event (a 33 KB string, copied and scanned for
/// characters to escape) per request took most of what such a request
/// cost; a snapshot is read at most every 250 ms.
#[derive(Default)]
pub struct CompactBodies {
    // std Mutex: held for a map lookup only, never while rendering.
    bodies: std::sync::Mutex<std::collections::HashMap<EventId, Rendered>>,
}

type Rendered = (std::sync::Arc<ticketing::availability::CompactAvailability>, axum::body::Bytes);

impl CompactBodies {
    /// `snapshot`'s body: the one rendered before if `snapshot` is the one
    /// it was rendered from, otherwise `dto`'s JSON, kept for the next asker.
    fn render(
        &self,
        event: EventId,
        snapshot: &std::sync::Arc<ticketing::availability::CompactAvailability>,
        dto: impl FnOnce() -> CompactAvailabilityResponse,
    ) -> Result<axum::body::Bytes, Problem> {
        let kept = self.bodies.lock().expect("compact bodies poisoned").get(&event).cloned();
        if let Some((from, body)) = kept
            && std::sync::Arc::ptr_eq(&from, snapshot)
        {
            return Ok(body);
        }
        let body = axum::body::Bytes::from(serde_json::to_vec(&dto()).map_err(|e| Problem::internal(&e))?);
        let mut bodies = self.bodies.lock().expect("compact bodies poisoned");
        if bodies.len() >= ticketing::availability::EVENTS_CACHED_MAX && !bodies.contains_key(&event) {
            // As many events as the snapshots themselves keep; starting over
            // costs one rendering per event.
            bodies.clear();
        }
        bodies.insert(event, (snapshot.clone(), body.clone()));
        Ok(body)
    }
}

/// Every seat's status and the GA places remaining, right now.
#[utoipa::path(get, path = "/api/v1/events/{event}/availability", tag = "events", params(("event" = Uuid, Path)),
    responses((status = 200, body = AvailabilityResponse), (status = 404, body = ProblemDto)))]
pub async fn availability(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<AvailabilityResponse>, Problem> {
    let a = state.ticketing.availability(viewer, EventId::from_uuid(event)).await?;
    Ok(Json(AvailabilityResponse {
        event_id: event,
        seats: a
            .seats
            .into_iter()
            .map(|(id, status)| SeatAvailabilityDto {
                id: *id.as_uuid(),
                status: match status {
                    SeatStatus::Available => "available",
                    SeatStatus::Held => "held",
                    SeatStatus::Sold => "sold",
                },
            })
            .collect(),
        ga: a
            .ga
            .into_iter()
            .map(|(area, capacity, remaining)| GaAvailabilityDto { area_id: *area.as_uuid(), capacity, remaining })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ticketing::availability::CompactAvailability;

    use super::*;

    fn snapshot(event: EventId, sold: u32) -> Arc<CompactAvailability> {
        Arc::new(CompactAvailability {
            event,
            seat_count: 4,
            statuses: "AA==".to_owned(),
            available: 4 - sold,
            held: 0,
            sold,
            ga: Vec::new(),
            as_of: chrono::Utc::now(),
            version: format!("v{sold}"),
        })
    }

    #[test]
    fn a_snapshot_is_rendered_once_and_a_new_one_again() {
        let bodies = CompactBodies::default();
        let event = EventId::from_uuid(Uuid::now_v7());
        let first = snapshot(event, 0);
        let body = bodies.render(event, &first, || compact_dto(&first)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["sold"], 0);
        // The same snapshot: the kept body, not rendered again.
        let again = bodies.render(event, &first, || panic!("rendered twice")).unwrap();
        assert_eq!(again, body);
        // A newer snapshot of the event replaces it.
        let second = snapshot(event, 1);
        let newer = bodies.render(event, &second, || compact_dto(&second)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&newer).unwrap();
        assert_eq!(v["sold"], 1);
        // Another event has a body of its own.
        let other = EventId::from_uuid(Uuid::now_v7());
        let third = snapshot(other, 2);
        bodies.render(other, &third, || compact_dto(&third)).unwrap();
        assert_eq!(bodies.render(event, &second, || panic!("rendered twice")).unwrap(), newer);
    }

    #[test]
    fn if_none_match_takes_lists_weak_tags_and_a_star() {
        let etag = "\"42\"";
        for header in ["\"42\"", "W/\"42\"", "\"7\", \"42\"", " \"7\" ,W/\"42\" ", "*"] {
            assert!(none_match(header, etag), "{header}");
        }
        for header in ["\"7\"", "42", "W/\"4\"", ""] {
            assert!(!none_match(header, etag), "{header}");
        }
    }
}

/// Add a ticket type to an event, before or during its sale: a release of
/// seats at another price, an early-bird tier with its own sales window.
#[utoipa::path(post, path = "/api/v1/events/{event}/ticket-types", tag = "events", security(("bearer" = [])),
    params(("event" = Uuid, Path)), request_body = TicketTypeRequest,
    responses((status = 201, body = TicketTypeResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto), (status = 409, body = ProblemDto, description = "the event is cancelled or over"),
               (status = 422, body = ProblemDto)))]
pub async fn add_ticket_type(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
    ApiJson(req): ApiJson<TicketTypeRequest>,
) -> Result<(StatusCode, Json<TicketTypeResponse>), Problem> {
    let spec = TicketTypeSpec::try_from(req)?;
    let tt = state.ticketing.add_ticket_type(user, EventId::from_uuid(event), spec).await?;
    Ok((StatusCode::CREATED, Json(TicketTypeResponse::from(&tt))))
}

/// Change a ticket type's name, price, limit per order or sales window.
/// Holds already placed keep their price.
#[utoipa::path(patch, path = "/api/v1/events/{event}/ticket-types/{ticket_type}", tag = "events",
    security(("bearer" = [])), params(("event" = Uuid, Path), ("ticket_type" = Uuid, Path)),
    request_body = TicketTypePatch,
    responses((status = 200, body = TicketTypeResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto), (status = 409, body = ProblemDto, description = "the event is cancelled or over"),
               (status = 422, body = ProblemDto)))]
pub async fn change_ticket_type(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((event, ticket_type)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<TicketTypePatch>,
) -> Result<Json<TicketTypeResponse>, Problem> {
    let change = TicketTypeChange::try_from(req)?;
    let tt = state
        .ticketing
        .change_ticket_type(user, EventId::from_uuid(event), TicketTypeId::from_uuid(ticket_type), &change)
        .await?;
    Ok(Json(TicketTypeResponse::from(&tt)))
}

/// Delete a ticket type made by mistake: one nobody has held or bought
/// (409 `ticket-type-in-use` otherwise: end its sales window instead). An
/// event on sale keeps at least one (409 `last-ticket-type`).
#[utoipa::path(delete, path = "/api/v1/events/{event}/ticket-types/{ticket_type}", tag = "events",
    security(("bearer" = [])), params(("event" = Uuid, Path), ("ticket_type" = Uuid, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "held or sold, the last of an event on sale, or the event is over")))]
pub async fn delete_ticket_type(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((event, ticket_type)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, Problem> {
    state.ticketing.delete_ticket_type(user, EventId::from_uuid(event), TicketTypeId::from_uuid(ticket_type)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change an event's title, description, category or times. Its times move
/// only while nothing is sold (409 after): a postponement must reach the
/// buyers, which an edit does not.
#[utoipa::path(patch, path = "/api/v1/events/{event}", tag = "events", security(("bearer" = [])),
    params(("event" = Uuid, Path)), request_body = EventPatch,
    responses((status = 200, body = EventResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "sold, so its times cannot move; or cancelled or over"),
               (status = 422, body = ProblemDto)))]
pub async fn edit(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
    ApiJson(req): ApiJson<EventPatch>,
) -> Result<Json<EventResponse>, Problem> {
    let change = EventChange::try_from(req)?;
    let event = EventId::from_uuid(event);
    state.ticketing.edit_event(user, event, &change).await?;
    let details = state.ticketing.event_details(Some(user), event).await?;
    Ok(Json(EventResponse::new(&details.event, &details.ticket_types)))
}

/// Move an event on sale, sold or not: a postponement or an earlier start.
/// Tickets stay valid; every holder is told (e-mail and app) the old and new
/// dates and `note`; a day-before reminder goes out again before the new date.
#[utoipa::path(post, path = "/api/v1/events/{event}/reschedule", tag = "events", security(("bearer" = [])),
    params(("event" = Uuid, Path)), request_body = RescheduleRequest,
    responses((status = 200, body = RescheduledDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "a draft, cancelled or over; or moved by someone else"),
               (status = 422, body = ProblemDto)))]
pub async fn reschedule(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RescheduleRequest>,
) -> Result<Json<RescheduledDto>, Problem> {
    let event = EventId::from_uuid(event);
    let note = req.note.unwrap_or_default();
    let to = ticketing::reschedule::Move {
        starts_at: req.starts_at,
        ends_at: req.ends_at,
        note: &note,
        refunds_until: req.refunds_until,
        move_sales_windows: req.move_sales_windows,
    };
    let (_, moved) = state.ticketing.reschedule_event(user, event, to).await?;
    let details = state.ticketing.event_details(Some(user), event).await?;
    Ok(Json(RescheduledDto {
        event: EventResponse::new(&details.event, &details.ticket_types),
        reschedule: RescheduleDto::from(&moved),
    }))
}

/// The moves of an event's dates, oldest first.
#[utoipa::path(get, path = "/api/v1/events/{event}/reschedules", tag = "events", security(("bearer" = [])),
    params(("event" = Uuid, Path)),
    responses((status = 200, body = Vec<RescheduleDto>), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto)))]
pub async fn reschedules(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<Vec<RescheduleDto>>, Problem> {
    let moves = state.ticketing.reschedules(user, EventId::from_uuid(event)).await?;
    Ok(Json(moves.iter().map(RescheduleDto::from).collect()))
}

/// Delete a draft. An event that went on sale is cancelled instead, and stays.
#[utoipa::path(delete, path = "/api/v1/events/{event}", tag = "events", security(("bearer" = [])),
    params(("event" = Uuid, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto), (status = 409, body = ProblemDto, description = "not a draft")))]
pub async fn delete(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    state.ticketing.delete_draft(user, EventId::from_uuid(event)).await?;
    Ok(StatusCode::NO_CONTENT)
}
