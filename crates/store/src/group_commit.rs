//! Group commit for SQLite: many write transactions share one fsync.
//!
//! With `synchronous = FULL` every commit waits for the disk (about 2 ms on
//! a typical cloud volume), and SQLite has one writer at a time, so commits
//! alone would cap a node at a few hundred write transactions a second
//! however fast the CPU. Here each logical transaction is a SAVEPOINT inside
//! one open `BEGIN IMMEDIATE` transaction (the *group*). Releasing the
//! savepoint does not acknowledge anything: the caller waits until a
//! committer task has run `COMMIT` for the whole group and the log is on
//! disk, and only then does [`WriteTx::commit`] return. While one group is
//! committed, the next transactions queue on the lock and then all go into
//! the next group, so groups grow by themselves as load rises and stay
//! single transactions when it is quiet.
//!
//! The disk wait is taken off the write connection. In WAL mode the write
//! connection runs with `synchronous = NORMAL`: its `COMMIT` appends the
//! group to the log file and returns without waiting for the disk. A sync
//! thread then flushes the log file (`fdatasync`) and only then
//! acknowledges the groups it holds. Since the log is appended in order,
//! one flush makes every group before it durable too, so the write
//! connection runs the next group's statements while the last one's flush
//! is under way, instead of standing idle for it. A commit that returned is
//! on disk exactly as with `FULL`; what differs is only that other
//! connections may read a group a millisecond before it is acknowledged
//! (its writers still wait). SQLite itself still syncs around checkpoints,
//! as `NORMAL` always does.
//!
//! What callers see is unchanged: a commit that returned is on disk; a
//! transaction that failed or was dropped left nothing behind (its savepoint
//! is rolled back); if a group's `COMMIT` (or its flush) fails, every
//! transaction in it gets the error and none of them is acknowledged.
//! Transactions still run one at a time, in one order, so the invariants
//! the store keeps are untouched.
//!
//! SQLite has no group commit of its own, and no crate offers one over sqlx;
//! this is the small piece that does.

use std::collections::BTreeSet;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex as StdMutex};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, watch};

use crate::direct_reads::{Columns, Param};

/// Failed groups remembered for writers still waiting on them.
const FAILED_GROUPS_KEPT: usize = 1_024;

/// The group: at most one of the two write connections is inside
/// `BEGIN IMMEDIATE` at a time.
pub(crate) struct Group {
    /// sqlx's connection, while the open group is on it.
    conn: Option<PoolConnection<Any>>,
    /// The write connection driven on the write thread itself, without a
    /// trip to a connection thread per statement: the write batches of an
    /// on-sale run here (see [`GroupCommit::begin_direct`]).
    direct: rusqlite::Connection,
    /// Whether the open group is on `direct`.
    direct_open: bool,
    /// The number of the group being filled.
    epoch: u64,
    /// A transaction was dropped mid-way: roll its savepoint back first.
    undo_pending: bool,
}

/// Prepared statements the direct write connection keeps: each batch size
/// is a statement of its own.
const DIRECT_WRITE_STATEMENTS_CACHED: usize = 256;

impl Group {
    fn is_open(&self) -> bool {
        self.conn.is_some() || self.direct_open
    }

    /// Runs `sql` (no parameters) on whichever connection holds the group.
    async fn run(&mut self, sql: &'static str) -> crate::Result<()> {
        if let Some(conn) = self.conn.as_mut() {
            conn.execute(sql).await?;
        } else {
            self.direct.execute_batch(sql)?;
        }
        Ok(())
    }
}

/// Opens the direct write connection to the SQLite file at `path` with the
/// settings `sqlite_pool` gives the sqlx one.
pub(crate) fn open_direct(
    path: &str,
    synchronous: &str,
    cache_kib: u32,
    busy_ms: u64,
) -> crate::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy_ms}; PRAGMA temp_store = MEMORY; \
         PRAGMA synchronous = {synchronous}; PRAGMA cache_size = -{cache_kib};"
    ))?;
    conn.set_prepared_statement_cache_capacity(DIRECT_WRITE_STATEMENTS_CACHED);
    Ok(conn)
}

