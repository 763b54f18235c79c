//! Payment attempts, gateway notifications already processed, and each
//! organization's gateway order.

use domain::Timestamp;
use domain::ids::{HoldId, OrderId, OrganizationId, PaymentAttemptId, UserId};
use domain::money::Money;

use crate::{Result, Store, id, money, ms, opt_id, ts};

/// Where a payment attempt stands. Stored as text (`status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptStatus {
    /// Written before the gateway was asked; its answer is not known yet.
    Pending,
    /// The gateway took the money; no order holds it yet.
    Charged,
    /// An order holds the money.
    Completed,
    /// The gateway refused the payment method: nothing was taken.
    Declined,
    /// Nothing was taken (the gateway said so, or the payment failed later).
    Failed,
    /// A refund was started; the attempt ends `refunded`.
    Refunding,
    Refunded,
}

impl AttemptStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Pending => "pending",
            AttemptStatus::Charged => "charged",
            AttemptStatus::Completed => "completed",
            AttemptStatus::Declined => "declined",
            AttemptStatus::Failed => "failed",
            AttemptStatus::Refunding => "refunding",
            AttemptStatus::Refunded => "refunded",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => AttemptStatus::Pending,
            "charged" => AttemptStatus::Charged,
            "completed" => AttemptStatus::Completed,
            "declined" => AttemptStatus::Declined,
            "failed" => AttemptStatus::Failed,
            "refunding" => AttemptStatus::Refunding,
            "refunded" => AttemptStatus::Refunded,
            other => return Err(crate::StoreError::Corrupt(format!("bad payment attempt status '{other}'"))),
        })
    }
}

#[derive(Clone, Debug)]
pub struct NewPaymentAttempt<'a> {
    pub id: PaymentAttemptId,
    pub hold: HoldId,
    pub user: UserId,
    pub gateway: &'a str,
    pub amount: Money,
    /// The buyer's Idempotency-Key of the checkout.
    pub order_key: &'a str,
    pub idempotency_key: &'a str,
    /// The request hash to claim `order_key` with, in the same
    /// transaction, when this checkout has not claimed it yet.
    pub claim_order_key: Option<&'a [u8]>,
}

impl NewPaymentAttempt<'_> {
    /// The attempt as just written at `now`, as a read would return it.
    pub(crate) fn recorded(&self, now: Timestamp) -> Result<AttemptBegin> {
        let at = ts(ms(now))?;
        Ok(AttemptBegin::Recorded(Box::new(PaymentAttemptRecord {
            id: self.id,
            hold: self.hold,
            user: self.user,
            gateway: self.gateway.to_owned(),
            amount: self.amount,
            order_key: self.order_key.to_owned(),
            idempotency_key: self.idempotency_key.to_owned(),
            reference: None,
            status: AttemptStatus::Pending,
            failure: None,
            order: None,
            created_at: at,
            updated_at: at,
        })))
    }
}

/// What recording an attempt found.
#[derive(Clone, Debug)]
pub enum AttemptBegin {
    /// Recorded (or found: a retry of the same checkout at this gateway).
    Recorded(Box<PaymentAttemptRecord>),
    /// The checkout's Idempotency-Key, to be claimed with the attempt, was
    /// claimed by another request first: nothing was written.
    KeyTaken,
    /// The hold is no longer live (released, expired or ordered since the
    /// checkout read it): nothing was written, and nothing may be charged.
    HoldGone,
}

