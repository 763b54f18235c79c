//! Group commit for SQLite: many write transactions share one fsync.
//!
//! With `synchronous = FULL` every commit waits for the disk (about 3 ms on
//! a typical cloud volume), and SQLite has one writer at a time, so commits
//! alone would cap a node at a few hundred write transactions a second
//! however fast the CPU. Here each logical transaction is a SAVEPOINT inside
//! one open `BEGIN IMMEDIATE` transaction (the *group*). Releasing the
//! savepoint does not acknowledge anything: the caller waits until a
//! committer task has run `COMMIT` for the whole group, and only then does
//! [`WriteTx::commit`] return. While one group's fsync runs, the next
//! transactions queue on the lock and then all go into the next group, so
//! groups grow by themselves as load rises and stay single transactions
//! when it is quiet.
//!
//! What callers see is unchanged: a commit that returned is on disk; a
//! transaction that failed or was dropped left nothing behind (its savepoint
//! is rolled back); if a group's `COMMIT` fails, every transaction in it gets
//! the error and none of them happened. Transactions still run one at a
//! time, in one order, so the invariants the store keeps are untouched.
//!
//! SQLite has no group commit of its own, and no crate offers one over sqlx;
//! this is the small piece that does.

use std::collections::BTreeSet;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex as StdMutex};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, watch};

/// Failed groups remembered for writers still waiting on them.
const FAILED_GROUPS_KEPT: usize = 1_024;

/// The open group: a connection inside `BEGIN IMMEDIATE`, or nothing.
pub(crate) struct Group {
    conn: Option<PoolConnection<Any>>,
    /// The number of the group being filled.
    epoch: u64,
    /// A transaction was dropped mid-way: roll its savepoint back first.
    undo_pending: bool,
}

pub(crate) struct GroupCommit {
    pool: AnyPool,
    group: Arc<Mutex<Group>>,
    /// Woken when a group has something to commit.
    wake: Arc<Notify>,
    /// The number of the last group that finished (committed or failed).
    finished: watch::Sender<u64>,
    failed: StdMutex<BTreeSet<u64>>,
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").field("finished", &*self.finished.borrow()).finish_non_exhaustive()
    }
}

fn group_failed(epoch: u64) -> sqlx::Error {
    sqlx::Error::Protocol(format!("the write group {epoch} could not be committed; nothing in it was saved"))
}

