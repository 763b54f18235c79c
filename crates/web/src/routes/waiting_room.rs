//! The virtual waiting room and the on-sale controls behind it.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use domain::ids::{EventId, UserId};
use serde::{Deserialize, Serialize};
use store::{AccountFlag, SaleControls, WaitingRoomMode};
use ticketing::waiting_room::{Challenge, QueuePosition, RoomInfo, SaleControlsInput};
use tokio_stream::Stream;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::dto::ProblemDto;
use crate::extract::{ApiJson, ApiPath, AuthUser, MaybeUser};
use crate::problem::Problem;

/// How often a buyer's live queue stream re-reads their place: one indexed
/// read per buyer per interval.
pub const QUEUE_LIVE_INTERVAL_SECS: u64 = 2;
/// Longest challenge or solution string accepted in a join request.
const JOIN_FIELD_LEN_MAX: usize = 200;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WaitingRoomModeDto {
    Off,
    On,
    Auto,
}

impl From<WaitingRoomMode> for WaitingRoomModeDto {
    fn from(m: WaitingRoomMode) -> Self {
        match m {
            WaitingRoomMode::Off => Self::Off,
            WaitingRoomMode::On => Self::On,
            WaitingRoomMode::Auto => Self::Auto,
        }
    }
}

impl From<WaitingRoomModeDto> for WaitingRoomMode {
    fn from(m: WaitingRoomModeDto) -> Self {
        match m {
            WaitingRoomModeDto::Off => Self::Off,
            WaitingRoomModeDto::On => Self::On,
            WaitingRoomModeDto::Auto => Self::Auto,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleControlsRequest {
    /// `on`: holds need an admission token now; `auto`: from when holds per
    /// minute reach `auto_threshold`; `off`: no waiting room.
    pub waiting_room: WaitingRoomModeDto,
    /// Buyers who join before this instant are placed by lottery; later ones
    /// in arrival order. Before the event ends. Every field but
    /// `waiting_room` may be left out: it then keeps what is set (for an
    /// event without controls, the default given).
    #[serde(default)]
    pub opens_at: Option<DateTime<Utc>>,
    /// Buyers let in at once (holding a token or a live hold). Default 500.
    #[serde(default)]
    pub admission_window: Option<u32>,
    /// Holds per minute that switch an `auto` room on. Default 1000.
    #[serde(default)]
    pub auto_threshold: Option<u32>,
    /// Leading zero bits of the proof-of-work to join. Default 16, at most 24.
    #[serde(default)]
    pub pow_difficulty: Option<u8>,
    /// Most tickets one account may hold and own for this event, across
    /// orders; `null` removes the limit. Default: none.
    #[serde(default, deserialize_with = "crate::dto::present")]
    #[schema(value_type = Option<u32>)]
    pub tickets_per_account_max: Option<Option<u32>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SaleControlsResponse {
    pub waiting_room: WaitingRoomModeDto,
    /// Holds need an admission token right now.
    pub room_active: bool,
    pub opens_at: DateTime<Utc>,
    pub admission_window: u32,
    pub auto_threshold: u32,
    pub pow_difficulty: u8,
    pub tickets_per_account_max: Option<u32>,
    /// The lottery among early arrivals has been drawn.
    pub lottery_drawn: bool,
    /// Places in line handed out so far, and the last one let in.
    pub places_given: i64,
    pub admitted_through: i64,
    pub admitted_last_minute: u32,
}

impl From<SaleControls> for SaleControlsResponse {
    fn from(c: SaleControls) -> Self {
        Self {
            waiting_room: c.waiting_room.into(),
            room_active: c.room_active,
            opens_at: c.opens_at,
            admission_window: c.admission_window,
            auto_threshold: c.auto_threshold,
            pow_difficulty: c.pow_difficulty,
            tickets_per_account_max: c.tickets_per_account_max,
            lottery_drawn: c.drawn,
            places_given: c.next_no - 1,
            admitted_through: c.admitted_through,
            admitted_last_minute: c.admitted_last_minute,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoomInfoResponse {
    /// Holds need an admission token right now: join the line first.
    pub active: bool,
    pub mode: WaitingRoomModeDto,
    pub opens_at: Option<DateTime<Utc>>,
}

impl From<RoomInfo> for RoomInfoResponse {
    fn from(r: RoomInfo) -> Self {
        Self { active: r.active, mode: r.mode.into(), opens_at: r.opens_at }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeResponse {
    /// Find a string `solution` (at most 32 printable ASCII characters) such
    /// that SHA-256(`challenge` + ":" + `solution`) starts with `difficulty`
    /// zero bits, then join with both.
    pub challenge: String,
    pub difficulty: u8,
    pub expires_at: DateTime<Utc>,
}

impl From<Challenge> for ChallengeResponse {
    fn from(c: Challenge) -> Self {
        Self { challenge: c.challenge, difficulty: c.difficulty, expires_at: c.expires_at }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    pub challenge: String,
    pub solution: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePositionResponse {
    pub entry_id: Uuid,
    /// waiting, admitted (hold with `admission_token` now), used, or expired
    /// (the turn lapsed: join again).
    pub status: String,
    pub joined_at: DateTime<Utc>,
    /// Number in line, from 1; null until the lottery among early arrivals is drawn.
    pub place: Option<i64>,
    /// Buyers ahead; null until the lottery among early arrivals is drawn at `opens_at`.
    pub ahead: Option<u64>,
    /// Everyone still waiting.
    pub waiting: u64,
    /// At the pace buyers were let in over the last minute; null before any were.
    pub estimated_wait_secs: Option<u64>,
    pub opens_at: DateTime<Utc>,
    /// Present while admitted: send it as `admission_token` with the hold. Single use.
    pub admission_token: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
}

impl From<QueuePosition> for QueuePositionResponse {
    fn from(p: QueuePosition) -> Self {
        Self {
            entry_id: *p.entry.as_uuid(),
            status: p.status.as_str().to_owned(),
            joined_at: p.joined_at,
            place: p.place,
            ahead: p.ahead,
            waiting: p.waiting,
            estimated_wait_secs: p.estimated_wait_secs,
            opens_at: p.opens_at,
            admission_token: p.admission_token,
            token_expires_at: p.token_expires_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountFlagResponse {
    pub id: String,
    pub user_id: Uuid,
    pub email: String,
    /// hold-burst, hold-hoarding or card-testing.
    pub rule: String,
    pub detail: String,
    /// While open, the account may not hold or buy for this event.
    pub blocking: bool,
    pub created_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
}

impl From<AccountFlag> for AccountFlagResponse {
    fn from(f: AccountFlag) -> Self {
        Self {
            id: f.id,
            user_id: *f.user.as_uuid(),
            email: f.user_email,
            rule: f.rule,
            detail: f.detail,
            blocking: f.blocking,
            created_at: f.created_at,
            cleared_at: f.cleared_at,
        }
    }
}

/// The organizer's on-sale controls: waiting room, per-account ticket limit.
#[utoipa::path(get, path = "/api/v1/events/{event}/sale-controls", tag = "waiting room", security(("bearer" = [])),
    params(("event" = Uuid, Path)),
    responses((status = 200, body = SaleControlsResponse), (status = 401, body = ProblemDto),
               (status = 403, body = ProblemDto), (status = 404, body = ProblemDto)))]
pub async fn get_controls(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<SaleControlsResponse>, Problem> {
    match state.ticketing.sale_controls(user, EventId::from_uuid(event)).await? {
        Some(c) => Ok(Json(c.into())),
        None => Err(Problem::not_found("this event has no on-sale controls set; PUT them first")),
    }
}

/// Sets the on-sale controls. The line and its admissions survive changes.
#[utoipa::path(put, path = "/api/v1/events/{event}/sale-controls", tag = "waiting room", security(("bearer" = [])),
    params(("event" = Uuid, Path)), request_body = SaleControlsRequest,
    responses((status = 200, body = SaleControlsResponse), (status = 401, body = ProblemDto),
               (status = 403, body = ProblemDto), (status = 404, body = ProblemDto), (status = 422, body = ProblemDto)))]
pub async fn put_controls(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
    ApiJson(req): ApiJson<SaleControlsRequest>,
) -> Result<Json<SaleControlsResponse>, Problem> {
    let input = SaleControlsInput {
        waiting_room: req.waiting_room.into(),
        opens_at: req.opens_at,
        admission_window: req.admission_window,
        auto_threshold: req.auto_threshold,
        pow_difficulty: req.pow_difficulty,
        tickets_per_account_max: req.tickets_per_account_max,
    };
    let controls = state.ticketing.set_sale_controls(user, EventId::from_uuid(event), input).await?;
    Ok(Json(controls.into()))
}

/// Whether buyers must queue for this event right now.
#[utoipa::path(get, path = "/api/v1/events/{event}/waiting-room", tag = "waiting room",
    params(("event" = Uuid, Path)),
    responses((status = 200, body = RoomInfoResponse), (status = 404, body = ProblemDto)))]
pub async fn info(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<RoomInfoResponse>, Problem> {
    Ok(Json(state.ticketing.room_info(viewer, EventId::from_uuid(event)).await?.into()))
}

/// A proof-of-work challenge to solve before joining the line.
#[utoipa::path(post, path = "/api/v1/events/{event}/waiting-room/challenge", tag = "waiting room",
    security(("bearer" = [])), params(("event" = Uuid, Path)),
    responses((status = 200, body = ChallengeResponse), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "no waiting room is on"), (status = 429, body = ProblemDto)))]
pub async fn challenge(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<ChallengeResponse>, Problem> {
    Ok(Json(state.ticketing.queue_challenge(user, EventId::from_uuid(event)).await?.into()))
}

/// Joins the line with a solved challenge: 201 with a new place. Joining
/// again while in line answers 200 with the same place: refreshing gains
/// nothing.
#[utoipa::path(post, path = "/api/v1/events/{event}/waiting-room/entries", tag = "waiting room",
    security(("bearer" = [])), params(("event" = Uuid, Path)), request_body = JoinRequest,
    responses((status = 201, body = QueuePositionResponse, description = "a new place in line"),
               (status = 200, body = QueuePositionResponse, description = "already in line: the same place"),
               (status = 401, body = ProblemDto),
               (status = 404, body = ProblemDto), (status = 409, body = ProblemDto),
               (status = 422, body = ProblemDto, description = "the challenge is not solved, expired or foreign"),
               (status = 429, body = ProblemDto)))]
pub async fn join(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
    ApiJson(req): ApiJson<JoinRequest>,
) -> Result<(StatusCode, Json<QueuePositionResponse>), Problem> {
    state.limits.check_account(user)?;
    if req.challenge.len() > JOIN_FIELD_LEN_MAX || req.solution.len() > JOIN_FIELD_LEN_MAX {
        return Err(Problem::unprocessable("challenge-failed", "challenge and solution are at most 200 characters"));
    }
    let (position, placed) =
        state.ticketing.join_queue(user, EventId::from_uuid(event), &req.challenge, &req.solution).await?;
    let status = if placed { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(position.into())))
}

/// Your place in the line, and your admission token once it is your turn.
#[utoipa::path(get, path = "/api/v1/events/{event}/waiting-room/entries/me", tag = "waiting room",
    security(("bearer" = [])), params(("event" = Uuid, Path)),
    responses((status = 200, body = QueuePositionResponse), (status = 401, body = ProblemDto),
               (status = 404, body = ProblemDto, description = "not in line")))]
pub async fn mine(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<QueuePositionResponse>, Problem> {
    Ok(Json(state.ticketing.queue_position(user, EventId::from_uuid(event)).await?.into()))
}

/// Your place in the line as Server-Sent Events: a `position` message (the
/// same JSON as `/entries/me`) every two seconds until you are admitted or
/// your entry ends.
#[utoipa::path(get, path = "/api/v1/events/{event}/waiting-room/entries/me/live", tag = "waiting room",
    security(("bearer" = [])), params(("event" = Uuid, Path)),
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 401, body = ProblemDto),
               (status = 404, body = ProblemDto)))]
