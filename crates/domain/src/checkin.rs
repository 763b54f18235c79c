//! Check-in: what the gate says about a scanned barcode.
//!
//! The decision is pure; admitting "at most once" is enforced by the store's
//! conditional update, which this decision only precedes.

use serde::Serialize;

use crate::Timestamp;
use crate::barcode::BarcodeClaims;
use crate::ids::{EventId, TicketId};

/// Where a ticket stands, as far as the gate cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketStatus {
    Valid,
    Revoked,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketAtGate {
    pub id: TicketId,
    pub event: EventId,
    pub status: TicketStatus,
    pub serial: u32,
    pub checked_in_at: Option<Timestamp>,
    /// The offline gate that admitted it; `None` when admitted online.
    pub checked_in_device: Option<String>,
    /// When the scanned barcode stopped admitting, and why, when that is
    /// known: the ticket was passed on or resold under a new serial, or
    /// revoked.
    pub retired: Option<(Timestamp, Retirement)>,
}

/// Why a barcode that once admitted no longer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retirement {
    /// A transfer or resale re-issued the ticket to a new holder.
    Reissued,
    /// A refund or the event's cancellation revoked it.
    Revoked,
}

/// Longest gate device id accepted.
pub const DEVICE_ID_LEN_MAX: usize = 100;

/// What a synced offline scan turns out to have been.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The gate admitted it and it was the ticket's first use, or this very
    /// device reporting the same admission again.
    Admitted,
    /// The ticket had been admitted elsewhere (another offline gate, named,
    /// or online, `None`): it was used twice.
    Conflict { first_device: Option<String> },
    /// The gate let the holder in while the barcode was good; the ticket
    /// was passed on, resold or revoked before the scan reached the server.
    /// The admission stands, so the ticket is used: a new holder's barcode
    /// is refused as already checked in.
    UsedBeforeRetirement(Retirement),
    /// Refused for a reason the gate should have seen too.
    Refused(CheckinOutcome),
}

impl SyncOutcome {
    /// The word the API and the scan log use for it.
    pub fn as_str(&self) -> &'static str {
        match self {
            SyncOutcome::Admitted => "admitted",
            SyncOutcome::Conflict { .. } => "conflict",
            SyncOutcome::UsedBeforeRetirement(Retirement::Reissued) => "used_before_reissue",
            SyncOutcome::UsedBeforeRetirement(Retirement::Revoked) => "used_before_revocation",
            SyncOutcome::Refused(o) => o.as_str(),
        }
    }
}

/// Decides a scan that an offline gate made and now reports. The gate has
/// already let the holder in; the question is whether that was the ticket's
/// only use.
///
/// `scanned_at` is the time the gate reported, when it was taken as it
/// came; `None` when its clock could not be believed and the server's time
/// stands in. The same device reporting the same admission again (a sync
/// whose answer was lost) is that admission; the same device with another
/// time let someone in twice, which is a conflict like any other.
pub fn decide_sync(
    scanning_event: EventId,
    claims: &BarcodeClaims,
    ticket: Option<&TicketAtGate>,
    device: &str,
    scanned_at: Option<Timestamp>,
    gates_opened_at: Timestamp,
) -> SyncOutcome {
    match decide(scanning_event, claims, ticket) {
        CheckinOutcome::Admitted => SyncOutcome::Admitted,
        CheckinOutcome::AlreadyCheckedIn => {
            let first = ticket.and_then(|t| t.checked_in_device.clone());
            let same_time = scanned_at.is_none_or(|at| ticket.and_then(|t| t.checked_in_at) == Some(at));
            if first.as_deref() == Some(device) && same_time {
                SyncOutcome::Admitted
            } else {
                SyncOutcome::Conflict { first_device: first }
            }
        }
        // Only a scan made once the gates opened: a scan dated weeks before
        // the event, just before the ticket was resold, is no admission
        // anyone believes, and would let a gate cancel the buyer's ticket.
        CheckinOutcome::Revoked => match (ticket, scanned_at) {
            (Some(t), Some(at)) if at >= gates_opened_at => used_before_retirement(t, device, at),
            _ => SyncOutcome::Refused(CheckinOutcome::Revoked),
        },
        other => SyncOutcome::Refused(other),
    }
}

