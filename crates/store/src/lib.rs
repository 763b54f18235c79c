//! Persistence: the only crate that knows SQL.
//!
//! Every invariant that concurrency could break is enforced here, inside one
//! database transaction, and never by process memory: a seat claim is a row
//! that a hold may take only when it is free or its hold has expired; a hold
//! becomes an order at most once (`orders.hold_id` is unique); a ticket is
//! admitted by a conditional update that only one scan can win.
//!
//! Two engines, one set of SQL: embedded SQLite (WAL, `synchronous = FULL`: a
//! commit that returned is on disk; all writes through one connection, so
//! writers queue in the pool instead of spinning on `SQLITE_BUSY`) and
//! PostgreSQL, which any number of server processes share.
//!
//! Times are stored as milliseconds since the Unix epoch; ids as UUID text.

// Row tuples mirror their SELECT lists column for column; naming each one
// as a type alias would only move the list away from the query it reads.
#![allow(clippy::type_complexity)]

mod accounts;
mod attempt_batch;
mod batch;
mod cache;
mod checkins;
mod direct_reads;
mod events;
mod fees;
mod group_commit;
mod hold_batch;
mod holds;
mod invitations;
mod jobs;
mod ledger;
mod listings;
mod live;
mod notifications;
mod order_batch;
mod orders;
mod payments;
mod push;
mod read_pool;
mod sale_controls;
mod stats;
mod transfers;
mod venues;
mod write_thread;

use std::str::FromStr;
use std::time::Duration;

use domain::Timestamp;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Executor};

pub use accounts::*;
pub use cache::READ_CACHE_TTL;
pub use checkins::*;
pub use events::*;
pub use fees::*;
pub use group_commit::WriteTx;
pub use holds::*;
pub use invitations::*;
pub use jobs::*;
pub use ledger::*;
pub use listings::*;
pub use live::*;
pub use notifications::*;
pub use orders::*;
pub use payments::*;
pub use push::*;
pub use sale_controls::*;
pub use stats::*;
pub use transfers::*;
pub use venues::*;

/// How long a SQLite write waits for the file lock before giving up. Writers
/// normally queue in the single-connection pool; this only matters when
/// another process holds the file.
const SQLITE_BUSY_TIMEOUT_MS: u64 = 10_000;
/// SQLite read connections. Reads never block each other under WAL.
const SQLITE_READ_CONNECTIONS_MAX: u32 = 8;
/// SQLite read transactions (snapshots) at once, beside the plain reads.
const SQLITE_READ_TRANSACTIONS_MAX: u32 = 2;
/// PostgreSQL connections per process. Several processes share one server,
/// whose default limit is 100: ten nodes at 10 each still fit.
pub const POSTGRES_CONNECTIONS_MAX_DEFAULT: u32 = 10;
/// The fewest PostgreSQL connections a process opens: one for plain reads,
/// one for read transactions, one for writes.
const POSTGRES_CONNECTIONS_MIN: u32 = 3;
/// PostgreSQL read transactions (snapshots) at once, beside the plain reads.
const POSTGRES_READ_TRANSACTIONS_MAX: u32 = 1;
/// A PostgreSQL connection idle this long is tested before it is used.
const POSTGRES_IDLE_TEST_AFTER: Duration = Duration::from_secs(5);
/// How long a request waits for a pooled connection before failing (503)
/// rather than queueing without bound.
const ACQUIRE_TIMEOUT_SECS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// A row named another that is not there (any more): a race with its
    /// deletion, such as an event created at a venue being deleted.
    pub fn is_foreign_key_violation(&self) -> bool {
        match self {
            StoreError::Database(e) => e.as_database_error().is_some_and(|d| d.is_foreign_key_violation()),
            _ => false,
        }
    }

    /// The pool is exhausted or the database is locked: worth a 503, not a bug.
    pub fn is_overloaded(&self) -> bool {
        match self {
            StoreError::Database(e) => matches!(e, sqlx::Error::PoolTimedOut),
            StoreError::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy),
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database engine is behind the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded, one process: the zero-setup default.
    Sqlite,
    /// A server shared by any number of processes.
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// What a `SELECT` inside a write transaction ends with to share-lock
    /// the rows it reads, so that a concurrent update of them waits for this
    /// transaction (and this one for it). SQLite has one writer at a time
    /// and no row locks: nothing.
    pub(crate) fn share_lock(self) -> &'static str {
        match self {
            Backend::Postgres => " FOR SHARE",
            Backend::Sqlite => "",
        }
    }

    /// [`share_lock`](Self::share_lock) for rows the transaction goes on to
    /// change, taken before it decides how.
    pub(crate) fn update_lock(self) -> &'static str {
        match self {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }
}

