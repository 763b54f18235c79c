//! Check-in at the gate.

use domain::barcode::{self, BARCODE_LEN_MAX};
use domain::checkin::CheckinOutcome;
use domain::ids::{EventId, UserId};
use store::{CheckinRecord, StoreError};

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
    pub async fn check_in(&self, scanner: UserId, event: EventId, code: &str) -> Result<CheckinRecord, CheckinError> {
        if code.trim().is_empty() || code.len() > BARCODE_LEN_MAX {
            return Err(CheckinError::BadInput);
        }
        let record = self.visible_event(Some(scanner), event).await?;
        self.require_role(scanner, record.organization, |r| r.can_check_in(), "only gate staff check tickets in")
            .await?;
        let now = self.now();
        let verified = match barcode::peek(code) {
            Ok(claims) => match self.store.event_public_key(claims.event).await? {
                Some(public) => barcode::verify(&public, code).ok(),
                None => None,
            },
            Err(_) => None,
        };
        let result = match verified {
            Some(claims) => {
                let entry = self.check_in_entry(&claims, now).await?;
                self.store.check_in(event, &claims, scanner, now, entry.as_ref()).await?
            }
            None => {
                self.store.log_rejected_scan(event, CheckinOutcome::Invalid, scanner, now).await?;
                CheckinRecord { outcome: CheckinOutcome::Invalid, ticket: None, checked_in_at: None }
            }
        };
        metrics::counter!("checkins_total", "result" => result.outcome.as_str()).increment(1);
        if result.outcome == CheckinOutcome::Admitted {
            self.publish_checkins(event).await;
        }
        Ok(result)
    }
}
