//! Web push: reminders shown by the buyer's browser even when no page of
//! ours is open, for buyers who allowed them.
//!
//! A browser subscribes with the Push API and gives us its push service's
//! endpoint and its keys. Each message is a `push.deliver` job (durable,
//! retried with back-off): the payload is encrypted for that browser (RFC
//! 8291) and POSTed to the endpoint with a VAPID token (RFC 8292) signed by
//! the application's P-256 key, which is generated and stored on first start
//! unless configured. A push service answering 404 or 410 says the
//! subscription is gone: it is removed and the job ends.

use std::time::Duration;

use domain::ids::UserId;
use domain::webpush::{MessageSecrets, SubscriptionKeys, VapidKey, WebPushError};
use serde::{Deserialize, Serialize};
use store::{EventRecord, JobRecord, SavePushSubscriptionError, StoreError};

use crate::jobs::JobError;
use crate::{Denied, Ticketing};

pub const PUSH_DELIVER: &str = "push.deliver";
/// Longest endpoint URL accepted; real push services use a few hundred bytes.
pub const PUSH_ENDPOINT_LEN_MAX: usize = 2_000;
/// Browsers (devices) one account may have subscribed at a time.
pub const PUSH_SUBSCRIPTIONS_PER_USER_MAX: u32 = 20;
/// How long a push service keeps an undelivered reminder: a day, after which
/// the event it announces has begun.
const PUSH_TTL_SECS: u32 = 24 * 60 * 60;
/// A VAPID token's lifetime; push services refuse more than 24 hours.
const VAPID_TOKEN_SECS: i64 = 12 * 60 * 60;
/// How long a push service may take to answer.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// The `app_keys` row of the VAPID key pair.
const VAPID_KEY_NAME: &str = "vapid";
/// A `mailto:` or `https:` contact the push services can reach the operator
/// at (RFC 8292 §2.1), unless configured.
pub const VAPID_SUBJECT_DEFAULT: &str = "mailto:webmaster@localhost";

/// Web push configuration.
#[derive(Clone, Debug)]
pub struct PushSettings {
    /// The VAPID `sub` claim: `mailto:` or `https:` contact of the operator.
    pub subject: String,
    /// The VAPID private key (base64url of the 32-byte P-256 scalar); when
    /// absent, one is generated on first start and kept in the database.
    pub private_key: Option<String>,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self { subject: VAPID_SUBJECT_DEFAULT.to_owned(), private_key: None }
    }
}

impl PushSettings {
    /// Checks the settings; a server does not start with a broken key.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.subject.starts_with("mailto:") || self.subject.starts_with("https://")) {
            return Err(format!("vapid_subject must be a mailto: or https: URL, got '{}'", self.subject));
        }
        if let Some(k) = &self.private_key {
            VapidKey::from_base64url(k).map_err(|e| format!("vapid_private_key: {e}"))?;
        }
        Ok(())
    }
}

/// The push settings and the key, loaded once per process.
#[derive(Default)]
pub(crate) struct PushState {
    settings: PushSettings,
    key: tokio::sync::OnceCell<VapidKey>,
}

