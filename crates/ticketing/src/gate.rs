//! Offline gates and organizer numbers.
//!
//! A gate downloads a manifest (the event's public key and every ticket's
//! serial and state), verifies barcodes locally while the network is down,
//! and syncs its scans later. The server then settles them: the first
//! admission of a ticket stands; another device's admission of the same
//! ticket is reported as a conflict (the ticket got in twice).
//!
//! For an event with rotating barcodes the manifest also carries each
//! ticket's rotating secret, so the gate can check the live code's MAC and
//! age offline; a sync checks them again against each scan's own time.

use domain::Timestamp;
use domain::checkin::{CheckinOutcome, DEVICE_ID_LEN_MAX, SyncOutcome};
use domain::ids::{EventId, TicketId, UserId};
use domain::rotating;
use store::{EventStats, GateTicket, StoreError};

use crate::checkin::CodeRefusal;
use crate::{Denied, Ticketing, from_visible};

/// Scans one sync may carry: an offline gate's backlog of a busy hour.
pub const SYNC_SCANS_MAX: usize = 5_000;

/// How far back a synced scan may be dated. A gate offline for a whole
/// festival still syncs within this; a scan dated earlier comes from a
/// clock that was wrong (a device reset to 1970), and is taken as now.
pub const SYNC_SCAN_AGE_MAX: chrono::Duration = chrono::Duration::days(7);

/// How long before an event starts its gates may be letting people in.
/// An offline scan of a barcode that was passed on, resold or revoked
/// before the scan was synced counts as a use only if made after that: a
/// gate cannot cancel a ticket sold weeks before the event by reporting an
/// old scan of the seller's code.
pub const GATES_OPEN_BEFORE_START: chrono::Duration = chrono::Duration::hours(12);

/// How long after being taken off the team a scanner's device may still
/// upload the scans it made before: long enough to come back online after a
/// shift, not an open door for scans dated back to that moment.
pub const REMOVED_SCANNER_SYNC_GRACE: chrono::Duration = chrono::Duration::hours(24);

/// Offline scans needing a look listed at once: more than a console table
/// should show; past that the newest matter.
pub const GATE_PROBLEMS_LISTED: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("device_id must be 1 to {DEVICE_ID_LEN_MAX} printable characters")]
    BadDevice,
    #[error("a sync carries 1 to {SYNC_SCANS_MAX} scans")]
    BadBatch,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(GateError);

#[derive(Clone, Debug)]
pub struct GateManifest {
    pub event: EventId,
    pub public_key: [u8; 32],
    /// Whether the event accepts only rotating codes (static barcodes refused).
    pub rotating_barcodes: bool,
    pub tickets: Vec<ManifestTicket>,
    /// Entry codes that stood for a ticket before it was passed on or
    /// resold (none at events whose barcodes rotate: typed codes are
    /// refused there).
    pub retired_entry_codes: Vec<String>,
    pub generated_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct ManifestTicket {
    pub ticket: GateTicket,
    /// The ticket's rotating secret, when the event rotates.
    pub rotating_secret: Option<[u8; 32]>,
}

/// An offline scan needing a look, with the place its ticket is for.
#[derive(Clone, Debug)]
pub struct GateProblemReport {
    pub problem: store::GateProblem,
    /// The ticket's type and seat or standing area, as messages name it.
    pub place: String,
}

#[derive(Clone, Debug)]
pub struct OfflineScan {
    pub barcode: String,
    pub scanned_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct SyncResult {
    pub barcode: String,
    pub outcome: SyncOutcome,
    /// Why the code itself was refused, when it was.
    pub refusal: Option<CodeRefusal>,
    pub ticket: Option<TicketId>,
    pub checked_in_at: Option<Timestamp>,
}

impl Ticketing {
    async fn gate_event(&self, user: UserId, event: EventId) -> Result<store::EventRecord, GateError> {
        let record = self.visible_event(Some(user), event).await?;
        self.require_role(user, record.organization, |r| r.can_check_in(), "only gate staff check tickets in").await?;
        Ok(record)
    }

