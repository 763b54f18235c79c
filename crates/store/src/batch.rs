//! Running concurrent requests of one kind as one batch.
//!
//! During an on-sale hundreds of checkouts want the single write
//! connection at once, and what a transaction costs is mostly the trip to
//! the connection and back for each statement, not the statement itself.
//! A batch does the same work for many requests with one statement per
//! table, so the trips stop growing with the number of buyers.
//!
//! There is no batching thread: the first request to find the batch free
//! takes everything queued so far (its own request included) and runs it in
//! a task of its own; the requests that arrive meanwhile queue for the
//! next one. Batches grow by themselves as load rises and are single
//! requests when it is quiet. The batch runs in a spawned task so that a
//! request dropped half-way (a client hanging up) cannot cut a batch that
//! other requests wait on.

use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};

use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

use crate::StoreError;

/// What a waiting request gets when its batch was lost: the task running
/// it ended without answering (it panicked). Whether its writes were
/// committed is unknown.
#[derive(Debug, thiserror::Error)]
#[error("the batch this request was part of ended without an answer")]
pub(crate) struct BatchLost;

impl From<BatchLost> for StoreError {
    /// Whether the lost batch was committed is unknown: callers treat this
    /// like a commit that failed without an answer.
    fn from(lost: BatchLost) -> Self {
        tracing::error!(error = %lost, "a write batch ended without an answer");
        StoreError::Database(sqlx::Error::WorkerCrashed)
    }
}

/// Why a batch's transaction did not go through.
pub(crate) enum Together {
    /// Before its commit: nothing was saved, so each request may run alone.
    Failed(StoreError),
    /// At its commit: what was saved is unknown (a PostgreSQL connection
    /// lost after `COMMIT` was sent), so every request gets the error, as it
    /// would alone, rather than running again.
    CommitFailed(StoreError),
}

/// The error each request of a batch whose commit failed gets.
pub(crate) fn commit_failed(e: &StoreError) -> StoreError {
    match e {
        StoreError::Database(sqlx::Error::PoolTimedOut) => StoreError::Database(sqlx::Error::PoolTimedOut),
        other => StoreError::Database(sqlx::Error::Protocol(format!("a batch's commit failed: {other}"))),
    }
}

type Waiting<T, R> = (T, oneshot::Sender<R>);

/// A running batch's turn: the next batch of its kind starts when it ends.
/// A batch ends its turn as soon as its statements have run and it only
/// waits for them to be durable (SQLite's group commit), so the next batch
/// can run meanwhile and join the same commit. Otherwise, dropped or not,
/// the turn ends with the batch.
pub(crate) struct Turn(Arc<StdMutex<Option<OwnedMutexGuard<()>>>>);

impl Turn {
    /// Lets the next batch start.
    pub(crate) fn end(self) {
        self.0.lock().expect("batch turn lock").take();
    }
}

pub(crate) struct Batcher<T, R> {
    queue: StdMutex<Vec<Waiting<T, R>>>,
    /// Held by the task running the current batch.
    running: Arc<Mutex<()>>,
    /// Most requests in one batch; the rest wait for the next.
    size_max: usize,
    /// Whether batches run on the write thread rather than the runtime.
    on_write_thread: bool,
}

