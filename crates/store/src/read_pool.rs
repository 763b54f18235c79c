//! Connections for plain reads, handed out again without sqlx's test.
//!
//! sqlx's pool tests every connection as it comes back: on SQLite a trip to
//! the connection's thread and back, on PostgreSQL a round trip to the
//! server. Reads are most of an on-sale's statements, and that test doubled
//! what each cost. A plain read leaves nothing on its connection to clean
//! up: a read cut short (its request cancelled) is finished by the driver
//! before the connection's next statement, on either engine. So the
//! connections plain reads give back are kept here and handed out again
//! untested, until [`READ_CONNECTION_TESTED_EVERY`] has passed since their
//! last test: then one goes back to sqlx's pool, which tests it, so a
//! connection that broke (a server restart) is found within that time.
//!
//! Reads have a pool of their own on both engines: kept in a pool that
//! writes share, a connection would be one a write could be waiting for
//! (while holding another).
//!
//! Read transactions take their connections straight from sqlx's pool, as
//! writes do: a transaction cut short must be rolled back before its
//! connection is used again, and that test is what does it. The pool is
//! sized to leave them room (see [`ReadPool::new`]).

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};
use tokio::sync::{Semaphore, SemaphorePermit};

/// The longest a read connection is used without a test.
const READ_CONNECTION_TESTED_EVERY: Duration = Duration::from_secs(2);

/// Plain reads' connections: at most `permits` out at once, the ones given
/// back kept for the next read.
pub(crate) struct ReadPool {
    pool: AnyPool,
    /// `None` once closing: connections given back then go to sqlx's pool,
    /// whose `close` waits for every one.
    kept: Mutex<Option<Vec<Kept>>>,
    permits: Semaphore,
    acquire_timeout: Duration,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPool").field("available", &self.permits.available_permits()).finish_non_exhaustive()
    }
}

struct Kept {
    conn: PoolConnection<Any>,
    tested_at: Instant,
}

impl Kept {
    fn fresh(&self) -> bool {
        self.tested_at.elapsed() < READ_CONNECTION_TESTED_EVERY
    }
}

impl ReadPool {
    /// Reads through `pool`, `permits` at a time. `pool` should allow more
    /// connections than that: reads never hold more than `permits` of them
    /// (in use or kept here), and the rest is what transactions on `pool`
    /// can count on.
    pub(crate) fn new(pool: AnyPool, permits: usize, acquire_timeout: Duration) -> Self {
        Self { pool, kept: Mutex::new(Some(Vec::new())), permits: Semaphore::new(permits), acquire_timeout }
    }

    /// sqlx's pool behind: for transactions, and to close.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes the connections, waiting for those lent out to come back.
    pub(crate) async fn close(&self) {
        self.permits.close();
        drop(self.kept.lock().expect("read pool poisoned").take());
        self.pool.close().await;
    }

    /// A connection for a read; given back when dropped.
    pub(crate) async fn get(&self) -> Result<ReadConn<'_>, sqlx::Error> {
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let kept = self.kept.lock().expect("read pool poisoned").as_mut().and_then(Vec::pop);
        let kept = match kept {
            Some(kept) if kept.fresh() => kept,
            // Dropping a stale one hands it to sqlx's pool to be tested;
            // what comes out of that pool was tested when it went in.
            stale => {
                drop(stale);
                Kept { conn: self.pool.acquire().await?, tested_at: Instant::now() }
            }
        };
        Ok(ReadConn { kept: Some(kept), pool: self, _permit: permit })
    }
}

/// A read connection lent out. Dereferences to the connection to run
/// statements on.
pub(crate) struct ReadConn<'a> {
    kept: Option<Kept>,
    pool: &'a ReadPool,
    // Released after `drop` has put the connection back, so the next
    // reader finds it.
    _permit: SemaphorePermit<'a>,
}

impl Deref for ReadConn<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.kept.as_ref().expect("a lent connection").conn
    }
}

impl DerefMut for ReadConn<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.kept.as_mut().expect("a lent connection").conn
    }
}

impl Drop for ReadConn<'_> {
    fn drop(&mut self) {
        if let Some(kept) = self.kept.take().filter(Kept::fresh)
            && let Some(idle) = self.pool.kept.lock().expect("read pool poisoned").as_mut()
        {
            idle.push(kept);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::any::AnyPoolOptions;

    async fn sqlite_pool(max: u32) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPoolOptions::new().max_connections(max).connect("sqlite::memory:").await.unwrap()
    }

    #[tokio::test]
    async fn a_connection_given_back_is_lent_again_and_reads_stay_within_their_permits() {
        let reads = ReadPool::new(sqlite_pool(3).await, 2, Duration::from_secs(5));
        {
            let mut conn = reads.get().await.unwrap();
            let (one,): (i64,) = sqlx::query_as("SELECT 1").fetch_one(&mut *conn).await.unwrap();
            assert_eq!(one, 1);
        }
        assert_eq!(reads.kept.lock().unwrap().as_ref().unwrap().len(), 1);
        let (a, b) = (reads.get().await.unwrap(), reads.get().await.unwrap());
        assert!(reads.kept.lock().unwrap().as_ref().unwrap().is_empty());
        drop((a, b));
        // Both permits are out: a third read waits, and times out.
        let short = ReadPool { acquire_timeout: Duration::from_millis(50), ..reads };
        let _held = (short.get().await.unwrap(), short.get().await.unwrap());
        assert!(matches!(short.get().await, Err(sqlx::Error::PoolTimedOut)));
        // sqlx's pool still has room for a transaction.
        short.pool().begin().await.unwrap().rollback().await.unwrap();
    }

    #[tokio::test]
    async fn closing_waits_for_lent_connections_and_keeps_none() {
        let reads = std::sync::Arc::new(ReadPool::new(sqlite_pool(3).await, 2, Duration::from_secs(5)));
        drop(reads.get().await.unwrap());
        let lent = reads.get().await.unwrap();
        let closing = tokio::spawn({
            let reads = reads.clone();
            async move { reads.close().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!closing.is_finished(), "a connection is still lent out");
        drop(lent);
        tokio::time::timeout(Duration::from_secs(5), closing).await.expect("closed").unwrap();
        assert!(reads.pool().is_closed());
        assert!(matches!(reads.get().await, Err(sqlx::Error::PoolClosed)));
    }

    #[tokio::test]
    async fn a_connection_untested_for_too_long_goes_back_to_be_tested() {
        let reads = ReadPool::new(sqlite_pool(2).await, 1, Duration::from_secs(5));
        drop(reads.get().await.unwrap());
        reads.kept.lock().unwrap().as_mut().unwrap()[0].tested_at = Instant::now() - READ_CONNECTION_TESTED_EVERY;
        let conn = reads.get().await.unwrap();
        assert!(conn.kept.as_ref().unwrap().fresh(), "a tested connection is lent instead");
    }
}
