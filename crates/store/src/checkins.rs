//! Check-in: admitting a ticket at most once, and the log of every scan.

use domain::Timestamp;
use domain::barcode::BarcodeClaims;
use domain::checkin::{CheckinOutcome, Retirement, SyncOutcome, TicketAtGate, TicketStatus, decide, decide_sync};
use domain::ids::{CheckinId, EventId, TicketId, UserId};

use crate::{Result, Store, StoreError, id, ms, ts};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckinRecord {
    pub outcome: CheckinOutcome,
    pub ticket: Option<TicketId>,
    /// When the ticket was admitted: now for `Admitted`, earlier for
    /// `AlreadyCheckedIn`.
    pub checked_in_at: Option<Timestamp>,
}

async fn read_ticket(tx: &mut crate::WriteTx, claims: &BarcodeClaims) -> Result<Option<TicketAtGate>> {
    type Row = (String, String, i64, Option<i64>, Option<String>, Option<i64>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT event_id, status, serial, checked_in_at, checked_in_device, revoked_at FROM tickets WHERE id = $1",
    )
    .bind(claims.ticket.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((e, status, serial, checked, device, revoked_at)) = row else {
        return Ok(None);
    };
    let serial = u32::try_from(serial).map_err(|_| StoreError::Corrupt("serial".into()))?;
    let status = if status == "valid" { TicketStatus::Valid } else { TicketStatus::Revoked };
    // When the scanned barcode stopped admitting: its serial's re-issue
    // came first if there was one, else the ticket's revocation.
    let retired = if claims.serial < serial {
        let at: Option<(i64,)> =
            sqlx::query_as("SELECT retired_at FROM retired_serials WHERE ticket_id = $1 AND serial = $2")
                .bind(claims.ticket.to_string())
                .bind(i64::from(claims.serial))
                .fetch_optional(&mut **tx)
                .await?;
        at.map(|(at,)| ts(at).map(|at| (at, Retirement::Reissued))).transpose()?
    } else if status == TicketStatus::Revoked {
        revoked_at.map(|at| ts(at).map(|at| (at, Retirement::Revoked))).transpose()?
    } else {
        None
    };
    Ok(Some(TicketAtGate {
        id: claims.ticket,
        event: id(&e)?,
        status,
        serial,
        checked_in_at: checked.map(ts).transpose()?,
        checked_in_device: device,
        retired,
    }))
}

/// A synced offline scan, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRecord {
    pub outcome: SyncOutcome,
    pub checked_in_at: Option<Timestamp>,
}

/// An offline scan whose sync needs a person to look at it: a ticket let in
/// twice (`conflict`), or let in before it was passed on, resold or revoked
/// (`used_before_reissue`, `used_before_revocation`).
#[derive(Clone, Debug)]
pub struct GateProblem {
    pub ticket: TicketId,
    pub result: String,
    pub device: Option<String>,
    pub scanned_at: Timestamp,
}

/// The sync results [`Store::gate_problems`] lists.
const GATE_PROBLEM_RESULTS: &str = "'conflict', 'used_before_reissue', 'used_before_revocation'";

/// One ticket as an offline gate needs to know it.
#[derive(Clone, Debug)]
pub struct GateTicket {
    pub id: TicketId,
    pub serial: u32,
    pub valid: bool,
    pub checked_in_at: Option<Timestamp>,
    /// What staff type when the QR code cannot be scanned.
    pub entry_code: Option<String>,
}

/// Tickets whose codes [`Store::fill_entry_codes`] fills per statement.
const ENTRY_CODE_FILL_BATCH: i64 = 500;

/// A scan an offline gate made, as it is recorded.
#[derive(Clone, Copy, Debug)]
pub struct OfflineScanAt<'a> {
    pub scanner: UserId,
    pub device: &'a str,
    pub at: Timestamp,
    /// Whether `at` is the gate's own time; when its clock could not be
    /// believed, the server's time stands in.
    pub gate_clock_believed: bool,
    /// When the event's gates opened: a scan of a barcode that has since
    /// stopped admitting counts as a use only if made after.
    pub gates_opened_at: Timestamp,
}

