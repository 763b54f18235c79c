//! Telling people what happened: one place, [`Ticketing::notice`], turns a
//! fact into a notification that is shown in the app and e-mailed. Every
//! channel (in-app list, e-mail; web push later) hangs off it.
//!
//! A notice is written in the same transaction as its fact (the outbox
//! pattern): the order, refund, transfer offer or cancellation and the
//! message exist together or not at all. The e-mail is a job: retried with
//! back-off for over ten hours (a mail server down for hours loses nothing),
//! taken over by another node if this one dies, and marked sent only after
//! the SMTP server accepted it, so each message goes out once in the normal
//! case.

use domain::Timestamp;
use domain::ids::{EventId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::{EventRecord, JobRecord, NewNotice, NotificationRecord, Recipient, StoreError};

use crate::jobs::JobError;
use crate::mail::SendError;
use crate::{Denied, Ticketing};

pub const MAIL_SEND: &str = "mail.send";
pub const EVENT_REMIND: &str = "event.remind";
/// Notifications one page of the in-app list shows.
pub const NOTIFICATIONS_PAGE_MAX: u32 = 100;
/// Reminders go out this long before an event starts.
pub const REMINDER_LEAD_HOURS: i64 = 24;

/// The messages there are; each has templates of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    OrderConfirmation,
    TransferOffer,
    Refund,
    EventReminder,
    EventCancelled,
    TeamInvitation,
    EventRescheduled,
    /// To a seller: their listed ticket was bought.
    ResaleSold,
    /// To a ticket's holder: it no longer admits. The order it was bought
    /// with was refunded (told to holders it was passed on to), or it was
    /// free and the organizer cancelled it.
    TicketRevoked,
    /// To a new account's address: the link that confirms it is theirs.
    VerifyEmail,
    /// To an account's address: a link to set a new password.
    PasswordReset,
    /// To an account: its password was changed.
    PasswordChanged,
}

impl MessageKind {
    pub const ALL: [MessageKind; 12] = [
        MessageKind::OrderConfirmation,
        MessageKind::TransferOffer,
        MessageKind::Refund,
        MessageKind::EventReminder,
        MessageKind::EventCancelled,
        MessageKind::TeamInvitation,
        MessageKind::EventRescheduled,
        MessageKind::ResaleSold,
        MessageKind::TicketRevoked,
        MessageKind::VerifyEmail,
        MessageKind::PasswordReset,
        MessageKind::PasswordChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::OrderConfirmation => "order_confirmation",
            MessageKind::TransferOffer => "transfer_offer",
            MessageKind::Refund => "refund",
            MessageKind::EventReminder => "event_reminder",
            MessageKind::EventCancelled => "event_cancelled",
            MessageKind::TeamInvitation => "team_invitation",
            MessageKind::EventRescheduled => "event_rescheduled",
            MessageKind::ResaleSold => "resale_sold",
            MessageKind::TicketRevoked => "ticket_revoked",
            MessageKind::VerifyEmail => "verify_email",
            MessageKind::PasswordReset => "password_reset",
            MessageKind::PasswordChanged => "password_changed",
        }
    }
}

/// Who a notice is for.
#[derive(Clone, Debug)]
pub enum To {
    /// An account: shown in its app and e-mailed to its address.
    Account(Recipient),
    /// Someone without an account yet (a transfer's recipient): e-mail only.
    Address { email: String, locale: String },
}

/// A fact to tell someone.
#[derive(Clone, Debug)]
pub struct Notice {
    pub kind: MessageKind,
    pub to: To,
    /// At most one notice per key, ever.
    pub dedupe_key: String,
    /// Where in the web app it leads (a path).
    pub link: String,
    /// What the templates render; `name` and `link` are added.
    pub data: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("unknown locale '{0}' (known: en, de)")]
    UnknownLocale(String),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Serialize, Deserialize)]