#[derive(Clone, Debug)]
pub struct PaymentAttemptRecord {
    pub id: PaymentAttemptId,
    pub hold: HoldId,
    pub user: UserId,
    pub gateway: String,
    pub amount: Money,
    pub order_key: String,
    pub idempotency_key: String,
    pub reference: Option<String>,
    pub status: AttemptStatus,
    pub failure: Option<String>,
    pub order: Option<OrderId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// `SELECT <every attempt column> FROM payment_attempts <rest>`, as a
/// literal (sqlx takes only static SQL).
macro_rules! select_attempts {
    ($rest:literal) => {
        concat!(
            "SELECT id, hold_id, user_id, gateway, amount, currency, order_key, idempotency_key, reference, status, failure, \
             order_id, created_at, updated_at FROM payment_attempts ",
            $rest
        )
    };
}

type AttemptRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

fn attempt(row: AttemptRow) -> Result<PaymentAttemptRecord> {
    let (
        id_s,
        hold,
        user,
        gateway,
        amount,
        currency,
        order_key,
        key,
        reference,
        status,
        failure,
        order,
        created,
        updated,
    ) = row;
    Ok(PaymentAttemptRecord {
        id: id(&id_s)?,
        hold: id(&hold)?,
        user: id(&user)?,
        gateway,
        amount: money(amount, &currency)?,
        order_key,
        idempotency_key: key,
        reference,
        status: AttemptStatus::parse(&status)?,
        failure,
        order: opt_id(order)?,
        created_at: ts(created)?,
        updated_at: ts(updated)?,
    })
}

impl Store {
    /// Records an attempt before the gateway is called. The idempotency key
    /// is unique: a retried checkout finds its earlier attempt at the same
    /// gateway (and the gateway its earlier charge) instead of starting anew.
    ///
    /// Concurrent attempts are recorded together, several to a transaction
    /// (`attempt_batch`); each gets its own outcome.
    pub async fn begin_payment_attempt(&self, a: &NewPaymentAttempt<'_>, now: Timestamp) -> Result<AttemptBegin> {
        let attempt = crate::attempt_batch::AttemptToBegin::of(a, now);
        let store = self.clone();
        let run = move |attempts, turn| {
            let store = store.clone();
            async move { store.begin_payment_attempts(attempts, turn).await }
        };
        self.attempt_batches.submit(attempt, run).await.unwrap_or_else(|lost| Err(lost.into()))
    }

