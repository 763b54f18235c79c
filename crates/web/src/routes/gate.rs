use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::checkin::SyncOutcome;
use domain::ids::EventId;
use domain::rotating::{ROTATION_MAX_AGE_STEPS, ROTATION_STEP_SECS};
use serde::{Deserialize, Serialize};
use ticketing::gate::OfflineScan;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::dto::{MoneyDto, ProblemDto};
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::problem::Problem;

/// How a barcode is built, for gates that verify offline.
const BARCODE_FORMAT: &str = "RT1. + base64url(no padding) of: 1 byte version (1) | 16 bytes ticket id | \
16 bytes event id | 4 bytes serial, big-endian | 64 bytes Ed25519 signature. The signature covers the ASCII \
bytes 'robust-ticketing/ticket-barcode/v1' followed by the first 37 bytes. \
A rotating code is RT2. + base64url(no padding) of: the 101 bytes of the barcode above | 8 bytes step, \
big-endian | the first 16 bytes of HMAC-SHA256(key = the ticket's rotating_secret, message = ASCII 'rt2' | \
step as 8 bytes big-endian | 16 bytes ticket id), where step = floor(unix seconds / rotation_step_secs). \
Accept a code whose step is at most rotation_max_age_steps behind the gate's clock and at most one ahead.";

#[derive(Debug, Serialize, ToSchema)]
pub struct GateTicketDto {
    pub id: Uuid,
    /// A barcode with another serial is from before a re-issue: revoked.
    pub serial: u32,
    /// valid or revoked.
    pub status: &'static str,
    pub checked_in_at: Option<DateTime<Utc>>,
    /// The ticket's entry code (what staff type when a QR code will not
    /// scan), hashed: the hex SHA-256 of `"{event id}:{code}"`, with the
    /// code as twelve Crockford base32 characters in upper case without
    /// dashes (O typed reads as 0, I and L as 1). A gate hashes what is typed
    /// the same way; a match admits the ticket as its current barcode would,
    /// and the gate syncs the typed code itself. Absent at events whose
    /// barcodes rotate (typed codes are refused there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_code_hash: Option<String>,
    /// The ticket's rotating secret (HMAC key), base64url without padding;
    /// only when the event's barcodes rotate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotating_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GateManifestResponse {
    pub event_id: Uuid,
    /// The event's Ed25519 public key, base64url without padding.
    pub public_key: String,
    pub barcode_format: &'static str,
    /// static (RT1 barcodes and RT2 codes accepted) or rotating (only RT2 codes).
    pub barcodes: &'static str,
    pub rotation_step_secs: i64,
    pub rotation_max_age_steps: i64,
    pub tickets: Vec<GateTicketDto>,
    /// Entry codes tickets had before they were passed on or resold, hashed
    /// as `entry_code_hash` is. A gate answers such a code as the old barcode
    /// it stood for: re-issued (`revoked`), not unknown.
    pub retired_entry_code_hashes: Vec<String>,
    pub generated_at: DateTime<Utc>,
}

/// What an offline gate needs to verify tickets with no network.
#[utoipa::path(get, path = "/api/v1/events/{event}/gate-manifest", tag = "check-in", security(("bearer" = [])),
    params(("event" = Uuid, Path)),
    responses((status = 200, body = GateManifestResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto)))]