/// A handle on the database, cheap to clone: one reference count (every
/// request clones it a few times).
///
/// One set of SQL serves both engines: queries use `$1`-style placeholders
/// (SQLite reads them as numbered parameters) and only types both share
/// (BIGINT, DOUBLE, TEXT, BLOB/BYTEA). Where the engines must differ (how a
/// write transaction starts), [`Backend`] decides.
#[derive(Clone, Debug)]
pub struct Store(std::sync::Arc<Shared>);

impl std::ops::Deref for Store {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of a [`Store`], reached through it.
#[derive(Debug)]
pub struct Shared {
    backend: Backend,
    url: String,
    writer: AnyPool,
    /// Plain reads (see `read_pool`); read transactions use its sqlx pool.
    reader: std::sync::Arc<read_pool::ReadPool>,
    /// SQLite only: the hot reads, on the calling thread (see `direct_reads`).
    direct: Option<std::sync::Arc<direct_reads::DirectReads>>,
    /// SQLite only: write transactions share commits (see `group_commit`).
    group: Option<std::sync::Arc<group_commit::GroupCommit>>,
    /// Hot, rarely changed rows (see `cache`).
    cache: std::sync::Arc<cache::ReadCaches>,
    /// Checkouts completed together (see `order_batch`).
    order_batches: std::sync::Arc<OrderBatcher>,
    /// Seat holds placed together (see `hold_batch`).
    hold_batches: std::sync::Arc<HoldBatcher>,
    /// Payment attempts recorded together (see `attempt_batch`).
    attempt_batches: std::sync::Arc<AttemptBatcher>,
    /// Live-update notifications sent together (see `live`; PostgreSQL).
    notify_batches: std::sync::Arc<live::NotifyBatcher>,
}

type AttemptBatcher = batch::Batcher<attempt_batch::AttemptToBegin, Result<AttemptBegin>>;

type HoldBatcher = batch::Batcher<hold_batch::HoldToPlace, Result<(), PlaceHoldError>>;

type OrderBatcher = batch::Batcher<order_batch::OrderToComplete, Result<(), CompleteOrderError>>;

/// SQLite's batches hold the one write connection, so they run on the
/// write thread (see `write_thread`); PostgreSQL's run on the runtime, each
/// on a connection of its own.
fn batcher<T: Send + 'static, R: Send + 'static>(
    backend: Backend,
    size_max: usize,
) -> std::sync::Arc<batch::Batcher<T, R>> {
    std::sync::Arc::new(match backend {
        Backend::Sqlite => batch::Batcher::on_write_thread(size_max),
        Backend::Postgres => batch::Batcher::new(size_max),
    })
}

/// Options for [`Store::connect_with`].
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// PostgreSQL connections this process opens, reads and writes together
    /// (SQLite always writes through one connection).
    pub postgres_connections_max: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self { postgres_connections_max: POSTGRES_CONNECTIONS_MAX_DEFAULT }
    }
}

/// How a process's `total` PostgreSQL connections are shared out: plain
/// reads get about a third, read transactions [`POSTGRES_READ_TRANSACTIONS_MAX`],
/// writes the rest. Reads have a pool of their own so that they can keep
/// their connections between statements (see `read_pool`): sqlx tests a
/// connection with a round trip each time it comes back, which doubled
/// what every read cost. Kept in a pool that writes share, they would be
/// connections a write waits for while it holds another.
fn postgres_connections(total: u32) -> (u32, u32) {
    let total = total.max(POSTGRES_CONNECTIONS_MIN);
    let reads = (total / 3).max(1);
    (reads, total - reads - POSTGRES_READ_TRANSACTIONS_MAX)
}

async fn postgres_pool(url: &str, connections: u32) -> Result<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(acquire_timeout())
        // The pool already tests each connection as it comes back;
        // testing it again as it goes out would add a round trip
        // to every statement. Only one that sat idle for a while
        // (and may have been dropped by the server meanwhile) is.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= POSTGRES_IDLE_TEST_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect(url)
        .await?)
}

/// The file a `sqlite:` URL names, as sqlx reads it.
fn sqlite_path(url: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    base.strip_prefix("sqlite://").or_else(|| base.strip_prefix("sqlite:")).unwrap_or(base).to_owned()
}

/// The SQLite URL with the given open mode, whatever query the user gave.
fn sqlite_url(url: &str, mode: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    format!("{base}?mode={mode}")
}

