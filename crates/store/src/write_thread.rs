//! The thread that runs write batches and group commits.
//!
//! A write transaction holds SQLite's one write connection from its first
//! statement to its last, and each statement is a trip to the connection's
//! thread and back. On the async runtime's threads the task holding the
//! connection waits, after every trip, behind every HTTP request queued on
//! its thread; during an on-sale that made a batch of a few statements hold
//! the write connection for about 17 ms, while that connection's thread was
//! busy a third of the time. Run on a thread of their own, the tasks that
//! hold it are picked up the moment their statement is done.
//!
//! Only the work that holds the write connection (or, on PostgreSQL, a
//! batch's row locks) runs here; the requests waiting for it stay where
//! they are.

use std::future::Future;
use std::sync::OnceLock;

/// The write thread's runtime, started on first use. It runs as long as the
/// process: batches of every store in the process share it.
fn handle() -> &'static tokio::runtime::Handle {
    static HANDLE: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("store-writes")
            .build()
            .expect("the write thread's runtime starts");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("store-writes".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("the write thread starts");
        handle
    })
}

/// Runs `work` on the write thread.
pub(crate) fn spawn<F>(work: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle().spawn(work)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn work_runs_on_the_write_thread_and_answers() {
        let name = super::spawn(async { std::thread::current().name().map(str::to_owned) }).await.unwrap();
        assert_eq!(name.as_deref(), Some("store-writes"));
        // Timers and the runtime's other drivers work there.
        let slept = super::spawn(async { tokio::time::sleep(std::time::Duration::from_millis(1)).await }).await;
        assert!(slept.is_ok());
    }
}