pub async fn live(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let event = EventId::from_uuid(event);
    // Fails now (404, 409) rather than as an empty stream.
    let first = state.ticketing.queue_position(user, event).await?;
    let stream = position_stream(state.clone(), user, event, first);
    let stream = futures_util::StreamExt::take_until(stream, state.closing());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn position_stream(
    state: AppState,
    user: UserId,
    event: EventId,
    first: QueuePosition,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold((state, Some(first), true), move |(state, next, is_first)| async move {
        let position = match next {
            Some(p) => p,
            None => return None,
        };
        if !is_first {
            tokio::time::sleep(Duration::from_secs(QUEUE_LIVE_INTERVAL_SECS)).await;
        }
        let position = if is_first {
            position
        } else {
            match state.ticketing.queue_position(user, event).await {
                Ok(p) => p,
                Err(_) => return None,
            }
        };
        let done = position.status != store::QueueStatus::Waiting;
        let body = serde_json::to_string(&QueuePositionResponse::from(position.clone())).unwrap_or_default();
        let message = Event::default().event("position").data(body);
        // After a final message (admitted, used, expired) the stream ends.
        let carry = if done { None } else { Some(position) };
        Some((Ok(message), (state, carry, false)))
    })
}

/// Accounts the velocity rules flagged on this event, newest first.
#[utoipa::path(get, path = "/api/v1/events/{event}/account-flags", tag = "waiting room", security(("bearer" = [])),
    params(("event" = Uuid, Path)),
    responses((status = 200, body = [AccountFlagResponse]), (status = 401, body = ProblemDto),
               (status = 403, body = ProblemDto), (status = 404, body = ProblemDto)))]
pub async fn flags(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Json<Vec<AccountFlagResponse>>, Problem> {
    let flags = state.ticketing.account_flags(user, EventId::from_uuid(event)).await?;
    Ok(Json(flags.into_iter().map(Into::into).collect()))
}

/// Clears a flag after review: the account may buy again.
#[utoipa::path(post, path = "/api/v1/events/{event}/account-flags/{flag}/clear", tag = "waiting room",
    security(("bearer" = [])), params(("event" = Uuid, Path), ("flag" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto)))]
pub async fn clear_flag(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((event, flag)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, Problem> {
    state.ticketing.clear_account_flag(user, EventId::from_uuid(event), &flag.to_string()).await?;
    Ok(StatusCode::NO_CONTENT)
}