/// The write connection's page cache, in KiB (SQLite's default is 2 MiB).
/// Only the writer gets more: in WAL mode a reader's cache is dropped
/// whenever another connection commits, so a bigger one would only hold
/// memory, while the writer's stays warm across the transactions of a sale.
const SQLITE_WRITER_CACHE_KIB: u32 = 32 * 1024;

fn acquire_timeout() -> Duration {
    Duration::from_secs(ACQUIRE_TIMEOUT_SECS)
}

async fn sqlite_pool(url: &str, connections: u32, cache_kib: Option<u32>) -> Result<AnyPool> {
    // Negative: a size in KiB rather than in pages.
    let cache = cache_kib.map(|kib| format!(" PRAGMA cache_size = -{kib};")).unwrap_or_default();
    Ok(AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(acquire_timeout())
        // A file in this process does not go away like a server: pinging it
        // on every checkout of a connection only doubles the hops to the
        // connection's thread, which are what an on-sale spends its CPU on.
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            let cache = cache.clone();
            Box::pin(async move {
                // FULL: a committed order survives power loss, not just a crash.
                // temp_store: each transaction of a write group is a savepoint,
                // whose undo journal is a temporary file unless kept in memory.
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
                     PRAGMA temp_store = MEMORY;{cache}"
                )))
                .await?;
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

impl Store {
    /// Opens (creating if missing) the database at `url` and applies migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &ConnectOptions::default()).await
    }

    pub async fn connect_with(url: &str, options: &ConnectOptions) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let store = match backend {
            Backend::Sqlite => {
                let writer = sqlite_pool(&sqlite_url(url, "rwc"), 1, Some(SQLITE_WRITER_CACHE_KIB)).await?;
                // WAL is a property of the file: set once, before any reader.
                writer.execute("PRAGMA journal_mode = WAL").await?;
                sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
                let reader = sqlite_pool(
                    &sqlite_url(url, "ro"),
                    SQLITE_READ_CONNECTIONS_MAX + SQLITE_READ_TRANSACTIONS_MAX,
                    None,
                )
                .await?;
                let reader = read_pool::ReadPool::new(reader, SQLITE_READ_CONNECTIONS_MAX as usize, acquire_timeout());
                let direct =
                    direct_reads::DirectReads::new(&sqlite_path(url), Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS))?;
                let group = Some(group_commit::GroupCommit::start(writer.clone()));
                Shared {
                    backend,
                    url: url.to_owned(),
                    writer,
                    reader: std::sync::Arc::new(reader),
                    direct: Some(std::sync::Arc::new(direct)),
                    group,
                    cache: Default::default(),
                    order_batches: batcher(backend, order_batch::ORDER_BATCH_MAX),
                    hold_batches: batcher(backend, hold_batch::HOLD_BATCH_MAX),
                    attempt_batches: batcher(backend, attempt_batch::ATTEMPT_BATCH_MAX),
                    notify_batches: live::notify_batcher(),
                }
            }
            Backend::Postgres => {
                let (reads, writes) = postgres_connections(options.postgres_connections_max);
                let writer = postgres_pool(url, writes).await?;
                sqlx::migrate!("./migrations/postgres").run(&writer).await?;
                let reader = postgres_pool(url, reads + POSTGRES_READ_TRANSACTIONS_MAX).await?;
                let reader = read_pool::ReadPool::new(reader, reads as usize, acquire_timeout());
                Shared {
                    backend,
                    url: url.to_owned(),
                    writer,
                    reader: std::sync::Arc::new(reader),
                    direct: None,
                    group: None,
                    cache: Default::default(),
                    order_batches: batcher(backend, order_batch::ORDER_BATCH_MAX),
                    hold_batches: batcher(backend, hold_batch::HOLD_BATCH_MAX),
                    attempt_batches: batcher(backend, attempt_batch::ATTEMPT_BATCH_MAX),
                    notify_batches: live::notify_batcher(),
                }
            }
        };
        Ok(Self(std::sync::Arc::new(store)))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&mut *self.read().await?).await?;
        Ok(())
    }

    /// Starts a write transaction. On SQLite, `BEGIN IMMEDIATE` takes the
    /// write lock up front, so a transaction never fails half-way on a lock
    /// upgrade. On PostgreSQL (READ COMMITTED), contested rows are taken by
    /// conditional `UPDATE`/upserts whose row counts are checked.
    ///
    /// On SQLite the transaction is part of a group commit: its `commit`
    /// returns once the group it joined is on disk.
    async fn write(&self) -> Result<WriteTx> {
        Ok(match &self.group {
            Some(group) => group.begin().await?,
            None => WriteTx::Postgres(self.writer.begin().await?),
        })
    }

    /// Runs one statement as a write transaction of its own (on SQLite,
    /// part of a group commit) and returns once it is durable.
    async fn write_one<'q>(
        &self,
        query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    ) -> Result<sqlx::any::AnyQueryResult> {
        let mut tx = self.write().await?;
        let done = query.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// A connection for plain reads, outside any transaction.
    async fn read(&self) -> Result<read_pool::ReadConn<'_>> {
        Ok(self.reader.get().await?)
    }

    /// Every row of a read that every on-sale request makes, decoded: on
    /// SQLite on the calling thread (see `direct_reads`), on PostgreSQL
    /// through a pooled connection. Only for short point reads.
    async fn hot_rows<T>(
        &self,
        sql: &str,
        params: &[direct_reads::Param],
        decode: impl Fn(&dyn direct_reads::Columns) -> Result<T>,
    ) -> Result<Vec<T>> {
        if let Some(direct) = &self.direct {
            return direct.rows(sql, params, decode);
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for p in params {
            query = match p {
                direct_reads::Param::Text(s) => query.bind(s.as_str()),
                direct_reads::Param::Int(n) => query.bind(*n),
                direct_reads::Param::Blob(b) => query.bind(b.as_slice()),
            };
        }
        let rows = query.fetch_all(&mut *self.read().await?).await?;
        rows.iter().map(|r| decode(r)).collect()
    }

    /// Starts a read transaction whose statements all see one snapshot.
    async fn snapshot(&self) -> Result<sqlx::Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.reader.pool().begin().await?,
            Backend::Postgres => {
                self.reader.pool().begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?
            }
        })
    }

    pub async fn close(&self) {
        if let Some(group) = &self.group {
            group.flush().await;
        }
        self.writer.close().await;
        self.reader.close().await;
        if let Some(direct) = &self.direct {
            direct.close();
        }
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

impl Store {
    /// Writes a consistent copy of a SQLite database to `path` while it keeps
    /// serving (`VACUUM INTO` reads one snapshot). PostgreSQL is backed up
    /// with its own tools (`pg_dump`).
    pub async fn backup_sqlite_to(&self, path: &std::path::Path) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::UnsupportedUrl(self.url.clone()));
        }
        // Through a read connection: sales go on while the copy is written.
        sqlx::query("VACUUM INTO $1")
            .bind(path.to_string_lossy().into_owned())
            .execute(&mut *self.read().await?)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// A row naming one that is gone is told apart from other failures, so
    /// that a race with a deletion answers as the thing not being there.
    /// `STORE_TEST_DATABASE_URL` runs it on another database (an empty one).
    #[tokio::test]
    async fn a_row_naming_a_missing_one_is_a_foreign_key_violation() {
        let dir = tempfile::tempdir().unwrap();
        let url = std::env::var("STORE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| format!("sqlite://{}/fk.db", dir.path().display()));
        let store = super::Store::connect(&url).await.unwrap();
        let orphan =
            sqlx::query("INSERT INTO sections (id, venue_id, name, price_zone, position) VALUES ($1, $2, 'S', 'z', 0)")
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(uuid::Uuid::new_v4().to_string());
        let e = store.write_one(orphan).await.unwrap_err();
        assert!(e.is_foreign_key_violation(), "{e}");
        let duplicate = sqlx::query("INSERT INTO users (id) VALUES (NULL)");
        let e = store.write_one(duplicate).await.unwrap_err();
        assert!(!e.is_foreign_key_violation(), "{e}");
    }

    #[test]
    fn a_sqlite_url_names_its_file_as_sqlx_reads_it() {
        assert_eq!(super::sqlite_path("sqlite://data/rt.db?mode=rwc"), "data/rt.db");
        assert_eq!(super::sqlite_path("sqlite:///var/lib/rt.db"), "/var/lib/rt.db");
        assert_eq!(super::sqlite_path("sqlite:rt.db"), "rt.db");
    }

    #[test]
    fn postgres_connections_are_shared_out_within_the_budget() {
        for total in [super::POSTGRES_CONNECTIONS_MIN, 4, super::POSTGRES_CONNECTIONS_MAX_DEFAULT, 100] {
            let (reads, writes) = super::postgres_connections(total);
            assert_eq!(reads + super::POSTGRES_READ_TRANSACTIONS_MAX + writes, total);
            assert!(reads >= 1 && writes >= reads, "{total}: {reads} reads, {writes} writes");
        }
        assert_eq!(super::postgres_connections(super::POSTGRES_CONNECTIONS_MAX_DEFAULT), (3, 6));
        assert_eq!(super::postgres_connections(1), super::postgres_connections(super::POSTGRES_CONNECTIONS_MIN));
    }
}