impl<T, R> std::fmt::Debug for Batcher<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").field("size_max", &self.size_max).finish_non_exhaustive()
    }
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Batches of at most `size_max` requests, run on the async runtime.
    pub(crate) fn new(size_max: usize) -> Self {
        Self {
            queue: StdMutex::new(Vec::new()),
            running: Arc::new(Mutex::new(())),
            size_max: size_max.max(1),
            on_write_thread: false,
        }
    }

    /// Batches run on the write thread (see `write_thread`).
    pub(crate) fn on_write_thread(size_max: usize) -> Self {
        Self { on_write_thread: true, ..Self::new(size_max) }
    }

    /// Queues `item` and waits for its result. `run` is given a batch (in
    /// arrival order) and must return one result per item, in that order.
    pub(crate) async fn submit<F, Fut>(&self, item: T, run: F) -> Result<R, BatchLost>
    where
        F: Fn(Vec<T>, Turn) -> Fut,
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        let (tx, mut rx) = oneshot::channel();
        self.queue.lock().expect("batch queue lock").push((item, tx));
        loop {
            tokio::select! {
                biased;
                answer = &mut rx => return answer.map_err(|_| BatchLost),
                guard = self.running.clone().lock_owned() => {
                    let batch: Vec<Waiting<T, R>> = {
                        let mut queue = self.queue.lock().expect("batch queue lock");
                        let n = queue.len().min(self.size_max);
                        // A request whose caller went away is not run: it
                        // would act on a moment that has passed.
                        queue.drain(..n).filter(|(_, answer)| !answer.is_closed()).collect()
                    };
                    if batch.is_empty() {
                        // An earlier batch took this request; its answer comes.
                        continue;
                    }
                    let (items, answers): (Vec<T>, Vec<oneshot::Sender<R>>) = batch.into_iter().unzip();
                    let turn = Arc::new(StdMutex::new(Some(guard)));
                    let work = run(items, Turn(turn.clone()));
                    let task = async move {
                        let results = work.await;
                        turn.lock().expect("batch turn lock").take();
                        debug_assert_eq!(results.len(), answers.len(), "one result per request");
                        for (answer, result) in answers.into_iter().zip(results) {
                            let _ = answer.send(result);
                        }
                    };
                    if self.on_write_thread {
                        crate::write_thread::spawn(task);
                    } else {
                        tokio::spawn(task);
                    }
                }
            }
        }
    }
}

// The SQL pieces the batches share.

/// Most rows in one multi-row statement: 13 columns (tickets, the widest)
/// × 500 rows is 6,500 bound parameters, far below both engines' limits
/// whatever the batch holds.
pub(crate) const ROWS_PER_INSERT_MAX: usize = 500;

/// `($1, $2), ($3, $4)`-style placeholders for `rows` rows of `columns`
/// values, numbered from `first`.
pub(crate) fn placeholders(rows: usize, columns: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + r * columns + c).to_string());
        }
        out.push(')');
    }
    out
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;
type AnyQueryAs<'q, O> = sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>;

/// A batch's statement `sql`, to run in `tx`.
///
/// Its text changes with the batch's size, so it is prepared for this one
/// use: kept, its hundreds of shapes would push the statements every
/// request repeats out of the connection's statement cache.
///
/// On SQLite, its `$N` placeholders become `?` when they run 1, 2, 3… in
/// the text (see [`anonymous_placeholders`]). SQLite finds a named
/// parameter by a linear scan, when the statement is parsed and again as
/// each value is bound: for a statement of several hundred `$N`s that is
/// quadratic, and costs more than writing its rows.
pub(crate) fn batch_query<'q>(tx: &crate::WriteTx, sql: String) -> AnyQuery<'q> {
    sqlx::query(sqlx::AssertSqlSafe(for_connection(tx, sql))).persistent(false)
}

/// [`batch_query`] for a statement that returns rows.
pub(crate) fn batch_query_as<'q, O>(tx: &crate::WriteTx, sql: String) -> AnyQueryAs<'q, O>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    sqlx::query_as(sqlx::AssertSqlSafe(for_connection(tx, sql))).persistent(false)
}

fn for_connection(tx: &crate::WriteTx, sql: String) -> String {
    match tx {
        crate::WriteTx::Sqlite(_) => anonymous_placeholders(&sql).unwrap_or(sql),
        crate::WriteTx::Postgres(_) => sql,
    }
}

/// `sql` with each `$N` written `?`, if they appear as `$1`, `$2`, `$3`…
/// in the text, each once: then SQLite numbers the `?`s exactly as the
/// `$N`s were, and the values bind in the same order. `None` otherwise.
/// (The batches' SQL has no `$` in literals or identifiers.)
pub(crate) fn anonymous_placeholders(sql: &str) -> Option<String> {
    let mut out = String::with_capacity(sql.len());
    let mut next = 1usize;
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        let n: usize = rest[at + 1..at + 1 + digits].parse().ok()?;
        if n != next {
            return None;
        }
        next += 1;
        out.push('?');
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    Some(out)
}

