//! Cross-process change notifications, for live seat maps.
//!
//! On PostgreSQL every process publishes with `pg_notify` and every process
//! listens, so a browser connected to any node hears about a seat sold on
//! any other. SQLite serves one process, which needs no database round trip
//! to tell itself: the caller delivers locally instead.

use sqlx::postgres::PgListener;

use crate::{Backend, Result, Store, StoreError};

/// The notification channel for availability changes.
pub const AVAILABILITY_CHANNEL: &str = "rt_availability";
/// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
pub const NOTIFY_PAYLOAD_BYTES_MAX: usize = 7_900;

/// Notifications sent in one statement, at most.
const NOTIFY_BATCH_MAX: usize = 64;

pub(crate) type NotifyBatcher = crate::batch::Batcher<String, Result<()>>;

pub(crate) fn notify_batcher() -> std::sync::Arc<NotifyBatcher> {
    std::sync::Arc::new(crate::batch::Batcher::new(NOTIFY_BATCH_MAX))
}

/// Receives what any process published.
pub struct LiveListener(PgListener);

impl LiveListener {
    /// The next payload. Reconnects by itself after a dropped connection;
    /// what was published meanwhile is lost, which clients cover by
    /// re-reading availability when they reconnect.
    pub async fn recv(&mut self) -> Result<String> {
        Ok(self.0.recv().await?.payload().to_owned())
    }
}

impl Store {
    /// Whether changes must go through the database to reach other processes.
    pub fn is_shared(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Publishes `payload` to every process (PostgreSQL only).
    ///
    /// Every hold and every checkout publishes; those that arrive together
    /// go out in one statement (a round trip, and a pooled connection, for
    /// many rather than each), in the order they arrived.
    pub async fn notify(&self, payload: &str) -> Result<()> {
        debug_assert!(self.is_shared());
        let store = self.clone();
        self.notify_batches
            .submit(payload.to_owned(), move |payloads, _turn| {
                let store = store.clone();
                async move {
                    let sent = store.notify_all(&payloads).await;
                    payloads
                        .iter()
                        .map(|_| match &sent {
                            Ok(()) => Ok(()),
                            Err(e) => Err(StoreError::Database(sqlx::Error::Protocol(e.to_string()))),
                        })
                        .collect()
                }
            })
            .await?
    }

    async fn notify_all(&self, payloads: &[String]) -> Result<()> {
        let calls = (0..payloads.len()).map(|i| format!("pg_notify($1, ${})", i + 2)).collect::<Vec<_>>().join(", ");
        // Its text changes with the batch's size: prepared for this one use.
        let mut q =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {calls}"))).persistent(false).bind(AVAILABILITY_CHANNEL);
        for p in payloads {
            q = q.bind(p.as_str());
        }
        q.execute(&self.writer).await?;
        Ok(())
    }

    /// Starts listening (PostgreSQL only).
    pub async fn listen(&self) -> Result<LiveListener> {
        let mut listener = PgListener::connect(&self.url).await?;
        listener.listen(AVAILABILITY_CHANNEL).await?;
        Ok(LiveListener(listener))
    }
}