pub(crate) struct GroupCommit {
    pool: AnyPool,
    group: Arc<Mutex<Group>>,
    /// Woken when a group has something to commit.
    wake: Arc<Notify>,
    /// Where committed groups become durable.
    sync: Arc<LogSync>,
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.wake.notify_one();
        self.sync.stop();
    }
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").field("finished", &*self.sync.finished.borrow()).finish_non_exhaustive()
    }
}

fn group_failed(epoch: u64) -> sqlx::Error {
    sqlx::Error::Protocol(format!("the write group {epoch} could not be committed; nothing in it was saved"))
}

/// How the write connection's commits reach the disk.
#[derive(Clone, Debug)]
pub(crate) enum Durability {
    /// `synchronous = NORMAL` in WAL mode: this log file is flushed after
    /// each commit, off the write connection.
    FlushLog(PathBuf),
    /// Each `COMMIT` waits for the disk itself (`synchronous = FULL`).
    Commit,
}

impl Durability {
    /// The write connections' `synchronous` setting for it.
    pub(crate) fn synchronous(&self) -> &'static str {
        match self {
            Durability::FlushLog(_) => "NORMAL",
            Durability::Commit => "FULL",
        }
    }
}

/// The sync thread's side: committed groups go in, durable ones come out.
struct LogSync {
    durability: Durability,
    state: StdMutex<SyncState>,
    more: Condvar,
    /// The number of the last group that finished (durable or failed).
    finished: watch::Sender<u64>,
    failed: StdMutex<BTreeSet<u64>>,
}

#[derive(Default)]
struct SyncState {
    /// The last group whose `COMMIT` ran (or that failed).
    committed: u64,
    stopped: bool,
}

impl LogSync {
    fn start(durability: Durability) -> Arc<Self> {
        let this = Arc::new(Self {
            durability,
            state: StdMutex::new(SyncState::default()),
            more: Condvar::new(),
            finished: watch::channel(0).0,
            failed: StdMutex::new(BTreeSet::new()),
        });
        let sync = this.clone();
        std::thread::Builder::new()
            .name("store-log-sync".into())
            .spawn(move || sync.run())
            .expect("the log sync thread starts");
        this
    }

    /// Hands group `epoch` (committed or failed) on to be made durable.
    fn committed(&self, epoch: u64) {
        let mut state = self.state.lock().expect("sync state lock");
        state.committed = state.committed.max(epoch);
        self.more.notify_one();
    }

    fn stop(&self) {
        self.state.lock().expect("sync state lock").stopped = true;
        self.more.notify_one();
    }

    fn run(&self) {
        let mut synced = 0;
        loop {
            let target = {
                let mut state = self.state.lock().expect("sync state lock");
                while state.committed == synced && !state.stopped {
                    state = self.more.wait(state).expect("sync state lock");
                }
                if state.committed == synced {
                    return;
                }
                state.committed
            };
            // One flush covers every group committed before it.
            if let Durability::FlushLog(log) = &self.durability
                && let Err(e) = std::fs::File::open(log).and_then(|f| f.sync_data())
            {
                // Whether the groups reached the disk is unknown: none of
                // them is acknowledged.
                tracing::error!(error = %e, log = %log.display(), "flushing the write-ahead log failed");
                for epoch in synced + 1..=target {
                    self.fail(epoch);
                }
            }
            self.finished.send_replace(target);
            synced = target;
        }
    }

    fn fail(&self, epoch: u64) {
        let mut failed = self.failed.lock().expect("failed groups lock");
        failed.insert(epoch);
        while failed.len() > FAILED_GROUPS_KEPT {
            failed.pop_first();
        }
    }

    /// Waits until group `epoch` is on disk.
    async fn durable(&self, epoch: u64) -> Result<(), sqlx::Error> {
        let mut rx = self.finished.subscribe();
        rx.wait_for(|done| *done >= epoch).await.map_err(|_| group_failed(epoch))?;
        if self.failed.lock().expect("failed groups lock").contains(&epoch) {
            return Err(group_failed(epoch));
        }
        Ok(())
    }
}

