//! Recording many payment attempts in one transaction.
//!
//! Every checkout records its payment attempt (and, on its first try, claims
//! its Idempotency-Key) before the gateway is called; during an on-sale
//! these are as many transactions as checkouts. A batch writes the keys
//! with one `INSERT … ON CONFLICT DO NOTHING RETURNING` and the attempts
//! with another, and tells each request what the single path would have:
//! its key was taken by someone else, its attempt is recorded, or an
//! earlier attempt of the same checkout was found. If a statement fails, the
//! batch is rolled back and each request runs on its own; if the commit
//! fails, each gets that error, as it would alone.

use std::collections::HashSet;

use domain::Timestamp;
use domain::ids::{HoldId, PaymentAttemptId, UserId};
use domain::money::Money;

use crate::batch::{Together, Turn, batch_query_as, commit_failed, placeholders};
use crate::{AttemptBegin, NewPaymentAttempt, Result, Store, ms};

/// Most attempts recorded in one transaction.
pub(crate) const ATTEMPT_BATCH_MAX: usize = 64;

/// An attempt to record, owned so that it can wait in a batch.
#[derive(Clone, Debug)]
pub(crate) struct AttemptToBegin {
    id: PaymentAttemptId,
    hold: HoldId,
    user: UserId,
    gateway: String,
    amount: Money,
    order_key: String,
    idempotency_key: String,
    claim_order_key: Option<Vec<u8>>,
    now: Timestamp,
}

impl AttemptToBegin {
    pub(crate) fn of(a: &NewPaymentAttempt<'_>, now: Timestamp) -> Self {
        Self {
            id: a.id,
            hold: a.hold,
            user: a.user,
            gateway: a.gateway.to_owned(),
            amount: a.amount,
            order_key: a.order_key.to_owned(),
            idempotency_key: a.idempotency_key.to_owned(),
            claim_order_key: a.claim_order_key.map(<[u8]>::to_vec),
            now,
        }
    }

    fn as_new(&self) -> NewPaymentAttempt<'_> {
        NewPaymentAttempt {
            id: self.id,
            hold: self.hold,
            user: self.user,
            gateway: &self.gateway,
            amount: self.amount,
            order_key: &self.order_key,
            idempotency_key: &self.idempotency_key,
            claim_order_key: self.claim_order_key.as_deref(),
        }
    }

    fn recorded(&self) -> Result<AttemptBegin> {
        self.as_new().recorded(self.now)
    }
}

/// What the batch's transaction decided for one request.
enum Written {
    HoldGone,
    KeyTaken,
    Recorded,
    /// An attempt with this idempotency key existed: read it after commit.
    Existing,
}

impl Store {
    /// Records `attempts`, one result each, in order.
    pub(crate) async fn begin_payment_attempts(
        &self,
        attempts: Vec<AttemptToBegin>,
        turn: Turn,
    ) -> Vec<Result<AttemptBegin>> {
        if attempts.len() > 1 {
            match self.begin_payment_attempts_together(&attempts, turn).await {
                Err(Together::CommitFailed(e)) => return attempts.iter().map(|_| Err(commit_failed(&e))).collect(),
                Ok(written) => {
                    let mut results = Vec::with_capacity(attempts.len());
                    for (a, w) in attempts.iter().zip(written) {
                        results.push(match w {
                            Written::HoldGone => Ok(AttemptBegin::HoldGone),
                            Written::KeyTaken => Ok(AttemptBegin::KeyTaken),
                            Written::Recorded => a.recorded(),
                            Written::Existing => self.payment_attempt_by_key(&a.idempotency_key).await,
                        });
                    }
                    return results;
                }
                Err(Together::Failed(e)) => {
                    tracing::debug!(error = %e, "a payment attempt batch failed; recording one by one")
                }
            }
        }
        let mut results = Vec::with_capacity(attempts.len());
        for a in &attempts {
            results.push(self.begin_payment_attempt_alone(&a.as_new(), a.now).await);
        }
        results
    }

    async fn begin_payment_attempts_together(
        &self,
        attempts: &[AttemptToBegin],
        turn: Turn,
    ) -> std::result::Result<Vec<Written>, Together> {
        let mut tx = self.write().await.map_err(Together::Failed)?;
        match write_attempts(&mut tx, attempts, self.backend).await {
            Ok(written) => {
                tx.commit_and(|| turn.end()).await.map_err(|e| Together::CommitFailed(e.into()))?;
                Ok(written)
            }
            Err(e) => {
                tx.rollback().await.map_err(|e| Together::Failed(e.into()))?;
                Err(Together::Failed(e))
            }
        }
    }
}