/// Inserts `rows` with `head` (`INSERT INTO t (a, b, …)`), a few hundred
/// rows per statement; `bind` binds one row's `columns` values in order.
pub(crate) async fn insert_rows<'r, R>(
    tx: &mut crate::WriteTx,
    head: &str,
    columns: usize,
    rows: &'r [R],
    bind: impl Fn(AnyQuery<'r>, &'r R) -> AnyQuery<'r>,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(ROWS_PER_INSERT_MAX) {
        let mut q = batch_query(tx, format!("{head} VALUES {}", placeholders(chunk.len(), columns, 1)));
        for row in chunk {
            q = bind(q, row);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_in_order_become_anonymous_and_others_are_left_alone() {
        assert_eq!(
            anonymous_placeholders("INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)").as_deref(),
            Some("INSERT INTO t (a, b) VALUES (?, ?), (?, ?)")
        );
        assert_eq!(
            anonymous_placeholders(&format!("x = $1 AND y IN {}", placeholders(3, 2, 2))).as_deref(),
            Some("x = ? AND y IN (?, ?), (?, ?), (?, ?)")
        );
        assert_eq!(anonymous_placeholders("no parameters").as_deref(), Some("no parameters"));
        // Out of order, repeated, or not a number: SQLite would bind them differently.
        assert_eq!(anonymous_placeholders("VALUES ($2, $3) WHERE x <= $1"), None);
        assert_eq!(anonymous_placeholders("a = $1 AND b = $1"), None);
        assert_eq!(anonymous_placeholders("a = $x"), None);
    }
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_request_gets_its_own_answer_and_concurrent_ones_share_batches() {
        let batcher = Arc::new(Batcher::<u32, u32>::new(16));
        let batches = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            let (batcher, batches) = (batcher.clone(), batches.clone());
            tasks.push(tokio::spawn(async move {
                batcher
                    .submit(i, move |items: Vec<u32>, _turn| {
                        let batches = batches.clone();
                        async move {
                            assert!(items.len() <= 16, "a batch of {} is over the limit", items.len());
                            batches.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                            items.into_iter().map(|i| i * 2).collect()
                        }
                    })
                    .await
                    .unwrap()
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), i as u32 * 2);
        }
        let batches = batches.load(Ordering::Relaxed);
        assert!(batches < 200, "200 concurrent requests ran as {batches} batches: nothing was shared");
    }

    #[tokio::test]
    async fn a_batch_that_panics_is_reported_lost_not_hung() {
        let batcher = Batcher::<u32, u32>::new(4);
        let lost = batcher
            .submit(1, |_items: Vec<u32>, _turn| async move {
                panic!("the batch failed");
                #[allow(unreachable_code)]
                Vec::new()
            })
            .await;
        assert!(lost.is_err());
        // The batcher still works afterwards.
        let fine = batcher.submit(2, |items: Vec<u32>, _turn| async move { items }).await;
        assert_eq!(fine.unwrap(), 2);
    }

    #[tokio::test]
    async fn the_next_batch_starts_when_the_running_one_ends_its_turn() {
        use std::time::Duration;
        use tokio::sync::Notify;
        let batcher = Arc::new(Batcher::<u32, u32>::new(4));
        let (end_turn, finish) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        // Whichever request runs a batch runs it with its own `run`, so
        // every request gets the same one: batch [1] holds its turn until
        // told, then runs on (as a batch waits for its commit to be
        // durable) until told again.
        let run = {
            let (end_turn, finish) = (end_turn.clone(), finish.clone());
            move |items: Vec<u32>, turn: Turn| {
                let (end_turn, finish) = (end_turn.clone(), finish.clone());
                async move {
                    if items == [1] {
                        end_turn.notified().await;
                        turn.end();
                        finish.notified().await;
                    }
                    items
                }
            }
        };
        let submit = |item: u32| {
            let (batcher, run) = (batcher.clone(), run.clone());
            tokio::spawn(async move { batcher.submit(item, run).await })
        };
        let first = submit(1);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let second = submit(2);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished(), "the second batch ran during the first one's turn");
        end_turn.notify_one();
        let second = tokio::time::timeout(Duration::from_secs(5), second).await.expect("it runs once the turn ends");
        assert_eq!(second.unwrap().unwrap(), 2);
        assert!(!first.is_finished());
        finish.notify_one();
        assert_eq!(first.await.unwrap().unwrap(), 1);
    }
}
