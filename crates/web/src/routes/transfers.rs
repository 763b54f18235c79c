use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::ids::TicketId;
use serde::{Deserialize, Serialize};
use store::TransferRecord;
use ticketing::transfers::TransferError;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::dto::{ProblemDto, TicketResponse};
use crate::extract::{ApiJson, ApiJsonOrEmpty, ApiPath, AuthUser};
use crate::problem::Problem;

impl From<TransferError> for Problem {
    fn from(e: TransferError) -> Self {
        match e {
            TransferError::InvalidEmail(_) | TransferError::Refused(_) => {
                Problem::unprocessable("transfer-refused", e.to_string())
            }
            TransferError::PendingExists
            | TransferError::NotOpen
            | TransferError::TicketChanged
            | TransferError::Listed
            | TransferError::BeingResold => Problem::conflict("transfer-state", e.to_string()),
            TransferError::AccountLimit { max, already } => Problem::conflict("ticket-limit", e.to_string())
                .with("tickets_per_account_max", max)
                .with("tickets_already", already),
            TransferError::ClaimRequired(_) => Problem::new(
                StatusCode::FORBIDDEN,
                "transfer-claim-required",
                "The offer's e-mail is needed",
                e.to_string(),
            ),
            TransferError::Denied(d) => d.into(),
            TransferError::Store(s) => s.into(),
        }
    }
}

/// What accepting may carry. Sent by an account made after the offer: the
/// secret from the link in the offer's e-mail (`/tickets?claim=…`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    #[serde(default)]
    pub claim: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// Whoever signs in with this address can accept.
    pub to_email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferResponse {
    pub id: String,
    pub ticket_id: Uuid,
    /// pending, accepted or cancelled.
    pub status: String,
    pub to_email: String,
    /// A pending offer lapses then, and the ticket stays with its holder.
    pub expires_at: DateTime<Utc>,
}

impl From<&TransferRecord> for TransferResponse {
    fn from(t: &TransferRecord) -> Self {
        Self {
            id: t.id.clone(),
            ticket_id: *t.ticket.as_uuid(),
            status: t.status.clone(),
            to_email: t.to_email.clone(),
            expires_at: t.expires_at,
        }
    }
}

/// Offer your ticket to someone else, within the event's transfer policy.
#[utoipa::path(post, path = "/api/v1/tickets/{ticket}/transfers", tag = "tickets", security(("bearer" = [])),
    params(("ticket" = Uuid, Path)), request_body = TransferRequest,
    responses((status = 201, body = TransferResponse), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto), (status = 422, body = ProblemDto, description = "the policy refuses")))]
pub async fn offer(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(ticket): ApiPath<Uuid>,
    ApiJson(req): ApiJson<TransferRequest>,
) -> Result<(StatusCode, Json<TransferResponse>), Problem> {
    let t = state.ticketing.offer_transfer(user, TicketId::from_uuid(ticket), &req.to_email).await?;
    Ok((StatusCode::CREATED, Json(TransferResponse::from(&t))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptResponse {
    /// The ticket, re-issued to you with a new barcode.
    pub ticket: TicketResponse,
}

/// Accept a ticket offered to your e-mail address. The sender's barcode
/// stops working at once; you get a new one. An account made after the offer
/// was sent also sends the `claim` from the link in the offer's e-mail: it
/// shows the account reads that address's mail.
#[utoipa::path(post, path = "/api/v1/transfers/{transfer}/accept", tag = "tickets", security(("bearer" = [])),
    params(("transfer" = String, Path)),
    request_body(content = Option<AcceptRequest>, description = "optional; `{}` or no body when no claim is needed"),
    responses((status = 200, body = AcceptResponse), (status = 401, body = ProblemDto),
               (status = 403, body = ProblemDto, description = "transfer-claim-required: the claim from the offer's e-mail is missing or wrong"),
               (status = 404, body = ProblemDto), (status = 409, body = ProblemDto)))]
pub async fn accept(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(transfer): ApiPath<String>,
    ApiJsonOrEmpty(req): ApiJsonOrEmpty<AcceptRequest>,
) -> Result<Json<AcceptResponse>, Problem> {
    let ticket = state.ticketing.accept_transfer(user, &transfer, req.claim.as_deref()).await?;
    Ok(Json(AcceptResponse { ticket: TicketResponse::from(&ticket) }))
}

/// Withdraw an offer you made, while nobody has accepted it. The ticket
/// stays yours and can be offered to someone else at once.
#[utoipa::path(delete, path = "/api/v1/transfers/{transfer}", tag = "tickets", security(("bearer" = [])),
    params(("transfer" = String, Path)),
    responses((status = 204), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "accepted or withdrawn already")))]
pub async fn cancel(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(transfer): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    state.ticketing.cancel_transfer(user, &transfer).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Offers you made that are waiting for an answer.
#[utoipa::path(get, path = "/api/v1/me/transfers/outgoing", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = TransferListResponse), (status = 401, body = ProblemDto)))]
pub async fn outgoing(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<TransferListResponse>, Problem> {
    let list = state.ticketing.outgoing_transfers(user).await?;
    Ok(Json(TransferListResponse { items: list.iter().map(TransferResponse::from).collect() }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferListResponse {
    pub items: Vec<TransferResponse>,
}

/// Tickets offered to you and waiting for your answer.
#[utoipa::path(get, path = "/api/v1/me/transfers", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = TransferListResponse), (status = 401, body = ProblemDto)))]
pub async fn incoming(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<TransferListResponse>, Problem> {
    let list = state.ticketing.incoming_transfers(user).await?;
    Ok(Json(TransferListResponse { items: list.iter().map(TransferResponse::from).collect() }))
}
