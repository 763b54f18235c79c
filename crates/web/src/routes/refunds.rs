use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::ids::{EventId, OrderId, TicketId};
use domain::money::Money;
use ticketing::refunds::RefundRequest;
use uuid::Uuid;

use crate::AppState;
use crate::dto::{
    CancelTicketsDto, CancelledTicketsResponse, EventOrderDto, EventOrderListResponse, EventOrdersQuery, OrderResponse,
    ProblemDto, RefundRequestDto, RefundResponse,
};
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::problem::Problem;
use crate::routes::orders::idempotency_key_header;

/// Refund an order fully or in part (owners and admins of the event's
/// organization). Named tickets are revoked at once: check-in and the gates
/// refuse them and their seats go back on sale. The money moves through the
/// gateway in the background; the refund is `pending` until it has. An
/// optional `Idempotency-Key` makes a retried request return the first refund.
#[utoipa::path(post, path = "/api/v1/orders/{order}/refunds", tag = "orders", security(("bearer" = [])),
    params(("order" = Uuid, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "Unique per refund, chosen by the client")),
    request_body = RefundRequestDto,
    responses((status = 201, body = RefundResponse, headers(("Idempotent-Replayed" = String, description = "true on a replay"))),
               (status = 401, body = ProblemDto), (status = 403, body = ProblemDto), (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "nothing left to refund"),
               (status = 422, body = ProblemDto)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(order): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RefundRequestDto>,
) -> Result<Response, Problem> {
    let idempotency_key = match idempotency_key_header(&headers)? {
        None => None,
        Some(raw) => Some(
            raw.to_str()
                .map_err(|_| Problem::bad_request(ticketing::refunds::RefundError::BadKey.to_string()))?
                .to_owned(),
        ),
    };
    let amount = req.amount.as_ref().map(Money::try_from).transpose()?;
    let refunded = state
        .ticketing
        .refund_order(
            user,
            OrderId::from_uuid(order),
            RefundRequest {
                tickets: req.ticket_ids.iter().map(|t| TicketId::from_uuid(*t)).collect(),
                amount,
                idempotency_key,
            },
        )
        .await?;
    let mut response = (StatusCode::CREATED, Json(RefundResponse::from(&refunded.refund))).into_response();
    if refunded.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Cancel free tickets of an order (owners and admins of the event's
/// organization): nothing was paid, so nothing is refunded, but the tickets
/// stop admitting at once, their places go back on sale, the public log
/// records each, and every holder is told. Tickets with a price are
/// cancelled by refunding them.
#[utoipa::path(post, path = "/api/v1/orders/{order}/cancellations", tag = "orders", security(("bearer" = [])),
    params(("order" = Uuid, Path)),
    request_body = CancelTicketsDto,
    responses((status = 200, body = CancelledTicketsResponse),
               (status = 401, body = ProblemDto), (status = 403, body = ProblemDto), (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "no free ticket left, or a ticket named has a price or was cancelled already"),
               (status = 422, body = ProblemDto)))]
pub async fn cancel_free(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(order): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CancelTicketsDto>,
) -> Result<Json<CancelledTicketsResponse>, Problem> {
    let tickets = req.ticket_ids.map(|ids| ids.into_iter().map(TicketId::from_uuid).collect());
    let cancelled = state.ticketing.cancel_free_tickets(user, OrderId::from_uuid(order), tickets).await?;
    Ok(Json(CancelledTicketsResponse::from(&cancelled)))
}

/// The buyer's own refund, offered when the event moved: every ticket of the
/// order still valid and still theirs, at the price paid, while the window
/// the organizer set is open. Asking again answers the same refund.
#[utoipa::path(post, path = "/api/v1/orders/{order}/refund-request", tag = "orders", security(("bearer" = [])),
    params(("order" = Uuid, Path)),
    responses((status = 201, body = RefundResponse, headers(("Idempotent-Replayed" = String, description = "true on a replay"))),
               (status = 401, body = ProblemDto), (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "no refund offered, or nothing left")))]
pub async fn request_after_move(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(order): ApiPath<Uuid>,
) -> Result<Response, Problem> {
    let refunded = state.ticketing.refund_after_move(user, OrderId::from_uuid(order)).await?;
    let mut response = (StatusCode::CREATED, Json(RefundResponse::from(&refunded.refund))).into_response();
    if refunded.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// An event's orders for its organizer, newest first, 50 to a page: find a
/// buyer's order by (part of) their e-mail address or name, the start of its
/// id, or its reference.
#[utoipa::path(get, path = "/api/v1/events/{event}/orders", tag = "orders", security(("bearer" = [])),
    params(("event" = Uuid, Path), EventOrdersQuery),
    responses((status = 200, body = EventOrderListResponse), (status = 400, body = ProblemDto),
               (status = 401, body = ProblemDto), (status = 403, body = ProblemDto), (status = 404, body = ProblemDto)))]
pub async fn of_event(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<EventOrdersQuery>,
) -> Result<Json<EventOrderListResponse>, Problem> {
    let before = q.before.map(OrderId::from_uuid);
    let orders = state.ticketing.event_orders(user, EventId::from_uuid(event), q.q.as_deref(), before).await?;
    let full = orders.len() as u32 == ticketing::refunds::EVENT_ORDERS_PAGE;
    Ok(Json(EventOrderListResponse {
        next_before: orders.last().filter(|_| full).map(|o| *o.id.as_uuid()),
        items: orders.iter().map(EventOrderDto::from).collect(),
    }))
}

/// One of an event's orders, with its tickets and refunds, for its organizer.
#[utoipa::path(get, path = "/api/v1/events/{event}/orders/{order}", tag = "orders", security(("bearer" = [])),
    params(("event" = Uuid, Path), ("order" = Uuid, Path)),
    responses((status = 200, body = OrderResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto)))]
pub async fn of_event_one(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((event, order)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<OrderResponse>, Problem> {
    let order = state.ticketing.event_order(user, EventId::from_uuid(event), OrderId::from_uuid(order)).await?;
    Ok(Json(OrderResponse::from(&order)))
}
