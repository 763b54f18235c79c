//! Wiring: configuration, start-up, demo data. The binary in `main.rs` is a
//! thin shell around [`start`]; tests start servers the same way.

pub mod audit;
pub mod demo;
pub mod loadtest;
pub mod ops;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use domain::Clock;
use ticketing::accounts::PasswordHashing;
use ticketing::{Payments, Settings, Ticketing};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where the embedded database lives unless `DATABASE_URL` says otherwise.
pub const DATABASE_URL_DEFAULT: &str = "sqlite://data/robust-ticketing.db";
pub const BIND_DEFAULT: &str = "127.0.0.1:8080";

/// How often each node tidies expired holds (announcing them to live seat
/// maps), sequences new ownership-log entries under a signed tree head (the
/// longest a sale waits to appear in the public log), pays out resale
/// escrow of events that have ended and schedules the day-before reminders
/// of events about to start.
const HOUSEKEEPING_INTERVAL_MILLIS: u64 = 1_000;

/// How often each node looks for payment attempts whose outcome is still
/// open (a charge without an order, an answer that never came, a refund to
/// retry). Its own task: it calls gateways, which may take their timeout,
/// and must not delay the one-second housekeeping.
pub const PAYMENT_RECONCILE_MILLIS_DEFAULT: u64 = 30_000;

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: String,
    /// Load demo data into an empty database.
    pub demo: bool,
    pub hold_ttl_secs: u64,
    pub password_hashing: PasswordHashing,
    pub postgres_connections_max: u32,
    /// Work the background job queue in this process.
    pub run_jobs: bool,
    pub job_lease_secs: u64,
    pub job_poll_millis: u64,
    /// How often this node reconciles payment attempts left open.
    pub payment_reconcile_millis: u64,
    /// SMTP server, sender, templates and links of e-mail.
    pub mail: ticketing::mail::MailSettings,
    /// Per-address and per-account request limits (429 with Retry-After).
    pub rate_limits: web::limits::RateLimitConfig,
    /// Web push: the VAPID contact and (optionally) key.
    pub push: ticketing::push::PushSettings,
    /// Where webhooks and push messages may go: public addresses only
    /// unless the operator allows private ones.
    pub outbound: ticketing::outbound::OutboundPolicy,
    /// How long compact availability uses one database read (with the live
    /// changes heard since) before reading again.
    pub availability_reread_millis: u64,
    /// Whether ticket transfers are accepted in the app only by accounts
    /// that confirmed their address (others use the offer's mailed link).
    pub transfers_need_confirmed_address: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: BIND_DEFAULT.parse().expect("default bind address parses"),
            database_url: DATABASE_URL_DEFAULT.to_owned(),
            demo: true,
            hold_ttl_secs: domain::hold::HOLD_TTL_SECS_DEFAULT,
            password_hashing: PasswordHashing::default(),
            postgres_connections_max: store::POSTGRES_CONNECTIONS_MAX_DEFAULT,
            run_jobs: true,
            job_lease_secs: ticketing::jobs::JOB_LEASE_SECS_DEFAULT,
            job_poll_millis: ticketing::jobs::JOB_POLL_MILLIS_DEFAULT,
            payment_reconcile_millis: PAYMENT_RECONCILE_MILLIS_DEFAULT,
            mail: ticketing::mail::MailSettings::default(),
            rate_limits: web::limits::RateLimitConfig::default(),
            push: ticketing::push::PushSettings::default(),
            outbound: ticketing::outbound::OutboundPolicy::default(),
            availability_reread_millis: ticketing::availability::FRESH_MILLIS,
            transfers_need_confirmed_address: false,
        }
    }
}

/// Longest configured gateway name.
const GATEWAY_NAME_LEN_MAX: usize = 40;

/// One Stripe account (`[[stripe]]` in the configuration file; the
/// `STRIPE_*` variables configure one named `stripe`).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeSettings {
    /// The gateway's name for clients and organizers [default: stripe].
    pub name: Option<String>,
    pub secret_key: String,
    /// [default: https://api.stripe.com]
    pub api_base: Option<String>,
    /// `whsec_...`: verifies this account's webhooks at
    /// `/api/v1/payments/{name}/webhook`.
    pub webhook_secret: Option<String>,
    /// Per call to Stripe [default: 20].
    pub timeout_secs: Option<u64>,
}

