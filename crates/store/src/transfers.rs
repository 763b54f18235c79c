//! Ticket transfers between people.

use domain::Timestamp;
use domain::ids::{TicketId, UserId};

use crate::{NewLedgerEntry, Result, Store, StoreError, id, ms, ts};

#[derive(Clone, Debug)]
pub struct TransferRecord {
    pub id: String,
    pub ticket: TicketId,
    pub from_user: UserId,
    pub to_email: String,
    pub to_user: Option<UserId>,
    /// pending, accepted or cancelled; a pending offer past `expires_at` has lapsed.
    pub status: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    /// SHA-256 (hex) of the claim secret sent to `to_email`; `None` for
    /// offers made before claims existed.
    pub claim_hash: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    #[error("a transfer of this ticket is already waiting to be accepted")]
    PendingExists,
    #[error("this ticket is listed for resale: withdraw the listing before offering it to someone")]
    Listed,
    #[error("the ticket changed hands, was used or was revoked meanwhile")]
    TicketChanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("the transfer is no longer open")]
    NotOpen,
    #[error("the ticket changed since the transfer was offered")]
    TicketChanged,
    #[error("a buyer is paying for this ticket on the resale market")]
    BeingResold,
    #[error("at most {max} tickets per account for this event; this account already has {already}")]
    AccountLimit { max: u32, already: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AcceptError {
    fn from(e: sqlx::Error) -> Self {
        AcceptError::Store(e.into())
    }
}

/// The re-issue that accepting a transfer performs.
#[derive(Clone, Debug)]
pub struct Reissue<'a> {
    pub transfer: &'a str,
    pub ticket: TicketId,
    /// Who offered it: the ticket passes on only while they still hold it.
    pub from_holder: UserId,
    pub event: domain::ids::EventId,
    /// The event's ticket limit per account, which a gift counts toward as
    /// a purchase does: otherwise transfers would gather what the limit
    /// spreads.
    pub per_account_max: Option<u32>,
    pub new_holder: UserId,
    pub serial_before: u32,
    pub serial_after: u32,
    pub barcode: &'a str,
    pub ledger: &'a NewLedgerEntry,
}

type TransferRow = (String, String, String, String, Option<String>, String, i64, i64, Option<i64>, Option<String>);
const TRANSFER_COLUMNS: &str =
    "id, ticket_id, from_user, to_email, to_user, status, created_at, expires_at, accepted_at, claim_hash";

fn transfer(r: TransferRow) -> Result<TransferRecord> {
    Ok(TransferRecord {
        id: r.0,
        ticket: id(&r.1)?,
        from_user: id(&r.2)?,
        to_email: r.3,
        to_user: r.4.as_deref().map(id).transpose()?,
        status: r.5,
        created_at: ts(r.6)?,
        expires_at: ts(r.7)?,
        accepted_at: r.8.map(ts).transpose()?,
        claim_hash: r.9,
    })
}