pub async fn manifest(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<GateManifestResponse>, Problem> {
    let m = state.ticketing.gate_manifest(user, EventId::from_uuid(event)).await?;
    Ok(Json(GateManifestResponse {
        event_id: *m.event.as_uuid(),
        public_key: URL_SAFE_NO_PAD.encode(m.public_key),
        barcode_format: BARCODE_FORMAT,
        barcodes: if m.rotating_barcodes { "rotating" } else { "static" },
        rotation_step_secs: ROTATION_STEP_SECS,
        rotation_max_age_steps: ROTATION_MAX_AGE_STEPS,
        tickets: m
            .tickets
            .iter()
            .map(|t| GateTicketDto {
                id: *t.ticket.id.as_uuid(),
                serial: t.ticket.serial,
                status: if t.ticket.valid { "valid" } else { "revoked" },
                checked_in_at: t.ticket.checked_in_at,
                entry_code_hash: match &t.ticket.entry_code {
                    Some(code) if !m.rotating_barcodes => Some(domain::barcode::entry_code_digest(m.event, code)),
                    _ => None,
                },
                rotating_secret: t.rotating_secret.map(|s| URL_SAFE_NO_PAD.encode(s)),
            })
            .collect(),
        retired_entry_code_hashes: m
            .retired_entry_codes
            .iter()
            .map(|code| domain::barcode::entry_code_digest(m.event, code))
            .collect(),
        generated_at: m.generated_at,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OfflineScanDto {
    pub barcode: String,
    pub scanned_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SyncRequest {
    /// Stable id of the scanning device.
    pub device_id: String,
    /// The admissions the device made offline: every scan here is taken as
    /// someone let in. Scans the device refused are not sent.
    pub scans: Vec<OfflineScanDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResultDto {
    pub barcode: String,
    /// admitted, conflict (admitted elsewhere first), already_checked_in,
    /// invalid, wrong_event or revoked; or used_before_reissue /
    /// used_before_revocation: the scan was made while the barcode was good,
    /// and the ticket was passed on, resold or revoked before it was synced.
    /// The admission stands and the ticket counts as used, so its new
    /// holder's barcode no longer admits; organizers should follow these up.
    pub result: &'static str,
    /// Why the code itself was refused (result invalid): unreadable, code_stale,
    /// code_in_future, code_not_for_ticket, live_code_required,
    /// unknown_entry_code, ambiguous_entry_code, or scanner_removed (made
    /// after the syncing account left the team).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    pub ticket_id: Option<Uuid>,
    pub checked_in_at: Option<DateTime<Utc>>,
    /// For a conflict: the device that admitted the ticket first (null: online).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_device_id: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    pub results: Vec<SyncResultDto>,
}

/// Upload scans an offline gate made. The first admission of a ticket
/// stands; another device's admission of it comes back as a conflict.
#[utoipa::path(post, path = "/api/v1/events/{event}/checkins/sync", tag = "check-in", security(("bearer" = [])),
    params(("event" = Uuid, Path)), request_body = SyncRequest,
    responses((status = 200, body = SyncResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto), (status = 422, body = ProblemDto)))]
pub async fn sync(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
    ApiJson(req): ApiJson<SyncRequest>,
) -> Result<Json<SyncResponse>, Problem> {
    let scans = req.scans.into_iter().map(|s| OfflineScan { barcode: s.barcode, scanned_at: s.scanned_at }).collect();
    let results = state.ticketing.sync_checkins(user, EventId::from_uuid(event), &req.device_id, scans).await?;
    Ok(Json(SyncResponse {
        results: results
            .into_iter()
            .map(|r| {
                let result = r.outcome.as_str();
                let first_device_id = match r.outcome {
                    SyncOutcome::Conflict { first_device } => Some(first_device),
                    _ => None,
                };
                SyncResultDto {
                    barcode: r.barcode,
                    result,
                    reason: r.refusal.map(|f| crate::routes::checkins::refusal_text(f).0),
                    ticket_id: r.ticket.map(|t| *t.as_uuid()),
                    checked_in_at: r.checked_in_at,
                    first_device_id,
                }
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalesMinuteDto {
    pub minute: DateTime<Utc>,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    pub capacity: i64,
    pub sold: i64,
    pub held: i64,
    pub checked_in: i64,
    pub revenue: MoneyDto,
    pub sales: Vec<SalesMinuteDto>,
}

/// Sales, holds, check-ins and revenue of an event (owners and admins).
#[utoipa::path(get, path = "/api/v1/events/{event}/stats", tag = "events", security(("bearer" = [])),
    params(("event" = Uuid, Path)),
    responses((status = 200, body = StatsResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto)))]
pub async fn stats(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<StatsResponse>, Problem> {
    let (s, currency) = state.ticketing.event_stats(user, EventId::from_uuid(event)).await?;
    Ok(Json(StatsResponse {
        capacity: s.capacity,
        sold: s.sold,
        held: s.held,
        checked_in: s.checked_in,
        revenue: MoneyDto { amount: s.revenue_minor, currency: currency.to_string() },
        sales: s.sales_per_minute.into_iter().map(|(minute, count)| SalesMinuteDto { minute, count }).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GateProblemDto {
    pub ticket_id: Uuid,
    /// The ticket's type and seat or standing area.
    pub place: String,
    /// conflict (the ticket was let in twice), used_before_reissue or
    /// used_before_revocation (let in offline before it was passed on,
    /// resold or refunded: its new holder's barcode no longer admits).
    pub result: String,
    /// The offline gate that reported it.
    pub device_id: Option<String>,
    pub scanned_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GateProblemsResponse {
    pub items: Vec<GateProblemDto>,
}

/// Offline scans of this event that need someone to look at them, newest
/// first (owners and admins): tickets let in twice, and tickets let in
/// before they were passed on, resold or refunded.
#[utoipa::path(get, path = "/api/v1/events/{event}/checkins/problems", tag = "check-in", security(("bearer" = [])),
    params(("event" = Uuid, Path)),
    responses((status = 200, body = GateProblemsResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto)))]
pub async fn problems(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<GateProblemsResponse>, Problem> {
    let list = state.ticketing.gate_problems(user, EventId::from_uuid(event)).await?;
    Ok(Json(GateProblemsResponse {
        items: list
            .into_iter()
            .map(|r| GateProblemDto {
                ticket_id: *r.problem.ticket.as_uuid(),
                place: r.place,
                result: r.problem.result,
                device_id: r.problem.device,
                scanned_at: r.problem.scanned_at,
            })
            .collect(),
    }))
}