    /// [`begin_payment_attempt`](Self::begin_payment_attempt) in a
    /// transaction of its own.
    pub(crate) async fn begin_payment_attempt_alone(
        &self,
        a: &NewPaymentAttempt<'_>,
        now: Timestamp,
    ) -> Result<AttemptBegin> {
        let mut tx = self.write().await?;
        if !live_holds(&mut tx, self.backend, &[a.hold], now).await?.contains(&a.hold) {
            tx.rollback().await?;
            return Ok(AttemptBegin::HoldGone);
        }
        if let Some(request_hash) = a.claim_order_key {
            // Of concurrent first uses of the key, exactly one inserts.
            let claimed = sqlx::query(
                "INSERT INTO idempotency_keys (user_id, key, request_hash, state, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'pending', $4, $4) ON CONFLICT (user_id, key) DO NOTHING",
            )
            .bind(a.user.to_string())
            .bind(a.order_key)
            .bind(request_hash)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() != 1 {
                return Ok(AttemptBegin::KeyTaken);
            }
        }
        let inserted = sqlx::query(
            "INSERT INTO payment_attempts (id, hold_id, user_id, gateway, amount, currency, order_key, idempotency_key, \
             status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(a.id.to_string())
        .bind(a.hold.to_string())
        .bind(a.user.to_string())
        .bind(a.gateway)
        .bind(a.amount.amount_minor())
        .bind(a.amount.currency().as_str())
        .bind(a.order_key)
        .bind(a.idempotency_key)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if inserted.rows_affected() == 1 {
            return a.recorded(now);
        }
        // A retry of the same checkout at this gateway: the earlier attempt.
        self.payment_attempt_by_key(a.idempotency_key).await
    }

    /// The attempt with this idempotency key (one per checkout and gateway).
    pub(crate) async fn payment_attempt_by_key(&self, idempotency_key: &str) -> Result<AttemptBegin> {
        let row: AttemptRow = sqlx::query_as(select_attempts!("WHERE idempotency_key = $1"))
            .bind(idempotency_key)
            .fetch_one(&mut *self.read().await?)
            .await?;
        attempt(row).map(|a| AttemptBegin::Recorded(Box::new(a)))
    }

    pub async fn payment_attempt(&self, attempt_id: PaymentAttemptId) -> Result<Option<PaymentAttemptRecord>> {
        let row: Option<AttemptRow> = sqlx::query_as(select_attempts!("WHERE id = $1"))
            .bind(attempt_id.to_string())
            .fetch_optional(&mut *self.read().await?)
            .await?;
        row.map(attempt).transpose()
    }

    /// The attempt a gateway's charge belongs to.
    pub async fn payment_attempt_by_reference(
        &self,
        gateway: &str,
        reference: &str,
    ) -> Result<Option<PaymentAttemptRecord>> {
        let row: Option<AttemptRow> = sqlx::query_as(select_attempts!("WHERE gateway = $1 AND reference = $2"))
            .bind(gateway)
            .bind(reference)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        row.map(attempt).transpose()
    }

    /// Every attempt made for a hold, oldest first.
    pub async fn payment_attempts_for_hold(&self, hold: HoldId) -> Result<Vec<PaymentAttemptRecord>> {
        let rows: Vec<AttemptRow> = sqlx::query_as(select_attempts!("WHERE hold_id = $1 ORDER BY created_at, id"))
            .bind(hold.to_string())
            .fetch_all(&mut *self.read().await?)
            .await?;
        rows.into_iter().map(attempt).collect()
    }

    /// The gateway took the money. Only an attempt still pending (or
    /// charged, for a repeated notice) moves; returns whether it did.
    pub async fn mark_attempt_charged(
        &self,
        attempt_id: PaymentAttemptId,
        reference: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let done = self
            .write_one(
                sqlx::query(
                    "UPDATE payment_attempts SET status = 'charged', reference = $1, updated_at = $2 \
             WHERE id = $3 AND status IN ('pending', 'charged', 'failed')",
                )
                .bind(reference)
                .bind(ms(now))
                .bind(attempt_id.to_string()),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Nothing was taken: the attempt ends `declined` or `failed`. Only a
    /// pending attempt moves, so a late failure notice cannot undo a charge.
    pub async fn mark_attempt_failed(
        &self,
        attempt_id: PaymentAttemptId,
        status: AttemptStatus,
        reference: Option<&str>,
        failure: &str,
        now: Timestamp,
    ) -> Result<bool> {
        assert!(matches!(status, AttemptStatus::Declined | AttemptStatus::Failed), "not a failure: {status:?}");
        let done = self.write_one(sqlx::query(
            "UPDATE payment_attempts SET status = $1, reference = COALESCE($2, reference), failure = $3, updated_at = $4 \
             WHERE id = $5 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(reference)
        .bind(failure)
        .bind(ms(now))
        .bind(attempt_id.to_string())
        )
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims a charged attempt for a refund. Exactly one caller wins (the
    /// checkout that lost its hold, the notification handler, or the
    /// reconciler); an attempt an order holds is never claimed.
    /// The charge's reference is kept with the claim, so a refund that
    /// fails can be retried from the attempt alone.
    pub async fn begin_attempt_refund(
        &self,
        attempt_id: PaymentAttemptId,
        reference: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let done = self
            .write_one(
                sqlx::query(
                    "UPDATE payment_attempts SET status = 'refunding', reference = COALESCE(reference, $1), \
                     updated_at = $2 WHERE id = $3 AND status IN ('pending', 'charged')",
                )
                .bind(reference)
                .bind(ms(now))
                .bind(attempt_id.to_string()),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn finish_attempt_refund(&self, attempt_id: PaymentAttemptId, now: Timestamp) -> Result<()> {
        self.write_one(sqlx::query(
            "UPDATE payment_attempts SET status = 'refunded', updated_at = $1 WHERE id = $2 AND status = 'refunding'",
        )
        .bind(ms(now))
        .bind(attempt_id.to_string())
        )
        .await?;
        Ok(())
    }

    /// Marks the attempt's last look by the reconciler, so the oldest
    /// unresolved attempts take turns instead of one blocking the batch.
    pub async fn touch_payment_attempt(&self, attempt_id: PaymentAttemptId, now: Timestamp) -> Result<()> {
        self.write_one(
            sqlx::query("UPDATE payment_attempts SET updated_at = $1 WHERE id = $2")
                .bind(ms(now))
                .bind(attempt_id.to_string()),
        )
        .await?;
        Ok(())
    }

    /// Attempts whose outcome is still open (pending, charged, refunding)
    /// and untouched since `before`, oldest first, at most `limit`.
    pub async fn unsettled_payment_attempts(&self, before: Timestamp, limit: u32) -> Result<Vec<PaymentAttemptRecord>> {
        let rows: Vec<AttemptRow> = sqlx::query_as(select_attempts!(
            "\
             WHERE status IN ('pending', 'charged', 'refunding') AND updated_at <= $1 ORDER BY updated_at LIMIT $2"
        ))
        .bind(ms(before))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(attempt).collect()
    }

    /// Whether a gateway's notification was already acted on.
    pub async fn payment_event_seen(&self, gateway: &str, event_id: &str) -> Result<bool> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT kind FROM payment_events WHERE gateway = $1 AND event_id = $2")
                .bind(gateway)
                .bind(event_id)
                .fetch_optional(&mut *self.read().await?)
                .await?;
        Ok(row.is_some())
    }

    /// Records a notification as processed; false if it already was.
    pub async fn record_payment_event(
        &self,
        gateway: &str,
        event_id: &str,
        kind: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let done = self
            .write_one(
                sqlx::query(
                    "INSERT INTO payment_events (gateway, event_id, kind, received_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (gateway, event_id) DO NOTHING",
                )
                .bind(gateway)
                .bind(event_id)
                .bind(kind)
                .bind(ms(now)),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The organization's gateways in the order checkout tries them; empty
    /// when the organizer has not chosen.
    pub async fn organization_payment_gateways(&self, org: OrganizationId) -> Result<Vec<String>> {
        let gateways = crate::cache::cached!(self.cache.gateways, org, self.load_gateways(org).await.map(Some));
        gateways.map(Option::unwrap_or_default)
    }

    async fn load_gateways(&self, org: OrganizationId) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT gateway FROM organization_payment_gateways WHERE organization_id = $1 ORDER BY position",
        )
        .bind(org.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(rows.into_iter().map(|(g,)| g).collect())
    }

    /// Replaces the organization's gateway order in one transaction.
    pub async fn set_organization_payment_gateways(&self, org: OrganizationId, gateways: &[String]) -> Result<()> {
        let org_s = org.to_string();
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM organization_payment_gateways WHERE organization_id = $1")
            .bind(&org_s)
            .execute(&mut *tx)
            .await?;
        for (position, gateway) in gateways.iter().enumerate() {
            sqlx::query(
                "INSERT INTO organization_payment_gateways (organization_id, position, gateway) VALUES ($1, $2, $3)",
            )
            .bind(&org_s)
            .bind(position as i64)
            .bind(gateway)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.cache.gateways.invalidate(&org);
        Ok(())
    }
}

/// Which of `holds` are live at `now`, read in the write transaction `tx`
/// that is about to record payment attempts for them.
///
/// A checkout reads its hold before it records its attempt; the buyer may
/// release the hold in between (choosing other places on the web does). On
/// PostgreSQL the rows are share-locked, so a release (which locks its hold
/// for update before it looks for attempts) either commits first and is
/// seen here, or waits for this transaction and then sees its attempt. On
/// SQLite transactions run one at a time. Either way a hold is never both
/// released and paid for.
pub(crate) async fn live_holds(
    tx: &mut crate::WriteTx,
    backend: crate::Backend,
    holds: &[HoldId],
    now: Timestamp,
) -> Result<std::collections::HashSet<HoldId>> {
    let mut ids: Vec<String> = holds.iter().map(ToString::to_string).collect();
    // Sorted and once each: rows are locked in one order whoever locks them.
    ids.sort();
    ids.dedup();
    let marks = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT id FROM holds WHERE id IN ({marks}) AND status = 'active' AND expires_at > ${}{}",
        ids.len() + 1,
        backend.share_lock()
    );
    let mut q = crate::batch::batch_query_as::<(String,)>(tx, sql);
    for id in &ids {
        q = q.bind(id.as_str());
    }
    let rows = q.bind(ms(now)).fetch_all(&mut **tx).await?;
    rows.into_iter().map(|(hold,)| id(&hold)).collect()
}
