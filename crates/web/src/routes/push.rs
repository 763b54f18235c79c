//! Web push subscriptions for reminders.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::dto::ProblemDto;
use crate::extract::{ApiJson, AuthUser};
use crate::problem::Problem;

#[derive(Debug, Serialize, ToSchema)]
pub struct VapidKeyResponse {
    /// The application server key (uncompressed P-256 point, base64url):
    /// `applicationServerKey` for `pushManager.subscribe`.
    pub public_key: String,
}

/// The public VAPID key browsers subscribe with.
#[utoipa::path(get, path = "/api/v1/push/vapid-public-key", tag = "accounts",
    responses((status = 200, body = VapidKeyResponse)))]
pub async fn vapid_public_key(State(state): State<AppState>) -> Result<Json<VapidKeyResponse>, Problem> {
    let key = state.ticketing.vapid_key().await?;
    Ok(Json(VapidKeyResponse { public_key: key.public_key_base64url() }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PushKeysDto {
    /// The browser's P-256 public key, base64url.
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url.
    pub auth: String,
}

/// `PushSubscription.toJSON()`, as the browser gives it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushSubscriptionRequest {
    /// The push service URL: https (http only to this machine).
    pub endpoint: String,
    pub keys: PushKeysDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PushSubscriptionResponse {
    pub id: String,
    pub endpoint: String,
}

/// Allow reminders on this browser: store its push subscription. The same
/// endpoint again replaces its keys.
#[utoipa::path(post, path = "/api/v1/me/push-subscriptions", tag = "accounts", security(("bearer" = [])),
    request_body = PushSubscriptionRequest,
    responses((status = 201, body = PushSubscriptionResponse), (status = 401, body = ProblemDto),
               (status = 409, body = ProblemDto), (status = 422, body = ProblemDto)))]
pub async fn subscribe(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<PushSubscriptionRequest>,
) -> Result<(StatusCode, Json<PushSubscriptionResponse>), Problem> {
    let id = state.ticketing.subscribe_push(user, &req.endpoint, &req.keys.p256dh, &req.keys.auth).await?;
    Ok((StatusCode::CREATED, Json(PushSubscriptionResponse { id, endpoint: req.endpoint })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PushSubscriptionListResponse {
    pub items: Vec<PushSubscriptionResponse>,
}

/// The browsers that receive reminders for this account.
#[utoipa::path(get, path = "/api/v1/me/push-subscriptions", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = PushSubscriptionListResponse), (status = 401, body = ProblemDto)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<PushSubscriptionListResponse>, Problem> {
    let items = state
        .ticketing
        .push_subscriptions(user)
        .await?
        .into_iter()
        .map(|s| PushSubscriptionResponse { id: s.id, endpoint: s.endpoint })
        .collect();
    Ok(Json(PushSubscriptionListResponse { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PushUnsubscribeRequest {
    pub endpoint: String,
}

/// Stop reminders on this browser.
#[utoipa::path(delete, path = "/api/v1/me/push-subscriptions", tag = "accounts", security(("bearer" = [])),
    request_body = PushUnsubscribeRequest,
    responses((status = 204), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto),
               (status = 422, body = ProblemDto)))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<PushUnsubscribeRequest>,
) -> Result<StatusCode, Problem> {
    state.ticketing.unsubscribe_push(user, &req.endpoint).await?;
    Ok(StatusCode::NO_CONTENT)
}
