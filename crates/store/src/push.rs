//! Web push: the application's own key pairs, and browsers' push
//! subscriptions.

use domain::Timestamp;
use domain::ids::UserId;

use crate::{Result, Store, StoreError, id, ms, ts};

#[derive(Clone, Debug)]
pub struct PushSubscriptionRecord {
    pub id: String,
    pub user: UserId,
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
    pub created_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum SavePushSubscriptionError {
    #[error("too many push subscriptions")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SavePushSubscriptionError {
    fn from(e: sqlx::Error) -> Self {
        SavePushSubscriptionError::Store(e.into())
    }
}

/// A subscription to save: the browser's endpoint and keys.
#[derive(Clone, Copy, Debug)]
pub struct NewPushSubscription<'a> {
    pub id: &'a str,
    pub user: UserId,
    pub endpoint: &'a str,
    pub p256dh: &'a [u8],
    pub auth: &'a [u8],
}

type SubscriptionRow = (String, String, String, Vec<u8>, Vec<u8>, i64);

fn subscription_of(r: SubscriptionRow) -> Result<PushSubscriptionRecord> {
    Ok(PushSubscriptionRecord { id: r.0, user: id(&r.1)?, endpoint: r.2, p256dh: r.3, auth: r.4, created_at: ts(r.5)? })
}

impl Store {
    /// The key pair stored under `name`, creating it from `generated` when
    /// there is none yet. On a shared database the first process to get
    /// there wins and every process reads that one back.
    pub async fn app_key_or_insert(
        &self,
        name: &str,
        generated: (&[u8], &[u8]),
        now: Timestamp,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO app_keys (name, public_key, secret_key, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(generated.0)
        .bind(generated.1)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        let row: (Vec<u8>, Vec<u8>) = sqlx::query_as("SELECT public_key, secret_key FROM app_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Saves a subscription for `user`, or replaces the keys and owner of the
    /// one with the same endpoint (a browser subscribing again). Refuses a
    /// new endpoint beyond `per_user_max`. Returns the subscription's id.
    pub async fn save_push_subscription(
        &self,
        new: &NewPushSubscription<'_>,
        per_user_max: u32,
        now: Timestamp,
    ) -> Result<String, SavePushSubscriptionError> {
        let NewPushSubscription { id: new_id, user, endpoint, p256dh, auth } = *new;
        let mut tx = self.write().await?;
        let existing: Option<(String,)> = sqlx::query_as("SELECT id FROM push_subscriptions WHERE endpoint = $1")
            .bind(endpoint)
            .fetch_optional(&mut *tx)
            .await?;
        if existing.is_none() {
            let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM push_subscriptions WHERE user_id = $1")
                .bind(user.to_string())
                .fetch_one(&mut *tx)
                .await?;
            if count >= i64::from(per_user_max) {
                return Err(SavePushSubscriptionError::TooMany);
            }
        }
        let (saved,): (String,) = sqlx::query_as(
            "INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (endpoint) DO UPDATE \
             SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth RETURNING id",
        )
        .bind(new_id)
        .bind(user.to_string())
        .bind(endpoint)
        .bind(p256dh)
        .bind(auth)
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(saved)
    }

    /// Removes the user's subscription with this endpoint; false if none.
    pub async fn delete_push_subscription(&self, user: UserId, endpoint: &str) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2")
            .bind(user.to_string())
            .bind(endpoint)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes a subscription the push service said is gone (404/410).
    pub async fn delete_push_subscription_by_id(&self, subscription: &str) -> Result<bool> {
        let mut tx = self.write().await?;
        let done =
            sqlx::query("DELETE FROM push_subscriptions WHERE id = $1").bind(subscription).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn push_subscription(&self, subscription: &str) -> Result<Option<PushSubscriptionRecord>> {
        let row: Option<SubscriptionRow> = sqlx::query_as(
            "SELECT id, user_id, endpoint, p256dh, auth, created_at FROM push_subscriptions WHERE id = $1",
        )
        .bind(subscription)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(subscription_of).transpose()
    }

    pub async fn push_subscriptions_of(&self, user: UserId) -> Result<Vec<PushSubscriptionRecord>> {
        let rows: Vec<SubscriptionRow> = sqlx::query_as(
            "SELECT id, user_id, endpoint, p256dh, auth, created_at FROM push_subscriptions \
             WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(subscription_of).collect()
    }
}
