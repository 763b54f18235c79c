//! The public ownership log, modelled on RFC 6962 §4 (base64 for hashes and
//! bytes). Anyone may read it and check that it only ever grows.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::ids::TicketId;
use serde::{Deserialize, Serialize};
use store::LedgerEntryRecord;
use ticketing::ownership::LedgerQueryError;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::dto::ProblemDto;
use crate::extract::{ApiPath, ApiQuery};
use crate::problem::Problem;

impl From<LedgerQueryError> for Problem {
    fn from(e: LedgerQueryError) -> Self {
        match e {
            LedgerQueryError::OutOfRange(detail) => Problem::bad_request(detail),
            LedgerQueryError::Store(s) => s.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SthResponse {
    pub tree_size: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    pub root_hash: String,
    /// Ed25519 over b"robust-ticketing/sth/v1" || tree_size (u64 BE) || timestamp (u64 BE) || root_hash.
    pub signature: String,
    pub public_key: String,
}

/// The newest signed tree head.
#[utoipa::path(get, path = "/api/v1/ledger/sth", tag = "ledger", responses((status = 200, body = SthResponse)))]
pub async fn sth(State(state): State<AppState>) -> Result<Json<SthResponse>, Problem> {
    let h = state.ticketing.signed_tree_head().await?;
    Ok(Json(SthResponse {
        tree_size: h.tree_size,
        timestamp: h.timestamp.timestamp_millis(),
        root_hash: STANDARD.encode(h.root_hash),
        signature: STANDARD.encode(h.signature),
        public_key: STANDARD.encode(h.public_key),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntryDto {
    pub leaf_index: Option<u64>,
    /// The leaf input; its leaf hash is SHA-256(0x00 || leaf_input).
    pub leaf_input: String,
    /// issue, transfer, resale, check_in, refund or revoke.
    pub kind: String,
    pub ticket_id: Uuid,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl From<&LedgerEntryRecord> for LedgerEntryDto {
    fn from(e: &LedgerEntryRecord) -> Self {
        Self {
            leaf_index: e.leaf_index,
            leaf_input: STANDARD.encode(&e.leaf_input),
            kind: e.kind.clone(),
            ticket_id: *e.ticket.as_uuid(),
            at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntriesResponse {
    pub entries: Vec<LedgerEntryDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    pub start: u64,
    /// Inclusive; at most 1,000 entries are returned.
    pub end: u64,
}

/// Sequenced entries `start..=end`.
#[utoipa::path(get, path = "/api/v1/ledger/entries", tag = "ledger", params(EntriesQuery),
    responses((status = 200, body = EntriesResponse), (status = 400, body = ProblemDto)))]
pub async fn entries(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EntriesQuery>,
) -> Result<Json<EntriesResponse>, Problem> {
    let entries = state.ticketing.ledger_entries(q.start, q.end).await?;
    Ok(Json(EntriesResponse { entries: entries.iter().map(LedgerEntryDto::from).collect() }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    pub leaf_index: u64,
    pub tree_size: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionResponse {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub audit_path: Vec<String>,
}

/// Proof that a leaf is in the tree of `tree_size` (RFC 6962 §2.1.1).
#[utoipa::path(get, path = "/api/v1/ledger/proof/inclusion", tag = "ledger", params(InclusionQuery),
    responses((status = 200, body = InclusionResponse), (status = 400, body = ProblemDto)))]
pub async fn inclusion(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionResponse>, Problem> {
    let path = state.ticketing.inclusion_proof(q.leaf_index, q.tree_size).await?;
    Ok(Json(InclusionResponse {
        leaf_index: q.leaf_index,
        tree_size: q.tree_size,
        audit_path: path.iter().map(|h| STANDARD.encode(h)).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    pub first: u64,
    pub second: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyResponse {
    pub first: u64,
    pub second: u64,
    pub consistency: Vec<String>,
}

/// Proof that the tree of `second` extends the tree of `first` (RFC 6962 §2.1.2).
#[utoipa::path(get, path = "/api/v1/ledger/proof/consistency", tag = "ledger", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyResponse), (status = 400, body = ProblemDto)))]
pub async fn consistency(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyResponse>, Problem> {
    let proof = state.ticketing.consistency_proof(q.first, q.second).await?;
    Ok(Json(ConsistencyResponse {
        first: q.first,
        second: q.second,
        consistency: proof.iter().map(|h| STANDARD.encode(h)).collect(),
    }))
}

/// A ticket's whole history in the log, oldest first (entries not yet
/// sequenced have no leaf_index yet).
#[utoipa::path(get, path = "/api/v1/tickets/{ticket}/history", tag = "ledger", params(("ticket" = Uuid, Path)),
    responses((status = 200, body = EntriesResponse), (status = 404, body = ProblemDto)))]
pub async fn history(
    State(state): State<AppState>,
    ApiPath(ticket): ApiPath<Uuid>,
) -> Result<Json<EntriesResponse>, Problem> {
    let entries = state.ticketing.ticket_history(TicketId::from_uuid(ticket)).await?;
    if entries.is_empty() {
        return Err(Problem::not_found("no such ticket in the log"));
    }
    Ok(Json(EntriesResponse { entries: entries.iter().map(LedgerEntryDto::from).collect() }))
}
