//! Background work that must not be lost: a durable queue in the database,
//! worked by every server process.
//!
//! Delivery is at least once. A worker claims a job with a lease; if its
//! process dies, the lease lapses and another worker takes the job. Handlers
//! are therefore idempotent, or hand the receiver an idempotency key (every
//! webhook carries the same `webhook-id` on every attempt). Failed attempts
//! back off exponentially; a job that keeps failing ends `failed`, visible
//! to operators (`robust-ticketing jobs`).

use std::time::Duration;

use store::{JobRecord, NewJob, StoreError};

use crate::Ticketing;
use crate::webhooks::{DeliveryError, WEBHOOK_DELIVER};

/// How long a claim lasts before another worker may take the job over.
/// Longer than any handler runs (webhook calls time out after 10 s).
pub const JOB_LEASE_SECS_DEFAULT: u64 = 60;
/// How long an idle worker waits before looking for work again.
pub const JOB_POLL_MILLIS_DEFAULT: u64 = 500;
/// Attempts before a job is given up: with the back-off below the last comes
/// about ten and a half hours after the first (11 fall in the first hour),
/// so a mail server or gateway that is down for hours loses nothing.
pub const JOB_ATTEMPTS_MAX: u32 = 16;
/// First retry delay; doubles per attempt up to [`JOB_BACKOFF_SECS_MAX`].
const JOB_BACKOFF_SECS_BASE: i64 = 2;
const JOB_BACKOFF_SECS_MAX: i64 = 3 * 60 * 60;

/// When attempt `attempts` (1-based) has failed, the next try waits this long.
pub fn backoff(attempts: u32) -> chrono::Duration {
    let exp = attempts.saturating_sub(1).min(20);
    chrono::Duration::seconds((JOB_BACKOFF_SECS_BASE << exp).min(JOB_BACKOFF_SECS_MAX))
}

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Unique per process: fences a worker's outcome to its own claims.
    pub worker_id: String,
    pub lease: chrono::Duration,
    pub poll: Duration,
}

impl WorkerSettings {
    pub fn for_this_process() -> Self {
        Self {
            worker_id: format!("worker-{}-{}", std::process::id(), uuid_suffix()),
            lease: chrono::Duration::seconds(JOB_LEASE_SECS_DEFAULT as i64),
            poll: Duration::from_millis(JOB_POLL_MILLIS_DEFAULT),
        }
    }
}

fn uuid_suffix() -> String {
    let mut b = [0u8; 4];
    rand::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Why a job attempt did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt later.
    #[error("{0}")]
    Retry(String),
    /// Will never succeed: give up now.
    #[error("{0}")]
    Permanent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DeliveryError> for JobError {
    fn from(e: DeliveryError) -> Self {
        match e {
            DeliveryError::Permanent(m) => JobError::Permanent(m),
            DeliveryError::Retry(m) => JobError::Retry(m),
            DeliveryError::Store(s) => JobError::Store(s),
        }
    }
}

pub fn new_job(kind: &str, payload: String, run_at: domain::Timestamp) -> NewJob {
    NewJob { kind: kind.to_owned(), payload, max_attempts: JOB_ATTEMPTS_MAX, run_at }
}

impl Ticketing {
    /// Works the queue until `shutdown` resolves: claim, run, record.
    pub async fn run_jobs(&self, settings: WorkerSettings, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let worked = tokio::select! {
                () = &mut shutdown => return,
                r = self.work_one(&settings) => r,
            };
            match worked {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "job queue unavailable"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(settings.poll) => {}
            }
        }
    }

    /// Claims and runs one due job; false when none was due.
    pub async fn work_one(&self, settings: &WorkerSettings) -> Result<bool, StoreError> {
        // Without an SMTP server, e-mail waits for a node that has one.
        let skipped: &[&str] = if self.mailer.is_configured() { &[] } else { &[crate::notifications::MAIL_SEND] };
        let Some(job) = self.store.claim_job(&settings.worker_id, self.now(), settings.lease, skipped).await? else {
            return Ok(false);
        };
        let outcome = self.execute(&job).await;
        let now = self.now();
        match outcome {
            Ok(()) => {
                metrics::counter!("jobs_done_total", "kind" => job.kind.clone()).increment(1);
                self.store.complete_job(&job.id, &settings.worker_id, now).await?;
            }
            Err(e) => {
                let retry_at = match &e {
                    JobError::Permanent(_) => None,
                    _ if job.attempts >= job.max_attempts => None,
                    _ => Some(now + backoff(job.attempts)),
                };
                if retry_at.is_none() {
                    metrics::counter!("jobs_failed_total", "kind" => job.kind.clone()).increment(1);
                    tracing::error!(job = %job.id, kind = %job.kind, error = %e, "job failed for good");
                } else {
                    tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %e, "job attempt failed");
                }
                self.store.fail_job(&job.id, &settings.worker_id, &e.to_string(), retry_at, now).await?;
            }
        }
        Ok(true)
    }

    async fn execute(&self, job: &JobRecord) -> Result<(), JobError> {
        match job.kind.as_str() {
            WEBHOOK_DELIVER => Ok(self.deliver_webhook(job).await?),
            crate::notifications::MAIL_SEND => self.send_mail(job).await,
            crate::push::PUSH_DELIVER => self.deliver_push(job).await,
            crate::notifications::EVENT_REMIND => self.send_event_reminders(job).await,
            crate::refunds::REFUND_EXECUTE => self.execute_refund(job).await,
            crate::refunds::EVENT_CANCEL => self.carry_out_cancellation(job).await,
            crate::reschedule::EVENT_RESCHEDULED => self.tell_rescheduled(job).await,
            other => Err(JobError::Permanent(format!("no handler for job kind '{other}'"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1).num_seconds(), 2);
        assert_eq!(backoff(2).num_seconds(), 4);
        assert_eq!(backoff(5).num_seconds(), 32);
        assert_eq!(backoff(40).num_seconds(), JOB_BACKOFF_SECS_MAX);
    }
}
