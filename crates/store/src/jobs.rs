//! The durable job queue and webhook endpoints.
//!
//! A job is claimed with a lease: `locked_by` names the worker and
//! `locked_until` when its claim lapses. A worker that dies simply stops
//! renewing; once the lease has passed, any worker may claim the job again.
//! Completing or failing a job is fenced by `locked_by`, so a worker whose
//! lease was taken over cannot overwrite the new owner's outcome.

use domain::Timestamp;
use domain::ids::OrganizationId;

use crate::{Backend, Result, Store, StoreError, id, ms, ts};

#[derive(Clone, Debug)]
pub struct NewJob {
    pub kind: String,
    /// JSON; the handler of `kind` knows its shape.
    pub payload: String,
    pub max_attempts: u32,
    pub run_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub status: String,
    /// Claims so far, this one included.
    pub attempts: u32,
    pub max_attempts: u32,
    pub run_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

type JobRow = (String, String, String, String, i64, i64, i64, Option<String>, i64, i64);

const JOB_COLUMNS: &str =
    "id, kind, payload, status, attempts, max_attempts, run_at, last_error, created_at, updated_at";

fn job(r: JobRow) -> Result<JobRecord> {
    Ok(JobRecord {
        id: r.0,
        kind: r.1,
        payload: r.2,
        status: r.3,
        attempts: u32::try_from(r.4).map_err(|_| StoreError::Corrupt("attempts".into()))?,
        max_attempts: u32::try_from(r.5).map_err(|_| StoreError::Corrupt("max_attempts".into()))?,
        run_at: ts(r.6)?,
        last_error: r.7,
        created_at: ts(r.8)?,
        updated_at: ts(r.9)?,
    })
}

/// Adds a job inside the caller's transaction: it exists if and only if the
/// change that needs it committed.
pub(crate) async fn insert_job(tx: &mut crate::WriteTx, job: &NewJob, now: Timestamp) -> Result<String> {
    let job_id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 'pending', 0, $4, $5, $6, $7)",
    )
    .bind(&job_id)
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(i64::from(job.max_attempts))
    .bind(ms(job.run_at))
    .bind(ms(now))
    .bind(ms(now))
    .execute(&mut **tx)
    .await?;
    Ok(job_id)
}

#[derive(Clone, Debug)]
pub struct WebhookEndpointRecord {
    pub id: String,
    pub organization: OrganizationId,
    pub url: String,
    pub secret: String,
    pub event_types: Vec<String>,
    pub created_at: Timestamp,
}

type EndpointRow = (String, String, String, String, String, i64);

fn endpoint(r: EndpointRow) -> Result<WebhookEndpointRecord> {
    Ok(WebhookEndpointRecord {
        id: r.0,
        organization: id(&r.1)?,
        url: r.2,
        secret: r.3,
        event_types: r.4.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        created_at: ts(r.5)?,
    })
}

impl Store {
    pub async fn enqueue(&self, job: &NewJob, now: Timestamp) -> Result<String> {
        let mut tx = self.write().await?;
        let id = insert_job(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims the job that is due first: pending and due, or running with a
    /// lapsed lease (its worker died). Jobs of the kinds in `skipped` are
    /// left for other workers (a node without an SMTP server leaves e-mail
    /// to nodes that have one). `None` when nothing is due.
    pub async fn claim_job(
        &self,
        worker: &str,
        now: Timestamp,
        lease: chrono::Duration,
        skipped: &[&str],
    ) -> Result<Option<JobRecord>> {
        // PostgreSQL: skip rows other workers are claiming right now instead
        // of queueing behind them. SQLite's write lock already serialises.
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let due = "((status = 'pending' AND run_at <= $1) OR (status = 'running' AND locked_until <= $2))";
        let kinds = if skipped.is_empty() {
            String::new()
        } else {
            let places: Vec<String> = (0..skipped.len()).map(|i| format!("${}", i + 3)).collect();
            format!(" AND kind NOT IN ({})", places.join(", "))
        };
        let candidate_sql = format!("SELECT id FROM jobs WHERE {due}{kinds} ORDER BY run_at, id LIMIT 1");
        let look = |sql: String| {
            let mut q = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql)).bind(ms(now)).bind(ms(now));
            for kind in skipped {
                q = q.bind(*kind);
            }
            q
        };
        // Look on a read connection first: an idle queue, polled by every
        // worker, never takes the write lock an on-sale needs.
        if look(candidate_sql.clone()).fetch_optional(&mut *self.read().await?).await?.is_none() {
            return Ok(None);
        }
        let mut tx = self.write().await?;
        let candidate = look(format!("{candidate_sql}{skip_locked}")).fetch_optional(&mut *tx).await?;
        let Some((job_id,)) = candidate else {
            return Ok(None);
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $3, locked_until = $4, \
             updated_at = $5 WHERE id = $6 AND {due} RETURNING {JOB_COLUMNS}"
        );
        let claimed: Option<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(ms(now))
            .bind(ms(now))
            .bind(worker)
            .bind(ms(now + lease))
            .bind(ms(now))
            .bind(&job_id)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        claimed.map(job).transpose()
    }

