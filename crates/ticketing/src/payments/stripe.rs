//! Stripe: PaymentIntents confirmed server-side with the buyer's
//! PaymentMethod id (created in the browser by Stripe.js), refunds, and
//! signed webhooks.
//!
//! Every request carries an `Idempotency-Key`, so a retried call returns
//! Stripe's first answer instead of charging again. The attempt id travels in
//! the PaymentIntent's metadata: a webhook or a lookup finds its way back to
//! the attempt even when the charge's HTTP response never arrived.

use std::time::Duration;

use domain::Timestamp;
use hmac::{KeyInit, Mac};
use serde::Deserialize;

use super::{
    BoxFuture, Charge, ChargeRequest, EventOutcome, GatewayEvent, Lookup, Notification, NotificationError,
    PaymentError, PaymentGateway, RefundRequest,
};

/// Stripe's API, unless configured otherwise (a Stripe emulator in tests).
pub const STRIPE_API_BASE_DEFAULT: &str = "https://api.stripe.com";
/// How long one call to Stripe may take before the gateway counts as
/// unavailable and checkout moves to the next gateway. Stripe answers a
/// card payment in a few seconds; a buyer should not wait much longer.
pub const STRIPE_TIMEOUT_SECS_DEFAULT: u64 = 20;
/// Connecting should be quick; a dead endpoint is detected early.
const STRIPE_CONNECT_TIMEOUT_SECS: u64 = 5;
/// How far a webhook's signed timestamp may be from our clock: Stripe's own
/// libraries use five minutes against replays of captured deliveries.
pub const WEBHOOK_TOLERANCE_SECS: i64 = 300;
/// A Stripe-Signature header longer than this is not Stripe's (it holds a
/// timestamp and a few 64-hex-digit signatures).
const SIGNATURE_HEADER_LEN_MAX: usize = 2048;
/// The metadata key our attempt id is stored under at Stripe.
const METADATA_ATTEMPT: &str = "attempt_id";

/// One Stripe account as configured.
#[derive(Clone, Debug)]
pub struct StripeConfig {
    /// The gateway's name here (`stripe`, or e.g. `stripe_eu` for a second account).
    pub name: String,
    /// `sk_live_...` / `sk_test_...`.
    pub secret_key: String,
    pub api_base: String,
    /// `whsec_...`: verifies the webhooks this account sends.
    pub webhook_secret: Option<String>,
    pub timeout: Duration,
}

impl StripeConfig {
    pub fn new(name: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            secret_key: secret_key.into(),
            api_base: STRIPE_API_BASE_DEFAULT.to_owned(),
            webhook_secret: None,
            timeout: Duration::from_secs(STRIPE_TIMEOUT_SECS_DEFAULT),
        }
    }
}

pub struct StripeGateway {
    config: StripeConfig,
    client: reqwest::Client,
}

impl StripeGateway {
    pub fn new(config: StripeConfig) -> Result<Self, PaymentError> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(STRIPE_CONNECT_TIMEOUT_SECS).min(config.timeout))
            .build()
            .map_err(|e| PaymentError::Unavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { config, client })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_base.trim_end_matches('/'))
    }

    async fn post(&self, path: &str, idempotency_key: &str, form: &[(&str, String)]) -> Result<Object, PaymentError> {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.config.secret_key)
            .header("Idempotency-Key", idempotency_key)
            .form(form)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        self.read(response).await
    }

    fn transport_error(&self, e: &reqwest::Error) -> PaymentError {
        let what = if e.is_timeout() { "timed out" } else { "could not be reached" };
        PaymentError::Unavailable(format!("Stripe ({}) {what}", self.config.name))
    }

    /// Maps Stripe's answer: 2xx is the object; a card error (402, or
    /// `type: card_error`) or an invalid request about the buyer's payment
    /// method is a decline; 5xx, 429, 401/403 (our configuration) and
    /// anything unreadable make the gateway unavailable, so checkout may fail
    /// over.
    async fn read(&self, response: reqwest::Response) -> Result<Object, PaymentError> {
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.transport_error(&e))?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|_| {
                PaymentError::Unavailable(format!("Stripe ({}) sent an unreadable answer", self.config.name))
            });
        }
        let error = serde_json::from_slice::<ErrorBody>(&body).map(|b| b.error).unwrap_or_default();
        let message = error.message.clone().unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        let declined = status.as_u16() == 402
            || error.kind.as_deref() == Some("card_error")
            || matches!(status.as_u16(), 400 | 404) && error.kind.as_deref() == Some("invalid_request_error");
        if declined {
            Err(PaymentError::Declined(message))
        } else {
            Err(PaymentError::Unavailable(format!("Stripe ({}) answered {}: {message}", self.config.name, status)))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

/// The fields of a PaymentIntent (or any object) we read.
#[derive(Debug, Deserialize)]
struct Object {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    amount: Option<i64>,
    #[serde(default)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    last_payment_error: Option<ErrorDetail>,
}

impl Object {
    fn attempt(&self) -> Option<String> {
        self.metadata.as_ref()?.get(METADATA_ATTEMPT)?.as_str().map(str::to_owned)
    }
}

#[derive(Debug, Deserialize)]
struct SearchResult {
    data: Vec<Object>,
}

#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: Object,
}

