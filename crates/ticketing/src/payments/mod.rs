//! Payment gateways behind one trait: the built-in `test` gateway and Stripe
//! (`stripe.rs`).
//!
//! Every charge and refund carries an idempotency key: a gateway must return
//! the first charge for a key it has seen, never charge twice. Card data never
//! reaches this process; clients hand over a gateway token (a Stripe
//! PaymentMethod id), and only tokens and gateway references are stored.
//!
//! Adding a gateway (crypto, buy-now-pay-later, a wallet) means implementing
//! [`PaymentGateway`] in a module next to this one and registering an
//! instance in [`Payments`]; checkout, failover, notifications and
//! reconciliation work through the trait alone.

pub mod attempts;
pub mod stripe;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use domain::Timestamp;
use domain::money::Money;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Clone, Debug)]
pub struct ChargeRequest<'a> {
    /// Same key, same charge: the gateway deduplicates on it.
    pub idempotency_key: &'a str,
    /// Our payment attempt, recorded with the charge at the gateway so a
    /// notification or a lookup finds its way back to it.
    pub attempt: &'a str,
    pub amount: Money,
    pub token: &'a str,
    pub description: &'a str,
}

#[derive(Clone, Debug)]
pub struct RefundRequest<'a> {
    /// Same key, same refund.
    pub idempotency_key: &'a str,
    pub charge: &'a Charge,
    /// Up to the charged amount; less is a partial refund.
    pub amount: Money,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    /// The gateway's id for the charge, for refunds and reconciliation.
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// Final: the card or account was refused. Retrying will not help.
    #[error("payment declined: {0}")]
    Declined(String),
    /// Transient: the gateway could not be reached or failed. Nothing was
    /// charged, or a retry with the same key will find the charge.
    #[error("payment gateway unavailable: {0}")]
    Unavailable(String),
}

/// What a gateway knows about a charge made under an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The money was taken.
    Charged(Charge),
    /// The gateway has no successful charge for the attempt.
    NotCharged,
    /// This gateway cannot be asked; its notifications settle the attempt.
    Unsupported,
}

/// A notification (webhook) as it arrived, before it is trusted.
#[derive(Clone, Debug)]
pub struct Notification<'a> {
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl Notification<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A verified notification, in the terms checkout understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayEvent {
    /// The gateway's id for the notification; processed at most once.
    pub id: String,
    pub kind: String,
    pub outcome: EventOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    Succeeded {
        reference: String,
        attempt: Option<String>,
        amount_minor: i64,
    },
    Failed {
        reference: String,
        attempt: Option<String>,
        reason: String,
    },
    /// A kind this installation does not act on.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("this gateway does not send notifications here")]
    Unsupported,
    #[error("the notification signature does not verify: {0}")]
    BadSignature(&'static str),
    #[error("the notification is malformed: {0}")]
    Malformed(String),
}

pub trait PaymentGateway: Send + Sync + 'static {
    /// The name clients and organizers use (`payment.gateway`); several
    /// instances of one adapter have different names.
    fn name(&self) -> &str;
    /// The adapter: gateways of one kind accept the same tokens, so checkout
    /// fails over only between gateways of the client's gateway's kind.
    fn kind(&self) -> &'static str;
    fn charge<'a>(&'a self, request: ChargeRequest<'a>) -> BoxFuture<'a, Result<Charge, PaymentError>>;
    fn refund<'a>(&'a self, request: RefundRequest<'a>) -> BoxFuture<'a, Result<(), PaymentError>>;
    /// Whether [`lookup`](Self::lookup) can answer. Checkout leans on it:
    /// with a gateway that can be asked, a charge is not recorded on its own
    /// before the order's transaction records it, because a crash in
    /// between is settled by asking the gateway.
    fn can_look_up(&self) -> bool {
        false
    }
    /// Asks the gateway whether an attempt whose answer never arrived took
    /// money. The default says it cannot be asked.
    fn lookup<'a>(
        &'a self,
        _attempt: &'a str,
        _idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Lookup, PaymentError>> {
        Box::pin(async { Ok(Lookup::Unsupported) })
    }
    /// Verifies and reads a notification; `now` is the application's clock.
    fn parse_notification(
        &self,
        _notification: &Notification<'_>,
        _now: Timestamp,
    ) -> Result<GatewayEvent, NotificationError> {
        Err(NotificationError::Unsupported)
    }
}

/// The gateways this installation accepts, by name.
#[derive(Default)]
pub struct Payments {
    gateways: HashMap<String, Arc<dyn PaymentGateway>>,
}

