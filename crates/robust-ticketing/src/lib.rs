//! Wiring: configuration, start-up, demo data. The binary in `main.rs` is a
//! thin shell around [`start`]; tests start servers the same way.

pub mod demo;

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

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: String,
    /// Load demo data into an empty database.
    pub demo: bool,
    pub hold_ttl_secs: u64,
    pub password_hashing: PasswordHashing,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: BIND_DEFAULT.parse().expect("default bind address parses"),
            database_url: DATABASE_URL_DEFAULT.to_owned(),
            demo: true,
            hold_ttl_secs: domain::hold::HOLD_TTL_SECS_DEFAULT,
            password_hashing: PasswordHashing::default(),
        }
    }
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub ticketing: Ticketing,
    pub demo: Option<demo::DemoData>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting connections, lets in-flight requests finish, and
    /// closes the database.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.context("server task failed")??;
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
    ensure_sqlite_dir(&config.database_url)?;
    let store = store::Store::connect(&config.database_url)
        .await
        .with_context(|| format!("cannot open database {}", config.database_url))?;
    let settings = Settings {
        hold_ttl: chrono::Duration::seconds(config.hold_ttl_secs as i64),
        password_hashing: config.password_hashing,
        ..Settings::default()
    };
    Ok(Ticketing::new(store, clock, Arc::new(payments), settings))
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
    let app = web::router(web::AppState::new(ticketing.clone()));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(Running { addr, ticketing, demo, shutdown: Some(tx), task })
}
