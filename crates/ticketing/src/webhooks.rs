//! Organizer webhooks: signed HTTP callbacks when orders are paid, delivered
//! through the job queue (at least once; receivers deduplicate on
//! `webhook-id`).
//!
//! Signatures follow the Standard Webhooks scheme: `webhook-signature` is
//! `v1,` + base64(HMAC-SHA256(secret, "{webhook-id}.{webhook-timestamp}.{body}")).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::ids::{OrganizationId, UserId};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use store::{JobRecord, StoreError, WebhookEndpointRecord};

use crate::outbound::OutboundPolicy;
use crate::{Denied, Ticketing, from_visible};

pub const WEBHOOK_DELIVER: &str = "webhook.deliver";
/// The event types an endpoint can subscribe to.
pub const WEBHOOK_EVENT_TYPES: &[&str] = &["order.paid"];
/// Longest endpoint URL accepted.
pub const WEBHOOK_URL_LEN_MAX: usize = 2_000;
/// Endpoints per organization.
pub const WEBHOOK_ENDPOINTS_MAX: usize = 20;
/// How long a receiver may take to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("url must be an http:// or https:// URL of at most {WEBHOOK_URL_LEN_MAX} characters")]
    BadUrl,
    /// A user name or password in the address would be shown in the
    /// console, answered by the API and written to the log with every failed
    /// delivery. Receivers check the signature instead.
    #[error(
        "url must not carry a user name or password: deliveries are signed (webhook-signature header) for the receiver to check"
    )]
    CredentialsInUrl,
    #[error(transparent)]
    NotPublic(#[from] crate::outbound::NotPublic),
    #[error("unknown event type '{0}' (known: order.paid)")]
    UnknownEventType(String),
    #[error("at most {WEBHOOK_ENDPOINTS_MAX} webhook endpoints per organization")]
    TooMany,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(WebhookError);

/// What a delivery job carries.
#[derive(Debug, Serialize, Deserialize)]
pub struct Delivery {
    pub endpoint_id: String,
    /// Stable across retries: the receiver's idempotency key.
    pub webhook_id: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("{0}")]
    Retry(String),
    #[error("{0}")]
    Permanent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The key of a `whsec_`-prefixed secret is its base64-decoded tail.
fn sign(secret: &str, webhook_id: &str, timestamp: i64, body: &str) -> String {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|b64| STANDARD.decode(b64).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(format!("{webhook_id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The HTTP client for deliveries under `policy`, built once. rustls with
/// ring: no OpenSSL.
fn client(policy: OutboundPolicy) -> &'static reqwest::Client {
    static CLIENTS: [std::sync::OnceLock<reqwest::Client>; 2] = [const { std::sync::OnceLock::new() }; 2];
    CLIENTS[policy as usize].get_or_init(|| {
        crate::outbound::client_builder(policy)
            .timeout(WEBHOOK_TIMEOUT)
            .user_agent(concat!("RobustTicketing-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the webhook HTTP client builds")
    })
}

/// Whether `url` spells out `scheme://host`. URL parsing repairs
/// `http:///x` and `http:x` into `http://x/`, a host the organizer never
/// typed; such a typo is refused rather than guessed at.
fn names_a_host(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return false;
    };
    !rest.is_empty() && !rest.starts_with(['/', '\\'])
}

impl Ticketing {
    pub async fn create_webhook(
        &self,
        user: UserId,
        org: OrganizationId,
        url: &str,
        event_types: &[String],
    ) -> Result<WebhookEndpointRecord, WebhookError> {
        self.require_role(user, org, |r| r.can_manage_events(), "only owners and admins manage webhooks").await?;
        let url = url.trim();
        // Kept as typed, so nothing the parser would drop or encode (a
        // NUL, a line break) may be in it.
        if url.len() > WEBHOOK_URL_LEN_MAX
            || !names_a_host(url)
            || url.bytes().any(|b| b.is_ascii_control() || b == b' ')
        {
            return Err(WebhookError::BadUrl);
        }
        let parsed = reqwest::Url::parse(url).map_err(|_| WebhookError::BadUrl)?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() || parsed.port() == Some(0) {
            return Err(WebhookError::BadUrl);
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(WebhookError::CredentialsInUrl);
        }
        crate::outbound::check_url(&parsed, self.settings.outbound)?;
        let mut types = Vec::new();
        for t in event_types {
            if !WEBHOOK_EVENT_TYPES.contains(&t.as_str()) {
                return Err(WebhookError::UnknownEventType(t.clone()));
            }
            if !types.contains(t) {
                types.push(t.clone());
            }
        }
        if types.is_empty() {
            types = WEBHOOK_EVENT_TYPES.iter().map(|s| s.to_string()).collect();
        }
        if self.store.webhook_endpoints_of(org).await?.len() >= WEBHOOK_ENDPOINTS_MAX {
            return Err(WebhookError::TooMany);
        }
        let mut secret = [0u8; 24];
        rand::fill(&mut secret);
        let record = WebhookEndpointRecord {
            id: domain::ids::WebhookEndpointId::new().to_string(),
            organization: org,
            url: url.to_owned(),
            secret: format!("whsec_{}", STANDARD.encode(secret)),
            event_types: types,
            created_at: self.now(),
        };
        if !self.store.create_webhook_endpoint(&record, WEBHOOK_ENDPOINTS_MAX).await? {
            return Err(WebhookError::TooMany);
        }
        Ok(record)
    }

    /// Delivery jobs for an order that has just been paid, one per endpoint
    /// of the organization that wants `order.paid`.
    pub(crate) async fn order_paid_webhooks(
        &self,
        org: OrganizationId,
        order: &OrderPaid,
    ) -> Result<Vec<store::NewJob>, StoreError> {
        let endpoints = self.store.webhook_endpoints_of(org).await?;
        let now = self.now();
        let mut jobs = Vec::new();
        for e in endpoints.iter().filter(|e| e.event_types.iter().any(|t| t == "order.paid")) {
            let webhook_id = format!("msg_{}", domain::ids::WebhookMessageId::new());
            let body = serde_json::json!({
                "type": "order.paid",
                "timestamp": now,
                "data": order,
            })
            .to_string();
            let delivery = Delivery { endpoint_id: e.id.clone(), webhook_id, body };
            jobs.push(crate::jobs::new_job(
                WEBHOOK_DELIVER,
                serde_json::to_string(&delivery).expect("serialises"),
                now,
            ));
        }
        Ok(jobs)
    }

    pub(crate) async fn deliver_webhook(&self, job: &JobRecord) -> Result<(), DeliveryError> {
        let delivery: Delivery = serde_json::from_str(&job.payload)
            .map_err(|e| DeliveryError::Permanent(format!("malformed delivery payload: {e}")))?;
        let Some(endpoint) = self.store.webhook_endpoint(&delivery.endpoint_id).await? else {
            // The organizer removed the endpoint: nothing left to do.
            return Ok(());
        };
        let policy = self.settings.outbound;
        let url = reqwest::Url::parse(&endpoint.url)
            .map_err(|e| DeliveryError::Permanent(format!("stored endpoint URL is malformed: {e}")))?;
        // Saved under another policy, or before there was one.
        crate::outbound::check_url(&url, policy).map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let timestamp = self.now().timestamp();
        let signature = sign(&endpoint.secret, &delivery.webhook_id, timestamp, &delivery.body);
        let response = client(policy)
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(|e| DeliveryError::Retry(format!("cannot reach {}: {e}", endpoint.url)))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Retry(format!("{} answered {status}", endpoint.url)))
        }
    }
}

/// The data of an `order.paid` webhook: ids and amounts, no personal data.
#[derive(Debug, Serialize)]
pub struct OrderPaid {
    pub order_id: String,
    pub event_id: String,
    pub buyer_id: String,
    pub total: domain::money::Money,
    pub tickets: Vec<PaidTicket>,
}

#[derive(Debug, Serialize)]
pub struct PaidTicket {
    pub id: String,
    pub ticket_type_id: String,
    pub seat_id: Option<String>,
    pub ga_area_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // Vector from the Standard Webhooks specification's reference tests.
        let ours = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            "{\"test\": 2432232314}",
        );
        assert_eq!(ours, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let a = sign("k", "msg_1", 10, "{}");
        let b = sign("k", "msg_1", 11, "{}");
        assert!(a.starts_with("v1,") && a != b);
    }

    #[test]
    fn a_webhook_url_must_spell_out_its_host() {
        for good in ["https://hooks.example.org/rt", "HTTP://example.org", "http://[2001:db8::1]:8080/x"] {
            assert!(names_a_host(good), "{good}");
        }
        for bad in ["http:///x", "http:x", "https:/x", "http://", "https:\\\\x", "ftp://example.org", "ex", "ü"] {
            assert!(!names_a_host(bad), "{bad}");
        }
    }
}
