use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::checkin::CheckinOutcome;
use domain::ids::EventId;
use domain::rotating::RotatingError;
use uuid::Uuid;

use crate::AppState;
use crate::dto::{CheckinRequest, CheckinResponse, ProblemDto};
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::problem::Problem;
use ticketing::checkin::CodeRefusal;

/// Why a code was refused, as a short `reason` for machines and a detail
/// a gate can read out to the holder. Shared with the gate page and sync.
pub(crate) fn refusal_text(refusal: CodeRefusal) -> (&'static str, &'static str) {
    match refusal {
        CodeRefusal::Unreadable => ("unreadable", "not a valid ticket: the barcode is unreadable, forged or altered"),
        CodeRefusal::Rotating(RotatingError::Stale) => {
            ("code_stale", "this code is older than a minute \u{2014} ask the holder to show the live code in the app")
        }
        CodeRefusal::Rotating(RotatingError::Future) => {
            ("code_in_future", "this code is from the future: the holder's phone or this gate has the wrong time")
        }
        CodeRefusal::Rotating(RotatingError::BadMac) => {
            ("code_not_for_ticket", "not a valid ticket: the live code was not made for this ticket")
        }
        CodeRefusal::LiveCodeRequired => (
            "live_code_required",
            "this event needs the live code from the app; screenshots, printouts and typed codes are not accepted",
        ),
        CodeRefusal::UnknownEntryCode => {
            ("unknown_entry_code", "no ticket of this event has this code \u{2014} check it and type it again")
        }
        CodeRefusal::AmbiguousEntryCode => {
            ("ambiguous_entry_code", "two tickets share this code \u{2014} scan the QR code instead")
        }
        CodeRefusal::ScannerRemoved => {
            ("scanner_removed", "this scan was made after its scanner had left the organization's team")
        }
    }
}

/// Scan a ticket at a gate of this event. A ticket is admitted at most once.
#[utoipa::path(post, path = "/api/v1/events/{event}/checkins", tag = "check-in", security(("bearer" = [])),
    params(("event" = Uuid, Path)), request_body = CheckinRequest,
    responses((status = 200, body = CheckinResponse, description = "admitted"),
               (status = 401, body = ProblemDto), (status = 403, body = ProblemDto), (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "result already_checked_in, with checked_in_at"),
               (status = 422, body = ProblemDto, description = "result invalid, wrong_event or revoked")))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CheckinRequest>,
) -> Result<(StatusCode, Json<CheckinResponse>), Problem> {
    let scan = state.ticketing.check_in(user, EventId::from_uuid(event), &req.barcode).await?;
    let record = scan.record;
    let result = record.outcome.as_str();
    let ticket_id = record.ticket.map(|t| t.to_string());
    match record.outcome {
        CheckinOutcome::Admitted => {
            let ticket = record.ticket.expect("an admitted ticket is known");
            // Where to send the holder, for the gate to say.
            let admitted = state.ticketing.store().ticket(ticket).await?;
            Ok((
                StatusCode::OK,
                Json(CheckinResponse {
                    result,
                    ticket_id: *ticket.as_uuid(),
                    checked_in_at: record.checked_in_at.expect("an admitted ticket has a check-in time"),
                    place: admitted.as_ref().map(crate::pages::buyer::ticket_place).unwrap_or_default(),
                    ticket_type_name: admitted.map(|t| t.ticket_type_name).unwrap_or_default(),
                }),
            ))
        }
        CheckinOutcome::AlreadyCheckedIn => {
            let at = record.checked_in_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            Err(Problem::conflict(
                "already-checked-in",
                format!(
                    "this ticket was already admitted at {}; do not let it in again",
                    at.clone().unwrap_or_default()
                ),
            )
            .with("result", result)
            .with("ticket_id", ticket_id)
            .with("checked_in_at", at))
        }
        CheckinOutcome::Invalid => {
            let (reason, detail) = refusal_text(scan.refusal.unwrap_or(CodeRefusal::Unreadable));
            Err(Problem::unprocessable("ticket-invalid", detail).with("result", result).with("reason", reason))
        }
        CheckinOutcome::WrongEvent => {
            Err(Problem::unprocessable("ticket-wrong-event", "this ticket is for a different event")
                .with("result", result)
                .with("ticket_id", ticket_id))
        }
        CheckinOutcome::Revoked => Err(Problem::unprocessable(
            "ticket-revoked",
            "this ticket has been revoked (refunded, cancelled or re-issued); it does not admit",
        )
        .with("result", result)
        .with("ticket_id", ticket_id)),
    }
}
