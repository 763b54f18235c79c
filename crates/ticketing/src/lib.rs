//! Use cases: what a buyer, an organizer or gate staff can do, each a method
//! on [`Ticketing`] with its own error enum.
//!
//! This crate orchestrates: it checks permissions, asks `domain` for the
//! rules, `store` for the data and the atomic steps, and payment gateways for
//! money. It knows nothing of HTTP; the web crate maps its errors to status
//! codes in one place.

pub mod accounts;
pub mod availability;
pub mod checkin;
pub mod checkout;
pub mod events;
pub mod fees;
pub mod gate;
pub mod holds;
pub mod jobs;
pub mod live;
pub mod mail;
pub mod notifications;
pub mod organizations;
pub mod outbound;
pub mod ownership;
pub mod payments;
pub mod push;
pub mod qr;
pub mod refunds;
pub mod resale;
pub mod reschedule;
pub mod seating;
pub mod transfers;
pub mod venues;
pub mod waiting_room;
pub mod webhooks;

use std::sync::Arc;

use domain::ids::{EventId, OrganizationId, UserId};
use domain::{Clock, Timestamp};
use store::{EventRecord, Store, StoreError};

pub use payments::{PaymentGateway, Payments, TestGateway};

/// Settings of the use cases, with their defaults in [`Settings::default`].
#[derive(Clone, Debug)]
pub struct Settings {
    pub hold_ttl: chrono::Duration,
    pub session_ttl: chrono::Duration,
    pub password_hashing: accounts::PasswordHashing,
    /// Where webhooks and push messages may be sent (`outbound`).
    pub outbound: outbound::OutboundPolicy,
    /// How long compact availability uses one database read, with the live
    /// changes heard since, before reading again (see `availability`).
    pub availability_reread: std::time::Duration,
    /// Whether an account accepts a ticket passed on to its address in the
    /// app only once it has confirmed the address, even if it existed
    /// before any offer was made there (`transfers::claim_needed`).
    pub transfers_need_confirmed_address: bool,
}

/// How long a bearer token stays valid: a working day, so gate staff sign in
/// once per shift.
pub const SESSION_TTL_SECS: i64 = 12 * 60 * 60;

impl Default for Settings {
    fn default() -> Self {
        Self {
            hold_ttl: chrono::Duration::seconds(domain::hold::HOLD_TTL_SECS_DEFAULT as i64),
            session_ttl: chrono::Duration::seconds(SESSION_TTL_SECS),
            password_hashing: accounts::PasswordHashing::default(),
            outbound: outbound::OutboundPolicy::default(),
            availability_reread: std::time::Duration::from_millis(availability::FRESH_MILLIS),
            transfers_need_confirmed_address: false,
        }
    }
}

/// The application: cheap to clone (one reference count), shared by every
/// request.
#[derive(Clone)]
pub struct Ticketing(Arc<Shared>);

impl std::ops::Deref for Ticketing {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`Ticketing`], reached through it.
#[derive(Clone)]
pub struct Shared {
    store: Store,
    clock: Arc<dyn Clock>,
    payments: Arc<Payments>,
    settings: Arc<Settings>,
    live: Arc<live::LiveHub>,
    ledger: Arc<ownership::LedgerState>,
    mailer: Arc<mail::Mailer>,
    push: Arc<push::PushState>,
    availability_cache: Arc<availability::AvailabilityCache>,
    velocity: Arc<waiting_room::VelocitySampler>,
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}

/// Why a caller may not do what they asked, shared by every use case.
#[derive(Debug, thiserror::Error)]
pub enum Denied {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
}

/// The SHA-256 of `data` in lower-case hex: how secrets (invitation links,
/// transfer claims) and request fingerprints are kept.
pub(crate) fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes ring the process's TLS crypto provider, for outgoing HTTPS
/// (webhooks). Idempotent; called by [`Ticketing::new`]. Any other HTTPS
/// client in the process (tests, tools) relies on it too.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Ticketing {
    pub fn new(store: Store, clock: Arc<dyn Clock>, payments: Arc<Payments>, settings: Settings) -> Self {
        install_crypto_provider();
        Self(Arc::new(Shared {
            store,
            clock,
            payments,
            settings: Arc::new(settings),
            live: Arc::new(live::LiveHub::default()),
            ledger: Arc::new(ownership::LedgerState::default()),
            mailer: Arc::new(mail::Mailer::unconfigured()),
            push: Arc::new(push::PushState::default()),
            availability_cache: Arc::new(availability::AvailabilityCache::default()),
            velocity: Arc::new(waiting_room::VelocitySampler::default()),
        }))
    }

    /// Sends web push with these settings (VAPID subject and key) instead of
    /// the defaults (a generated key, a placeholder contact).
    pub fn with_push(mut self, settings: push::PushSettings) -> Self {
        Arc::make_mut(&mut self.0).push = Arc::new(push::PushState::new(settings));
        self
    }

    /// Sends e-mail with `mailer` (SMTP server, sender, templates) instead
    /// of queueing it with the built-in templates only.
    pub fn with_mailer(mut self, mailer: mail::Mailer) -> Self {
        Arc::make_mut(&mut self.0).mailer = Arc::new(mailer);
        self
    }

    pub fn mailer(&self) -> &mail::Mailer {
        &self.mailer
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Now, to the millisecond: the precision the database keeps, so a time
    /// returned to a client is the same time it will read back later.
    pub fn now(&self) -> Timestamp {
        use chrono::SubsecRound;
        self.clock.now().trunc_subsecs(3)
    }

    /// The event, if it exists and `viewer` may see it: published, ended and
    /// cancelled events are public; drafts only to their organization.
    async fn visible_event(&self, viewer: Option<UserId>, event: EventId) -> Result<EventRecord, VisibleError> {
        let record = self.store.event(event).await?.ok_or(Denied::NotFound("event"))?;
        if record.status == domain::event::EventStatus::Draft {
            let member = match viewer {
                Some(user) => self.store.role_in(user, record.organization).await?.is_some(),
                None => false,
            };
            if !member {
                return Err(Denied::NotFound("event").into());
            }
        }
        Ok(record)
    }

    /// Checks that `user` holds a role in `org` that satisfies `allowed`.
    async fn require_role(
        &self,
        user: UserId,
        org: OrganizationId,
        allowed: fn(&domain::auth::Role) -> bool,
        why: &'static str,
    ) -> Result<domain::auth::Role, VisibleError> {
        match self.store.role_in(user, org).await? {
            Some(role) if allowed(&role) => Ok(role),
            Some(_) => Err(Denied::Forbidden(why).into()),
            None => Err(Denied::Forbidden("you are not a member of this organization").into()),
        }
    }
}

/// The errors of the shared checks above; each use case converts them.
#[derive(Debug, thiserror::Error)]
pub enum VisibleError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Implements `From<VisibleError>` for a use-case error with `Denied` and
/// `Store` variants.
macro_rules! from_visible {
    ($($err:ty),*) => {$(
        impl From<$crate::VisibleError> for $err {
            fn from(e: $crate::VisibleError) -> Self {
                match e {
                    $crate::VisibleError::Denied(d) => Self::Denied(d),
                    $crate::VisibleError::Store(s) => Self::Store(s),
                }
            }
        }
    )*};
}
pub(crate) use from_visible;
