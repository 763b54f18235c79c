//! The virtual waiting room, the per-account ticket limit and the velocity
//! rules: what keeps a big on-sale fair.
//!
//! While an event's room is active, a hold needs an admission token. Buyers
//! get one by joining the line (after solving a small proof-of-work
//! challenge) and waiting their turn: arrivals before the opening time are
//! placed by lottery, so refreshing early gains nothing; later arrivals queue
//! first come, first served. Every node tends every room once a second
//! ([`Ticketing::tend_waiting_rooms`]); the database serializes them.

use domain::Timestamp;
use domain::admission::{
    ADMISSION_TOKEN_TTL_SECS, AdmissionClaims, AdmissionError, CHALLENGE_TTL_SECS, ChallengeError,
    POW_DIFFICULTY_DEFAULT, POW_DIFFICULTY_MAX, estimated_wait_secs, issue_challenge, sign_admission, verify_admission,
    verify_solution,
};
use domain::ids::{EventId, QueueEntryId, UserId};
use store::{
    AccountFlag, HoldGuards, QueueStatus, QueueView, SaleControls, SaleControlsUpdate, StoreError, WaitingRoomMode,
};

use crate::{Denied, Ticketing, from_visible};

/// Buyers let in at once unless the organizer says otherwise.
pub const ADMISSION_WINDOW_DEFAULT: u32 = 500;
pub const ADMISSION_WINDOW_MAX: u32 = 100_000;
/// Holds a minute on one event that switch an `auto` room on.
pub const AUTO_THRESHOLD_DEFAULT: u32 = 1_000;
pub const AUTO_THRESHOLD_MAX: u32 = 1_000_000;
/// Highest per-account ticket limit an organizer may set.
pub const TICKETS_PER_ACCOUNT_LIMIT_MAX: u32 = 1_000;
/// Flags listed per page in the organizer's review.
pub const FLAGS_LISTED_MAX: u32 = 500;

/// Velocity rules. Each names what it looks at and whether it blocks.
/// More holds than this in one minute is a script, not a person.
pub const VELOCITY_HOLDS_PER_MINUTE_MAX: u32 = 60;
/// Holds that ended without an order in an hour: seats hoarded to keep
/// them from others ("spinning").
pub const VELOCITY_LAPSED_HOLDS_PER_HOUR_MAX: u32 = 20;
/// Declined payments in an hour: someone testing stolen cards.
pub const VELOCITY_DECLINES_PER_HOUR_MAX: u32 = 5;
/// The rules read the database on every this-many-th hold attempt of an
/// account on a node (and after every declined payment): far below every
/// threshold, so nothing slips through, at a fraction of the reads. Not on
/// the first: every rule is about many attempts, and in an on-sale most
/// accounts make one or two, so checking the first would cost every honest
/// buyer two reads to learn nothing.
pub const VELOCITY_SAMPLE_EVERY: u32 = 8;
/// Accounts whose attempts a node counts before it starts counting afresh.
const VELOCITY_COUNTED_MAX: usize = 100_000;

/// Hold attempts per (event, account) on this node, for sampling.
#[derive(Default)]
pub struct VelocitySampler {
    // std Mutex: a map update, never held across an await.
    attempts: std::sync::Mutex<std::collections::HashMap<(EventId, UserId), u32>>,
}