impl PushState {
    pub(crate) fn new(settings: PushSettings) -> Self {
        Self { settings, key: tokio::sync::OnceCell::new() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PushSubscriptionError {
    #[error(
        "endpoint must be an https:// URL of at most {PUSH_ENDPOINT_LEN_MAX} characters (http:// only to this machine)"
    )]
    BadEndpoint,
    #[error(transparent)]
    NotPublic(#[from] crate::outbound::NotPublic),
    #[error(transparent)]
    BadKeys(#[from] WebPushError),
    #[error("at most {PUSH_SUBSCRIPTIONS_PER_USER_MAX} browsers per account may receive reminders")]
    TooMany,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a delivery job carries.
#[derive(Debug, Serialize, Deserialize)]
struct PushJob {
    subscription_id: String,
    /// The JSON the service worker shows (`title`, `body`, `url`, `tag`).
    message: String,
}

/// The endpoint, checked: https, or http to a loopback address (a push
/// service on this machine, as in tests). No credentials in the URL.
fn parse_endpoint(raw: &str) -> Result<reqwest::Url, PushSubscriptionError> {
    // Kept as sent, so nothing the parser would drop or encode (spaces, a
    // NUL, a line break) may be in it.
    if raw.is_empty() || raw.len() > PUSH_ENDPOINT_LEN_MAX || raw.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(PushSubscriptionError::BadEndpoint);
    }
    let url = reqwest::Url::parse(raw).map_err(|_| PushSubscriptionError::BadEndpoint)?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(PushSubscriptionError::BadEndpoint);
    }
    let host = url.host_str().ok_or(PushSubscriptionError::BadEndpoint)?;
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(PushSubscriptionError::BadEndpoint),
    }
}

/// The HTTP client for push services under `policy`, built once. rustls
/// with ring: no OpenSSL.
fn client(policy: crate::outbound::OutboundPolicy) -> &'static reqwest::Client {
    static CLIENTS: [std::sync::OnceLock<reqwest::Client>; 2] = [const { std::sync::OnceLock::new() }; 2];
    CLIENTS[policy as usize].get_or_init(|| {
        crate::outbound::client_builder(policy)
            .timeout(PUSH_TIMEOUT)
            .user_agent(concat!("RobustTicketing-Push/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the push HTTP client builds")
    })
}

/// Fresh per-message randomness: a salt and an ephemeral P-256 key.
fn message_secrets() -> MessageSecrets {
    loop {
        let mut s = MessageSecrets { salt: [0; 16], ephemeral_secret: [0; 32] };
        rand::fill(&mut s.salt);
        rand::fill(&mut s.ephemeral_secret);
        // All but about 2^-32 of 32-byte strings are valid scalars.
        if VapidKey::from_secret_bytes(&s.ephemeral_secret).is_ok() {
            return s;
        }
    }
}

impl Ticketing {
    /// The application's VAPID key: configured, or read from the database,
    /// or generated and stored there on first use.
    pub async fn vapid_key(&self) -> Result<VapidKey, StoreError> {
        self.push
            .key
            .get_or_try_init(|| async {
                if let Some(k) = &self.push.settings.private_key {
                    return VapidKey::from_base64url(k).map_err(|e| StoreError::Corrupt(format!("vapid key: {e}")));
                }
                let generated = VapidKey::from_secret_bytes(&message_secrets().ephemeral_secret)
                    .expect("message_secrets returns valid scalars");
                let (_, secret) = self
                    .store
                    .app_key_or_insert(VAPID_KEY_NAME, (&generated.public_key(), &generated.secret_bytes()), self.now())
                    .await?;
                VapidKey::from_secret_bytes(&secret).map_err(|e| StoreError::Corrupt(format!("stored vapid key: {e}")))
            })
            .await
            .cloned()
    }

    /// Saves the browser's subscription for `user`; returns its id.
    pub async fn subscribe_push(
        &self,
        user: UserId,
        endpoint: &str,
        p256dh: &str,
        auth: &str,
    ) -> Result<String, PushSubscriptionError> {
        let url = parse_endpoint(endpoint)?;
        crate::outbound::check_url(&url, self.settings.outbound)?;
        let keys = SubscriptionKeys::from_base64url(p256dh, auth)?;
        let id = uuid::Uuid::now_v7().to_string();
        match self
            .store
            .save_push_subscription(
                &store::NewPushSubscription {
                    id: &id,
                    user,
                    endpoint: url.as_str(),
                    p256dh: keys.p256dh(),
                    auth: keys.auth(),
                },
                PUSH_SUBSCRIPTIONS_PER_USER_MAX,
                self.now(),
            )
            .await
        {
            Ok(id) => Ok(id),
            Err(SavePushSubscriptionError::TooMany) => Err(PushSubscriptionError::TooMany),
            Err(SavePushSubscriptionError::Store(e)) => Err(e.into()),
        }
    }

    /// The user's subscribed browsers (their endpoints).
    pub async fn push_subscriptions(&self, user: UserId) -> Result<Vec<store::PushSubscriptionRecord>, StoreError> {
        self.store.push_subscriptions_of(user).await
    }

    /// Removes the user's subscription for this endpoint.
    pub async fn unsubscribe_push(&self, user: UserId, endpoint: &str) -> Result<(), PushSubscriptionError> {
        let url = parse_endpoint(endpoint)?;
        if self.store.delete_push_subscription(user, url.as_str()).await? {
            Ok(())
        } else {
            Err(Denied::NotFound("push subscription").into())
        }
    }