/// The payment gateways of this installation: the built-in `test` gateway
/// (moves no money; the zero-setup default) and each Stripe account.
pub fn payment_gateways(test: Arc<ticketing::TestGateway>, stripe: &[StripeSettings]) -> anyhow::Result<Payments> {
    let mut payments = Payments::default().with(test);
    for s in stripe {
        let name = s.name.clone().unwrap_or_else(|| "stripe".to_owned());
        anyhow::ensure!(
            !name.is_empty()
                && name.len() <= GATEWAY_NAME_LEN_MAX
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'),
            "payment gateway name '{name}' must be 1 to {GATEWAY_NAME_LEN_MAX} of a-z, 0-9, _ and -"
        );
        anyhow::ensure!(payments.get(&name).is_none(), "payment gateway '{name}' is configured twice");
        anyhow::ensure!(!s.secret_key.is_empty(), "payment gateway '{name}' has no secret key");
        let mut config = ticketing::payments::stripe::StripeConfig::new(name.clone(), s.secret_key.clone());
        if let Some(base) = &s.api_base {
            anyhow::ensure!(
                base.starts_with("https://") || base.starts_with("http://"),
                "payment gateway '{name}': api_base must be an http(s) URL"
            );
            config.api_base = base.clone();
        }
        config.webhook_secret = s.webhook_secret.clone().filter(|w| !w.is_empty());
        if let Some(secs) = s.timeout_secs {
            anyhow::ensure!(secs > 0, "payment gateway '{name}': timeout_secs must be at least 1");
            config.timeout = std::time::Duration::from_secs(secs);
        }
        let gateway = ticketing::payments::stripe::StripeGateway::new(config)
            .map_err(|e| anyhow::anyhow!("payment gateway '{name}': {e}"))?;
        payments = payments.with(Arc::new(gateway));
    }
    Ok(payments)
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub ticketing: Ticketing,
    pub demo: Option<demo::DemoData>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    /// Stops the background tasks (job worker, sweeper, live relay).
    background_stop: tokio::sync::watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting connections, lets in-flight requests finish, and
    /// closes the database.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.context("server task failed")??;
        // The job worker finishes the job in hand before it stops.
        let _ = self.background_stop.send(true);
        for task in self.background.drain(..) {
            let _ = task.await;
        }
        self.ticketing.store().close().await;
        Ok(())
    }

    /// Serves until `signal` resolves, then shuts down gracefully.
    pub async fn serve_until(self, signal: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        signal.await;
        tracing::info!("shutting down: finishing in-flight requests");
        self.shutdown().await
    }
}

/// Creates the folder of a SQLite file so that a fresh checkout just runs.
fn ensure_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
        return Ok(());
    };
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create database folder {}", dir.display()))?;
    }
    Ok(())
}

/// Opens the database (applying migrations) and builds the application.
pub async fn build(config: &Config, clock: Arc<dyn Clock>, payments: Payments) -> anyhow::Result<Ticketing> {
    anyhow::ensure!(
        (domain::hold::HOLD_TTL_SECS_MIN..=domain::hold::HOLD_TTL_SECS_MAX).contains(&config.hold_ttl_secs),
        "hold TTL must be {} to {} seconds",
        domain::hold::HOLD_TTL_SECS_MIN,
        domain::hold::HOLD_TTL_SECS_MAX
    );
    anyhow::ensure!(
        config.password_hashing.is_valid(),
        "argon2 costs are out of range (memory at least 8 KiB, at least 1 pass)"
    );
    ensure_sqlite_dir(&config.database_url)?;
    let options = store::ConnectOptions { postgres_connections_max: config.postgres_connections_max };
    let store = store::Store::connect_with(&config.database_url, &options)
        .await
        .with_context(|| format!("cannot open database {}", config.database_url))?;
    let settings = Settings {
        hold_ttl: chrono::Duration::seconds(config.hold_ttl_secs as i64),
        password_hashing: config.password_hashing,
        outbound: config.outbound,
        availability_reread: std::time::Duration::from_millis(config.availability_reread_millis),
        transfers_need_confirmed_address: config.transfers_need_confirmed_address,
        ..Settings::default()
    };
    let mailer = ticketing::mail::Mailer::new(&config.mail).context("invalid e-mail settings")?;
    if !mailer.is_configured() {
        tracing::info!("no SMTP server configured (SMTP_URL): e-mail is queued, not sent");
    }
    config.push.validate().map_err(anyhow::Error::msg).context("invalid web push settings")?;
    let app =
        Ticketing::new(store, clock, Arc::new(payments), settings).with_mailer(mailer).with_push(config.push.clone());
    // The web push key pair is made (or read back) at start, not on the
    // first push: every node then agrees on it before serving.
    app.vapid_key().await.context("cannot load the web push key")?;
    Ok(app)
}

