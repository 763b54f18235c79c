use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::ids::{HoldId, OrderId};
use ticketing::checkout::{IdempotencyKey, PlaceOrder};
use uuid::Uuid;

use crate::AppState;
use crate::dto::{OrderListResponse, OrderRequest, OrderResponse, ProblemDto};
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::problem::Problem;

const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The request's one `Idempotency-Key` header, if it sent one. Several are
/// a 400: which of them names the request would be a guess, and a guess
/// here can charge twice.
pub(crate) fn idempotency_key_header(headers: &HeaderMap) -> Result<Option<&HeaderValue>, Problem> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
    match (values.next(), values.next()) {
        (first, None) => Ok(first),
        _ => Err(Problem::bad_request("send one Idempotency-Key header, not several")),
    }
}

/// The request's `Idempotency-Key`, if it sent one; a malformed one is a 400.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, Problem> {
    idempotency_key_header(headers)?
        .map(|raw| {
            raw.to_str()
                .ok()
                .and_then(|k| IdempotencyKey::parse(k).ok())
                .ok_or_else(|| Problem::bad_request(ticketing::checkout::BadIdempotencyKey.to_string()))
        })
        .transpose()
}

/// Pay for a hold. Requires an `Idempotency-Key` header: replaying a request
/// with the same key (also concurrently) returns the first result, and never
/// charges or issues tickets twice.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per checkout attempt, chosen by the client")),
    request_body = OrderRequest,
    responses((status = 201, body = OrderResponse, headers(("Idempotent-Replayed" = String, description = "true on a replay"))),
               (status = 400, body = ProblemDto, description = "missing Idempotency-Key"), (status = 401, body = ProblemDto),
               (status = 402, body = ProblemDto, description = "payment declined"), (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "hold expired, released or already paid"),
               (status = 422, body = ProblemDto),
               (status = 429, body = ProblemDto, description = "too many requests; see Retry-After"),
               (status = 503, body = ProblemDto, description = "the payment gateway could not be reached; retry with the same Idempotency-Key")))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    headers: HeaderMap,
    ApiJson(req): ApiJson<OrderRequest>,
) -> Result<Response, Problem> {
    state.limits.check_account(user)?;
    let key = idempotency_key(&headers)?.ok_or_else(|| {
        Problem::bad_request("the Idempotency-Key header is required: send a unique value per checkout attempt")
    })?;
    let placed = state
        .ticketing
        .place_order(
            user,
            PlaceOrder {
                hold: HoldId::from_uuid(req.hold_id),
                gateway: req.payment.gateway,
                token: req.payment.token,
                idempotency_key: key,
            },
        )
        .await?;
    let mut response = (StatusCode::CREATED, Json(OrderResponse::from(&placed.order))).into_response();
    if placed.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// One of your orders.
#[utoipa::path(get, path = "/api/v1/orders/{order}", tag = "orders", security(("bearer" = [])),
    params(("order" = Uuid, Path)),
    responses((status = 200, body = OrderResponse), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto)))]
pub async fn get(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(order): ApiPath<Uuid>,
) -> Result<Json<OrderResponse>, Problem> {
    let order = state.ticketing.order(user, OrderId::from_uuid(order)).await?;
    Ok(Json(OrderResponse::from(&order)))
}

/// Your orders, newest first.
#[utoipa::path(get, path = "/api/v1/me/orders", tag = "orders", security(("bearer" = [])),
    responses((status = 200, body = OrderListResponse), (status = 401, body = ProblemDto)))]
pub async fn mine(State(state): State<AppState>, AuthUser(user): AuthUser) -> Result<Json<OrderListResponse>, Problem> {
    let orders = state.ticketing.store().orders_of(user).await?;
    Ok(Json(OrderListResponse { items: orders.iter().map(OrderResponse::from).collect() }))
}
