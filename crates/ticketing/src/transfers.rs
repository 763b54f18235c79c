//! Passing a ticket on: the holder offers it to an e-mail address, the
//! recipient accepts, and the ticket is re-issued to them with a new barcode.
//! The old barcode stops working the moment the transfer is accepted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::Timestamp;
use domain::barcode::BarcodeClaims;
use domain::checkin::TicketStatus;
use domain::email::{Email, InvalidEmail};
use domain::ids::{TicketId, UserId};
use domain::transfer::{TransferRefusal, TransferableTicket, check_offer};
use store::{AcceptError, OfferError, Reissue, StoreError, TicketRecord, TransferRecord};

use crate::{Denied, Ticketing};

/// Random bytes in a transfer's claim secret: as many as a session token's.
const CLAIM_SECRET_BYTES: usize = 32;
/// Longest claim looked at; anything longer is no secret of ours.
const CLAIM_LEN_MAX: usize = 128;

fn claim_hash(secret: &str) -> String {
    crate::sha256_hex(secret)
}

/// Whether accepting `offer` needs the claim secret mailed to its address.
///
/// Anyone may sign up with any address, so an account proves it reads the
/// address's mail only once it has confirmed it (or brings the claim, which
/// confirms it: [`Ticketing::accept_transfer`]). A confirmed account never
/// needs the claim. An unconfirmed one needs it when it was made after the
/// first offer ever made to that address (`first_offer`; to the
/// millisecond): counting from the first offer means a withdrawn offer sent
/// again does not let an account made in between skip the claim. An
/// unconfirmed account that existed before any offer is the one its senders
/// saw there, and accepts without the claim, unless the operator requires
/// confirmed addresses (`strict`), which also stops someone who signed up
/// with another's address before anything was sent there.
pub fn claim_needed(account: &store::UserRecord, first_offer: Timestamp, offer: &TransferRecord, strict: bool) -> bool {
    offer.claim_hash.is_some()
        && account.email_verified_at.is_none()
        && (strict || account.created_at > first_offer.min(offer.created_at))
}

