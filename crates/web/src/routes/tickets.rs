use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use domain::ids::{TicketId, UserId};
use store::TicketRecord;
use uuid::Uuid;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::rotating::ROTATION_STEP_SECS;

use crate::dto::{ProblemDto, RotatingDto, TicketListResponse, TicketResponse};
use crate::extract::{ApiPath, AuthUser};
use crate::problem::Problem;
use crate::{AppState, qr};

/// Your tickets, soonest event first.
#[utoipa::path(get, path = "/api/v1/me/tickets", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = TicketListResponse), (status = 401, body = ProblemDto)))]
pub async fn mine(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<TicketListResponse>, Problem> {
    let tickets = state.ticketing.store().tickets_of(user).await?;
    Ok(Json(TicketListResponse { items: tickets.iter().map(TicketResponse::from).collect() }))
}

/// Only the holder sees a ticket: its barcode is the ticket.
async fn own_ticket(state: &AppState, user: UserId, ticket: Uuid) -> Result<TicketRecord, Problem> {
    match state.ticketing.store().ticket(TicketId::from_uuid(ticket)).await? {
        Some(t) if t.holder == user => Ok(t),
        _ => Err(Problem::not_found("ticket not found")),
    }
}

/// One of your tickets.
#[utoipa::path(get, path = "/api/v1/tickets/{ticket}", tag = "tickets", security(("bearer" = [])),
    params(("ticket" = Uuid, Path)),
    responses((status = 200, body = TicketResponse), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto)))]
pub async fn get(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(ticket): ApiPath<Uuid>,
) -> Result<Json<TicketResponse>, Problem> {
    let t = own_ticket(&state, user, ticket).await?;
    let mut response = TicketResponse::from(&t);
    if let Some(secret) = state.ticketing.ticket_rotating_secret(&t).await? {
        response.rotating = Some(RotatingDto { secret: URL_SAFE_NO_PAD.encode(secret), step_secs: ROTATION_STEP_SECS });
    }
    Ok(Json(response))
}

/// The ticket's QR code as SVG.
#[utoipa::path(get, path = "/api/v1/tickets/{ticket}/qr.svg", tag = "tickets", security(("bearer" = [])),
    params(("ticket" = Uuid, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 401, body = ProblemDto),
               (status = 404, body = ProblemDto)))]
pub async fn qr_svg(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(ticket): ApiPath<Uuid>,
) -> Result<impl IntoResponse, Problem> {
    let t = own_ticket(&state, user, ticket).await?;
    let svg = qr::svg(&t.barcode).map_err(|e| Problem::internal(&e))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, qr::QR_CACHE_CONTROL)], svg))
}

/// The ticket's QR code as PNG.
#[utoipa::path(get, path = "/api/v1/tickets/{ticket}/qr.png", tag = "tickets", security(("bearer" = [])),
    params(("ticket" = Uuid, Path)),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 401, body = ProblemDto),
               (status = 404, body = ProblemDto)))]
pub async fn qr_png(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(ticket): ApiPath<Uuid>,
) -> Result<impl IntoResponse, Problem> {
    let t = own_ticket(&state, user, ticket).await?;
    let png = qr::png(&t.barcode).map_err(|e| Problem::internal(&e))?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, qr::QR_CACHE_CONTROL)], png))
}