/// A scan of a barcode that no longer admits, made at `at` (a time the
/// gate's clock vouches for).
fn used_before_retirement(ticket: &TicketAtGate, device: &str, at: Timestamp) -> SyncOutcome {
    let Some((retired_at, why)) = ticket.retired else {
        return SyncOutcome::Refused(CheckinOutcome::Revoked);
    };
    if at >= retired_at {
        return SyncOutcome::Refused(CheckinOutcome::Revoked);
    }
    match ticket.checked_in_at {
        None => SyncOutcome::UsedBeforeRetirement(why),
        // This device re-sending the admission it reported before.
        Some(first) if first == at && ticket.checked_in_device.as_deref() == Some(device) => {
            SyncOutcome::UsedBeforeRetirement(why)
        }
        Some(_) => SyncOutcome::Conflict { first_device: ticket.checked_in_device.clone() },
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckinOutcome {
    Admitted,
    AlreadyCheckedIn,
    Invalid,
    WrongEvent,
    Revoked,
}

impl CheckinOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckinOutcome::Admitted => "admitted",
            CheckinOutcome::AlreadyCheckedIn => "already_checked_in",
            CheckinOutcome::Invalid => "invalid",
            CheckinOutcome::WrongEvent => "wrong_event",
            CheckinOutcome::Revoked => "revoked",
        }
    }
}