impl Store {
    /// Records a scan an offline gate made. The first admission of a ticket
    /// wins; a later one, from another device or from the same device at
    /// another time, is a conflict. A device re-sending its own scan changes
    /// nothing.
    pub async fn sync_check_in(
        &self,
        event: EventId,
        claims: &BarcodeClaims,
        scan: OfflineScanAt<'_>,
        ledger: Option<&crate::NewLedgerEntry>,
    ) -> Result<SyncRecord> {
        let OfflineScanAt { scanner, device, at: scanned_at, gate_clock_believed, gates_opened_at } = scan;
        let reported_at = gate_clock_believed.then_some(scanned_at);
        let mut tx = self.write().await?;
        let mut ticket = read_ticket(&mut tx, claims).await?;
        let mut outcome = decide_sync(event, claims, ticket.as_ref(), device, reported_at, gates_opened_at);
        let admits = match outcome {
            SyncOutcome::Admitted => Some(
                "UPDATE tickets SET checked_in_at = $1, checked_in_device = $2 \
                 WHERE id = $3 AND event_id = $4 AND status = 'valid' AND serial = $5 AND checked_in_at IS NULL",
            ),
            // The barcode was good when the gate let its holder in: the
            // ticket is used, whoever holds it now and whatever its status.
            SyncOutcome::UsedBeforeRetirement(_) => Some(
                "UPDATE tickets SET checked_in_at = $1, checked_in_device = $2 \
                 WHERE id = $3 AND event_id = $4 AND serial >= $5 AND checked_in_at IS NULL",
            ),
            _ => None,
        };
        if let Some(admit) = admits
            && ticket.as_ref().is_some_and(|t| t.checked_in_at.is_none())
        {
            let admitted = sqlx::query(admit)
                .bind(ms(scanned_at))
                .bind(device)
                .bind(claims.ticket.to_string())
                .bind(event.to_string())
                .bind(i64::from(claims.serial))
                .execute(&mut *tx)
                .await?;
            if admitted.rows_affected() != 1 {
                ticket = read_ticket(&mut tx, claims).await?;
                outcome = decide_sync(event, claims, ticket.as_ref(), device, reported_at, gates_opened_at);
            } else {
                close_market(&mut tx, claims).await?;
                if let Some(t) = ticket.as_mut() {
                    t.checked_in_at = Some(scanned_at);
                }
                // The log's check-in names the ticket's holder now: who was
                // let in, unless the ticket was passed on since.
                if outcome != SyncOutcome::UsedBeforeRetirement(Retirement::Reissued)
                    && let Some(entry) = ledger
                {
                    crate::ledger::insert_ledger_entry(&mut tx, entry, scanned_at).await?;
                }
            }
        }
        let result = outcome.as_str();
        let known = ticket.is_some() && !matches!(outcome, SyncOutcome::Refused(CheckinOutcome::Invalid));
        sqlx::query(
            "INSERT INTO checkins (id, event_id, ticket_id, result, scanned_by, scanned_at, device_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(CheckinId::new().to_string())
        .bind(event.to_string())
        .bind(known.then(|| claims.ticket.to_string()))
        .bind(result)
        .bind(scanner.to_string())
        .bind(ms(scanned_at))
        .bind(device)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let checked_in_at = match outcome {
            SyncOutcome::Refused(_) => None,
            _ => ticket.and_then(|t| t.checked_in_at),
        };
        Ok(SyncRecord { outcome, checked_in_at })
    }

    /// The latest `limit` offline scans of `event` whose sync needs a person
    /// to look at them, newest first; a scan synced twice is listed once.
    pub async fn gate_problems(&self, event: EventId, limit: u32) -> Result<Vec<GateProblem>> {
        let rows: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT ticket_id, result, device_id, scanned_at FROM checkins \
             WHERE event_id = $1 AND ticket_id IS NOT NULL AND result IN ({GATE_PROBLEM_RESULTS}) \
             ORDER BY scanned_at DESC, ticket_id LIMIT $2"
        )))
        .bind(event.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter()
            .map(|(t, result, device, at)| Ok(GateProblem { ticket: id(&t)?, result, device, scanned_at: ts(at)? }))
            .collect()
    }

    /// When `ticket`'s barcode at `serial` was issued: with the ticket, or
    /// when the serial before it was retired (a transfer or resale).
    pub async fn barcode_issued_at(&self, ticket: TicketId, serial: u32) -> Result<Option<Timestamp>> {
        let mut read = self.read().await?;
        if serial > 1 {
            let at: Option<(i64,)> =
                sqlx::query_as("SELECT retired_at FROM retired_serials WHERE ticket_id = $1 AND serial = $2")
                    .bind(ticket.to_string())
                    .bind(i64::from(serial) - 1)
                    .fetch_optional(&mut *read)
                    .await?;
            if let Some((at,)) = at {
                return ts(at).map(Some);
            }
        }
        // The first serial, or one re-issued before retirements were kept.
        let created: Option<(i64,)> = sqlx::query_as("SELECT created_at FROM tickets WHERE id = $1")
            .bind(ticket.to_string())
            .fetch_optional(&mut *read)
            .await?;
        created.map(|(at,)| ts(at)).transpose()
    }

    /// Every ticket of the event with what a gate needs to judge it offline.
    pub async fn gate_tickets(&self, event: EventId) -> Result<Vec<GateTicket>> {
        let rows: Vec<(String, i64, String, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT id, serial, status, checked_in_at, entry_code FROM tickets WHERE event_id = $1 ORDER BY id",
        )
        .bind(event.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter()
            .map(|(t, serial, status, checked, entry_code)| {
                Ok(GateTicket {
                    id: id(&t)?,
                    serial: u32::try_from(serial).map_err(|_| StoreError::Corrupt("serial".into()))?,
                    valid: status == "valid",
                    checked_in_at: checked.map(ts).transpose()?,
                    entry_code,
                })
            })
            .collect()
    }

    /// The entry codes `event`'s tickets had before they were passed on or
    /// resold and no ticket has now: an offline gate answers them as the old
    /// barcode (re-issued), as the server does, rather than as typos.
    pub async fn retired_entry_codes(&self, event: EventId) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT r.entry_code FROM retired_entry_codes r WHERE r.event_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.event_id = r.event_id AND t.entry_code = r.entry_code) \
             ORDER BY r.entry_code",
        )
        .bind(event.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(rows.into_iter().map(|(c,)| c).collect())
    }

    /// The current barcodes of `event`'s tickets whose entry code is `code`:
    /// one, normally; none for a typo; two only by a one-in-millions chance.
    /// A code no ticket has now but one had before it was re-issued gives
    /// that old barcode, which the gate then refuses as re-issued.
    pub async fn barcodes_by_entry_code(&self, event: EventId, code: &str) -> Result<Vec<String>> {
        let mut read = self.read().await?;
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT barcode FROM tickets WHERE event_id = $1 AND entry_code = $2 LIMIT 2")
                .bind(event.to_string())
                .bind(code)
                .fetch_all(&mut *read)
                .await?;
        if !rows.is_empty() {
            return Ok(rows.into_iter().map(|(b,)| b).collect());
        }
        let retired: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT barcode FROM retired_entry_codes WHERE event_id = $1 AND entry_code = $2 LIMIT 2",
        )
        .bind(event.to_string())
        .bind(code)
        .fetch_all(&mut *read)
        .await?;
        Ok(retired.into_iter().map(|(b,)| b).collect())
    }

    /// Gives tickets issued before entry codes existed theirs. Runs at start
    /// and returns how many it filled; a batch at a time, so that the write
    /// connection is never held for long.
    pub async fn fill_entry_codes(&self) -> Result<u64> {
        let mut filled = 0;
        loop {
            let rows: Vec<(String, String)> =
                sqlx::query_as("SELECT id, barcode FROM tickets WHERE entry_code IS NULL LIMIT $1")
                    .bind(ENTRY_CODE_FILL_BATCH)
                    .fetch_all(&mut *self.read().await?)
                    .await?;
            if rows.is_empty() {
                return Ok(filled);
            }
            let mut tx = self.write().await?;
            for (ticket, barcode) in &rows {
                // Only if the barcode is still the one read: a ticket re-issued
                // meanwhile got its new code with its new barcode.
                sqlx::query("UPDATE tickets SET entry_code = $1 WHERE id = $2 AND barcode = $3")
                    .bind(domain::barcode::entry_code(barcode))
                    .bind(ticket)
                    .bind(barcode)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            filled += rows.len() as u64;
        }
    }

    /// Decides and records a scan of a barcode whose signature has verified.
    /// One write transaction: of any number of concurrent scans of one ticket,
    /// exactly one sees it unadmitted and admits it.
    /// `ledger` is the log entry to append if, and only if, the scan admits.
    pub async fn check_in(
        &self,
        event: EventId,
        claims: &BarcodeClaims,
        scanner: UserId,
        now: Timestamp,
        ledger: Option<&crate::NewLedgerEntry>,
    ) -> Result<CheckinRecord> {
        let mut tx = self.write().await?;
        let read = async |tx: &mut crate::WriteTx| -> Result<Option<TicketAtGate>> { read_ticket(tx, claims).await };
        let mut at_gate = read(&mut tx).await?;
        let mut outcome = decide(event, claims, at_gate.as_ref());
        if outcome == CheckinOutcome::Admitted {
            // The conditional update is the arbiter: of concurrent scans,
            // exactly one finds checked_in_at still empty.
            let admitted = sqlx::query(
                "UPDATE tickets SET checked_in_at = $1 \
                 WHERE id = $2 AND event_id = $3 AND status = 'valid' AND serial = $4 AND checked_in_at IS NULL",
            )
            .bind(ms(now))
            .bind(claims.ticket.to_string())
            .bind(event.to_string())
            .bind(i64::from(claims.serial))
            .execute(&mut *tx)
            .await?;
            if admitted.rows_affected() != 1 {
                // Another gate won; say what the ticket looks like now.
                at_gate = read(&mut tx).await?;
                outcome = decide(event, claims, at_gate.as_ref());
                assert_ne!(outcome, CheckinOutcome::Admitted, "ticket {} admitted twice", claims.ticket);
            } else {
                close_market(&mut tx, claims).await?;
            }
        }
        if outcome == CheckinOutcome::Admitted
            && let Some(entry) = ledger
        {
            crate::ledger::insert_ledger_entry(&mut tx, entry, now).await?;
        }
        let checked_in_at = match outcome {
            CheckinOutcome::Admitted => Some(now),
            CheckinOutcome::AlreadyCheckedIn => at_gate.as_ref().and_then(|t| t.checked_in_at),
            _ => None,
        };
        let known = at_gate.is_some() && outcome != CheckinOutcome::Invalid;
        sqlx::query(
            "INSERT INTO checkins (id, event_id, ticket_id, result, scanned_by, scanned_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(CheckinId::new().to_string())
        .bind(event.to_string())
        .bind(known.then(|| claims.ticket.to_string()))
        .bind(outcome.as_str())
        .bind(scanner.to_string())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CheckinRecord { outcome, ticket: known.then_some(claims.ticket), checked_in_at })
    }

    /// Logs a scan that never reached a ticket (unreadable or forged).
    pub async fn log_rejected_scan(
        &self,
        event: EventId,
        outcome: CheckinOutcome,
        scanner: UserId,
        now: Timestamp,
    ) -> Result<()> {
        self.write_one(sqlx::query("INSERT INTO checkins (id, event_id, ticket_id, result, scanned_by, scanned_at) VALUES ($1, $2, NULL, $3, $4, $5)")
            .bind(CheckinId::new().to_string())
            .bind(event.to_string())
            .bind(outcome.as_str())
            .bind(scanner.to_string())
            .bind(ms(now))
            )
            .await?;
        Ok(())
    }
}

