//! Cross-process change notifications, for live seat maps.
//!
//! On PostgreSQL every process publishes with `pg_notify` and every process
//! listens, so a browser connected to any node hears about a seat sold on
//! any other. SQLite serves one process, which needs no database round trip
//! to tell itself: the caller delivers locally instead.

use sqlx::postgres::PgListener;

use crate::{Backend, Result, Store};

/// The notification channel for availability changes.
pub const AVAILABILITY_CHANNEL: &str = "rt_availability";
/// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
pub const NOTIFY_PAYLOAD_BYTES_MAX: usize = 7_900;

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
    pub async fn notify(&self, payload: &str) -> Result<()> {
        debug_assert!(self.is_shared());
        sqlx::query("SELECT pg_notify($1, $2)").bind(AVAILABILITY_CHANNEL).bind(payload).execute(&self.writer).await?;
        Ok(())
    }

    /// Starts listening (PostgreSQL only).
    pub async fn listen(&self) -> Result<LiveListener> {
        let mut listener = PgListener::connect(&self.url).await?;
        listener.listen(AVAILABILITY_CHANNEL).await?;
        Ok(LiveListener(listener))
    }
}