#[derive(Clone, Debug)]
pub struct SaleControlsInput {
    pub waiting_room: WaitingRoomMode,
    /// `None` keeps the time already set; for new controls it means now: no
    /// lottery, everyone queues in arrival order.
    pub opens_at: Option<Timestamp>,
    /// Left out (`None`), each keeps what is set, or its default for new
    /// controls.
    pub admission_window: Option<u32>,
    pub auto_threshold: Option<u32>,
    pub pow_difficulty: Option<u8>,
    /// `Some(None)` removes the limit.
    pub tickets_per_account_max: Option<Option<u32>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SaleControlsError {
    #[error("admission_window must be 1 to {ADMISSION_WINDOW_MAX}")]
    AdmissionWindow,
    #[error("auto_threshold must be 1 to {AUTO_THRESHOLD_MAX}")]
    AutoThreshold,
    #[error("pow_difficulty must be 0 to {POW_DIFFICULTY_MAX}")]
    Difficulty,
    #[error("tickets_per_account_max must be 1 to {TICKETS_PER_ACCOUNT_LIMIT_MAX}")]
    TicketLimit,
    #[error("no account flag with this id is open on this event")]
    UnknownFlag,
    #[error("the lottery must end before the event does")]
    OpensAfterEvent,
    #[error("the event is {0}; its sale can no longer be controlled")]
    SaleOver(domain::event::EventStatus),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("this event has no waiting room switched on")]
    NoRoom,
    #[error("the event is {0}; its sale is over")]
    SaleOver(domain::event::EventStatus),
    #[error("you are not in this event's waiting room; join it first")]
    NotInLine,
    #[error(transparent)]
    Challenge(#[from] ChallengeError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a hold was refused at the door, before any seat was looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionRefused {
    #[error("the waiting room is on for this event: join the line and use the admission token you are given")]
    TokenRequired,
    #[error(transparent)]
    Invalid(#[from] AdmissionError),
    #[error("this admission token was already used, or your turn has lapsed; join the waiting room again")]
    Spent,
    #[error("this account may not buy tickets for this event until the organizer has reviewed it")]
    Blocked,
}

from_visible!(SaleControlsError, QueueError);

#[derive(Clone, Debug)]
pub struct Challenge {
    pub challenge: String,
    pub difficulty: u8,
    pub expires_at: Timestamp,
}

/// Where a buyer stands.
#[derive(Clone, Debug)]
pub struct QueuePosition {
    pub entry: QueueEntryId,
    pub status: QueueStatus,
    pub joined_at: Timestamp,
    /// Number in line, from 1; `None` while the lottery among early
    /// arrivals is not drawn.
    pub place: Option<i64>,
    /// Buyers ahead; `None` while the lottery among early arrivals is not drawn.
    pub ahead: Option<u64>,
    pub waiting: u64,
    pub estimated_wait_secs: Option<u64>,
    pub opens_at: Timestamp,
    /// While admitted: the token to present with a hold, and until when.
    pub admission_token: Option<String>,
    pub token_expires_at: Option<Timestamp>,
}

/// What anyone may know about an event's room.
#[derive(Clone, Debug)]
pub struct RoomInfo {
    pub active: bool,
    pub mode: WaitingRoomMode,
    pub opens_at: Option<Timestamp>,
}

impl Ticketing {
    /// The organizer's on-sale protection settings for an event.
    pub async fn sale_controls(&self, user: UserId, event: EventId) -> Result<Option<SaleControls>, SaleControlsError> {
        self.managed(user, event).await?;
        Ok(self.store.sale_controls(event).await?)
    }

    /// Who waits in the event's line now, for its organizer.
    pub async fn queue_counts(&self, user: UserId, event: EventId) -> Result<store::QueueCounts, SaleControlsError> {
        self.managed(user, event).await?;
        Ok(self.store.queue_counts(event).await?)
    }

    async fn managed(&self, user: UserId, event: EventId) -> Result<store::EventRecord, SaleControlsError> {
        let record = self.visible_event(Some(user), event).await?;
        self.require_role(user, record.organization, |r| r.can_manage_events(), "only owners and admins manage events")
            .await?;
        Ok(record)
    }

    pub async fn set_sale_controls(
        &self,
        user: UserId,
        event: EventId,
        input: SaleControlsInput,
    ) -> Result<SaleControls, SaleControlsError> {
        let record = self.managed(user, event).await?;
        let status = record.status.effective(record.ends_at, self.now());
        if matches!(status, domain::event::EventStatus::Cancelled | domain::event::EventStatus::Ended) {
            return Err(SaleControlsError::SaleOver(status));
        }
        if input.admission_window.is_some_and(|w| !(1..=ADMISSION_WINDOW_MAX).contains(&w)) {
            return Err(SaleControlsError::AdmissionWindow);
        }
        if input.auto_threshold.is_some_and(|t| !(1..=AUTO_THRESHOLD_MAX).contains(&t)) {
            return Err(SaleControlsError::AutoThreshold);
        }
        if input.pow_difficulty.is_some_and(|d| d > POW_DIFFICULTY_MAX) {
            return Err(SaleControlsError::Difficulty);
        }
        if input.tickets_per_account_max.flatten().is_some_and(|m| !(1..=TICKETS_PER_ACCOUNT_LIMIT_MAX).contains(&m)) {
            return Err(SaleControlsError::TicketLimit);
        }
        // A lottery that ends after the event would never let anyone in.
        if input.opens_at.is_some_and(|t| t >= record.ends_at) {
            return Err(SaleControlsError::OpensAfterEvent);
        }
        let now = self.now();
        let update = SaleControlsUpdate {
            waiting_room: input.waiting_room,
            opens_at: input.opens_at,
            admission_window: input.admission_window,
            auto_threshold: input.auto_threshold,
            pow_difficulty: input.pow_difficulty,
            tickets_per_account_max: input.tickets_per_account_max,
            defaults: store::SaleDefaults {
                admission_window: ADMISSION_WINDOW_DEFAULT,
                auto_threshold: AUTO_THRESHOLD_DEFAULT,
                pow_difficulty: POW_DIFFICULTY_DEFAULT,
            },
        };
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        Ok(self.store.set_sale_controls(event, &update, &secret, now).await?)
    }

    /// Public: whether buyers must queue for this event.
    pub async fn room_info(&self, viewer: Option<UserId>, event: EventId) -> Result<RoomInfo, QueueError> {
        self.visible_event(viewer, event).await?;
        Ok(match self.store.sale_controls(event).await? {
            Some(c) => RoomInfo {
                active: c.room_active,
                mode: c.waiting_room,
                opens_at: (c.waiting_room != WaitingRoomMode::Off).then_some(c.opens_at),
            },
            None => RoomInfo { active: false, mode: WaitingRoomMode::Off, opens_at: None },
        })
    }

    async fn open_room(&self, viewer: UserId, event: EventId) -> Result<SaleControls, QueueError> {
        let record = self.visible_event(Some(viewer), event).await?;
        // A line for a sale that is over would hand out turns nobody can use.
        let status = record.status.effective(record.ends_at, self.now());
        if matches!(status, domain::event::EventStatus::Cancelled | domain::event::EventStatus::Ended) {
            return Err(QueueError::SaleOver(status));
        }
        match self.store.sale_controls(event).await? {
            Some(c) if c.room_active || c.waiting_room == WaitingRoomMode::On => Ok(c),
            _ => Err(QueueError::NoRoom),
        }
    }

    /// A proof-of-work challenge to solve before joining the line.
    pub async fn queue_challenge(&self, user: UserId, event: EventId) -> Result<Challenge, QueueError> {
        let controls = self.open_room(user, event).await?;
        let now = self.now();
        let mut nonce = [0u8; 16];
        rand::fill(&mut nonce);
        Ok(Challenge {
            challenge: issue_challenge(&controls.secret, event, user, now, controls.pow_difficulty, nonce),
            difficulty: controls.pow_difficulty,
            expires_at: now + chrono::Duration::seconds(CHALLENGE_TTL_SECS),
        })
    }

    /// Joins the line with a solved challenge; joining again returns the
    /// same place. Says whether the buyer took a new place.
    pub async fn join_queue(
        &self,
        user: UserId,
        event: EventId,
        challenge: &str,
        solution: &str,
    ) -> Result<(QueuePosition, bool), QueueError> {
        let controls = self.open_room(user, event).await?;
        let now = self.now();
        verify_solution(&controls.secret, challenge, solution, event, user, now)?;
        let mut lottery = [0u8; 8];
        rand::fill(&mut lottery);
        // Non-negative, so both engines sort it the same way.
        let lottery = i64::from_be_bytes(lottery) & i64::MAX;
        let (_, placed) = self.store.join_queue(QueueEntryId::new(), event, user, lottery, now).await?;
        if placed {
            metrics::counter!("queue_joins_total").increment(1);
        }
        Ok((self.queue_position(user, event).await?, placed))
    }

    /// Where the buyer stands, with their admission token once it is their turn.
    pub async fn queue_position(&self, user: UserId, event: EventId) -> Result<QueuePosition, QueueError> {
        let controls = self.open_room(user, event).await?;
        let view = self.store.queue_view(event, user).await?.ok_or(QueueError::NotInLine)?;
        Ok(position_of(&controls, &view, self.now()))
    }

    /// Checks a hold may go ahead: the account is not blocked, and while the
    /// room is active, the token is valid for this buyer and event. Returns
    /// the guards the hold's transaction enforces.
    pub(crate) async fn admission_guards(
        &self,
        user: UserId,
        event: EventId,
        token: Option<&str>,
    ) -> Result<HoldGuards, crate::holds::HoldFailure> {
        let Some(controls) = self.store.sale_guard(event).await? else {
            return Ok(HoldGuards::default());
        };
        if self.store.account_blocked(event, user).await? {
            return Err(AdmissionRefused::Blocked.into());
        }
        let mut guards = HoldGuards { admission: None, per_account_max: controls.tickets_per_account_max };
        if controls.room_active {
            let token = token.filter(|t| !t.is_empty()).ok_or(AdmissionRefused::TokenRequired)?;
            let AdmissionClaims { entry, .. } =
                verify_admission(&controls.secret, token, event, user, self.now()).map_err(AdmissionRefused::from)?;
            guards.admission = Some(entry);
        }
        Ok(guards)
    }

    /// Once a second on every node: switches `auto` rooms on under load,
    /// draws lotteries that are due, and lets the next buyers in.
    pub async fn tend_waiting_rooms(&self) -> Result<u32, StoreError> {
        let now = self.now();
        let ttl = chrono::Duration::seconds(ADMISSION_TOKEN_TTL_SECS);
        let mut admitted = 0;
        for (event, mode, active) in self.store.rooms_to_tend(now).await? {
            let active = active || (mode == WaitingRoomMode::Auto && self.store.trip_auto_room(event, now).await?);
            if active {
                admitted += self.store.admit_from_queue(event, now, ttl).await?;
            }
        }
        if admitted > 0 {
            metrics::counter!("queue_admitted_total").increment(u64::from(admitted));
        }
        Ok(admitted)
    }

    /// Whether this attempt should run the velocity rules: every
    /// [`VELOCITY_SAMPLE_EVERY`]th of an account on this node.
    pub(crate) fn velocity_sample(&self, event: EventId, user: UserId) -> bool {
        let mut attempts = self.velocity.attempts.lock().expect("velocity sampler poisoned");
        if attempts.len() >= VELOCITY_COUNTED_MAX {
            attempts.clear();
        }
        let n = attempts.entry((event, user)).or_default();
        *n += 1;
        n.is_multiple_of(VELOCITY_SAMPLE_EVERY)
    }

    /// Applies the velocity rules after an account's hold or payment
    /// attempt, flagging (and where the rule says so, blocking) it.
    pub(crate) async fn check_velocity(&self, event: EventId, user: UserId) -> Result<(), StoreError> {
        let now = self.now();
        let activity = self.store.account_activity(event, user, now - chrono::Duration::minutes(1), now).await?;
        let rules = [
            (
                "hold-burst",
                activity.holds_recent > VELOCITY_HOLDS_PER_MINUTE_MAX,
                format!("{} holds in one minute (more than {VELOCITY_HOLDS_PER_MINUTE_MAX})", activity.holds_recent),
            ),
            (
                "hold-hoarding",
                activity.holds_lapsed > VELOCITY_LAPSED_HOLDS_PER_HOUR_MAX,
                format!(
                    "{} holds ended without an order in an hour (more than {VELOCITY_LAPSED_HOLDS_PER_HOUR_MAX})",
                    activity.holds_lapsed
                ),
            ),
            (
                "card-testing",
                activity.declines > VELOCITY_DECLINES_PER_HOUR_MAX,
                format!(
                    "{} declined payments in an hour (more than {VELOCITY_DECLINES_PER_HOUR_MAX})",
                    activity.declines
                ),
            ),
        ];
        if !rules.iter().any(|(_, hit, _)| *hit) {
            return Ok(());
        }
        // Each rule describes what no person buying for themselves does. On
        // an event whose organizer has set on-sale controls, a flag blocks
        // the account until their review clears it; elsewhere it is
        // recorded for review only.
        let blocking = self.store.sale_controls(event).await?.is_some();
        for (rule, hit, detail) in rules {
            if hit && self.store.flag_account(event, user, rule, &detail, blocking, now).await? {
                metrics::counter!("accounts_flagged_total", "rule" => rule).increment(1);
                tracing::warn!(%event, %user, rule, detail, "account flagged");
            }
        }
        Ok(())
    }

    /// The organizer's review list of flagged accounts.
    pub async fn account_flags(&self, user: UserId, event: EventId) -> Result<Vec<AccountFlag>, SaleControlsError> {
        self.managed(user, event).await?;
        Ok(self.store.account_flags(event, FLAGS_LISTED_MAX).await?)
    }

    /// Clears a flag after review: the account may buy again.
    pub async fn clear_account_flag(&self, user: UserId, event: EventId, flag: &str) -> Result<(), SaleControlsError> {
        self.managed(user, event).await?;
        if !self.store.clear_account_flag(event, flag, self.now()).await? {
            return Err(SaleControlsError::UnknownFlag);
        }
        Ok(())
    }
}

fn position_of(controls: &SaleControls, view: &QueueView, now: Timestamp) -> QueuePosition {
    let entry = &view.entry;
    let mut status = entry.status;
    if status == QueueStatus::Admitted && entry.token_expires_at.is_none_or(|t| t <= now) {
        status = QueueStatus::Expired;
    }
    let ahead = match (status, entry.no) {
        (QueueStatus::Waiting, Some(no)) => Some(u64::try_from(no - view.admitted_through - 1).unwrap_or(0)),
        (QueueStatus::Waiting, None) => None,
        _ => Some(0),
    };
    let admission_token = (status == QueueStatus::Admitted).then(|| {
        sign_admission(
            &controls.secret,
            &AdmissionClaims {
                entry: entry.id,
                event: entry.event,
                user: entry.user,
                expires_at: entry.token_expires_at.expect("admitted entries have an expiry"),
            },
        )
    });
    QueuePosition {
        entry: entry.id,
        status,
        joined_at: entry.joined_at,
        place: entry.no,
        ahead,
        waiting: view.waiting,
        estimated_wait_secs: ahead.and_then(|a| estimated_wait_secs(a, u64::from(view.admitted_last_minute))),
        opens_at: controls.opens_at,
        token_expires_at: admission_token.as_ref().and(entry.token_expires_at),
        admission_token,
    }
}
