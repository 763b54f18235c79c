//! Moving an event that has sold: a postponement (or an earlier start).
//!
//! Tickets stay valid for the new dates; every holder is told, by e-mail
//! and in the app, what the date was, what it is now and what the organizer
//! says. The move, its record and the job that tells the holders are one
//! transaction: a crash after the commit still tells everyone, and the job
//! writes one notice per holder per move however often it runs.

use chrono::SubsecRound;
use domain::Timestamp;
use domain::event::{EventSpecError, EventStatus};
use domain::ids::{EventId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::{EventRecord, JobRecord, RescheduleRecord, StoreError};

use crate::jobs::JobError;
use crate::notifications::{MessageKind, Notice, To, event_data, venue_time_text};
use crate::{Denied, Ticketing, from_visible};

pub const EVENT_RESCHEDULED: &str = "event.rescheduled";
/// Longest message to the holders, in characters: a few paragraphs.
pub const RESCHEDULE_NOTE_LEN_MAX: usize = 2_000;

/// Where an event moves, and what goes with it.
#[derive(Clone, Copy, Debug)]
pub struct Move<'a> {
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// What the organizer tells the holders.
    pub note: &'a str,
    /// Until when buyers from before the move may take their money back.
    pub refunds_until: Option<Timestamp>,
    /// Move the ticket types' sales times still ahead by as much as the
    /// start moves (see `domain::event::moved_sales_windows`): a sale that
    /// was to end at the old start then ends at the new one.
    pub move_sales_windows: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RescheduleError {
    #[error(transparent)]
    Invalid(#[from] EventSpecError),
    #[error("the new dates are the event's dates")]
    Unchanged,
    #[error("the new start has passed; an event moves to a time still ahead")]
    InPast,
    #[error("a refund window closes after now and no later than the new start")]
    BadRefundWindow,
    #[error(
        "the message to ticket holders must be at most {RESCHEDULE_NOTE_LEN_MAX} characters, without control characters"
    )]
    BadNote,
    #[error("ticket type '{0}' goes on sale after the event would end; change its sales window first")]
    SalesAfterEvent(String),
    #[error("{}: only an event on sale is moved this way (a draft's dates are edited directly)", status_phrase(*.0))]
    NotOnSale(EventStatus),
    #[error("the event was changed by someone else at the same time; reload and try again")]
    Concurrent,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(RescheduleError);

/// The `event.rescheduled` job's payload.
#[derive(Serialize, Deserialize)]
struct RescheduledJob {
    reschedule_id: String,
}

/// The event's state as a sentence starts with it.
fn status_phrase(status: EventStatus) -> &'static str {
    match status {
        EventStatus::Draft => "the event is a draft",
        EventStatus::Published => "the event is on sale",
        EventStatus::Ended => "the event is over",
        EventStatus::Cancelled => "the event is cancelled",
        #[allow(unreachable_patterns)]
        _ => "the event cannot change",
    }
}

/// A message may have paragraphs; nothing else below a space.
fn note_ok(note: &str) -> bool {
    note.chars().count() <= RESCHEDULE_NOTE_LEN_MAX
        && note.chars().all(|c| c == '\n' || c == '\r' || c == '\t' || !c.is_control())
}

impl Ticketing {
    /// Moves a published event to new dates and tells every ticket holder.
    pub async fn reschedule_event(
        &self,
        user: UserId,
        event: EventId,
        to: Move<'_>,
    ) -> Result<(EventRecord, RescheduleRecord), RescheduleError> {
        let Move { starts_at, ends_at, note, refunds_until, move_sales_windows } = to;
        let mut record = self.visible_event(Some(user), event).await?;
        self.require_role(user, record.organization, |r| r.can_manage_events(), "only owners and admins move events")
            .await?;
        let now = self.now();
        let status = record.status.effective(record.ends_at, now);
        if status != EventStatus::Published {
            return Err(RescheduleError::NotOnSale(status));
        }
        // Browsers send line breaks as CRLF; the form's limit counts one.
        let note = note.replace("\r\n", "\n");
        let note = note.trim();
        if !note_ok(note) {
            return Err(RescheduleError::BadNote);
        }
        let (starts_at, ends_at) = (starts_at.trunc_subsecs(3), ends_at.trunc_subsecs(3));
        if (starts_at, ends_at) == (record.starts_at, record.ends_at) {
            return Err(RescheduleError::Unchanged);
        }
        domain::event::validate_facts(&record.title, &record.description, starts_at, ends_at)?;
        domain::event::validate_horizon(starts_at, ends_at, now)?;
        // A start already passed would end the sale at once and could not
        // be undone: a typed year is the likely cause, not a wish.
        if starts_at <= now {
            return Err(RescheduleError::InPast);
        }
        let types = self.store.ticket_types(event).await?;
        let moved_types = if move_sales_windows {
            domain::event::moved_sales_windows(&types, starts_at - record.starts_at, now)?
        } else {
            Vec::new()
        };
        let after = |t: &domain::event::TicketType| t.sales_start.is_some_and(|s| s >= ends_at);
        let late = types.iter().map(|t| moved_types.iter().find(|m| m.id == t.id).unwrap_or(t)).find(|t| after(t));
        if let Some(t) = late {
            return Err(RescheduleError::SalesAfterEvent(t.name.clone()));
        }
        let refunds_until = refunds_until.map(|t| t.trunc_subsecs(3));
        if refunds_until.is_some_and(|t| t <= now || t > starts_at) {
            return Err(RescheduleError::BadRefundWindow);
        }
        let moved = RescheduleRecord {
            id: uuid::Uuid::now_v7().to_string(),
            event,
            old_starts_at: record.starts_at,
            old_ends_at: record.ends_at,
            new_starts_at: starts_at,
            new_ends_at: ends_at,
            note: note.to_owned(),
            moved_by: user,
            created_at: now,
            refunds_until,
        };
        let payload = serde_json::to_string(&RescheduledJob { reschedule_id: moved.id.clone() }).expect("serialises");
        let job = crate::jobs::new_job(EVENT_RESCHEDULED, payload, now);
        if !self.store.reschedule_event(&moved, &moved_types, &job, now).await? {
            return Err(RescheduleError::Concurrent);
        }
        record.starts_at = starts_at;
        record.ends_at = ends_at;
        Ok((record, moved))
    }