async fn write_attempts(
    tx: &mut crate::WriteTx,
    attempts: &[AttemptToBegin],
    backend: crate::Backend,
) -> Result<Vec<Written>> {
    // Holds released or expired since their checkouts read them get no
    // attempt, so nothing is charged for them. Every `now` of the batch has
    // passed when it runs, so the latest decides what has expired.
    let holds: Vec<HoldId> = attempts.iter().map(|a| a.hold).collect();
    let now = attempts.iter().map(|a| a.now).max().unwrap_or_default();
    let live = crate::payments::live_holds(tx, backend, &holds, now).await?;
    let attempts_live: Vec<bool> = attempts.iter().map(|a| live.contains(&a.hold)).collect();

    // Of requests claiming one key, the first in the batch is the one that
    // may insert it; the rest have lost it already, as they would have one
    // transaction later.
    let mut asked = HashSet::new();
    let claims: Vec<&AttemptToBegin> = attempts
        .iter()
        .zip(&attempts_live)
        .filter(|(a, live)| **live && a.claim_order_key.is_some() && asked.insert((a.user, a.order_key.as_str())))
        .map(|(a, _)| a)
        .collect();
    let mut claimed = HashSet::new();
    if !claims.is_empty() {
        let sql = format!(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, state, created_at, updated_at) VALUES {} \
             ON CONFLICT (user_id, key) DO NOTHING RETURNING user_id, key",
            placeholders(claims.len(), 6, 1)
        );
        let mut q = batch_query_as::<(String, String)>(tx, sql);
        for a in &claims {
            q = q
                .bind(a.user.to_string())
                .bind(a.order_key.as_str())
                .bind(a.claim_order_key.as_deref())
                .bind("pending")
                .bind(ms(a.now))
                .bind(ms(a.now));
        }
        claimed.extend(q.fetch_all(&mut **tx).await?);
    }
    // Each claimed key is claimed by exactly one request: the first asking.
    let mut owner_taken = HashSet::new();
    let proceeds: Vec<bool> = attempts
        .iter()
        .zip(&attempts_live)
        .map(|(a, live)| match a.claim_order_key {
            _ if !live => false,
            None => true,
            Some(_) => {
                let key = (a.user.to_string(), a.order_key.clone());
                claimed.contains(&key) && owner_taken.insert(key)
            }
        })
        .collect();

    let mut keys_seen = HashSet::new();
    let inserts: Vec<&AttemptToBegin> = attempts
        .iter()
        .zip(&proceeds)
        .filter(|(a, go)| **go && keys_seen.insert(a.idempotency_key.as_str()))
        .map(|(a, _)| a)
        .collect();
    let mut inserted = HashSet::new();
    if !inserts.is_empty() {
        let sql = format!(
            "INSERT INTO payment_attempts (id, hold_id, user_id, gateway, amount, currency, order_key, idempotency_key, \
             status, created_at, updated_at) VALUES {} ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            placeholders(inserts.len(), 11, 1)
        );
        let mut q = batch_query_as::<(String,)>(tx, sql);
        for a in &inserts {
            q = q
                .bind(a.id.to_string())
                .bind(a.hold.to_string())
                .bind(a.user.to_string())
                .bind(a.gateway.as_str())
                .bind(a.amount.amount_minor())
                .bind(a.amount.currency().as_str().to_owned())
                .bind(a.order_key.as_str())
                .bind(a.idempotency_key.as_str())
                .bind("pending")
                .bind(ms(a.now))
                .bind(ms(a.now));
        }
        inserted.extend(q.fetch_all(&mut **tx).await?.into_iter().map(|(id,)| id));
    }
    Ok(attempts
        .iter()
        .zip(proceeds)
        .zip(attempts_live)
        .map(|((a, go), live)| match (go, inserted.contains(&a.id.to_string())) {
            _ if !live => Written::HoldGone,
            (false, _) => Written::KeyTaken,
            (true, true) => Written::Recorded,
            (true, false) => Written::Existing,
        })
        .collect())
}