/// Decides a scan of a barcode whose signature has verified.
///
/// `ticket` is the ticket the barcode names, if the database knows it.
pub fn decide(scanning_event: EventId, claims: &BarcodeClaims, ticket: Option<&TicketAtGate>) -> CheckinOutcome {
    if claims.event != scanning_event {
        return CheckinOutcome::WrongEvent;
    }
    let Some(ticket) = ticket else {
        // Signed by our key but unknown to us: never admit what we did not issue.
        return CheckinOutcome::Invalid;
    };
    if ticket.event != claims.event {
        return CheckinOutcome::Invalid;
    }
    if ticket.status == TicketStatus::Revoked || ticket.serial != claims.serial {
        // An older serial is a barcode from before a re-issue: revoked.
        return CheckinOutcome::Revoked;
    }
    if ticket.checked_in_at.is_some() {
        return CheckinOutcome::AlreadyCheckedIn;
    }
    CheckinOutcome::Admitted
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    /// Gates open long before any scan of these tests.
    const OPEN: Timestamp = chrono::DateTime::<Utc>::MIN_UTC;

    fn setup() -> (EventId, BarcodeClaims, TicketAtGate) {
        let event = EventId::new();
        let ticket = TicketId::new();
        let claims = BarcodeClaims { ticket, event, serial: 1 };
        let at_gate = TicketAtGate {
            id: ticket,
            event,
            status: TicketStatus::Valid,
            serial: 1,
            checked_in_at: None,
            checked_in_device: None,
            retired: None,
        };
        (event, claims, at_gate)
    }

    #[test]
    fn admits_a_fresh_valid_ticket_once() {
        let (event, claims, mut t) = setup();
        assert_eq!(decide(event, &claims, Some(&t)), CheckinOutcome::Admitted);
        t.checked_in_at = Some(Utc::now());
        assert_eq!(decide(event, &claims, Some(&t)), CheckinOutcome::AlreadyCheckedIn);
    }

    #[test]
    fn offline_scans_conflict_when_two_devices_admit_one_ticket() {
        let (event, claims, mut t) = setup();
        let at = Utc::now();
        assert_eq!(decide_sync(event, &claims, Some(&t), "gate-a", Some(at), OPEN), SyncOutcome::Admitted);
        t.checked_in_at = Some(at);
        t.checked_in_device = Some("gate-a".into());
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-a", Some(at), OPEN),
            SyncOutcome::Admitted,
            "a re-sync is no conflict"
        );
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-b", Some(at), OPEN),
            SyncOutcome::Conflict { first_device: Some("gate-a".into()) }
        );
        t.checked_in_device = None;
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-b", Some(at), OPEN),
            SyncOutcome::Conflict { first_device: None }
        );
        assert_eq!(
            decide_sync(EventId::new(), &claims, Some(&t), "gate-b", Some(at), OPEN),
            SyncOutcome::Refused(CheckinOutcome::WrongEvent)
        );
    }

    #[test]
    fn one_device_admitting_a_ticket_twice_is_a_conflict() {
        let (event, claims, mut t) = setup();
        let at = Utc::now();
        t.checked_in_at = Some(at);
        t.checked_in_device = Some("gate-a".into());
        let later = at + chrono::Duration::seconds(2);
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-a", Some(later), OPEN),
            SyncOutcome::Conflict { first_device: Some("gate-a".into()) }
        );
        // A time the server replaced cannot tell the two apart: the device's
        // report stands as the re-sent admission.
        assert_eq!(decide_sync(event, &claims, Some(&t), "gate-a", None, OPEN), SyncOutcome::Admitted);
    }

    #[test]
    fn refuses_other_events_revoked_and_reissued_tickets() {
        let (event, claims, mut t) = setup();
        assert_eq!(decide(EventId::new(), &claims, Some(&t)), CheckinOutcome::WrongEvent);
        assert_eq!(decide(event, &claims, None), CheckinOutcome::Invalid);
        t.serial = 2;
        assert_eq!(decide(event, &claims, Some(&t)), CheckinOutcome::Revoked);
        t.serial = 1;
        t.status = TicketStatus::Revoked;
        assert_eq!(decide(event, &claims, Some(&t)), CheckinOutcome::Revoked);
    }

    #[test]
    fn a_scan_made_before_a_reissue_or_revocation_stands_and_uses_the_ticket() {
        let (event, claims, mut t) = setup();
        let at = Utc::now();
        let later = at + chrono::Duration::minutes(5);
        t.serial = 2;
        // Without a known retirement time, or a believed scan time, the
        // old barcode is refused as before.
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-a", Some(at), OPEN),
            SyncOutcome::Refused(CheckinOutcome::Revoked)
        );
        t.retired = Some((later, Retirement::Reissued));
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-a", None, OPEN),
            SyncOutcome::Refused(CheckinOutcome::Revoked)
        );
        // Scanned before the re-issue: it let its holder in.
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-a", Some(at), OPEN),
            SyncOutcome::UsedBeforeRetirement(Retirement::Reissued)
        );
        // Scanned before the gates opened: nobody was let in then.
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-a", Some(at), at + chrono::Duration::seconds(1)),
            SyncOutcome::Refused(CheckinOutcome::Revoked)
        );
        // Scanned after: refused, as the gate should have.
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-a", Some(later), OPEN),
            SyncOutcome::Refused(CheckinOutcome::Revoked)
        );
        // Recorded, a re-send by the same device is the same answer; any
        // other use of the ticket is a conflict.
        t.checked_in_at = Some(at);
        t.checked_in_device = Some("gate-a".into());
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-a", Some(at), OPEN),
            SyncOutcome::UsedBeforeRetirement(Retirement::Reissued)
        );
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-b", Some(at - chrono::Duration::seconds(1)), OPEN),
            SyncOutcome::Conflict { first_device: Some("gate-a".into()) }
        );
        // The new holder admitted online first: used twice.
        t.checked_in_device = None;
        t.checked_in_at = Some(later - chrono::Duration::seconds(1));
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-a", Some(at), OPEN),
            SyncOutcome::Conflict { first_device: None }
        );
        // Revoked tickets alike.
        let (event, claims, mut t) = setup();
        t.status = TicketStatus::Revoked;
        t.retired = Some((later, Retirement::Revoked));
        assert_eq!(
            decide_sync(event, &claims, Some(&t), "gate-a", Some(at), OPEN),
            SyncOutcome::UsedBeforeRetirement(Retirement::Revoked)
        );
    }
}