impl GroupCommit {
    /// Starts the committer task for `pool`'s one write connection.
    pub(crate) fn start(pool: AnyPool) -> Arc<Self> {
        let this = Arc::new(Self {
            pool,
            group: Arc::new(Mutex::new(Group { conn: None, epoch: 1, undo_pending: false })),
            wake: Arc::new(Notify::new()),
            finished: watch::channel(0).0,
            failed: StdMutex::new(BTreeSet::new()),
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

    /// Opens a write transaction: a savepoint in the current group.
    pub(crate) async fn begin(self: &Arc<Self>) -> Result<WriteTx, sqlx::Error> {
        let mut g = self.group.clone().lock_owned().await;
        if g.conn.is_none() {
            let mut conn = self.pool.acquire().await?;
            conn.execute("BEGIN IMMEDIATE").await?;
            g.conn = Some(conn);
        }
        if g.undo_pending {
            self.undo(&mut g).await?;
        }
        let conn = g.conn.as_mut().expect("the group is open");
        if let Err(e) = conn.execute("SAVEPOINT w").await {
            self.wake.notify_one();
            return Err(e);
        }
        Ok(WriteTx::Sqlite(SqliteWrite { guard: Some(g), commit: self.clone() }))
    }

    /// Rolls back a dropped transaction's savepoint. If that fails the
    /// whole group is gone (SQLite rolls a transaction back by itself on
    /// some I/O errors): it fails as a whole.
    async fn undo(&self, g: &mut Group) -> Result<(), sqlx::Error> {
        g.undo_pending = false;
        let conn = g.conn.as_mut().expect("the group is open");
        let undone = match conn.execute("ROLLBACK TO SAVEPOINT w").await {
            Ok(_) => conn.execute("RELEASE SAVEPOINT w").await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = undone {
            self.fail_group(g).await;
            return Err(e);
        }
        Ok(())
    }

    async fn fail_group(&self, g: &mut Group) {
        if let Some(mut conn) = g.conn.take() {
            let _ = conn.execute("ROLLBACK").await;
        }
        let epoch = g.epoch;
        g.epoch += 1;
        {
            let mut failed = self.failed.lock().expect("failed groups lock");
            failed.insert(epoch);
            while failed.len() > FAILED_GROUPS_KEPT {
                failed.pop_first();
            }
        }
        self.finished.send_replace(epoch);
    }

    /// Commits the open group, if any, and wakes everyone waiting on it.
    async fn commit_group(&self) {
        let mut g = self.group.lock().await;
        if g.conn.is_none() {
            return;
        }
        if g.undo_pending && self.undo(&mut g).await.is_err() {
            return;
        }
        let conn = g.conn.as_mut().expect("the group is open");
        match conn.execute("COMMIT").await {
            Ok(_) => {
                // Back to the pool, so statements outside any group can run.
                g.conn = None;
                let epoch = g.epoch;
                g.epoch += 1;
                self.finished.send_replace(epoch);
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                self.fail_group(&mut g).await;
            }
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

    /// Commits whatever is open; used before the store closes.
    pub(crate) async fn flush(&self) {
        self.commit_group().await;
    }
}

/// A write transaction. On SQLite it is one savepoint of a group commit; on
/// PostgreSQL an ordinary transaction. Either way it dereferences to the
/// connection to run statements on, and [`commit`](Self::commit) returns
/// only once the changes are durable.
pub enum WriteTx {
    Sqlite(SqliteWrite),
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
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.commit_and(|| ()).await
    }

    /// Commits, calling `settled` once the transaction holds the write
    /// connection no longer: on SQLite when its savepoint is released into
    /// the group, which then still has to be made durable; on PostgreSQL
    /// after the commit. Returns, as [`commit`](Self::commit) does, once
    /// durable.
    pub(crate) async fn commit_and(self, settled: impl FnOnce()) -> Result<(), sqlx::Error> {
        match self {
            WriteTx::Postgres(tx) => {
                let committed = tx.commit().await;
                settled();
                committed
            }
            WriteTx::Sqlite(mut w) => {
                let mut g = w.guard.take().expect("an open transaction");
                let conn = g.conn.as_mut().expect("the group is open");
                if let Err(e) = conn.execute("RELEASE SAVEPOINT w").await {
                    g.undo_pending = true;
                    drop(g);
                    w.commit.wake.notify_one();
                    return Err(e);
                }
                let epoch = g.epoch;
                drop(g);
                w.commit.wake.notify_one();
                settled();
                w.commit.durable(epoch).await
            }
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            WriteTx::Postgres(tx) => tx.rollback().await,
            WriteTx::Sqlite(mut w) => {
                let mut g = w.guard.take().expect("an open transaction");
                let undone = w.commit.undo(&mut g).await;
                drop(g);
                w.commit.wake.notify_one();
                undone
            }
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            WriteTx::Sqlite(w) => w.guard.as_ref().and_then(|g| g.conn.as_deref()).expect("an open transaction"),
            WriteTx::Postgres(tx) => tx,
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteTx::Sqlite(w) => w.guard.as_mut().and_then(|g| g.conn.as_deref_mut()).expect("an open transaction"),
            WriteTx::Postgres(tx) => tx,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn setup() -> (tempfile::TempDir, AnyPool, Arc<GroupCommit>) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/g.db?mode=rwc", dir.path().display());
        let pool = crate::sqlite_pool(&url, 1, None).await.unwrap();
        pool.execute("PRAGMA journal_mode = WAL").await.unwrap();
        pool.execute("CREATE TABLE t (n BIGINT PRIMARY KEY)").await.unwrap();
        let group = GroupCommit::start(pool.clone());
        (dir, pool, group)
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
        let groups = *group.finished.borrow();
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
        let other = crate::sqlite_pool(&url, 1, None).await.unwrap();
        for n in 0..20 {
            let mut tx = group.begin().await.unwrap();
            sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(count(&other).await, n + 1);
        }
    }
}
