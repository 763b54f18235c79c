//! On-sale protection: the virtual waiting room's queue, the per-account
//! ticket limit, and velocity flags.
//!
//! The queue lives in the database so that every node sees one line. Places
//! in line are numbers: early arrivals (before `opens_at`) get theirs from a
//! lottery drawn once at opening time; later arrivals get the next number on
//! arrival. Admission lets in the lowest numbers, so a buyer's position is
//! simply `no - admitted_through`, one indexed read per poll. Every change to
//! the line first locks the event's `sale_controls` row, so two nodes never
//! draw twice or admit the same places.

use domain::Timestamp;
use domain::ids::{EventId, QueueEntryId, UserId};

use crate::{Result, Store, StoreError, id, ms, ts};

/// Waiting-room mode an organizer chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitingRoomMode {
    Off,
    On,
    /// Switches itself on when holds per minute reach the threshold.
    Auto,
}

impl WaitingRoomMode {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitingRoomMode::Off => "off",
            WaitingRoomMode::On => "on",
            WaitingRoomMode::Auto => "auto",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "off" => Ok(Self::Off),
            "on" => Ok(Self::On),
            "auto" => Ok(Self::Auto),
            other => Err(StoreError::Corrupt(format!("unknown waiting-room mode '{other}'"))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SaleControls {
    pub event: EventId,
    pub waiting_room: WaitingRoomMode,
    /// Holds need an admission token right now.
    pub room_active: bool,
    pub opens_at: Timestamp,
    pub admission_window: u32,
    pub auto_threshold: u32,
    pub pow_difficulty: u8,
    pub tickets_per_account_max: Option<u32>,
    pub secret: Vec<u8>,
    pub drawn: bool,
    pub next_no: i64,
    pub admitted_through: i64,
    pub admitted_last_minute: u32,
}

/// The part of an event's controls every hold checks: whether holds need
/// an admission token now, the key tokens are signed with, and the
/// per-account limit. Read through the cache (see `cache`); the queue's
/// counters, which change every second, are not part of it.
#[derive(Clone, Debug)]
pub struct SaleGuard {
    pub room_active: bool,
    pub secret: Vec<u8>,
    pub tickets_per_account_max: Option<u32>,
}

/// What an organizer sets; the queue's own state is kept. A field left out
/// (`None`) keeps what is set, merged under the controls' row lock so that
/// two changes at once both hold; for an event without controls yet it
/// takes its value from `defaults`.
#[derive(Clone, Debug)]
pub struct SaleControlsUpdate {
    pub waiting_room: WaitingRoomMode,
    /// Left out, it is now for new controls: changing another setting must
    /// not open a lottery early.
    pub opens_at: Option<Timestamp>,
    pub admission_window: Option<u32>,
    pub auto_threshold: Option<u32>,
    pub pow_difficulty: Option<u8>,
    /// `Some(None)` removes the limit.
    pub tickets_per_account_max: Option<Option<u32>>,
    pub defaults: SaleDefaults,
}

/// The settings of new controls, for the fields an update leaves out.
#[derive(Clone, Copy, Debug)]
pub struct SaleDefaults {
    pub admission_window: u32,
    pub auto_threshold: u32,
    pub pow_difficulty: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueStatus {
    Waiting,
    Admitted,
    Used,
    Expired,
}

impl QueueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueStatus::Waiting => "waiting",
            QueueStatus::Admitted => "admitted",
            QueueStatus::Used => "used",
            QueueStatus::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "waiting" => Ok(Self::Waiting),
            "admitted" => Ok(Self::Admitted),
            "used" => Ok(Self::Used),
            "expired" => Ok(Self::Expired),
            other => Err(StoreError::Corrupt(format!("unknown queue status '{other}'"))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct QueueEntry {
    pub id: QueueEntryId,
    pub event: EventId,
    pub user: UserId,
    pub joined_at: Timestamp,
    pub early: bool,
    /// Place in line; `None` for an early arrival until the lottery is drawn.
    pub no: Option<i64>,
    pub status: QueueStatus,
    pub admitted_at: Option<Timestamp>,
    pub token_expires_at: Option<Timestamp>,
}

/// One buyer's entry with what is needed to say where they stand.
#[derive(Clone, Debug)]
pub struct QueueView {
    pub entry: QueueEntry,
    pub admitted_through: i64,
    pub admitted_last_minute: u32,
    /// Everyone still waiting, this buyer included.
    pub waiting: u64,
}

/// How many buyers wait in an event's line, for its organizer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Everyone waiting, early or not.
    pub waiting: u64,
    /// Of those, early arrivals the lottery has yet to place.
    pub in_lottery: u64,
}

/// A velocity rule's finding about an account.
#[derive(Clone, Debug)]
pub struct AccountFlag {
    pub id: String,
    pub event: EventId,
    pub user: UserId,
    pub user_email: String,
    pub rule: String,
    pub detail: String,
    pub blocking: bool,
    pub created_at: Timestamp,
    pub cleared_at: Option<Timestamp>,
}

/// Counts the velocity rules look at, for one account and event.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccountActivity {
    /// Holds placed since the window's start.
    pub holds_recent: u32,
    /// Holds that ended without an order (released or expired) in the last hour.
    pub holds_lapsed: u32,
    /// Payments declined for this account in the last hour (any event).
    pub declines: u32,
}

const CONTROLS_COLUMNS: &str = "event_id, waiting_room, room_active, opens_at, admission_window, auto_threshold, \
     pow_difficulty, tickets_per_account_max, secret, drawn, next_no, admitted_through, admitted_last_minute";

#[derive(sqlx::FromRow)]
struct ControlsRow {
    event_id: String,
    waiting_room: String,
    room_active: i64,
    opens_at: i64,
    admission_window: i64,
    auto_threshold: i64,
    pow_difficulty: i64,
    tickets_per_account_max: Option<i64>,
    secret: Vec<u8>,
    drawn: i64,
    next_no: i64,
    admitted_through: i64,
    admitted_last_minute: i64,
}

impl ControlsRow {
    fn into_controls(self) -> Result<SaleControls> {
        let small = |v: i64, what: &str| u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v}")));
        Ok(SaleControls {
            event: id(&self.event_id)?,
            waiting_room: WaitingRoomMode::parse(&self.waiting_room)?,
            room_active: self.room_active != 0,
            opens_at: ts(self.opens_at)?,
            admission_window: small(self.admission_window, "admission window")?,
            auto_threshold: small(self.auto_threshold, "auto threshold")?,
            pow_difficulty: u8::try_from(self.pow_difficulty)
                .map_err(|_| StoreError::Corrupt(format!("difficulty {}", self.pow_difficulty)))?,
            tickets_per_account_max: self.tickets_per_account_max.map(|v| small(v, "ticket limit")).transpose()?,
            secret: self.secret,
            drawn: self.drawn != 0,
            next_no: self.next_no,
            admitted_through: self.admitted_through,
            admitted_last_minute: small(self.admitted_last_minute, "admitted count")?,
        })
    }
}

const ENTRY_COLUMNS: &str = "id, event_id, user_id, joined_at, early, no, status, admitted_at, token_expires_at";

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: String,
    event_id: String,
    user_id: String,
    joined_at: i64,
    early: i64,
    no: Option<i64>,
    status: String,
    admitted_at: Option<i64>,
    token_expires_at: Option<i64>,
}

