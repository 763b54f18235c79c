//! Persistence: the only crate that knows SQL.
//!
//! Every invariant that concurrency could break is enforced here, inside one
//! database transaction, and never by process memory: a seat claim is a row
//! that a hold may take only when it is free or its hold has expired; a hold
//! becomes an order at most once (`orders.hold_id` is unique); a ticket is
//! admitted by a conditional update that only one scan can win.
//!
//! SQLite runs with WAL and `synchronous = FULL`: a commit that returned is on
//! disk. All writes go through one connection (`writer`), so writers queue in
//! the pool instead of spinning on `SQLITE_BUSY`; reads use their own pool.
//!
//! Times are stored as milliseconds since the Unix epoch; ids as UUID text.

// Row tuples mirror their SELECT lists column for column; naming each one
// as a type alias would only move the list away from the query it reads.
#![allow(clippy::type_complexity)]

mod accounts;
mod checkins;
mod events;
mod holds;
mod orders;
mod venues;

use std::str::FromStr;
use std::time::Duration;

use domain::Timestamp;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use accounts::*;
pub use checkins::*;
pub use events::*;
pub use holds::*;
pub use orders::*;
pub use venues::*;

/// How long a write waits for the database lock before giving up. Writers
/// normally queue in the single-connection pool; this only matters when
/// another process holds the file.
const BUSY_TIMEOUT_SECS: u64 = 10;
/// Read connections. Reads never block each other under WAL.
const READ_CONNECTIONS_MAX: u32 = 8;
/// How long a request waits for a pooled connection before failing (503)
/// rather than queueing without bound.
const ACQUIRE_TIMEOUT_SECS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("unsupported database URL '{0}': use sqlite://PATH")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// The pool is exhausted or the database is locked: worth a 503, not a bug.
    pub fn is_overloaded(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::PoolTimedOut))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle on the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl Store {
    /// Opens (creating if missing) the database at `url` and applies migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed order survives power loss, not just a crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(BUSY_TIMEOUT_SECS));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(ACQUIRE_TIMEOUT_SECS))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS_MAX)
            .acquire_timeout(Duration::from_secs(ACQUIRE_TIMEOUT_SECS))
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// Starts a write transaction. `BEGIN IMMEDIATE` takes the write lock up
    /// front, so a transaction never fails half-way on a lock upgrade.
    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

pub(crate) fn ms(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn ts(ms: i64) -> Result<Timestamp> {
    Timestamp::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} out of range")))
}

pub(crate) fn id<T: FromStr>(s: &str) -> Result<T> {
    s.parse().map_err(|_| StoreError::Corrupt(format!("bad id '{s}'")))
}

pub(crate) fn opt_id<T: FromStr>(s: Option<String>) -> Result<Option<T>> {
    s.as_deref().map(id).transpose()
}

pub(crate) fn money(amount: i64, currency: &str) -> Result<domain::money::Money> {
    let c = currency.parse().map_err(|_| StoreError::Corrupt(format!("bad currency '{currency}'")))?;
    domain::money::Money::new(amount, c).map_err(|e| StoreError::Corrupt(e.to_string()))
}