impl GroupCommit {
    /// Starts the committer task for `pool`'s one write connection, whose
    /// commits reach the disk as `durability` says.
    pub(crate) fn start(pool: AnyPool, direct: rusqlite::Connection, durability: Durability) -> Arc<Self> {
        let group = Group { conn: None, direct, direct_open: false, epoch: 1, undo_pending: false };
        let this = Arc::new(Self {
            pool,
            group: Arc::new(Mutex::new(group)),
            wake: Arc::new(Notify::new()),
            sync: LogSync::start(durability),
        });
        let (weak, wake) = (Arc::downgrade(&this), this.wake.clone());
        crate::write_thread::spawn(async move {
            loop {
                // No strong reference while idle: a dropped store wakes
                // the task one last time and it ends.
                wake.notified().await;
                let Some(this) = weak.upgrade() else { return };
                this.commit_group().await;
            }
        });
        this
    }

    /// Opens a write transaction on sqlx's connection: a savepoint in the
    /// current group.
    pub(crate) async fn begin(self: &Arc<Self>) -> crate::Result<WriteTx> {
        let mut g = self.group.clone().lock_owned().await;
        if g.direct_open {
            self.commit_open(&mut g).await;
        }
        if g.conn.is_none() {
            let mut conn = self.pool.acquire().await?;
            conn.execute("BEGIN IMMEDIATE").await?;
            g.conn = Some(conn);
        }
        self.savepoint(g).await.map(WriteTx::Sqlite)
    }

    /// Opens a write transaction on the direct connection, for statements
    /// run through [`WriteTx::exec`] and [`WriteTx::rows`] on the write
    /// thread. A group open on sqlx's connection is committed first: one
    /// connection holds the group at a time.
    pub(crate) async fn begin_direct(self: &Arc<Self>) -> crate::Result<WriteTx> {
        let mut g = self.group.clone().lock_owned().await;
        if g.conn.is_some() {
            self.commit_open(&mut g).await;
        }
        if !g.direct_open {
            g.direct.execute_batch("BEGIN IMMEDIATE")?;
            g.direct_open = true;
        }
        self.savepoint(g).await.map(WriteTx::Direct)
    }

    async fn savepoint(self: &Arc<Self>, mut g: OwnedMutexGuard<Group>) -> crate::Result<SqliteWrite> {
        if g.undo_pending {
            self.undo(&mut g).await?;
        }
        if let Err(e) = g.run("SAVEPOINT w").await {
            self.wake.notify_one();
            return Err(e);
        }
        Ok(SqliteWrite { guard: Some(g), commit: self.clone() })
    }

    /// Rolls back a dropped transaction's savepoint. If that fails the
    /// whole group is gone (SQLite rolls a transaction back by itself on
    /// some I/O errors): it fails as a whole.
    async fn undo(&self, g: &mut Group) -> crate::Result<()> {
        g.undo_pending = false;
        let undone = match g.run("ROLLBACK TO SAVEPOINT w").await {
            Ok(()) => g.run("RELEASE SAVEPOINT w").await,
            Err(e) => Err(e),
        };
        if let Err(e) = undone {
            self.fail_group(g).await;
            return Err(e);
        }
        Ok(())
    }

    async fn fail_group(&self, g: &mut Group) {
        if g.is_open() {
            let _ = g.run("ROLLBACK").await;
        }
        g.conn = None;
        g.direct_open = false;
        let epoch = g.epoch;
        g.epoch += 1;
        self.sync.fail(epoch);
        self.sync.committed(epoch);
    }

    /// Commits the open group, if any, and hands it to the sync thread.
    async fn commit_group(&self) {
        let mut g = self.group.lock().await;
        self.commit_open(&mut g).await;
    }

    async fn commit_open(&self, g: &mut Group) {
        if !g.is_open() {
            return;
        }
        if g.undo_pending && self.undo(g).await.is_err() {
            return;
        }
        match g.run("COMMIT").await {
            Ok(()) => {
                // Back to the pool, so statements outside any group can run.
                g.conn = None;
                g.direct_open = false;
                let epoch = g.epoch;
                g.epoch += 1;
                self.sync.committed(epoch);
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                self.fail_group(g).await;
            }
        }
    }

    /// Commits whatever is open and waits until it is durable; used before
    /// the store closes.
    pub(crate) async fn flush(&self) {
        self.commit_group().await;
        let last = self.group.lock().await.epoch - 1;
        let _ = self.sync.durable(last).await;
    }
}