struct MailJob {
    notification_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct RemindJob {
    event_id: String,
}

/// Which of an event's fields messages show, with its start in the venue's
/// time zone.
/// `at` as the venue's clocks show it: what a buyer reads in an e-mail.
pub(crate) fn venue_time_text(at: Timestamp, timezone: &str) -> String {
    match timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
        Err(_) => at.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

pub(crate) fn event_data(event: &EventRecord) -> Value {
    let starts_at_text = venue_time_text(event.starts_at, &event.timezone);
    json!({
        "id": event.id.to_string(),
        "title": event.title,
        "venue": event.venue_name,
        "description": event.description,
        "starts_at": event.starts_at.to_rfc3339(),
        "ends_at": event.ends_at.to_rfc3339(),
        "starts_at_text": starts_at_text,
    })
}

impl Ticketing {
    /// Turns a fact into the rows that tell it: the notification (in-app
    /// when the recipient has an account) and the job that e-mails it. The
    /// caller writes them in its fact's transaction.
    pub(crate) fn notice(&self, n: Notice) -> NewNotice {
        let id = uuid_v7();
        let (user, email, locale, name) = match &n.to {
            To::Account(r) => (Some(r.user), r.email.clone(), r.locale.clone(), r.name.clone()),
            To::Address { email, locale } => (None, email.clone(), locale.clone(), String::new()),
        };
        let locale = crate::mail::normalize_locale(&locale);
        let mut data = n.data;
        if let Value::Object(map) = &mut data {
            map.insert("name".into(), Value::String(name));
            map.insert("link".into(), Value::String(self.mailer.link(&n.link)));
        }
        let kind = n.kind.as_str();
        let title = self.mailer.render_subject(kind, &locale, &data).unwrap_or_else(|e| {
            // Templates are checked at start-up; this is a template bug.
            tracing::error!(kind, error = %e, "cannot render a notification title");
            kind.replace('_', " ")
        });
        let payload = serde_json::to_string(&MailJob { notification_id: id.clone() }).expect("serialises");
        NewNotice {
            id,
            dedupe_key: n.dedupe_key,
            user,
            email: Some(email),
            kind: kind.to_owned(),
            locale,
            title,
            link: Some(n.link),
            data: data.to_string(),
            mail_job: Some(crate::jobs::new_job(MAIL_SEND, payload, self.now())),
        }
    }

    /// The account's contact details, for a notice.
    pub(crate) async fn recipient(&self, user: UserId) -> Result<Recipient, StoreError> {
        self.store.recipient(user).await?.ok_or_else(|| StoreError::Corrupt(format!("user {user} is missing")))
    }

    /// The user's notifications, newest first.
    pub async fn notifications(&self, user: UserId) -> Result<Vec<NotificationRecord>, NotificationError> {
        Ok(self.store.notifications_of(user, NOTIFICATIONS_PAGE_MAX).await?)
    }

    /// Chooses the language of the account's messages.
    pub async fn set_locale(&self, user: UserId, locale: &str) -> Result<(), NotificationError> {
        if !crate::mail::LOCALES.contains(&locale) {
            return Err(NotificationError::UnknownLocale(locale.chars().take(crate::mail::LOCALE_LEN_MAX).collect()));
        }
        if self.store.set_locale(user, locale).await? { Ok(()) } else { Err(Denied::NotFound("user").into()) }
    }

    pub async fn mark_notification_read(&self, user: UserId, id: &str) -> Result<(), NotificationError> {
        if self.store.mark_notification_read(user, id, self.now()).await? {
            Ok(())
        } else {
            Err(Denied::NotFound("notification").into())
        }
    }

    /// The `mail.send` job: builds the message from its notification and
    /// hands it to the SMTP server; marks it sent once accepted.
    pub(crate) async fn send_mail(&self, job: &JobRecord) -> Result<(), JobError> {
        let MailJob { notification_id } =
            serde_json::from_str(&job.payload).map_err(|e| JobError::Permanent(format!("malformed mail job: {e}")))?;
        let Some(n) = self.store.notification(&notification_id).await? else {
            return Err(JobError::Permanent(format!("notification {notification_id} is missing")));
        };
        if n.email_status != "queued" {
            // Sent already (a retried job whose first run got through), or held
            // back (an invitation withdrawn before its e-mail went).
            return Ok(());
        }
        let mut data: Value = serde_json::from_str(&n.data)
            .map_err(|e| JobError::Permanent(format!("notification {} has bad data: {e}", n.id)))?;
        if n.kind == MessageKind::OrderConfirmation.as_str() {
            data["tickets"] = self.confirmation_tickets(&data, n.user).await?;
        }
        let message = self.mailer.build(&n, &data).map_err(|e| JobError::Permanent(e.to_string()))?;
        match self.mailer.send(message).await {
            Ok(()) => {}
            Err(SendError::Permanent(e)) => return Err(JobError::Permanent(e)),
            Err(e) => return Err(JobError::Retry(e.to_string())),
        }
        metrics::counter!("emails_sent_total", "kind" => n.kind.clone()).increment(1);
        self.store.mark_email_sent(&n.id, self.now()).await?;
        Ok(())
    }

    /// The order's tickets the buyer still holds, with their barcodes, as
    /// the confirmation shows them (read at sending: a ticket passed on or
    /// refunded meanwhile is not sent).
    async fn confirmation_tickets(&self, data: &Value, buyer: Option<UserId>) -> Result<Value, StoreError> {
        let Some(order) = data["order"]["id"].as_str().and_then(|o| o.parse().ok()) else {
            return Ok(Value::Array(Vec::new()));
        };
        let Some(order) = self.store.order(order).await? else {
            return Ok(Value::Array(Vec::new()));
        };
        // Events with rotating codes refuse static barcodes at the gate:
        // their tickets are shown in the app only, never as a fixed QR code.
        let rotating = self.store.event(order.event).await?.is_some_and(|e| e.rotating_barcodes);
        let tickets = order
            .tickets
            .iter()
            .filter(|t| t.status == domain::checkin::TicketStatus::Valid && Some(t.holder) == buyer)
            .map(|t| {
                let (barcode, cid) = if rotating {
                    (Value::Null, Value::Null)
                } else {
                    (json!(t.barcode), json!(crate::mail::content_id(&t.id.to_string())))
                };
                json!({"id": t.id.to_string(), "label": crate::refunds::ticket_label(t), "barcode": barcode, "cid": cid})
            })
            .collect();
        Ok(Value::Array(tickets))
    }

    /// Housekeeping: for each published event starting within a day whose
    /// reminders have not been scheduled, schedules them (once per event,
    /// whichever node gets there first). Returns how many were scheduled.
    pub async fn schedule_reminders(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let due = self.store.events_due_for_reminder(now, now + chrono::Duration::hours(REMINDER_LEAD_HOURS)).await?;
        let mut scheduled = 0;
        for event in due {
            let payload = serde_json::to_string(&RemindJob { event_id: event.to_string() }).expect("serialises");
            if self.store.claim_event_reminder(event, &crate::jobs::new_job(EVENT_REMIND, payload, now), now).await? {
                scheduled += 1;
            }
        }
        Ok(scheduled)
    }

    /// The `event.remind` job: a reminder to every holder of a valid ticket.
    /// Re-running it (after a crash) adds nothing: one notice per holder.
    pub(crate) async fn send_event_reminders(&self, job: &JobRecord) -> Result<(), JobError> {
        let RemindJob { event_id } =
            serde_json::from_str(&job.payload).map_err(|e| JobError::Permanent(format!("malformed job: {e}")))?;
        let event_id: EventId =
            event_id.parse().map_err(|_| JobError::Permanent(format!("bad event id {event_id}")))?;
        let Some(event) = self.store.event(event_id).await? else {
            return Err(JobError::Permanent(format!("event {event_id} is missing")));
        };
        if event.status != domain::event::EventStatus::Published {
            return Ok(());
        }
        // Moved to a later date since the job was made: the reminder is due
        // again before the new date (the move released the event's claim).
        if event.starts_at > self.now() + chrono::Duration::hours(REMINDER_LEAD_HOURS) {
            return Ok(());
        }
        // One reminder per holder per date: a postponed event reminds again.
        let date = event.starts_at.timestamp_millis();
        for holder in self.store.ticket_holders(event_id).await? {
            let notice = self.notice(Notice {
                kind: MessageKind::EventReminder,
                to: To::Account(self.recipient(holder).await?),
                dedupe_key: format!("reminder:{event_id}:{date}:{holder}"),
                link: "/tickets".into(),
                data: json!({ "event": event_data(&event) }),
            });
            if self.store.record_notices(&[notice], self.now()).await? > 0 {
                // And on the holder's devices that allowed reminders: once,
                // with the notice (a re-run finds the notice and skips).
                self.push_reminder(holder, &event).await?;
            }
        }
        Ok(())
    }
}

fn uuid_v7() -> String {
    // Time-ordered: the Message-ID and the list order agree.
    domain::ids::NotificationId::new().to_string()
}
