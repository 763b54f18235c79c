//! The reads an on-sale makes on every request, run on the calling thread
//! on SQLite.
//!
//! sqlx runs each SQLite connection on a thread of its own: every statement
//! is a message to that thread, and its rows a message back, each waking a
//! thread. A profile of an on-sale put about a quarter of all CPU in those
//! wake-ups and the context switches around them, several times what SQLite
//! itself spent. A point read of a few cached pages takes tens of
//! microseconds, less than the hops around it, so the hot reads (a hold's
//! seat check, a checkout's hold and key, the tickets it answers with) run
//! here instead: on the thread that asks, through rusqlite, on read-only
//! connections of their own. sqlx has no driver that works this way.
//!
//! Each read is written once, as SQL and a function that decodes a row
//! through [`Columns`]: PostgreSQL runs the same SQL through sqlx.
//!
//! What keeps it safe:
//! - only short point reads come here; scans and snapshots stay on sqlx's
//!   connections, which block their own threads, not the async runtime's;
//! - under WAL a reader never waits for the writer; the busy timeout is for
//!   the rare moments the WAL index is being rebuilt;
//! - connections are read-only: nothing written here can bypass the write
//!   connection's transactions.

use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::Result;

/// Read connections kept for reuse: about one per thread that reads at
/// once (the runtime's workers and a few blocking threads).
const DIRECT_READ_CONNECTIONS_KEPT_MAX: usize = 16;
/// Prepared statements each connection keeps.
const DIRECT_READ_STATEMENTS_CACHED: usize = 64;

/// A statement parameter.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    Blob(Vec<u8>),
}

impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(s)
    }
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Text(s.to_owned())
    }
}

impl From<&[u8]> for Param {
    fn from(b: &[u8]) -> Self {
        Param::Blob(b.to_vec())
    }
}

impl From<i64> for Param {
    fn from(i: i64) -> Self {
        Param::Int(i)
    }
}

/// A row's columns by position, from either engine.
pub(crate) trait Columns {
    fn text(&self, i: usize) -> Result<String>;
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    fn int(&self, i: usize) -> Result<i64>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<String> {
        Ok(self.get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.get(i)?)
    }
    fn int(&self, i: usize) -> Result<i64> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.get(i)?)
    }
}