/// Builds the application, loads demo data if asked and the database is
/// empty, binds and starts serving in the background.
pub async fn start(config: &Config, clock: Arc<dyn Clock>, payments: Payments) -> anyhow::Result<Running> {
    let ticketing = build(config, clock, payments).await?;
    let demo = if config.demo && ticketing.store().is_empty().await? {
        Some(demo::load(&ticketing).await.context("loading demo data failed")?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let state = web::AppState::new(ticketing.clone()).closing_on(closing_rx).with_rate_limits(&config.rate_limits);
    let limits = state.limits.clone();
    let app = web::router(state);
    let task = tokio::spawn(async move {
        // No Nagle delay: a response (or a live update) that goes out in
        // more than one write is not held back waiting for an ACK.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot turn off Nagle's algorithm");
            }
        });
        // The peer address feeds the per-address rate limit.
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = rx.await;
                // Long-lived streams end now; ordinary requests finish.
                let _ = closing_tx.send(true);
            })
            .await
    });
    let (background_stop, mut background) = spawn_background(&ticketing, config);
    let mut forget = background_stop.subscribe();
    background.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(web::limits::IDLE_KEY_SECS));
        loop {
            tokio::select! {
                _ = tick.tick() => limits.forget_idle(),
                _ = forget.wait_for(|stop| *stop) => break,
            }
        }
    }));
    Ok(Running { addr, ticketing, demo, shutdown: Some(tx), task, background_stop, background })
}

/// The work a node does besides answering requests.
fn spawn_background(ticketing: &Ticketing, config: &Config) -> (tokio::sync::watch::Sender<bool>, Vec<JoinHandle<()>>) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let mut tasks = Vec::new();
    if config.run_jobs {
        let app = ticketing.clone();
        let settings = ticketing::jobs::WorkerSettings {
            lease: chrono::Duration::seconds(config.job_lease_secs as i64),
            poll: std::time::Duration::from_millis(config.job_poll_millis),
            ..ticketing::jobs::WorkerSettings::for_this_process()
        };
        let stop = stopped();
        tasks.push(tokio::spawn(async move { app.run_jobs(settings, stop).await }));
    }
    // Once: entry codes for tickets issued before they existed, in the
    // background so that a large database does not delay the start.
    let app = ticketing.clone();
    tasks.push(tokio::spawn(async move {
        match app.store().fill_entry_codes().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tickets = n, "entry codes filled in"),
            Err(e) => tracing::warn!(error = %e, "filling in entry codes failed; they are retried at the next start"),
        }
    }));
    let app = ticketing.clone();
    let stop = stopped();
    tasks.push(tokio::spawn(async move {
        let sweep = async {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(HOUSEKEEPING_INTERVAL_MILLIS));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = app.sweep_expired_holds().await {
                    tracing::warn!(error = %e, "hold sweep failed");
                }
                if let Err(e) = app.sequence_ledger().await {
                    tracing::warn!(error = %e, "ledger sequencing failed");
                }
                // Lets the next buyers out of every active waiting room.
                if let Err(e) = app.tend_waiting_rooms().await {
                    tracing::warn!(error = %e, "tending waiting rooms failed");
                }
                if let Err(e) = app.release_due_escrow().await {
                    tracing::warn!(error = %e, "escrow release failed");
                }
                // Once per event (a database row decides which node), as a job.
                if let Err(e) = app.schedule_reminders().await {
                    tracing::warn!(error = %e, "scheduling event reminders failed");
                }
            }
        };
        tokio::select! { () = stop => {}, () = sweep => {} }
    }));
    let app = ticketing.clone();
    let stop = stopped();
    let every = std::time::Duration::from_millis(config.payment_reconcile_millis.max(1));
    tasks.push(tokio::spawn(async move {
        let reconcile = async {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = app.reconcile_payments().await {
                    tracing::warn!(error = %e, "payment reconciliation failed");
                }
            }
        };
        tokio::select! { () = stop => {}, () = reconcile => {} }
    }));
    if ticketing.store().is_shared() {
        let app = ticketing.clone();
        let stop = stopped();
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                () = stop => {}
                r = app.relay_live_updates() => if let Err(e) = r {
                    tracing::error!(error = %e, "live updates from other nodes are unavailable");
                },
            }
        }));
    }
    (stop_tx, tasks)
}
