use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::dto::{LocaleRequest, NotificationListResponse, NotificationResponse, ProblemDto};
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::problem::Problem;

/// Your notifications (orders, transfer offers, refunds, reminders,
/// cancellations), newest first, with whether each was e-mailed yet.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = NotificationListResponse), (status = 401, body = ProblemDto)))]
pub async fn mine(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<NotificationListResponse>, Problem> {
    let items = state.ticketing.notifications(user).await?;
    let unread = items.iter().filter(|n| n.read_at.is_none()).count();
    Ok(Json(NotificationListResponse { items: items.iter().map(NotificationResponse::from).collect(), unread }))
}

/// Mark one of your notifications read.
#[utoipa::path(post, path = "/api/v1/me/notifications/{notification}/read", tag = "accounts", security(("bearer" = [])),
    params(("notification" = String, Path)),
    responses((status = 204), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto)))]
pub async fn mark_read(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(notification): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    state.ticketing.mark_notification_read(user, &notification).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Choose the language of your e-mail and notifications.
#[utoipa::path(put, path = "/api/v1/me/locale", tag = "accounts", security(("bearer" = [])),
    request_body = LocaleRequest,
    responses((status = 204), (status = 401, body = ProblemDto), (status = 422, body = ProblemDto)))]
pub async fn set_locale(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<LocaleRequest>,
) -> Result<StatusCode, Problem> {
    state.ticketing.set_locale(user, &req.locale).await?;
    Ok(StatusCode::NO_CONTENT)
}