impl EntryRow {
    fn into_entry(self) -> Result<QueueEntry> {
        Ok(QueueEntry {
            id: id(&self.id)?,
            event: id(&self.event_id)?,
            user: id(&self.user_id)?,
            joined_at: ts(self.joined_at)?,
            early: self.early != 0,
            no: self.no,
            status: QueueStatus::parse(&self.status)?,
            admitted_at: self.admitted_at.map(ts).transpose()?,
            token_expires_at: self.token_expires_at.map(ts).transpose()?,
        })
    }
}

/// Why a hold's admission token could not be spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmissionSpend {
    /// The entry was admitted and unspent: now it is spent.
    Spent,
    /// Already spent by an earlier hold, expired, or never admitted.
    NotSpendable,
}

/// Locks the event's controls row for the rest of the transaction (a no-op
/// UPDATE takes the row lock on PostgreSQL; SQLite already holds the write
/// lock), so queue changes on any node happen one at a time.
async fn lock_controls(tx: &mut crate::WriteTx, event: &str) -> Result<Option<ControlsRow>> {
    sqlx::query("UPDATE sale_controls SET updated_at = updated_at WHERE event_id = $1")
        .bind(event)
        .execute(&mut **tx)
        .await?;
    Ok(sqlx::query_as::<_, ControlsRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {CONTROLS_COLUMNS} FROM sale_controls WHERE event_id = $1"
    )))
    .bind(event)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Draws the lottery among early arrivals once the room has opened: they
