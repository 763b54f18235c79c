use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::ids::{EventId, HoldId};
use uuid::Uuid;

use crate::AppState;
use crate::dto::{HoldRequestDto, HoldResponse, ProblemDto};
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::problem::Problem;

/// Hold seats and GA places while paying: all or nothing, for a limited time,
/// at the prices shown now. Name the seats, or ask for `best_available`.
#[utoipa::path(post, path = "/api/v1/events/{event}/holds", tag = "holds", security(("bearer" = [])),
    params(("event" = Uuid, Path)), request_body = HoldRequestDto,
    responses((status = 201, body = HoldResponse), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto),
               (status = 403, body = ProblemDto, description = "waiting room on and no valid admission token, or account blocked"),
               (status = 409, body = ProblemDto, description = "taken, not on sale, or over the per-account limit; nothing held"),
               (status = 429, body = ProblemDto, description = "too many requests; see Retry-After"),
               (status = 422, body = ProblemDto)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
    ApiJson(mut req): ApiJson<HoldRequestDto>,
) -> Result<(StatusCode, Json<HoldResponse>), Problem> {
    let event = EventId::from_uuid(event);
    state.limits.check_account(user)?;
    let admission = req.admission_token.take();
    let admission = admission.as_deref();
    let hold = match req.best_available.take() {
        Some(best) => {
            if !req.seats.is_empty() {
                return Err(Problem::unprocessable("invalid-hold", "name seats or ask for best_available, not both"));
            }
            let zone = best.price_zone.as_deref();
            state
                .ticketing
                .place_best_available_hold(user, event, zone, best.count as usize, req.into(), admission)
                .await?
        }
        None => state.ticketing.place_hold(user, event, req.into(), admission).await?,
    };
    Ok((StatusCode::CREATED, Json(HoldResponse::new(&hold, state.ticketing.now()))))
}

/// One of your holds.
#[utoipa::path(get, path = "/api/v1/holds/{hold}", tag = "holds", security(("bearer" = [])),
    params(("hold" = Uuid, Path)),
    responses((status = 200, body = HoldResponse), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto)))]
pub async fn get(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(hold): ApiPath<Uuid>,
) -> Result<Json<HoldResponse>, Problem> {
    let hold = state.ticketing.hold(user, HoldId::from_uuid(hold)).await?;
    Ok(Json(HoldResponse::new(&hold, state.ticketing.now())))
}

/// Release a hold: its seats are free again at once.
#[utoipa::path(delete, path = "/api/v1/holds/{hold}", tag = "holds", security(("bearer" = [])),
    params(("hold" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto), (status = 409, body = ProblemDto)))]
pub async fn release(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(hold): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    state.ticketing.release_hold(user, HoldId::from_uuid(hold)).await?;
    Ok(StatusCode::NO_CONTENT)
}
