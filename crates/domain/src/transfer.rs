//! Ticket transfers: the organizer's policy and whether a transfer may be
//! offered now.

use chrono::Duration;

use crate::Timestamp;

/// How long a transfer offer waits for the recipient before it lapses and
/// the ticket simply stays with its holder.
pub const TRANSFER_OFFER_TTL_HOURS: i64 = 48;
/// The most transfers per ticket an organizer may allow.
pub const TRANSFERS_PER_TICKET_LIMIT: u32 = 100;
/// The latest cut-off an organizer may set, in hours before the start.
pub const TRANSFER_CUTOFF_HOURS_LIMIT: u32 = 24 * 30;

/// Per-event rules for giving tickets away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferPolicy {
    pub transferable: bool,
    /// Transfers close this many hours before the event starts.
    pub cutoff_hours: u32,
    /// How many times one ticket may change hands by transfer.
    pub transfers_max: u32,
}

impl Default for TransferPolicy {
    fn default() -> Self {
        Self { transferable: true, cutoff_hours: 0, transfers_max: 3 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferRefusal {
    #[error("the organizer does not allow transfers for this event")]
    NotTransferable,
    #[error("transfers for this event closed at {0}")]
    WindowClosed(Timestamp),
    #[error("this ticket has been transferred the most times the organizer allows ({0})")]
    TooManyTransfers(u32),
    #[error("this ticket has been used at the gate")]
    CheckedIn,
    #[error("this ticket is no longer valid")]
    NotValid,
    #[error("you hold this ticket already")]
    ToSelf,
    #[error(
        "transfer policy out of range: cut-off at most {TRANSFER_CUTOFF_HOURS_LIMIT} hours, at most {TRANSFERS_PER_TICKET_LIMIT} transfers"
    )]
    BadPolicy,
}

impl TransferPolicy {
    pub fn validate(&self) -> Result<(), TransferRefusal> {
        if self.cutoff_hours > TRANSFER_CUTOFF_HOURS_LIMIT || self.transfers_max > TRANSFERS_PER_TICKET_LIMIT {
            return Err(TransferRefusal::BadPolicy);
        }
        Ok(())
    }

    /// When transfers of an event starting at `starts_at` close.
    pub fn closes_at(&self, starts_at: Timestamp) -> Timestamp {
        starts_at - Duration::hours(i64::from(self.cutoff_hours))
    }
}

/// The state of a ticket that matters to a transfer.
#[derive(Clone, Copy, Debug)]
pub struct TransferableTicket {
    pub valid: bool,
    pub checked_in: bool,
    pub transfers_so_far: u32,
}

/// Whether the ticket may be offered now; if so, until when the offer stands.
pub fn check_offer(
    policy: &TransferPolicy,
    starts_at: Timestamp,
    ticket: TransferableTicket,
    to_self: bool,
    now: Timestamp,
) -> Result<Timestamp, TransferRefusal> {
    if !policy.transferable {
        return Err(TransferRefusal::NotTransferable);
    }
    if !ticket.valid {
        return Err(TransferRefusal::NotValid);
    }
    if ticket.checked_in {
        return Err(TransferRefusal::CheckedIn);
    }
    if to_self {
        return Err(TransferRefusal::ToSelf);
    }
    let closes = policy.closes_at(starts_at);
    if now >= closes {
        return Err(TransferRefusal::WindowClosed(closes));
    }
    if ticket.transfers_so_far >= policy.transfers_max {
        return Err(TransferRefusal::TooManyTransfers(policy.transfers_max));
    }
    Ok((now + Duration::hours(TRANSFER_OFFER_TTL_HOURS)).min(closes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn t(day: u32, h: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2030, 1, day, h, 0, 0).unwrap()
    }

    const FRESH: TransferableTicket = TransferableTicket { valid: true, checked_in: false, transfers_so_far: 0 };

    #[test]
    fn offers_last_two_days_or_until_the_window_closes() {
        let policy = TransferPolicy { transferable: true, cutoff_hours: 24, transfers_max: 2 };
        assert_eq!(check_offer(&policy, t(20, 20), FRESH, false, t(1, 12)), Ok(t(3, 12)));
        assert_eq!(check_offer(&policy, t(20, 20), FRESH, false, t(18, 12)), Ok(t(19, 20)));
        assert_eq!(
            check_offer(&policy, t(20, 20), FRESH, false, t(19, 21)),
            Err(TransferRefusal::WindowClosed(t(19, 20)))
        );
    }

    #[test]
    fn the_policy_and_the_tickets_state_are_respected() {
        let closed = TransferPolicy { transferable: false, ..TransferPolicy::default() };
        assert_eq!(check_offer(&closed, t(20, 20), FRESH, false, t(1, 1)), Err(TransferRefusal::NotTransferable));
        let policy = TransferPolicy::default();
        let used = TransferableTicket { checked_in: true, ..FRESH };
        assert_eq!(check_offer(&policy, t(20, 20), used, false, t(1, 1)), Err(TransferRefusal::CheckedIn));
        let worn = TransferableTicket { transfers_so_far: 3, ..FRESH };
        assert_eq!(check_offer(&policy, t(20, 20), worn, false, t(1, 1)), Err(TransferRefusal::TooManyTransfers(3)));
        assert_eq!(check_offer(&policy, t(20, 20), FRESH, true, t(1, 1)), Err(TransferRefusal::ToSelf));
        assert!(TransferPolicy { cutoff_hours: 100_000, ..policy }.validate().is_err());
    }
}