impl Columns for sqlx::any::AnyRow {
    fn text(&self, i: usize) -> Result<String> {
        Ok(sqlx::Row::try_get(self, i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(sqlx::Row::try_get(self, i)?)
    }
    fn int(&self, i: usize) -> Result<i64> {
        Ok(sqlx::Row::try_get(self, i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        Ok(sqlx::Row::try_get(self, i)?)
    }
}

/// Read-only connections to one SQLite file, lent to one read at a time.
pub(crate) struct DirectReads {
    path: String,
    busy_timeout: Duration,
    /// `None` once closed.
    idle: Mutex<Option<Vec<Connection>>>,
}

impl std::fmt::Debug for DirectReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectReads").field("path", &self.path).finish_non_exhaustive()
    }
}

impl DirectReads {
    /// Reads of the database file at `path`, which the write connection has
    /// already created and put in WAL mode.
    pub(crate) fn new(path: &str, busy_timeout: Duration) -> Result<Self> {
        let reads = Self { path: path.to_owned(), busy_timeout, idle: Mutex::new(None) };
        // Open one now: a bad path fails at start-up, not on the first sale.
        let first = reads.open()?;
        *reads.idle.lock().expect("direct reads poisoned") = Some(vec![first]);
        Ok(reads)
    }

    fn open(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(DIRECT_READ_STATEMENTS_CACHED);
        Ok(conn)
    }

    /// Every row `sql` returns for `params` (bound in order), decoded.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        params: &[Param],
        decode: impl Fn(&dyn Columns) -> Result<T>,
    ) -> Result<Vec<T>> {
        let kept = match self.idle.lock().expect("direct reads poisoned").as_mut() {
            Some(idle) => idle.pop(),
            None => return Err(sqlx::Error::PoolClosed.into()),
        };
        let conn = match kept {
            Some(conn) => conn,
            None => self.open()?,
        };
        let out = Self::run(&conn, sql, params, decode);
        if let Some(idle) = self.idle.lock().expect("direct reads poisoned").as_mut()
            && idle.len() < DIRECT_READ_CONNECTIONS_KEPT_MAX
        {
            idle.push(conn);
        }
        out
    }

    /// Closes the connections; reads after this fail.
    pub(crate) fn close(&self) {
        drop(self.idle.lock().expect("direct reads poisoned").take());
    }

    fn run<T>(
        conn: &Connection,
        sql: &str,
        params: &[Param],
        decode: impl Fn(&dyn Columns) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = conn.prepare_cached(sql)?;
        // SQLite numbers parameters in order of first appearance, so `$N`
        // is looked up by its name: a statement may use `$2` before `$1`.
        for slot in 1..=stmt.parameter_count() {
            let n = match stmt.parameter_name(slot) {
                Some(name) => name.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()),
                None => Some(slot),
            };
            let Some(p) = n.and_then(|n| n.checked_sub(1)).and_then(|n| params.get(n)) else {
                return Err(rusqlite::Error::InvalidParameterCount(slot, params.len()).into());
            };
            match p {
                Param::Text(s) => stmt.raw_bind_parameter(slot, s)?,
                Param::Int(n) => stmt.raw_bind_parameter(slot, n)?,
                Param::Blob(b) => stmt.raw_bind_parameter(slot, b)?,
            }
        }
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(decode(row)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db").to_str().unwrap().to_owned();
        let w = Connection::open(&path).unwrap();
        w.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, note TEXT); \
             INSERT INTO t VALUES ('a', 1, NULL), ('b', 2, 'two');",
        )
        .unwrap();
        (dir, path)
    }

    #[test]
    fn rows_bind_dollar_parameters_in_order_and_decode_nulls() {
        let (_dir, path) = database();
        let reads = DirectReads::new(&path, Duration::from_secs(1)).unwrap();
        let decode = |r: &dyn Columns| Ok((r.text(0)?, r.int(1)?, r.opt_text(2)?));
        let rows = reads
            .rows("SELECT id, n, note FROM t WHERE n >= $1 AND id <> $2 ORDER BY id", &[1.into(), "x".into()], decode)
            .unwrap();
        assert_eq!(rows, vec![("a".to_owned(), 1, None), ("b".to_owned(), 2, Some("two".to_owned()))]);
        // Parameters are bound by number, wherever they appear.
        let swapped = reads.rows("SELECT id FROM t WHERE id <> $2 AND n = $1", &[2.into(), "x".into()], |r| r.text(0));
        assert_eq!(swapped.unwrap(), vec!["b".to_owned()]);
        let missing = reads.rows("SELECT id FROM t WHERE n = $3", &[2.into()], |r| r.text(0));
        assert!(missing.is_err());
        // The connection went back and its statement stays prepared.
        assert_eq!(reads.idle.lock().unwrap().as_ref().unwrap().len(), 1);
        let again = reads.rows(
            "SELECT id, n, note FROM t WHERE n >= $1 AND id <> $2 ORDER BY id",
            &[2.into(), "x".into()],
            decode,
        );
        assert_eq!(again.unwrap().len(), 1);
    }

    #[test]
    fn connections_are_read_only_and_errors_are_store_errors() {
        let (_dir, path) = database();
        let reads = DirectReads::new(&path, Duration::from_secs(1)).unwrap();
        let write = reads.rows("DELETE FROM t RETURNING id", &[], |r| r.text(0));
        assert!(matches!(write, Err(crate::StoreError::Sqlite(_))), "{write:?}");
        let wrong_type = reads.rows("SELECT note FROM t WHERE id = 'b'", &[], |r| r.int(0));
        assert!(wrong_type.is_err());
        assert_eq!(reads.rows("SELECT n FROM t", &[], |r| r.int(0)).unwrap(), vec![1, 2]);
        reads.close();
        let closed = reads.rows("SELECT n FROM t", &[], |r| r.int(0));
        assert!(matches!(closed, Err(crate::StoreError::Database(sqlx::Error::PoolClosed))), "{closed:?}");
    }

    #[test]
    fn a_missing_file_fails_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.db");
        assert!(DirectReads::new(missing.to_str().unwrap(), Duration::from_secs(1)).is_err());
    }
}