/// A write transaction. On SQLite it is one savepoint of a group commit; on
/// PostgreSQL an ordinary transaction. [`commit`](Self::commit) returns
/// only once the changes are durable. The sqlx kinds dereference to the
/// connection to run statements on; every kind runs statements through
/// [`exec`](Self::exec) and [`rows`](Self::rows).
pub enum WriteTx {
    /// On sqlx's SQLite write connection.
    Sqlite(SqliteWrite),
    /// On the direct SQLite write connection, on the write thread.
    Direct(SqliteWrite),
    Postgres(sqlx::Transaction<'static, Any>),
}

pub struct SqliteWrite {
    guard: Option<OwnedMutexGuard<Group>>,
    commit: Arc<GroupCommit>,
}

impl Drop for SqliteWrite {
    fn drop(&mut self) {
        if let Some(mut g) = self.guard.take() {
            // Neither committed nor rolled back (an early return): the next
            // user of the group rolls the savepoint back before anything else.
            g.undo_pending = true;
            drop(g);
            self.commit.wake.notify_one();
        }
    }
}

impl WriteTx {
    pub async fn commit(self) -> crate::Result<()> {
        self.commit_and(|| ()).await
    }

    /// Commits, calling `settled` once the transaction holds the write
    /// connection no longer: on SQLite when its savepoint is released into
    /// the group, which then still has to be made durable; on PostgreSQL
    /// after the commit. Returns, as [`commit`](Self::commit) does, once
    /// durable.
    pub(crate) async fn commit_and(self, settled: impl FnOnce()) -> crate::Result<()> {
        match self {
            WriteTx::Postgres(tx) => {
                let committed = tx.commit().await;
                settled();
                Ok(committed?)
            }
            WriteTx::Sqlite(mut w) | WriteTx::Direct(mut w) => {
                let mut g = w.guard.take().expect("an open transaction");
                if let Err(e) = g.run("RELEASE SAVEPOINT w").await {
                    g.undo_pending = true;
                    drop(g);
                    w.commit.wake.notify_one();
                    return Err(e);
                }
                let epoch = g.epoch;
                drop(g);
                w.commit.wake.notify_one();
                settled();
                Ok(w.commit.sync.durable(epoch).await?)
            }
        }
    }

    pub async fn rollback(self) -> crate::Result<()> {
        match self {
            WriteTx::Postgres(tx) => Ok(tx.rollback().await?),
            WriteTx::Sqlite(mut w) | WriteTx::Direct(mut w) => {
                let mut g = w.guard.take().expect("an open transaction");
                let undone = w.commit.undo(&mut g).await;
                drop(g);
                w.commit.wake.notify_one();
                undone
            }
        }
    }

    /// Runs `sql`, whose `$N` parameters are `params` in order, and returns
    /// the number of rows it changed. For statements built per batch: on
    /// sqlx they are prepared for this one use (see `batch::batch_query`).
    pub(crate) async fn exec(&mut self, sql: &str, params: &[Param]) -> crate::Result<u64> {
        if let WriteTx::Direct(w) = self {
            let g = w.guard.as_mut().expect("an open transaction");
            let mut stmt = direct_statement(&g.direct, sql, params)?;
            return Ok(stmt.raw_execute()? as u64);
        }
        let query = Param::bind_sqlx(crate::batch::batch_query(self, sql.to_owned()), params);
        Ok(query.execute(&mut **self).await?.rows_affected())
    }

    /// Every row `sql` returns, decoded; parameters as for [`exec`](Self::exec).
    pub(crate) async fn rows<T>(
        &mut self,
        sql: &str,
        params: &[Param],
        decode: impl Fn(&dyn Columns) -> crate::Result<T>,
    ) -> crate::Result<Vec<T>> {
        if let WriteTx::Direct(w) = self {
            let g = w.guard.as_mut().expect("an open transaction");
            let mut stmt = direct_statement(&g.direct, sql, params)?;
            let mut rows = stmt.raw_query();
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(decode(row)?);
            }
            return Ok(out);
        }
        let query = Param::bind_sqlx(crate::batch::batch_query(self, sql.to_owned()), params);
        let rows = query.fetch_all(&mut **self).await?;
        rows.iter().map(|r| decode(r)).collect()
    }
}