impl Payments {
    pub fn with(mut self, gateway: Arc<dyn PaymentGateway>) -> Self {
        self.gateways.insert(gateway.name().to_owned(), gateway);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn PaymentGateway>> {
        self.gateways.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<_> = self.gateways.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

/// Token the test gateway accepts.
pub const TEST_TOKEN_OK: &str = "tok_ok";
/// Token the test gateway declines.
pub const TEST_TOKEN_DECLINED: &str = "tok_declined";
/// Token for which the test gateway behaves as if it were down.
pub const TEST_TOKEN_UNAVAILABLE: &str = "tok_unavailable";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCharge {
    pub reference: String,
    pub amount: Money,
    /// Fully refunded.
    pub refunded: bool,
    /// Refunded so far, in minor units (partial refunds add up).
    pub refunded_minor: i64,
}

/// A gateway for demos and tests that moves no money. It keeps its ledger in
/// memory and honours idempotency keys like a real gateway.
#[derive(Default)]
pub struct TestGateway {
    ledger: Mutex<TestLedger>,
}

#[derive(Default)]
struct TestLedger {
    by_key: HashMap<String, usize>,
    charges: Vec<TestCharge>,
    refund_keys: std::collections::HashSet<String>,
}

impl TestGateway {
    /// Every charge made so far, in order.
    pub fn charges(&self) -> Vec<TestCharge> {
        self.ledger.lock().expect("test ledger poisoned").charges.clone()
    }

    /// Sum of charges not refunded, in minor units.
    pub fn net_charged_minor(&self) -> i64 {
        self.charges().iter().map(|c| c.amount.amount_minor() - c.refunded_minor).sum()
    }
}

impl PaymentGateway for TestGateway {
    fn name(&self) -> &str {
        "test"
    }

    fn kind(&self) -> &'static str {
        "test"
    }

    fn charge<'a>(&'a self, request: ChargeRequest<'a>) -> BoxFuture<'a, Result<Charge, PaymentError>> {
        Box::pin(async move {
            match request.token {
                TEST_TOKEN_OK => {}
                TEST_TOKEN_DECLINED => return Err(PaymentError::Declined("the test card was declined".into())),
                TEST_TOKEN_UNAVAILABLE => return Err(PaymentError::Unavailable("test gateway is down".into())),
                _ => {
                    return Err(PaymentError::Declined(format!(
                        "the test gateway accepts '{TEST_TOKEN_OK}' and declines '{TEST_TOKEN_DECLINED}'"
                    )));
                }
            }
            // std Mutex: held for a few instructions, never across an await.
            let mut ledger = self.ledger.lock().expect("test ledger poisoned");
            if let Some(&i) = ledger.by_key.get(request.idempotency_key) {
                return Ok(Charge { reference: ledger.charges[i].reference.clone() });
            }
            let reference = format!("test_ch_{}", ledger.charges.len() + 1);
            ledger.charges.push(TestCharge {
                reference: reference.clone(),
                amount: request.amount,
                refunded: false,
                refunded_minor: 0,
            });
            let index = ledger.charges.len() - 1;
            ledger.by_key.insert(request.idempotency_key.to_owned(), index);
            Ok(Charge { reference })
        })
    }

    fn refund<'a>(&'a self, request: RefundRequest<'a>) -> BoxFuture<'a, Result<(), PaymentError>> {
        Box::pin(async move {
            let charge = request.charge;
            let mut ledger = self.ledger.lock().expect("test ledger poisoned");
            // Like a real gateway: the same key refunds once.
            if ledger.refund_keys.contains(request.idempotency_key) {
                return Ok(());
            }
            match ledger.charges.iter_mut().find(|c| c.reference == charge.reference) {
                Some(c) if c.refunded_minor + request.amount.amount_minor() > c.amount.amount_minor() => {
                    Err(PaymentError::Declined(format!("refunds would exceed charge {}", charge.reference)))
                }
                Some(c) => {
                    c.refunded_minor += request.amount.amount_minor();
                    c.refunded = c.refunded_minor == c.amount.amount_minor();
                    ledger.refund_keys.insert(request.idempotency_key.to_owned());
                    Ok(())
                }
                None => Err(PaymentError::Declined(format!("no charge {}", charge.reference))),
            }
        })
    }

    fn can_look_up(&self) -> bool {
        true
    }

    fn lookup<'a>(
        &'a self,
        _attempt: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Lookup, PaymentError>> {
        Box::pin(async move {
            let ledger = self.ledger.lock().expect("test ledger poisoned");
            Ok(match ledger.by_key.get(idempotency_key) {
                Some(&i) => Lookup::Charged(Charge { reference: ledger.charges[i].reference.clone() }),
                None => Lookup::NotCharged,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(a: i64) -> Money {
        Money::new(a, "EUR".parse().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn test_gateway_charges_once_per_key() {
        let g = TestGateway::default();
        let req = |key| ChargeRequest {
            idempotency_key: key,
            attempt: "a",
            amount: eur(100),
            token: TEST_TOKEN_OK,
            description: "x",
        };
        let a = g.charge(req("k1")).await.unwrap();
        let b = g.charge(req("k1")).await.unwrap();
        assert_eq!(a, b);
        g.charge(req("k2")).await.unwrap();
        assert_eq!(g.charges().len(), 2);
        g.refund(RefundRequest { idempotency_key: "r1", charge: &a, amount: eur(100) }).await.unwrap();
        assert_eq!(g.net_charged_minor(), 100);
    }

    #[tokio::test]
    async fn test_gateway_declines_and_fails_on_request() {
        let g = TestGateway::default();
        let mut req = ChargeRequest {
            idempotency_key: "k",
            attempt: "a",
            amount: eur(1),
            token: TEST_TOKEN_DECLINED,
            description: "x",
        };
        assert!(matches!(g.charge(req.clone()).await, Err(PaymentError::Declined(_))));
        req.token = TEST_TOKEN_UNAVAILABLE;
        assert!(matches!(g.charge(req.clone()).await, Err(PaymentError::Unavailable(_))));
        req.token = "4242424242424242";
        assert!(matches!(g.charge(req).await, Err(PaymentError::Declined(_))));
        assert!(g.charges().is_empty());
    }
}