    /// Marks the job done, if `worker` still holds it.
    pub async fn complete_job(&self, job_id: &str, worker: &str, now: Timestamp) -> Result<bool> {
        let done = self.write_one(sqlx::query(
            "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, last_error = NULL, updated_at = $1 \
             WHERE id = $2 AND locked_by = $3 AND status = 'running'",
        )
        .bind(ms(now))
        .bind(job_id)
        .bind(worker)
        )
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a failed attempt: the job runs again at `retry_at`, or, with
    /// `None`, is given up and left `failed` for an operator to see.
    pub async fn fail_job(
        &self,
        job_id: &str,
        worker: &str,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<bool> {
        let (status, run_at) = match retry_at {
            Some(at) => ("pending", ms(at)),
            None => ("failed", ms(now)),
        };
        let done = self
            .write_one(
                sqlx::query(
                    "UPDATE jobs SET status = $1, run_at = $2, last_error = $3, locked_by = NULL, locked_until = NULL, \
             updated_at = $4 WHERE id = $5 AND locked_by = $6 AND status = 'running'",
                )
                .bind(status)
                .bind(run_at)
                .bind(error)
                .bind(ms(now))
                .bind(job_id)
                .bind(worker),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Jobs in `status` (all when `None`), newest first, for operators.
    pub async fn jobs(&self, status: Option<&str>, limit: u32) -> Result<Vec<JobRecord>> {
        let rows: Vec<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 IS NULL OR status = $2) ORDER BY updated_at DESC, id DESC LIMIT $3"
        )))
        .bind(status)
        .bind(status)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(job).collect()
    }

    pub async fn job(&self, job_id: &str) -> Result<Option<JobRecord>> {
        let row: Option<JobRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1")))
                .bind(job_id)
                .fetch_optional(&mut *self.read().await?)
                .await?;
        row.map(job).transpose()
    }

    /// Adds the endpoint unless the organization has `max` already; `false`
    /// then. The organization's row is locked while counting (PostgreSQL),
    /// so endpoints added at the same moment cannot pass the limit together.
    pub async fn create_webhook_endpoint(&self, e: &WebhookEndpointRecord, max: usize) -> Result<bool> {
        let org = e.organization.to_string();
        let mut tx = self.write().await?;
        sqlx::query("UPDATE organizations SET name = name WHERE id = $1").bind(&org).execute(&mut *tx).await?;
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM webhook_endpoints WHERE organization_id = $1")
            .bind(&org)
            .fetch_one(&mut *tx)
            .await?;
        if usize::try_from(n).unwrap_or(usize::MAX) >= max {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, organization_id, url, secret, event_types, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&e.id)
        .bind(&org)
        .bind(&e.url)
        .bind(&e.secret)
        .bind(e.event_types.join(","))
        .bind(ms(e.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.cache.webhook_endpoints.invalidate(&e.organization);
        Ok(true)
    }

    /// The organization's endpoints, from the read cache when fresh.
    pub async fn webhook_endpoints_of(&self, org: OrganizationId) -> Result<Vec<WebhookEndpointRecord>> {
        let endpoints =
            crate::cache::cached!(self.cache.webhook_endpoints, org, self.load_webhook_endpoints(org).await.map(Some));
        endpoints.map(Option::unwrap_or_default)
    }

    async fn load_webhook_endpoints(&self, org: OrganizationId) -> Result<Vec<WebhookEndpointRecord>> {
        let rows: Vec<EndpointRow> = sqlx::query_as(
            "SELECT id, organization_id, url, secret, event_types, created_at FROM webhook_endpoints \
             WHERE organization_id = $1 ORDER BY created_at, id",
        )
        .bind(org.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(endpoint).collect()
    }

    pub async fn webhook_endpoint(&self, endpoint_id: &str) -> Result<Option<WebhookEndpointRecord>> {
        let row: Option<EndpointRow> = sqlx::query_as(
            "SELECT id, organization_id, url, secret, event_types, created_at FROM webhook_endpoints WHERE id = $1",
        )
        .bind(endpoint_id)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(endpoint).transpose()
    }
}