/// Retires `ticket`'s `serial`, inside the transaction that is about to
/// re-issue it (a transfer or a resale): keeps when it stopped admitting,
/// and the entry code and barcode it had.
pub(crate) async fn retire_serial(
    tx: &mut crate::WriteTx,
    ticket: TicketId,
    serial: i64,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO retired_serials (ticket_id, serial, retired_at) VALUES ($1, $2, $3) \
         ON CONFLICT (ticket_id, serial) DO NOTHING",
    )
    .bind(ticket.to_string())
    .bind(serial)
    .bind(ms(now))
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO retired_entry_codes (event_id, entry_code, barcode, retired_at) \
         SELECT event_id, entry_code, barcode, $3 FROM tickets WHERE id = $1 AND serial = $2 AND entry_code IS NOT NULL",
    )
    .bind(ticket.to_string())
    .bind(serial)
    .bind(ms(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A ticket let in is used: its resale listing and any offer to pass it on
/// close with the admission, so nobody pays for, or is offered, a ticket
/// that admits no more. A buyer holding the listing is refused at checkout
/// (and refunded).
async fn close_market(tx: &mut crate::WriteTx, claims: &BarcodeClaims) -> Result<()> {
    sqlx::query("UPDATE listings SET status = 'withdrawn' WHERE ticket_id = $1 AND status = 'open'")
        .bind(claims.ticket.to_string())
        .execute(&mut **tx)
        .await?;
    crate::transfers::cancel_open_offers(tx, claims.ticket).await
}