/// Whether `claim` is the secret mailed with `offer`.
pub fn claim_matches(offer: &TransferRecord, claim: &str) -> bool {
    claim.len() <= CLAIM_LEN_MAX && offer.claim_hash.as_deref().is_some_and(|h| h == claim_hash(claim))
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    InvalidEmail(#[from] InvalidEmail),
    #[error(transparent)]
    Refused(#[from] TransferRefusal),
    #[error("a transfer of this ticket is already waiting to be accepted")]
    PendingExists,
    #[error("this transfer offer has lapsed, was accepted already, or was cancelled")]
    NotOpen,
    /// The account has to bring the claim secret ([`claim_needed`]) and
    /// brought none, or the wrong one.
    #[error(
        "your account has not confirmed that {0} is yours: open the link in the e-mail with this offer to accept it"
    )]
    ClaimRequired(String),
    #[error("the ticket was used, revoked or passed on another way after the offer was made")]
    TicketChanged,
    #[error("this ticket is listed for resale: withdraw the listing before offering it to someone")]
    Listed,
    #[error("a buyer is paying for this ticket on the resale market; try again in a few minutes")]
    BeingResold,
    #[error("at most {max} tickets per account for this event; this account already has {already}")]
    AccountLimit { max: u32, already: u32 },
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Ticketing {
    /// Offers the holder's ticket to whoever signs in with `to_email`.
    pub async fn offer_transfer(
        &self,
        user: UserId,
        ticket: TicketId,
        to_email: &str,
    ) -> Result<TransferRecord, TransferError> {
        let to = Email::parse(to_email)?;
        let record = match self.store.ticket(ticket).await? {
            Some(t) if t.holder == user => t,
            _ => return Err(Denied::NotFound("ticket").into()),
        };
        let event = self.store.event(record.event).await?.ok_or(Denied::NotFound("event"))?;
        let me = self.store.user_by_id(user).await?.ok_or(Denied::NotFound("user"))?;
        let now = self.now();
        let state = TransferableTicket {
            valid: record.status == TicketStatus::Valid,
            checked_in: record.checked_in_at.is_some(),
            transfers_so_far: self.store.accepted_transfers(ticket).await?,
        };
        let expires_at = check_offer(&event.transfer_policy, event.starts_at, state, me.email == to.as_str(), now)?;
        let mut secret = [0u8; CLAIM_SECRET_BYTES];
        rand::fill(&mut secret);
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let offer = TransferRecord {
            id: domain::ids::TransferId::new().to_string(),
            ticket,
            from_user: user,
            to_email: to.as_str().to_owned(),
            to_user: None,
            status: "pending".into(),
            created_at: now,
            expires_at,
            accepted_at: None,
            claim_hash: Some(claim_hash(&secret)),
        };
        // The recipient hears of it by e-mail, and in the app if they have
        // an account already, unless that account must claim the offer: the
        // claim then goes to the mailbox alone.
        let first_offer = self.store.first_transfer_to(to.as_str()).await?.unwrap_or(now);
        let strict = self.settings.transfers_need_confirmed_address;
        let to_whom = match self.store.user_by_email(&to).await? {
            Some(u) if !claim_needed(&u, first_offer, &offer, strict) => {
                crate::notifications::To::Account(self.recipient(u.id).await?)
            }
            _ => crate::notifications::To::Address {
                email: to.as_str().to_owned(),
                locale: crate::mail::LOCALE_DEFAULT.to_owned(),
            },
        };
        let expires_at_text = crate::notifications::venue_time_text(expires_at, &event.timezone);
        let notice = self.notice(crate::notifications::Notice {
            kind: crate::notifications::MessageKind::TransferOffer,
            to: to_whom,
            dedupe_key: format!("transfer:{}", offer.id),
            // Only the recipient's mail (and their account's inbox) carries
            // the secret; the offer answered to the sender does not.
            link: format!("/tickets?claim={secret}#incoming"),
            data: serde_json::json!({
                "event": crate::notifications::event_data(&event),
                "from_name": me.name,
                "expires_at_text": expires_at_text,
                "transfer": {"id": offer.id},
            }),
        });
        match self.store.offer_transfer(&offer, &[notice], now).await {
            Ok(()) => Ok(offer),
            Err(OfferError::PendingExists) => Err(TransferError::PendingExists),
            Err(OfferError::Listed) => Err(TransferError::Listed),
            Err(OfferError::TicketChanged) => Err(TransferError::TicketChanged),
            Err(OfferError::Store(e)) => Err(e.into()),
        }
    }

    /// Withdraws an offer the user made, while it is open: a ticket offered to
    /// a mistyped address can be offered again at once.
    pub async fn cancel_transfer(&self, user: UserId, transfer: &str) -> Result<(), TransferError> {
        match self.store.transfer(transfer).await? {
            Some(t) if t.from_user == user => {}
            // Someone else's offer does not exist, as far as this user knows.
            _ => return Err(Denied::NotFound("transfer").into()),
        }
        if self.store.cancel_transfer(transfer, user).await? { Ok(()) } else { Err(TransferError::NotOpen) }
    }

    /// Open offers the signed-in user has made.
    pub async fn outgoing_transfers(&self, user: UserId) -> Result<Vec<TransferRecord>, StoreError> {
        self.store.open_transfers_from(user, self.now()).await
    }

    /// Offers waiting for the signed-in user.
    pub async fn incoming_transfers(&self, user: UserId) -> Result<Vec<TransferRecord>, StoreError> {
        match self.store.user_by_id(user).await? {
            Some(me) => self.store.open_transfers_to(&me.email, self.now()).await,
            None => Ok(Vec::new()),
        }
    }

    /// Accepts an offer made to the signed-in user's e-mail address; an
    /// account that has not confirmed the address may have to bring the
    /// `claim` secret mailed with the offer ([`claim_needed`]).
    pub async fn accept_transfer(
        &self,
        user: UserId,
        transfer: &str,
        claim: Option<&str>,
    ) -> Result<TicketRecord, TransferError> {
        let me = self.store.user_by_id(user).await?.ok_or(Denied::NotFound("user"))?;
        let offer = match self.store.transfer(transfer).await? {
            Some(t) if t.to_email == me.email => t,
            // Someone else's offer does not exist, as far as this user knows.
            _ => return Err(Denied::NotFound("transfer").into()),
        };
        let now = self.now();
        if offer.status != "pending" || offer.expires_at <= now {
            return Err(TransferError::NotOpen);
        }
        let first_offer = self.store.first_transfer_to(&offer.to_email).await?.unwrap_or(offer.created_at);
        if claim_needed(&me, first_offer, &offer, self.settings.transfers_need_confirmed_address) {
            if !claim.is_some_and(|c| claim_matches(&offer, c)) {
                return Err(TransferError::ClaimRequired(offer.to_email));
            }
            // The secret came from the address's mailbox: it is theirs.
            self.store.mark_email_verified(user, &me.email, now).await?;
        }
        let ticket = self.store.ticket(offer.ticket).await?.ok_or(Denied::NotFound("ticket"))?;
        let key = self
            .store
            .event_key(ticket.event)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("event {} has no signing key", ticket.event)))?;
        let serial = ticket.serial + 1;
        let barcode = key.sign(&BarcodeClaims { ticket: ticket.id, event: ticket.event, serial });
        let entry = self.ledger_entry(ledger::EntryKind::Transfer, ticket.id, ticket.event, user, now).await?;
        let reissue = Reissue {
            transfer,
            ticket: ticket.id,
            from_holder: offer.from_user,
            event: ticket.event,
            per_account_max: self.store.sale_guard(ticket.event).await?.and_then(|g| g.tickets_per_account_max),
            new_holder: user,
            serial_before: ticket.serial,
            serial_after: serial,
            barcode: &barcode,
            ledger: &entry,
        };
        match self.store.accept_transfer(&reissue, now).await {
            Ok(()) => {}
            Err(AcceptError::NotOpen) => return Err(TransferError::NotOpen),
            Err(AcceptError::TicketChanged) => return Err(TransferError::TicketChanged),
            Err(AcceptError::BeingResold) => return Err(TransferError::BeingResold),
            Err(AcceptError::AccountLimit { max, already }) => {
                return Err(TransferError::AccountLimit { max, already });
            }
            Err(AcceptError::Store(e)) => return Err(e.into()),
        }
        metrics::counter!("transfers_accepted_total").increment(1);
        Ok(self.store.ticket(ticket.id).await?.ok_or_else(|| StoreError::Corrupt("ticket vanished".into()))?)
    }
}