impl PaymentGateway for StripeGateway {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn kind(&self) -> &'static str {
        "stripe"
    }

    fn charge<'a>(&'a self, request: ChargeRequest<'a>) -> BoxFuture<'a, Result<Charge, PaymentError>> {
        Box::pin(async move {
            let form = [
                ("amount", request.amount.amount_minor().to_string()),
                ("currency", request.amount.currency().as_str().to_ascii_lowercase()),
                ("payment_method", request.token.to_owned()),
                // Cards only: no redirect-based methods, so a server-side
                // confirmation needs no return URL.
                ("payment_method_types[]", "card".to_owned()),
                ("confirm", "true".to_owned()),
                ("metadata[attempt_id]", request.attempt.to_owned()),
                ("metadata[description]", request.description.to_owned()),
            ];
            let intent = self.post("/v1/payment_intents", request.idempotency_key, &form).await?;
            match intent.status.as_deref() {
                Some("succeeded") => Ok(Charge { reference: intent.id }),
                // Strong customer authentication is done in the browser, not
                // here; such a card cannot pay through this checkout.
                Some("requires_action") | Some("requires_payment_method") => Err(PaymentError::Declined(
                    intent
                        .last_payment_error
                        .and_then(|e| e.message)
                        .unwrap_or_else(|| "the card needs authentication this checkout cannot do".to_owned()),
                )),
                // Not final yet: the webhook or reconciliation settles it.
                other => Err(PaymentError::Unavailable(format!(
                    "Stripe ({}) left payment {} {}",
                    self.config.name,
                    intent.id,
                    other.unwrap_or("without a status")
                ))),
            }
        })
    }

    fn refund<'a>(&'a self, request: RefundRequest<'a>) -> BoxFuture<'a, Result<(), PaymentError>> {
        Box::pin(async move {
            let form = [
                ("payment_intent", request.charge.reference.clone()),
                ("amount", request.amount.amount_minor().to_string()),
            ];
            self.post("/v1/refunds", request.idempotency_key, &form).await.map(|_| ())
        })
    }

    fn can_look_up(&self) -> bool {
        true
    }

    fn lookup<'a>(
        &'a self,
        attempt: &'a str,
        _idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Lookup, PaymentError>> {
        Box::pin(async move {
            // The attempt id is in the metadata of any PaymentIntent made for
            // it (Stripe's search index lags by up to a minute; the
            // reconciler waits longer than that before asking).
            let query = format!("metadata['{METADATA_ATTEMPT}']:'{attempt}'");
            let response = self
                .client
                .get(self.url("/v1/payment_intents/search"))
                .bearer_auth(&self.config.secret_key)
                .query(&[("query", query.as_str())])
                .send()
                .await
                .map_err(|e| self.transport_error(&e))?;
            let status = response.status();
            let body = response.bytes().await.map_err(|e| self.transport_error(&e))?;
            if !status.is_success() {
                return Err(PaymentError::Unavailable(format!(
                    "Stripe ({}) search answered {status}",
                    self.config.name
                )));
            }
            let found: SearchResult = serde_json::from_slice(&body)
                .map_err(|_| PaymentError::Unavailable("unreadable Stripe search result".to_owned()))?;
            Ok(found
                .data
                .into_iter()
                .find(|pi| pi.status.as_deref() == Some("succeeded"))
                .map_or(Lookup::NotCharged, |pi| Lookup::Charged(Charge { reference: pi.id })))
        })
    }

    fn parse_notification(
        &self,
        notification: &Notification<'_>,
        now: Timestamp,
    ) -> Result<GatewayEvent, NotificationError> {
        let secret = self.config.webhook_secret.as_deref().ok_or(NotificationError::Unsupported)?;
        let header = notification
            .header("stripe-signature")
            .ok_or(NotificationError::BadSignature("no Stripe-Signature header"))?;
        verify_signature(header, notification.body, secret, now, WEBHOOK_TOLERANCE_SECS)?;
        let event: Event =
            serde_json::from_slice(notification.body).map_err(|e| NotificationError::Malformed(e.to_string()))?;
        let object = event.data.object;
        let outcome = match event.kind.as_str() {
            "payment_intent.succeeded" => EventOutcome::Succeeded {
                attempt: object.attempt(),
                amount_minor: object.amount.unwrap_or_default(),
                reference: object.id,
            },
            "payment_intent.payment_failed" => EventOutcome::Failed {
                attempt: object.attempt(),
                reason: object
                    .last_payment_error
                    .and_then(|e| e.message)
                    .unwrap_or_else(|| "the payment failed".to_owned()),
                reference: object.id,
            },
            _ => EventOutcome::Ignored,
        };
        Ok(GatewayEvent { id: event.id, kind: event.kind, outcome })
    }
}