/// take the next numbers in the order of their random keys.
async fn draw_if_due(tx: &mut crate::WriteTx, controls: &mut ControlsRow, now: i64) -> Result<()> {
    if controls.drawn != 0 || now < controls.opens_at {
        return Ok(());
    }
    let early: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM queue_entries WHERE event_id = $1 AND status = 'waiting' AND no IS NULL ORDER BY lottery, id",
    )
    .bind(&controls.event_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut no = controls.next_no;
    for (entry,) in &early {
        sqlx::query("UPDATE queue_entries SET no = $1 WHERE id = $2").bind(no).bind(entry).execute(&mut **tx).await?;
        no += 1;
    }
    sqlx::query("UPDATE sale_controls SET drawn = 1, next_no = $1, updated_at = $2 WHERE event_id = $3")
        .bind(no)
        .bind(now)
        .bind(&controls.event_id)
        .execute(&mut **tx)
        .await?;
    controls.drawn = 1;
    controls.next_no = no;
    Ok(())
}

/// Tickets `user` bought for `event` that are still valid, plus places in
/// their live holds: what a per-account limit counts.
pub(crate) async fn account_units(tx: &mut crate::WriteTx, event: &str, user: &str, now: i64) -> Result<i64> {
    let (held,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM hold_lines l JOIN holds h ON h.id = l.hold_id \
         WHERE h.event_id = $1 AND h.user_id = $2 AND h.status = 'active' AND h.expires_at > $3",
    )
    .bind(event)
    .bind(user)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let (bought,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM tickets t JOIN orders o ON o.id = t.order_id \
         WHERE o.event_id = $1 AND o.user_id = $2 AND t.status = 'valid'",
    )
    .bind(event)
    .bind(user)
    .fetch_one(&mut **tx)
    .await?;
    Ok(held + bought)
}