/// `sql` prepared on the direct connection with `params` bound. Its `$N`s
/// become `?`s (or `?N`s), which SQLite binds by position without looking
/// each name up (see `batch::anonymous_placeholders`).
fn direct_statement<'c>(
    conn: &'c rusqlite::Connection,
    sql: &str,
    params: &[Param],
) -> crate::Result<rusqlite::CachedStatement<'c>> {
    let sql = crate::batch::anonymous_placeholders(sql).unwrap_or_else(|| sql.replace('$', "?"));
    let mut stmt = conn.prepare_cached(&sql)?;
    if stmt.parameter_count() != params.len() {
        return Err(rusqlite::Error::InvalidParameterCount(params.len(), stmt.parameter_count()).into());
    }
    for (i, p) in params.iter().enumerate() {
        p.bind(&mut stmt, i + 1)?;
    }
    Ok(stmt)
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            WriteTx::Sqlite(w) => w.guard.as_ref().and_then(|g| g.conn.as_deref()).expect("an open transaction"),
            WriteTx::Postgres(tx) => tx,
            WriteTx::Direct(_) => unreachable!("a direct write runs its statements through exec and rows"),
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteTx::Sqlite(w) => w.guard.as_mut().and_then(|g| g.conn.as_deref_mut()).expect("an open transaction"),
            WriteTx::Postgres(tx) => tx,
            WriteTx::Direct(_) => unreachable!("a direct write runs its statements through exec and rows"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn setup() -> (tempfile::TempDir, AnyPool, Arc<GroupCommit>) {
        let (dir, pool) = database().await;
        let path = dir.path().join("g.db").display().to_string();
        let durability = crate::sqlite_durability(&pool, &path).await.unwrap();
        assert!(matches!(&durability, Durability::FlushLog(log) if log.ends_with("g.db-wal")), "{durability:?}");
        let group = GroupCommit::start(pool.clone(), direct(&path, &durability), durability);
        (dir, pool, group)
    }

    fn direct(path: &str, durability: &Durability) -> rusqlite::Connection {
        open_direct(path, durability.synchronous(), 1024, 1_000).unwrap()
    }

    async fn database() -> (tempfile::TempDir, AnyPool) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/g.db?mode=rwc", dir.path().display());
        let pool = crate::sqlite_pool(&url, 1, crate::SqliteRole::Writer).await.unwrap();
        pool.execute("CREATE TABLE t (n BIGINT PRIMARY KEY)").await.unwrap();
        (dir, pool)
    }

    async fn count(pool: &AnyPool) -> i64 {
        sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM t").fetch_one(pool).await.unwrap().0
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_transactions_share_commits_and_all_land() {
        let (_dir, pool, group) = setup().await;
        let mut tasks = Vec::new();
        for n in 0..300i64 {
            let group = group.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = group.begin().await.unwrap();
                sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(count(&pool).await, 300);
        let groups = *group.sync.finished.borrow();
        assert!(groups < 300, "300 transactions took {groups} commits: nothing was shared");
    }

    #[tokio::test]
    async fn a_failed_or_dropped_transaction_leaves_nothing_and_spares_its_group() {
        let (_dir, pool, group) = setup().await;
        let mut tx = group.begin().await.unwrap();
        sqlx::query("INSERT INTO t (n) VALUES (1)").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        // Rolled back explicitly.
        let mut tx = group.begin().await.unwrap();
        sqlx::query("INSERT INTO t (n) VALUES (2)").execute(&mut *tx).await.unwrap();
        tx.rollback().await.unwrap();
        // Dropped after a statement failed (a duplicate key), as `?` does.
        let mut tx = group.begin().await.unwrap();
        sqlx::query("INSERT INTO t (n) VALUES (3)").execute(&mut *tx).await.unwrap();
        assert!(sqlx::query("INSERT INTO t (n) VALUES (1)").execute(&mut *tx).await.is_err());
        drop(tx);
        let mut tx = group.begin().await.unwrap();
        sqlx::query("INSERT INTO t (n) VALUES (4)").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT n FROM t ORDER BY n").fetch_all(&pool).await.unwrap();
        assert_eq!(rows, vec![(1,), (4,)]);
    }

    #[tokio::test]
    async fn a_commit_returns_once_another_connection_sees_it() {
        let (dir, _pool, group) = setup().await;
        let url = format!("sqlite://{}/g.db?mode=ro", dir.path().display());
        let other = crate::sqlite_pool(&url, 1, crate::SqliteRole::Reader).await.unwrap();
        for n in 0..20 {
            let mut tx = group.begin().await.unwrap();
            sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(count(&other).await, n + 1);
        }
    }

    #[tokio::test]
    async fn a_group_whose_log_cannot_be_flushed_is_not_acknowledged() {
        let (dir, pool) = database().await;
        let missing = Durability::FlushLog(dir.path().join("elsewhere").join("g.db-wal"));
        let path = dir.path().join("g.db").display().to_string();
        let group = GroupCommit::start(pool.clone(), direct(&path, &missing), missing);
        let mut tx = group.begin().await.unwrap();
        sqlx::query("INSERT INTO t (n) VALUES (1)").execute(&mut *tx).await.unwrap();
        assert!(tx.commit().await.is_err(), "a commit was acknowledged though its flush failed");
        // The store goes on: later groups are tried afresh.
        let mut tx = group.begin().await.unwrap();
        sqlx::query("INSERT INTO t (n) VALUES (2)").execute(&mut *tx).await.unwrap();
        assert!(tx.commit().await.is_err());
    }

    #[tokio::test]
    async fn the_write_connection_leaves_durability_to_the_group_only_in_wal_mode() {
        let (_dir, pool) = database().await;
        let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous").fetch_one(&pool).await.unwrap();
        assert_eq!(sync, 1, "NORMAL under WAL");
        assert_eq!(crate::writer_synchronous("wal"), "NORMAL");
        for mode in ["delete", "truncate", "memory", "persist"] {
            assert_eq!(crate::writer_synchronous(mode), "FULL", "{mode}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_and_sqlx_transactions_take_turns_and_all_land() {
        let (_dir, pool, group) = setup().await;
        let mut tasks = Vec::new();
        for n in 0..200i64 {
            let group = group.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = if n % 3 == 0 { group.begin().await } else { group.begin_direct().await }.unwrap();
                assert_eq!(tx.exec("INSERT INTO t (n) VALUES ($1)", &[n.into()]).await.unwrap(), 1);
                tx.commit().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(count(&pool).await, 200);
    }

    #[tokio::test]
    async fn a_direct_transaction_binds_by_number_and_leaves_nothing_when_dropped() {
        let (_dir, pool, group) = setup().await;
        let mut tx = group.begin_direct().await.unwrap();
        let sql = format!("INSERT INTO t (n) VALUES {} RETURNING n", crate::batch::placeholders(3, 1, 1));
        let rows = tx.rows(&sql, &[1i64.into(), 2i64.into(), 3i64.into()], |r| r.int(0)).await.unwrap();
        assert_eq!(rows, vec![1, 2, 3]);
        // Parameters out of order bind by their number, as on sqlx.
        let changed = tx.exec("DELETE FROM t WHERE n > $2 AND n < $1", &[3i64.into(), 1i64.into()]).await.unwrap();
        assert_eq!(changed, 1);
        assert!(tx.exec("INSERT INTO t (n) VALUES ($1)", &[]).await.is_err(), "a missing parameter is an error");
        tx.commit().await.unwrap();
        // Dropped after a failed statement, as `?` does.
        let mut tx = group.begin_direct().await.unwrap();
        tx.exec("INSERT INTO t (n) VALUES ($1)", &[7i64.into()]).await.unwrap();
        assert!(tx.exec("INSERT INTO t (n) VALUES ($1)", &[1i64.into()]).await.is_err());
        drop(tx);
        // The next transaction, on the other connection, starts clean.
        let mut tx = group.begin().await.unwrap();
        sqlx::query("INSERT INTO t (n) VALUES (8)").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT n FROM t ORDER BY n").fetch_all(&pool).await.unwrap();
        assert_eq!(rows, vec![(1,), (3,), (8,)]);
    }
}