/// Verifies a `Stripe-Signature` header (`t=<unix secs>,v1=<hex>,v1=...`):
/// HMAC-SHA256 under the endpoint secret over `"{t}.{body}"`, any of the
/// `v1` entries matching (several while a secret is being rolled), compared
/// in constant time, with `t` at most `tolerance_secs` from `now`.
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secret: &str,
    now: Timestamp,
    tolerance_secs: i64,
) -> Result<(), NotificationError> {
    if header.len() > SIGNATURE_HEADER_LEN_MAX {
        return Err(NotificationError::BadSignature("the Stripe-Signature header is too long"));
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => {
                if let Some(bytes) = decode_hex(sig) {
                    signatures.push(bytes);
                }
            }
            // Other schemes (v0 test signatures) are not trusted.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(NotificationError::BadSignature("no timestamp in Stripe-Signature"))?;
    if signatures.is_empty() {
        return Err(NotificationError::BadSignature("no v1 signature in Stripe-Signature"));
    }
    if (now.timestamp() - timestamp).abs() > tolerance_secs {
        return Err(NotificationError::BadSignature("the timestamp is outside the tolerance"));
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    // `verify_slice` compares in constant time; each candidate is checked.
    if signatures.iter().any(|sig| mac.clone().verify_slice(sig).is_ok()) {
        Ok(())
    } else {
        Err(NotificationError::BadSignature("no signature matches"))
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// A `Stripe-Signature` header for `body` at `t`, as Stripe computes it.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn a_correct_signature_verifies() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(SECRET, 1_700_000_000, body);
        assert_eq!(verify_signature(&header, body, SECRET, at(1_700_000_000), 300), Ok(()));
        assert_eq!(verify_signature(&header, body, SECRET, at(1_700_000_300), 300), Ok(()));
        assert_eq!(verify_signature(&header, body, SECRET, at(1_699_999_700), 300), Ok(()));
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let body = b"payload";
        let good = sign(SECRET, 100, body);
        let good_sig = good.split_once(",v1=").unwrap().1;
        let header = format!("t=100,v1={},v1={good_sig},v0=abcd", "00".repeat(32));
        assert_eq!(verify_signature(&header, body, SECRET, at(100), 300), Ok(()));
    }

    #[test]
    fn wrong_secret_body_or_timestamp_is_refused() {
        let body = b"payload";
        let header = sign(SECRET, 100, body);
        assert!(verify_signature(&header, body, "whsec_other", at(100), 300).is_err());
        assert!(verify_signature(&header, b"payloaD", SECRET, at(100), 300).is_err());
        // The timestamp is signed: changing it breaks the signature.
        let moved = header.replacen("t=100", "t=101", 1);
        assert!(verify_signature(&moved, body, SECRET, at(100), 300).is_err());
        // Outside the tolerance, either way.
        assert_eq!(
            verify_signature(&header, body, SECRET, at(401), 300),
            Err(NotificationError::BadSignature("the timestamp is outside the tolerance"))
        );
        assert!(verify_signature(&header, body, SECRET, at(-201), 300).is_err());
    }

    #[test]
    fn malformed_headers_are_refused() {
        let body = b"payload";
        for header in ["", "t=100", "v1=00", "t=abc,v1=00", "t=100,v1=zz", "t=100,v0=00", &"t=1,".repeat(1000)] {
            assert!(verify_signature(header, body, SECRET, at(100), 300).is_err(), "{header}");
        }
    }
}