impl Store {
    /// Records an offer; a lapsed earlier offer of the same ticket is closed
    /// first. At most one offer per ticket is open (a unique index decides).
    /// `notices` (the e-mail to the recipient) are written with the offer.
    pub async fn offer_transfer(
        &self,
        t: &TransferRecord,
        notices: &[crate::NewNotice],
        now: Timestamp,
    ) -> Result<(), OfferError> {
        let mut tx = self.write().await?;
        // The offerer must still hold the ticket. The no-op update also
        // locks the ticket's row on PostgreSQL, so an offer, a listing, an
        // accepted offer and a resale of one ticket happen one after another,
        // and each sees what the one before it did.
        let held = lock_held_ticket(&mut tx, t.ticket, t.from_user).await?;
        if !held {
            return Err(OfferError::TicketChanged);
        }
        if crate::listings::open_listing_exists(&mut tx, t.ticket).await? {
            return Err(OfferError::Listed);
        }
        sqlx::query("UPDATE transfers SET status = 'cancelled' WHERE ticket_id = $1 AND status = 'pending' AND expires_at <= $2")
            .bind(t.ticket.to_string())
            .bind(ms(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let inserted = sqlx::query(
            "INSERT INTO transfers (id, ticket_id, from_user, to_email, status, created_at, expires_at, claim_hash) \
             VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&t.id)
        .bind(t.ticket.to_string())
        .bind(t.from_user.to_string())
        .bind(&t.to_email)
        .bind(ms(t.created_at))
        .bind(ms(t.expires_at))
        .bind(&t.claim_hash)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if inserted.rows_affected() == 0 {
            return Err(OfferError::PendingExists);
        }
        for n in notices {
            crate::notifications::insert_notice(&mut tx, n, now).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    pub async fn transfer(&self, transfer_id: &str) -> Result<Option<TransferRecord>> {
        let row: Option<TransferRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = $1")))
                .bind(transfer_id)
                .fetch_optional(&mut *self.read().await?)
                .await?;
        row.map(transfer).transpose()
    }

    /// When the first offer ever made to `email` was made, if one was.
    pub async fn first_transfer_to(&self, email: &str) -> Result<Option<Timestamp>> {
        let (first,): (Option<i64>,) = sqlx::query_as("SELECT MIN(created_at) FROM transfers WHERE to_email = $1")
            .bind(email)
            .fetch_one(&mut *self.read().await?)
            .await?;
        first.map(ts).transpose()
    }

    /// Offers made to `email` that are still open at `now`.
    pub async fn open_transfers_to(&self, email: &str, now: Timestamp) -> Result<Vec<TransferRecord>> {
        let rows: Vec<TransferRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE to_email = $1 AND status = 'pending' AND expires_at > $2 \
             ORDER BY created_at"
        )))
        .bind(email)
        .bind(ms(now))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(transfer).collect()
    }

    /// Open offers the user has made, newest first.
    pub async fn open_transfers_from(&self, user: UserId, now: Timestamp) -> Result<Vec<TransferRecord>> {
        let rows: Vec<TransferRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE from_user = $1 AND status = 'pending' AND expires_at > $2 \
             ORDER BY created_at DESC"
        )))
        .bind(user.to_string())
        .bind(ms(now))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(transfer).collect()
    }

    /// Withdraws `from`'s offer while nobody has accepted it; `false` when it
    /// is not open (accepted, cancelled, or someone else's).
    pub async fn cancel_transfer(&self, transfer_id: &str, from: UserId) -> Result<bool> {
        let done = self
            .write_one(
                sqlx::query(
                    "UPDATE transfers SET status = 'cancelled' WHERE id = $1 AND from_user = $2 AND status = 'pending'",
                )
                .bind(transfer_id)
                .bind(from.to_string()),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many times the ticket has changed hands by transfer.
    pub async fn accepted_transfers(&self, ticket: TicketId) -> Result<u32> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM transfers WHERE ticket_id = $1 AND status = 'accepted'")
                .bind(ticket.to_string())
                .fetch_one(&mut *self.read().await?)
                .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Accepts an open offer: the ticket gets its new holder, serial and
    /// barcode (the old barcode stops working at once), the offer closes and
    /// the log records the transfer, all in one transaction.
    pub async fn accept_transfer(&self, r: &Reissue<'_>, now: Timestamp) -> Result<(), AcceptError> {
        let mut tx = self.write().await?;
        let closed = sqlx::query(
            "UPDATE transfers SET status = 'accepted', to_user = $1, accepted_at = $2 \
             WHERE id = $3 AND status = 'pending' AND expires_at > $4",
        )
        .bind(r.new_holder.to_string())
        .bind(ms(now))
        .bind(r.transfer)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        if closed.rows_affected() != 1 {
            return Err(AcceptError::NotOpen);
        }
        let guards = crate::HoldGuards { admission: None, per_account_max: r.per_account_max };
        match crate::holds::apply_guards(&mut tx, &r.event.to_string(), r.new_holder, 1, &guards, ms(now)).await {
            Ok(()) => {}
            Err(crate::PlaceHoldError::AccountLimit { max, already }) => {
                return Err(AcceptError::AccountLimit { max, already });
            }
            Err(crate::PlaceHoldError::Store(e)) => return Err(AcceptError::Store(e)),
            Err(e) => return Err(AcceptError::Store(StoreError::Corrupt(e.to_string()))),
        }
        crate::checkins::retire_serial(&mut tx, r.ticket, i64::from(r.serial_before), now).await?;
        let reissued = sqlx::query(
            "UPDATE tickets SET holder_id = $1, serial = $2, barcode = $3, entry_code = $7 \
             WHERE id = $4 AND serial = $5 AND holder_id = $6 AND status = 'valid' AND checked_in_at IS NULL",
        )
        .bind(r.new_holder.to_string())
        .bind(i64::from(r.serial_after))
        .bind(r.barcode)
        .bind(r.ticket.to_string())
        .bind(i64::from(r.serial_before))
        .bind(r.from_holder.to_string())
        .bind(domain::barcode::entry_code(r.barcode))
        .execute(&mut *tx)
        .await?;
        if reissued.rows_affected() != 1 {
            return Err(AcceptError::TicketChanged);
        }
        // The offerer's listing of the ticket, if any, ends with the gift; a
        // buyer already paying for it keeps it, and the offer waits.
        sqlx::query(
            "UPDATE listings SET status = 'withdrawn' \
             WHERE ticket_id = $1 AND status = 'open' AND (held_until IS NULL OR held_until <= $2)",
        )
        .bind(r.ticket.to_string())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        if crate::listings::open_listing_exists(&mut tx, r.ticket).await? {
            return Err(AcceptError::BeingResold);
        }
        crate::ledger::insert_ledger_entry(&mut tx, r.ledger, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Locks the ticket's row (PostgreSQL) and tells whether `holder` holds it,
/// valid and unused.
pub(crate) async fn lock_held_ticket(tx: &mut crate::WriteTx, ticket: TicketId, holder: UserId) -> Result<bool> {
    let locked = sqlx::query(
        "UPDATE tickets SET serial = serial \
         WHERE id = $1 AND holder_id = $2 AND status = 'valid' AND checked_in_at IS NULL",
    )
    .bind(ticket.to_string())
    .bind(holder.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(locked.rows_affected() == 1)
}

/// Closes the ticket's open transfer offers: it changed hands another way.
pub(crate) async fn cancel_open_offers(tx: &mut crate::WriteTx, ticket: TicketId) -> Result<()> {
    sqlx::query("UPDATE transfers SET status = 'cancelled' WHERE ticket_id = $1 AND status = 'pending'")
        .bind(ticket.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether an offer of the ticket is waiting to be accepted at `now`.
pub(crate) async fn open_offer_exists(tx: &mut crate::WriteTx, ticket: TicketId, now: Timestamp) -> Result<bool> {
    let found: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM transfers WHERE ticket_id = $1 AND status = 'pending' AND expires_at > $2 LIMIT 1",
    )
    .bind(ticket.to_string())
    .bind(ms(now))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}