    /// The moves of an event's dates, for its owners and admins.
    pub async fn reschedules(&self, user: UserId, event: EventId) -> Result<Vec<RescheduleRecord>, RescheduleError> {
        let record = self.visible_event(Some(user), event).await?;
        self.require_role(user, record.organization, |r| r.can_manage_events(), "only owners and admins manage events")
            .await?;
        Ok(self.store.reschedules_of(event).await?)
    }

    /// The `event.rescheduled` job: every holder of a valid ticket is told
    /// once. An event cancelled meanwhile tells nobody of the move: its
    /// cancellation says what matters.
    pub(crate) async fn tell_rescheduled(&self, job: &JobRecord) -> Result<(), JobError> {
        let RescheduledJob { reschedule_id } =
            serde_json::from_str(&job.payload).map_err(|e| JobError::Permanent(format!("malformed job: {e}")))?;
        let Some(moved) = self.store.reschedule(&reschedule_id).await? else {
            return Err(JobError::Permanent(format!("reschedule {reschedule_id} is missing")));
        };
        let Some(event) = self.store.event(moved.event).await? else {
            return Err(JobError::Permanent(format!("event {} is missing", moved.event)));
        };
        if event.status != EventStatus::Published {
            return Ok(());
        }
        // The times of this move, not the event's latest: a second move
        // sends its own message.
        let mut as_moved = event.clone();
        as_moved.starts_at = moved.new_starts_at;
        as_moved.ends_at = moved.new_ends_at;
        let data = json!({
            "event": event_data(&as_moved),
            "old_starts_at_text": venue_time_text(moved.old_starts_at, &event.timezone),
            "ends_at_text": venue_time_text(moved.new_ends_at, &event.timezone),
            "note": moved.note,
            "refunds_until_text": moved.refunds_until.map(|t| venue_time_text(t, &event.timezone)),
        });
        for holder in self.store.ticket_holders(moved.event).await? {
            // Where a refund is offered, the message opens the order it is
            // taken from: the holder's latest for the event from before the
            // move. Tickets received from someone else have no order of the
            // holder's; those holders pass them on from My tickets.
            let order = match moved.refunds_until {
                Some(_) => self
                    .store
                    .orders_of(holder)
                    .await?
                    .into_iter()
                    .find(|o| o.event == moved.event && o.status == "paid" && o.created_at <= moved.created_at),
                None => None,
            };
            let mut data = data.clone();
            if order.is_none() {
                data["refunds_until_text"] = serde_json::Value::Null;
            }
            let notice = self.notice(Notice {
                kind: MessageKind::EventRescheduled,
                to: To::Account(self.recipient(holder).await?),
                dedupe_key: format!("rescheduled:{reschedule_id}:{holder}"),
                link: order.map_or_else(|| "/tickets".to_owned(), |o| format!("/orders/{}", o.id)),
                data,
            });
            self.store.record_notices(&[notice], self.now()).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_may_have_paragraphs_but_no_other_control_characters() {
        assert!(note_ok("Moved to Saturday.\n\nYour tickets stay valid."));
        assert!(note_ok(""));
        assert!(!note_ok("bell\u{7}"));
        assert!(!note_ok(&"x".repeat(RESCHEDULE_NOTE_LEN_MAX + 1)));
        assert!(note_ok(&"é".repeat(RESCHEDULE_NOTE_LEN_MAX)));
    }
}
