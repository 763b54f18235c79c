//! Check-in at the gate.
//!
//! A scanned code is either a static barcode (`RT1.`) or a rotating code
//! (`RT2.`, see `domain::rotating`) wrapping one; a typed entry code (see
//! `domain::barcode::entry_code`) stands for its ticket's static barcode.
//! All are checked here the same way online and, with the scan's own time as
//! "now", when an offline gate syncs (`gate.rs`).

use domain::barcode::{self, BARCODE_LEN_MAX, BarcodeClaims};
use domain::checkin::CheckinOutcome;
use domain::ids::{EventId, UserId};
use domain::rotating::{self, RotatingError};
use store::{CheckinRecord, StoreError, TicketRecord};

use crate::{Denied, Ticketing, from_visible};

#[derive(Debug, thiserror::Error)]
pub enum CheckinError {
    #[error("barcode must be 1 to {BARCODE_LEN_MAX} characters")]
    BadInput,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(CheckinError);

/// Why a scanned code was refused before any ticket was looked at: the
/// outcome is `invalid`, and this says why, so the gate can tell the holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Unreadable, altered, or not signed by a key we know.
    Unreadable,
    /// A genuine ticket's rotating code that is stale, ahead of the clock, or
    /// not made with this ticket's secret.
    Rotating(RotatingError),
    /// A static barcode, or an entry code, at an event that only accepts the
    /// live code from the app (screenshots and printouts are what rotating
    /// codes exist to stop).
    LiveCodeRequired,
    /// An entry code that no ticket of this event has: a typo, most likely.
    UnknownEntryCode,
    /// An entry code two tickets of this event share; their QR codes tell
    /// them apart.
    AmbiguousEntryCode,
    /// An offline scan synced by someone who was no longer gate staff when
    /// it was made.
    ScannerRemoved,
}

/// A scan's record, and why its code was refused when it was.
#[derive(Clone, Debug)]
pub struct CheckinResult {
    pub record: CheckinRecord,
    /// `Some` exactly when the code itself was refused (outcome `invalid`).
    pub refusal: Option<CodeRefusal>,
}

impl Ticketing {
    /// The log entry a scan of this ticket appends if it admits.
    pub(crate) async fn check_in_entry(
        &self,
        claims: &domain::barcode::BarcodeClaims,
        at: domain::Timestamp,
    ) -> Result<Option<store::NewLedgerEntry>, StoreError> {
        match self.store.ticket(claims.ticket).await? {
            Some(t) => Ok(Some(self.ledger_entry(ledger::EntryKind::CheckIn, t.id, t.event, t.holder, at).await?)),
            None => Ok(None),
        }
    }

    /// Scans `code` at a gate of `event`. Every scan is logged; a ticket is
    /// admitted at most once, however many gates scan it at the same time.
    pub async fn check_in(&self, scanner: UserId, event: EventId, code: &str) -> Result<CheckinResult, CheckinError> {
        if code.trim().is_empty() || code.len() > BARCODE_LEN_MAX {
            return Err(CheckinError::BadInput);
        }
        let record = self.visible_event(Some(scanner), event).await?;
        self.require_role(scanner, record.organization, |r| r.can_check_in(), "only gate staff check tickets in")
            .await?;
        let now = self.now();
        let result = match self.verify_code(code, event, record.rotating_barcodes, now).await? {
            Ok(claims) => {
                let entry = self.check_in_entry(&claims, now).await?;
                let record = self.store.check_in(event, &claims, scanner, now, entry.as_ref()).await?;
                CheckinResult { record, refusal: None }
            }
            Err(refusal) => {
                self.store.log_rejected_scan(event, CheckinOutcome::Invalid, scanner, now).await?;
                let record = CheckinRecord { outcome: CheckinOutcome::Invalid, ticket: None, checked_in_at: None };
                CheckinResult { record, refusal: Some(refusal) }
            }
        };
        metrics::counter!("checkins_total", "result" => result.record.outcome.as_str()).increment(1);
        if result.record.outcome == CheckinOutcome::Admitted {
            self.publish_checkins(event).await;
        }
        Ok(result)
    }

    /// Checks a code scanned at `event` as of `now`: the Ed25519 signature of
    /// the static barcode, and for a rotating code its MAC and window. When
    /// the event requires rotating codes (`rotating`), its own static barcodes
    /// and entry codes are refused (another event's barcodes are left for
    /// `decide` to call `wrong_event`). Returns the verified claims, or why not.
    pub(crate) async fn verify_code(
        &self,
        code: &str,
        event: EventId,
        rotating: bool,
        now: domain::Timestamp,
    ) -> Result<Result<BarcodeClaims, CodeRefusal>, StoreError> {
        if code.len() > BARCODE_LEN_MAX {
            return Ok(Err(CodeRefusal::Unreadable));
        }
        let rotating_event = rotating.then_some(event);
        let entry_barcode;
        let code = match barcode::parse_entry_code(code) {
            Some(_) if rotating => return Ok(Err(CodeRefusal::LiveCodeRequired)),
            Some(entry) => {
                let mut found = self.store.barcodes_by_entry_code(event, &entry).await?;
                match found.len() {
                    0 => return Ok(Err(CodeRefusal::UnknownEntryCode)),
                    1 => {
                        entry_barcode = found.remove(0);
                        entry_barcode.as_str()
                    }
                    _ => return Ok(Err(CodeRefusal::AmbiguousEntryCode)),
                }
            }
            None => code,
        };
        let (static_code, rotation) = if rotating::is_rotating(code) {
            match rotating::split_rotating(code) {
                Ok((static_code, step, mac)) => (static_code, Some((step, mac))),
                Err(_) => return Ok(Err(CodeRefusal::Unreadable)),
            }
        } else {
            (code.trim().to_owned(), None)
        };
        let Ok(claims) = barcode::peek(&static_code) else { return Ok(Err(CodeRefusal::Unreadable)) };
        let Some(public) = self.store.event_public_key(claims.event).await? else {
            return Ok(Err(CodeRefusal::Unreadable));
        };
        let Ok(claims) = barcode::verify(&public, &static_code) else { return Ok(Err(CodeRefusal::Unreadable)) };
        match rotation {
            Some((step, mac)) => {
                let key = self
                    .store
                    .event_key(claims.event)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("event {} has no signing key", claims.event)))?;
                let secret = rotating::ticket_secret(&key.secret_bytes(), claims.ticket, claims.serial);
                if let Err(e) = rotating::verify_rotating(&secret, claims.ticket, step, &mac, now) {
                    return Ok(Err(CodeRefusal::Rotating(e)));
                }
            }
            None if rotating_event == Some(claims.event) => return Ok(Err(CodeRefusal::LiveCodeRequired)),
            None => {}
        }
        Ok(Ok(claims))
    }

    /// The secret the holder's app needs to show `ticket`'s rotating code, or
    /// `None` when its event uses static barcodes. Only ever hand it to the
    /// ticket's holder (and to the event's gates, in the manifest).
    pub async fn ticket_rotating_secret(&self, ticket: &TicketRecord) -> Result<Option<[u8; 32]>, StoreError> {
        let Some(event) = self.store.event(ticket.event).await? else { return Ok(None) };
        if !event.rotating_barcodes {
            return Ok(None);
        }
        let key = self
            .store
            .event_key(ticket.event)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("event {} has no signing key", ticket.event)))?;
        Ok(Some(rotating::ticket_secret(&key.secret_bytes(), ticket.id, ticket.serial)))
    }
}