    /// Queues a reminder of `event` to every browser `user` subscribed.
    pub async fn push_reminder(&self, user: UserId, event: &EventRecord) -> Result<usize, StoreError> {
        let subscriptions = self.store.push_subscriptions_of(user).await?;
        if subscriptions.is_empty() {
            return Ok(0);
        }
        let starts = match event.timezone.parse::<chrono_tz::Tz>() {
            Ok(tz) => event.starts_at.with_timezone(&tz).format("%a %-d %b, %H:%M").to_string(),
            Err(_) => event.starts_at.format("%a %-d %b, %H:%M UTC").to_string(),
        };
        let message = serde_json::json!({
            "title": format!("Tomorrow: {}", event.title),
            "body": format!("{} at {}", starts, event.venue_name),
            "url": "/tickets",
            "tag": format!("reminder:{}", event.id),
        })
        .to_string();
        let now = self.now();
        for s in &subscriptions {
            let payload = serde_json::to_string(&PushJob { subscription_id: s.id.clone(), message: message.clone() })
                .expect("serialises");
            self.store.enqueue(&crate::jobs::new_job(PUSH_DELIVER, payload, now), now).await?;
        }
        Ok(subscriptions.len())
    }

    /// The `push.deliver` job.
    pub(crate) async fn deliver_push(&self, job: &JobRecord) -> Result<(), JobError> {
        let PushJob { subscription_id, message } =
            serde_json::from_str(&job.payload).map_err(|e| JobError::Permanent(format!("malformed push job: {e}")))?;
        let Some(sub) = self.store.push_subscription(&subscription_id).await? else {
            return Ok(()); // unsubscribed meanwhile: nothing to deliver
        };
        let keys = SubscriptionKeys::new(&sub.p256dh, &sub.auth).map_err(|e| JobError::Permanent(e.to_string()))?;
        let body = domain::webpush::encrypt(&keys, message.as_bytes(), &message_secrets())
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        let url = reqwest::Url::parse(&sub.endpoint).map_err(|e| JobError::Permanent(e.to_string()))?;
        let policy = self.settings.outbound;
        crate::outbound::check_url(&url, policy).map_err(|e| JobError::Permanent(e.to_string()))?;
        let audience = url.origin().ascii_serialization();
        // The push service checks the token against real time, so its expiry
        // comes from the wall clock, not the injected one.
        let expires = chrono::Utc::now().timestamp() + VAPID_TOKEN_SECS;
        let key = self.vapid_key().await?;
        let authorization = key.authorization(&audience, &self.push.settings.subject, expires);
        let response = client(policy)
            .post(url)
            .header("TTL", PUSH_TTL_SECS.to_string())
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Urgency", "normal")
            .header("Authorization", authorization)
            .body(body)
            .send()
            .await
            .map_err(|e| JobError::Retry(format!("push service unreachable: {e}")))?;
        let status = response.status();
        match status.as_u16() {
            200..=299 => {
                metrics::counter!("push_delivered_total").increment(1);
                Ok(())
            }
            404 | 410 => {
                // The browser unsubscribed or the subscription expired.
                self.store.delete_push_subscription_by_id(&sub.id).await?;
                metrics::counter!("push_subscriptions_expired_total").increment(1);
                Ok(())
            }
            429 | 500..=599 => Err(JobError::Retry(format!("push service answered {status}"))),
            _ => Err(JobError::Permanent(format!("push service refused the message: {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_or_loopback_http() {
        assert!(parse_endpoint("https://fcm.googleapis.com/fcm/send/abc").is_ok());
        assert!(parse_endpoint("http://127.0.0.1:4000/push/1").is_ok());
        assert!(parse_endpoint("http://[::1]:4000/push/1").is_ok());
        assert!(parse_endpoint("http://localhost/push").is_ok());
        assert!(parse_endpoint("http://push.example.com/x").is_err());
        assert!(parse_endpoint("ftp://push.example.com/x").is_err());
        assert!(parse_endpoint("https://user:pw@push.example.com/x").is_err());
        assert!(parse_endpoint("not a url").is_err());
        assert!(parse_endpoint(&format!("https://p.example/{}", "a".repeat(PUSH_ENDPOINT_LEN_MAX))).is_err());
    }
}