    /// Who may sync a gate's offline scans: gate staff, and staff removed
    /// since, for the scans their device made before the removal (the
    /// holders are inside; dropping those scans would let the same tickets
    /// in again). Returns the event, and when the user left, if they did.
    async fn sync_access(
        &self,
        user: UserId,
        event: EventId,
    ) -> Result<(store::EventRecord, Option<Timestamp>), GateError> {
        match self.gate_event(user, event).await {
            Ok(record) => Ok((record, None)),
            Err(GateError::Denied(denied)) => {
                let record = self.visible_event(Some(user), event).await?;
                match self.store.removed_from(user, record.organization).await? {
                    Some((role, at)) if role.can_check_in() => Ok((record, Some(at))),
                    _ => Err(GateError::Denied(denied)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Whether `user` may check tickets in at `event`: the scanner page asks
    /// before it shows a scanner that could only refuse.
    pub async fn gate_access(&self, user: UserId, event: EventId) -> Result<(), GateError> {
        self.gate_event(user, event).await.map(|_| ())
    }

    pub async fn gate_manifest(&self, user: UserId, event: EventId) -> Result<GateManifest, GateError> {
        let record = self.gate_event(user, event).await?;
        let key = self
            .store
            .event_key(event)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("event {event} has no signing key")))?;
        let secret = key.secret_bytes();
        let tickets = self
            .store
            .gate_tickets(event)
            .await?
            .into_iter()
            .map(|ticket| ManifestTicket {
                rotating_secret: record
                    .rotating_barcodes
                    .then(|| rotating::ticket_secret(&secret, ticket.id, ticket.serial)),
                ticket,
            })
            .collect();
        let retired_entry_codes =
            if record.rotating_barcodes { Vec::new() } else { self.store.retired_entry_codes(event).await? };
        Ok(GateManifest {
            event,
            public_key: key.public_bytes(),
            rotating_barcodes: record.rotating_barcodes,
            tickets,
            retired_entry_codes,
            generated_at: self.now(),
        })
    }

    /// Settles scans an offline gate made. Scan times that cannot be true
    /// (in the future, more than `SYNC_SCAN_AGE_MAX` ago, or before the
    /// ticket was issued) are taken as now: a gate's clock may drift, the
    /// public log must not.
    pub async fn sync_checkins(
        &self,
        user: UserId,
        event: EventId,
        device: &str,
        scans: Vec<OfflineScan>,
    ) -> Result<Vec<SyncResult>, GateError> {
        let device = device.trim();
        if device.is_empty() || device.len() > DEVICE_ID_LEN_MAX || device.chars().any(char::is_control) {
            return Err(GateError::BadDevice);
        }
        if scans.is_empty() || scans.len() > SYNC_SCANS_MAX {
            return Err(GateError::BadBatch);
        }
        let (record, removed_at) = self.sync_access(user, event).await?;
        let now = self.now();
        let gates_opened_at = record.starts_at - GATES_OPEN_BEFORE_START;
        let grace_over = removed_at.is_some_and(|at| now - at > REMOVED_SCANNER_SYNC_GRACE);
        let mut results = Vec::with_capacity(scans.len());
        for scan in scans {
            let mut scanned_at = chrono::SubsecRound::trunc_subsecs(scan.scanned_at, 3);
            // Whether the gate's clock is taken at its word; when it is not,
            // the server's time stands in.
            let mut believed = true;
            if scanned_at > now || scanned_at < now - SYNC_SCAN_AGE_MAX {
                (scanned_at, believed) = (now, false);
            }
            if grace_over || removed_at.is_some_and(|at| scanned_at > at) {
                self.store.log_rejected_scan(event, CheckinOutcome::Invalid, user, scanned_at).await?;
                results.push(scanner_removed(scan.barcode));
                continue;
            }
            // The code is judged as of when it was scanned: a screenshot
            // shown to a gate offline is as stale as one shown online.
            let verified = self.verify_code(&scan.barcode, event, record.rotating_barcodes, scanned_at).await?;
            let result = match verified {
                Ok(claims) => {
                    if let Some(issued) = self.store.barcode_issued_at(claims.ticket, claims.serial).await?
                        && scanned_at < issued
                    {
                        (scanned_at, believed) = (now, false);
                        // A scan dated before its barcode existed (the
                        // ticket's sale, or its re-issue to this holder)
                        // proves nothing about when it was made: a scanner
                        // taken off the team does not admit tickets sold after
                        // that.
                        if removed_at.is_some() {
                            self.store.log_rejected_scan(event, CheckinOutcome::Invalid, user, scanned_at).await?;
                            results.push(scanner_removed(scan.barcode));
                            continue;
                        }
                    }
                    let entry = self.check_in_entry(&claims, scanned_at).await?;
                    let record = self
                        .store
                        .sync_check_in(
                            event,
                            &claims,
                            store::OfflineScanAt {
                                scanner: user,
                                device,
                                at: scanned_at,
                                gate_clock_believed: believed,
                                gates_opened_at,
                            },
                            entry.as_ref(),
                        )
                        .await?;
                    if record.outcome == SyncOutcome::UsedBeforeRetirement(domain::checkin::Retirement::Reissued)
                        && let Err(e) = self.tell_holder_used_before(claims.ticket).await
                    {
                        tracing::warn!(ticket = %claims.ticket, error = %e, "the holder of a ticket used before it was theirs was not told");
                    }
                    let known = !matches!(record.outcome, SyncOutcome::Refused(CheckinOutcome::Invalid));
                    SyncResult {
                        barcode: scan.barcode,
                        outcome: record.outcome,
                        refusal: None,
                        ticket: known.then_some(claims.ticket),
                        checked_in_at: record.checked_in_at,
                    }
                }
                Err(refusal) => {
                    self.store.log_rejected_scan(event, CheckinOutcome::Invalid, user, scanned_at).await?;
                    SyncResult {
                        // Results come in the scans' order; an overlong code
                        // is not sent back whole.
                        barcode: truncated(scan.barcode, domain::barcode::BARCODE_LEN_MAX),
                        outcome: SyncOutcome::Refused(CheckinOutcome::Invalid),
                        refusal: Some(refusal),
                        ticket: None,
                        checked_in_at: None,
                    }
                }
            };
            metrics::counter!("checkins_synced_total", "result" => result.outcome.as_str()).increment(1);
            results.push(result);
        }
        if results.iter().any(|r| matches!(r.outcome, SyncOutcome::Admitted | SyncOutcome::UsedBeforeRetirement(_))) {
            self.publish_checkins(event).await;
        }
        Ok(results)
    }

    /// Tells whoever holds `ticket` now that a gate let it in before it was
    /// passed on to them, so they learn it before the gate does (once: a
    /// re-sent scan tells nobody again).
    async fn tell_holder_used_before(&self, ticket: TicketId) -> Result<(), StoreError> {
        let Some(t) = self.store.ticket(ticket).await? else { return Ok(()) };
        let Some(event) = self.store.event(t.event).await? else { return Ok(()) };
        let notice = self.notice(crate::notifications::Notice {
            kind: crate::notifications::MessageKind::TicketRevoked,
            to: crate::notifications::To::Account(self.recipient(t.holder).await?),
            dedupe_key: format!("used-before:{ticket}"),
            link: "/tickets".into(),
            data: serde_json::json!({
                "event": crate::notifications::event_data(&event),
                "ticket": {"place": crate::refunds::ticket_label(&t), "cancelled": false, "used_before": true},
            }),
        });
        self.store.record_notices(&[notice], self.now()).await?;
        Ok(())
    }

    /// The offline scans of `event` that need someone to look at them
    /// (newest first, at most `GATE_PROBLEMS_LISTED`), for its owners and
    /// admins: the gate that synced them was told, the organizer should be.
    pub async fn gate_problems(&self, user: UserId, event: EventId) -> Result<Vec<GateProblemReport>, GateError> {
        let record = self.visible_event(Some(user), event).await?;
        self.require_role(user, record.organization, |r| r.can_manage_events(), "only owners and admins see this")
            .await?;
        let mut reports = Vec::new();
        for problem in self.store.gate_problems(event, GATE_PROBLEMS_LISTED).await? {
            let place = self.store.ticket(problem.ticket).await?.map(|t| crate::refunds::ticket_label(&t));
            reports.push(GateProblemReport { problem, place: place.unwrap_or_default() });
        }
        Ok(reports)
    }

    /// Sales and check-in numbers, for the event's owners and admins.
    pub async fn event_stats(
        &self,
        user: UserId,
        event: EventId,
    ) -> Result<(EventStats, domain::money::Currency), GateError> {
        let record = self.visible_event(Some(user), event).await?;
        self.require_role(user, record.organization, |r| r.can_manage_events(), "only owners and admins see sales")
            .await?;
        let types = self.store.ticket_types(event).await?;
        let currency = match types.first() {
            Some(t) => t.price.currency(),
            None => "EUR".parse().expect("EUR is a currency"),
        };
        Ok((self.store.event_stats(event, record.venue, self.now()).await?, currency))
    }
}

/// The answer to a scan from a scanner taken off the team before it.
fn scanner_removed(barcode: String) -> SyncResult {
    SyncResult {
        barcode: truncated(barcode, domain::barcode::BARCODE_LEN_MAX),
        outcome: SyncOutcome::Refused(CheckinOutcome::Invalid),
        refusal: Some(CodeRefusal::ScannerRemoved),
        ticket: None,
        checked_in_at: None,
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn truncated(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}