/// Spends an admission inside a hold's transaction.
pub(crate) async fn spend_admission(tx: &mut crate::WriteTx, entry: QueueEntryId, now: i64) -> Result<AdmissionSpend> {
    let done = sqlx::query(
        "UPDATE queue_entries SET status = 'used' WHERE id = $1 AND status = 'admitted' AND token_expires_at > $2",
    )
    .bind(entry.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(if done.rows_affected() == 1 { AdmissionSpend::Spent } else { AdmissionSpend::NotSpendable })
}

impl Store {
    /// What a hold must satisfy on `event`; `None` when the event has no
    /// controls. From the read cache when fresh.
    pub async fn sale_guard(&self, event: EventId) -> Result<Option<SaleGuard>> {
        let guard = crate::cache::cached!(self.cache.sale_guards, event, {
            let controls = self.sale_controls(event).await;
            controls.map(|c| {
                Some(c.map(|c| SaleGuard {
                    room_active: c.room_active,
                    secret: c.secret,
                    tickets_per_account_max: c.tickets_per_account_max,
                }))
            })
        });
        guard.map(Option::flatten)
    }

    pub async fn sale_controls(&self, event: EventId) -> Result<Option<SaleControls>> {
        sqlx::query_as::<_, ControlsRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CONTROLS_COLUMNS} FROM sale_controls WHERE event_id = $1"
        )))
        .bind(event.to_string())
        .fetch_optional(&mut *self.read().await?)
        .await?
        .map(ControlsRow::into_controls)
        .transpose()
    }

    /// Who waits in the event's line now (by the line's index).
    pub async fn queue_counts(&self, event: EventId) -> Result<QueueCounts> {
        let (waiting, in_lottery): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN no IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM queue_entries WHERE event_id = $1 AND status = 'waiting'",
        )
        .bind(event.to_string())
        .fetch_one(&mut *self.read().await?)
        .await?;
        Ok(QueueCounts { waiting: waiting.max(0) as u64, in_lottery: in_lottery.max(0) as u64 })
    }

    /// Sets an event's controls. The queue (places, admissions, the drawn
    /// lottery) and the secret survive changes; `secret` is used only when
    /// the event had no controls yet. Turning the room on makes it active at
    /// once; `auto` waits for the threshold; `off` lets everyone hold.
    pub async fn set_sale_controls(
        &self,
        event: EventId,
        update: &SaleControlsUpdate,
        secret: &[u8],
        now: Timestamp,
    ) -> Result<SaleControls> {
        let event_s = event.to_string();
        let mut tx = self.write().await?;
        let existing = lock_controls(&mut tx, &event_s).await?;
        let active = match update.waiting_room {
            WaitingRoomMode::On => 1i64,
            WaitingRoomMode::Off => 0,
            // Keep an auto room that already tripped on.
            WaitingRoomMode::Auto => existing.as_ref().map_or(0, |c| c.room_active),
        };
        let opens_at = match (update.opens_at, &existing) {
            (Some(t), _) => ms(t),
            (None, Some(c)) => c.opens_at,
            (None, None) => ms(now),
        };
        let d = &update.defaults;
        let kept = |given: Option<u32>, set: Option<i64>, default: u32| {
            given.map(i64::from).or(set).unwrap_or(i64::from(default))
        };
        let admission_window =
            kept(update.admission_window, existing.as_ref().map(|c| c.admission_window), d.admission_window);
        let auto_threshold = kept(update.auto_threshold, existing.as_ref().map(|c| c.auto_threshold), d.auto_threshold);
        let pow_difficulty = update
            .pow_difficulty
            .map(i64::from)
            .or(existing.as_ref().map(|c| c.pow_difficulty))
            .unwrap_or(i64::from(d.pow_difficulty));
        let tickets_per_account_max = match update.tickets_per_account_max {
            Some(limit) => limit.map(i64::from),
            None => existing.as_ref().and_then(|c| c.tickets_per_account_max),
        };
        // One upsert: the secret and the queue's own columns are written
        // only when the row is new. A new opening time draws again when it
        // comes: buyers who joined before it (early) get their places then,
        // however often the time was moved, and places already given stay.
        let drawn_kept = existing.as_ref().is_some_and(|c| c.opens_at == opens_at && c.drawn != 0);
        sqlx::query(
            "INSERT INTO sale_controls (event_id, waiting_room, room_active, opens_at, admission_window, \
             auto_threshold, pow_difficulty, tickets_per_account_max, secret, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (event_id) DO UPDATE SET waiting_room = excluded.waiting_room, \
               room_active = excluded.room_active, opens_at = excluded.opens_at, \
               admission_window = excluded.admission_window, auto_threshold = excluded.auto_threshold, \
               pow_difficulty = excluded.pow_difficulty, tickets_per_account_max = excluded.tickets_per_account_max, \
               drawn = $11, updated_at = excluded.updated_at",
        )
        .bind(&event_s)
        .bind(update.waiting_room.as_str())
        .bind(active)
        .bind(opens_at)
        .bind(admission_window)
        .bind(auto_threshold)
        .bind(pow_difficulty)
        .bind(tickets_per_account_max)
        .bind(secret)
        .bind(ms(now))
        .bind(i64::from(drawn_kept))
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query_as::<_, ControlsRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CONTROLS_COLUMNS} FROM sale_controls WHERE event_id = $1"
        )))
        .bind(&event_s)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self.cache.sale_guards.invalidate(&event);
        row.into_controls()
    }

    /// Puts `user` in `event`'s line, or returns their place if they are
    /// already in it: refreshing or joining twice gains nothing. A buyer whose
    /// turn lapsed or was spent joins again at the back. `lottery` is a
    /// random key that orders early arrivals. Says whether the buyer took a
    /// new place.
    pub async fn join_queue(
        &self,
        entry: QueueEntryId,
        event: EventId,
        user: UserId,
        lottery: i64,
        now: Timestamp,
    ) -> Result<(QueueEntry, bool)> {
        let (event_s, user_s, now_ms) = (event.to_string(), user.to_string(), ms(now));
        let mut tx = self.write().await?;
        let mut controls = lock_controls(&mut tx, &event_s)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("event {event} has no waiting room")))?;
        draw_if_due(&mut tx, &mut controls, now_ms).await?;
        let current: Option<EntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM queue_entries WHERE event_id = $1 AND user_id = $2"
        )))
        .bind(&event_s)
        .bind(&user_s)
        .fetch_optional(&mut *tx)
        .await?;
        let keep = current.as_ref().is_some_and(|e| {
            e.status == "waiting" || (e.status == "admitted" && e.token_expires_at.is_some_and(|t| t > now_ms))
        });
        if !keep {
            let early = now_ms < controls.opens_at;
            // After the draw a newcomer takes the next number; before it,
            // early arrivals wait for the lottery.
            let no = (!early && controls.drawn != 0).then_some(controls.next_no);
            if no.is_some() {
                sqlx::query("UPDATE sale_controls SET next_no = next_no + 1 WHERE event_id = $1")
                    .bind(&event_s)
                    .execute(&mut *tx)
                    .await?;
            }
            match &current {
                Some(old) => {
                    sqlx::query(
                        "UPDATE queue_entries SET joined_at = $1, early = $2, lottery = $3, no = $4, \
                         status = 'waiting', admitted_at = NULL, token_expires_at = NULL WHERE id = $5",
                    )
                    .bind(now_ms)
                    .bind(i64::from(early))
                    .bind(lottery)
                    .bind(no)
                    .bind(&old.id)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO queue_entries (id, event_id, user_id, joined_at, early, lottery, no, status) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'waiting')",
                    )
                    .bind(entry.to_string())
                    .bind(&event_s)
                    .bind(&user_s)
                    .bind(now_ms)
                    .bind(i64::from(early))
                    .bind(lottery)
                    .bind(no)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        let row: EntryRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM queue_entries WHERE event_id = $1 AND user_id = $2"
        )))
        .bind(&event_s)
        .bind(&user_s)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((row.into_entry()?, !keep))
    }

    /// A buyer's place in `event`'s line, with what is needed to show it.
    pub async fn queue_view(&self, event: EventId, user: UserId) -> Result<Option<QueueView>> {
        let event_s = event.to_string();
        let row: Option<EntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM queue_entries WHERE event_id = $1 AND user_id = $2"
        )))
        .bind(&event_s)
        .bind(user.to_string())
        .fetch_optional(&mut *self.read().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (admitted_through, admitted_last_minute): (i64, i64) =
            sqlx::query_as("SELECT admitted_through, admitted_last_minute FROM sale_controls WHERE event_id = $1")
                .bind(&event_s)
                .fetch_one(&mut *self.read().await?)
                .await?;
        let (waiting,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM queue_entries WHERE event_id = $1 AND status = 'waiting'")
                .bind(&event_s)
                .fetch_one(&mut *self.read().await?)
                .await?;
        Ok(Some(QueueView {
            entry: row.into_entry()?,
            admitted_through,
            admitted_last_minute: u32::try_from(admitted_last_minute).unwrap_or(u32::MAX),
            waiting: u64::try_from(waiting).unwrap_or(0),
        }))
    }

    /// Lets in the next buyers in line while fewer than the admission window
    /// are shopping (holding an unspent token or a live hold on the event):
    /// as checkouts complete, places free up, so admissions follow the pace
    /// the checkout path actually sustains. Draws the lottery first when it
    /// is due. Returns how many were admitted.
    pub async fn admit_from_queue(&self, event: EventId, now: Timestamp, token_ttl: chrono::Duration) -> Result<u32> {
        let (event_s, now_ms) = (event.to_string(), ms(now));
        let mut tx = self.write().await?;
        let Some(mut controls) = lock_controls(&mut tx, &event_s).await? else {
            return Ok(0);
        };
        if controls.room_active == 0 || now_ms < controls.opens_at {
            return Ok(0);
        }
        draw_if_due(&mut tx, &mut controls, now_ms).await?;
        sqlx::query(
            "UPDATE queue_entries SET status = 'expired' \
             WHERE event_id = $1 AND status = 'admitted' AND token_expires_at <= $2",
        )
        .bind(&event_s)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let (unspent,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM queue_entries WHERE event_id = $1 AND status = 'admitted'")
                .bind(&event_s)
                .fetch_one(&mut *tx)
                .await?;
        let (holding,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM holds WHERE event_id = $1 AND status = 'active' AND expires_at > $2")
                .bind(&event_s)
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;
        let room = (controls.admission_window - unspent - holding).max(0);
        let mut admitted = 0u32;
        if room > 0 {
            let next: Vec<(String, i64)> = sqlx::query_as(
                "SELECT id, no FROM queue_entries WHERE event_id = $1 AND status = 'waiting' AND no IS NOT NULL \
                 ORDER BY no LIMIT $2",
            )
            .bind(&event_s)
            .bind(room)
            .fetch_all(&mut *tx)
            .await?;
            let token_expires = now_ms + token_ttl.num_milliseconds();
            let mut through = controls.admitted_through;
            for (entry, no) in &next {
                sqlx::query(
                    "UPDATE queue_entries SET status = 'admitted', admitted_at = $1, token_expires_at = $2 WHERE id = $3",
                )
                .bind(now_ms)
                .bind(token_expires)
                .bind(entry)
                .execute(&mut *tx)
                .await?;
                through = through.max(*no);
                admitted += 1;
            }
            controls.admitted_through = through;
        }
        let (last_minute,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM queue_entries WHERE event_id = $1 AND admitted_at > $2")
                .bind(&event_s)
                .bind(now_ms - 60_000)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(
            "UPDATE sale_controls SET admitted_through = $1, admitted_last_minute = $2, updated_at = $3 \
             WHERE event_id = $4",
        )
        .bind(controls.admitted_through)
        .bind(last_minute)
        .bind(now_ms)
        .bind(&event_s)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(admitted)
    }

    /// Events whose waiting room is on or may switch itself on.
    pub async fn rooms_to_tend(&self, now: Timestamp) -> Result<Vec<(EventId, WaitingRoomMode, bool)>> {
        // Only rooms of sales still going: a cancelled or ended event's line
        // gets no more turns.
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT s.event_id, s.waiting_room, s.room_active FROM sale_controls s JOIN events e ON e.id = s.event_id \
             WHERE s.waiting_room <> 'off' AND e.status = 'published' AND e.ends_at > $1",
        )
        .bind(ms(now))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(|(e, m, a)| Ok((id(&e)?, WaitingRoomMode::parse(&m)?, a != 0))).collect()
    }

    /// Switches an `auto` room on when at least its threshold of holds were
    /// placed on the event in the last minute; arrivals from now on queue in
    /// arrival order. Returns whether it switched.
    pub async fn trip_auto_room(&self, event: EventId, now: Timestamp) -> Result<bool> {
        let (event_s, now_ms) = (event.to_string(), ms(now));
        let mut tx = self.write().await?;
        let Some(controls) = lock_controls(&mut tx, &event_s).await? else {
            return Ok(false);
        };
        if controls.waiting_room != "auto" || controls.room_active != 0 {
            return Ok(false);
        }
        let (recent,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM holds WHERE event_id = $1 AND created_at > $2")
            .bind(&event_s)
            .bind(now_ms - 60_000)
            .fetch_one(&mut *tx)
            .await?;
        if recent < controls.auto_threshold {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE sale_controls SET room_active = 1, opens_at = $1, drawn = 1, updated_at = $1 WHERE event_id = $2",
        )
        .bind(now_ms)
        .bind(&event_s)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.cache.sale_guards.invalidate(&event);
        Ok(true)
    }

    /// What the velocity rules look at for `user` on `event`.
    pub async fn account_activity(
        &self,
        event: EventId,
        user: UserId,
        recent_since: Timestamp,
        now: Timestamp,
    ) -> Result<AccountActivity> {
        let (event_s, user_s) = (event.to_string(), user.to_string());
        let hour_ago = ms(now) - 3_600_000;
        let (recent, lapsed): (i64, i64) = sqlx::query_as(
            "SELECT \
               CAST(COALESCE(SUM(CASE WHEN created_at > $3 THEN 1 ELSE 0 END), 0) AS BIGINT), \
               CAST(COALESCE(SUM(CASE WHEN status IN ('released', 'expired') \
                                  OR (status = 'active' AND expires_at <= $4) THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM holds WHERE user_id = $1 AND event_id = $2 AND created_at > $5",
        )
        .bind(&user_s)
        .bind(&event_s)
        .bind(ms(recent_since))
        .bind(ms(now))
        .bind(hour_ago.min(ms(recent_since)))
        .fetch_one(&mut *self.read().await?)
        .await?;
        let (declines,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM payment_attempts WHERE user_id = $1 AND status = 'declined' AND created_at > $2",
        )
        .bind(&user_s)
        .bind(hour_ago)
        .fetch_one(&mut *self.read().await?)
        .await?;
        let small = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(AccountActivity { holds_recent: small(recent), holds_lapsed: small(lapsed), declines: small(declines) })
    }

    /// Records a rule's finding, once while it is open.
    pub async fn flag_account(
        &self,
        event: EventId,
        user: UserId,
        rule: &str,
        detail: &str,
        blocking: bool,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO account_flags (id, event_id, user_id, rule, detail, blocking, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(event.to_string())
        .bind(user.to_string())
        .bind(rule)
        .bind(detail)
        .bind(i64::from(blocking))
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether an open blocking flag stops `user` buying for `event`.
    pub async fn account_blocked(&self, event: EventId, user: UserId) -> Result<bool> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM account_flags \
             WHERE event_id = $1 AND user_id = $2 AND blocking = 1 AND cleared_at IS NULL",
        )
        .bind(event.to_string())
        .bind(user.to_string())
        .fetch_one(&mut *self.read().await?)
        .await?;
        Ok(n > 0)
    }

    /// Flags on `event`, newest first, open ones and cleared ones.
    pub async fn account_flags(&self, event: EventId, limit: u32) -> Result<Vec<AccountFlag>> {
        let rows: Vec<(String, String, String, String, String, String, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT f.id, f.event_id, f.user_id, u.email, f.rule, f.detail, f.blocking, f.created_at, f.cleared_at \
             FROM account_flags f JOIN users u ON u.id = f.user_id \
             WHERE f.event_id = $1 ORDER BY f.created_at DESC, f.id DESC LIMIT $2",
        )
        .bind(event.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter()
            .map(|(fid, e, u, email, rule, detail, blocking, created, cleared)| {
                Ok(AccountFlag {
                    id: fid,
                    event: id(&e)?,
                    user: id(&u)?,
                    user_email: email,
                    rule,
                    detail,
                    blocking: blocking != 0,
                    created_at: ts(created)?,
                    cleared_at: cleared.map(ts).transpose()?,
                })
            })
            .collect()
    }

    /// Clears a flag (an organizer reviewed it): the account may buy again.
    /// Returns false when there was no such open flag.
    pub async fn clear_account_flag(&self, event: EventId, flag: &str, now: Timestamp) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE account_flags SET cleared_at = $1 WHERE id = $2 AND event_id = $3 AND cleared_at IS NULL",
        )
        .bind(ms(now))
        .bind(flag)
        .bind(event.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
