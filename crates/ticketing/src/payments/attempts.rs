//! Paying for a hold: payment attempts, failover between an organization's
//! gateways, gateway notifications, and reconciliation.
//!
//! **Invariant: a charge ends in an order or in a refund, never both and
//! never neither.** Each try at a gateway is a `payment_attempts` row written
//! *before* the gateway is called, with an idempotency key of its own (one per
//! checkout and gateway), so nothing depends on the gateway's HTTP answer
//! arriving: a charge whose answer was lost is found again by the gateway's
//! notification (webhook) or by the reconciler asking the gateway. The order's
//! transaction marks its attempt `completed`; a refund first claims the
//! attempt (`refunding`) by a conditional update, so the two exclude each
//! other.

use std::sync::Arc;

use domain::ids::{OrganizationId, PaymentAttemptId, UserId};
use domain::money::Money;
use store::{AttemptBegin, AttemptStatus, HoldRecord, NewPaymentAttempt, PaymentAttemptRecord, StoreError};

use super::{
    Charge, ChargeRequest, EventOutcome, Lookup, Notification, NotificationError, PaymentError, PaymentGateway,
    RefundRequest,
};
use crate::checkout::{IdempotencyKey, KeyClaim, OrderError, PlaceOrder};
use crate::{Denied, Ticketing, from_visible};

/// An attempt older than this whose outcome is still open is reconciled: far
/// longer than a checkout takes (the gateway timeout plus the commit), and
/// longer than Stripe's search index lags (about a minute).
pub const RECONCILE_AFTER_SECS: i64 = 300;
/// Attempts reconciled per pass, so one pass stays short.
pub const RECONCILE_BATCH_MAX: u32 = 50;
/// Most gateways an organization may list for failover.
pub const ORGANIZATION_GATEWAYS_MAX: usize = 8;

/// A charge made for a hold, ready to become its order.
#[derive(Clone)]
pub struct Paid {
    pub attempt: PaymentAttemptId,
    pub gateway: Arc<dyn PaymentGateway>,
    pub charge: Charge,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayListError {
    #[error("payment gateway '{0}' is not configured here (this installation has: {1})")]
    UnknownGateway(String, String),
    #[error("list 1 to {ORGANIZATION_GATEWAYS_MAX} gateways, each once")]
    BadList,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(GatewayListError);

#[derive(Debug, thiserror::Error)]
pub enum NotificationFailure {
    #[error("no payment gateway '{0}' sends notifications here")]
    UnknownGateway(String),
    #[error(transparent)]
    Refused(#[from] NotificationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a notification did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// Acted on now.
    Processed,
    /// Seen before: nothing changed.
    Duplicate,
}

impl Ticketing {
    /// The gateways this checkout tries, in order. With no list set by the
    /// organizer, or a requested gateway outside it, only the requested one;
    /// otherwise the organizer's list, limited to gateways of the requested
    /// one's kind (those accept the buyer's token).
    async fn gateway_chain(
        &self,
        org: OrganizationId,
        requested: &str,
    ) -> Result<Vec<Arc<dyn PaymentGateway>>, StoreError> {
        let Some(first) = self.payments.get(requested).cloned() else {
            return Ok(Vec::new());
        };
        let listed = self.store.organization_payment_gateways(org).await?;
        if !listed.iter().any(|g| g == requested) {
            return Ok(vec![first]);
        }
        Ok(listed
            .iter()
            .filter_map(|name| self.payments.get(name))
            .filter(|g| g.kind() == first.kind())
            .cloned()
            .collect())
    }

    /// Charges the hold's total, trying the gateways in order: a gateway
    /// that is unavailable (timeout, 5xx) passes to the next; a decline is
    /// final. Each try is recorded as an attempt before it is made.
    pub(crate) async fn pay(
        &self,
        user: UserId,
        hold: &HoldRecord,
        org: OrganizationId,
        cmd: &PlaceOrder,
        claim: Option<&KeyClaim>,
    ) -> Result<Paid, OrderError> {
        let chain = self.gateway_chain(org, &cmd.gateway).await?;
        let mut unavailable = PaymentError::Unavailable(format!("payment gateway '{}' is not configured", cmd.gateway));
        for gateway in chain {
            // One key per (checkout, gateway): a retry of this checkout finds
            // the same attempt and the gateway the same charge.
            let key = format!("order:{user}:{}:{}", cmd.idempotency_key.as_str(), gateway.name());
            let claim_order_key = claim.and_then(KeyClaim::to_claim);
            let begun = self
                .store
                .begin_payment_attempt(
                    &NewPaymentAttempt {
                        id: PaymentAttemptId::new(),
                        hold: hold.id,
                        user,
                        gateway: gateway.name(),
                        amount: hold.total,
                        order_key: cmd.idempotency_key.as_str(),
                        idempotency_key: &key,
                        claim_order_key,
                    },
                    self.now(),
                )
                .await?;
            let attempt = match begun {
                AttemptBegin::Recorded(attempt) => *attempt,
                // Another request with this Idempotency-Key got there first.
                AttemptBegin::KeyTaken => return Err(OrderError::StillProcessing),
                // Ordered by a concurrent checkout, released or expired
                // since this one read it: nothing is charged.
                AttemptBegin::HoldGone => {
                    let order = self.store.order_for_hold(hold.id).await?;
                    return Err(order.map_or(OrderError::HoldNotLive, OrderError::AlreadyOrdered));
                }
            };
            if let (Some(claim), Some(_)) = (claim, claim_order_key) {
                claim.mark_claimed();
            }
            if matches!(attempt.status, AttemptStatus::Refunding | AttemptStatus::Refunded) {
                // This checkout's earlier charge here was given back; the key
                // would only return it again.
                unavailable = PaymentError::Unavailable(format!(
                    "an earlier payment with this Idempotency-Key at '{}' was refunded; use a new key",
                    gateway.name()
                ));
                continue;
            }
            let attempt_id = attempt.id.to_string();
            let description = format!("hold {}", hold.id);
            let result = gateway
                .charge(ChargeRequest {
                    idempotency_key: &key,
                    attempt: &attempt_id,
                    amount: hold.total,
                    token: &cmd.token,
                    description: &description,
                })
                .await;
            match result {
                Ok(charge) => {
                    // The order's transaction, next, records the charge with
                    // the order. Only a gateway that cannot be asked later
                    // needs it written down on its own first.
                    if !gateway.can_look_up() {
                        self.store.mark_attempt_charged(attempt.id, &charge.reference, self.now()).await?;
                    }
                    metrics::counter!("payments_charged_total", "gateway" => gateway.name().to_owned()).increment(1);
                    return Ok(Paid { attempt: attempt.id, gateway, charge });
                }
                Err(PaymentError::Declined(why)) => {
                    self.store.mark_attempt_failed(attempt.id, AttemptStatus::Declined, None, &why, self.now()).await?;
                    return Err(OrderError::Declined(PaymentError::Declined(why)));
                }
                Err(e @ PaymentError::Unavailable(_)) => {
                    // The attempt stays pending: the charge may have been
                    // made. Its notification or the reconciler settles it.
                    metrics::counter!("payments_gateway_unavailable_total", "gateway" => gateway.name().to_owned())
                        .increment(1);
                    tracing::warn!(gateway = gateway.name(), attempt = %attempt.id, error = %e, "payment gateway unavailable; trying the next");
                    unavailable = e;
                }
            }
        }
        Err(OrderError::GatewayUnavailable(unavailable))
    }

    /// Whether `order` is the one this attempt's charge paid for.
    pub(crate) async fn attempt_holds_order(
        &self,
        attempt: PaymentAttemptId,
        order: domain::ids::OrderId,
    ) -> Result<bool, StoreError> {
        Ok(self.store.payment_attempt(attempt).await?.is_some_and(|a| a.order == Some(order)))
    }

    /// Gives a charge back that no order holds. Claims the attempt first, so
    /// of all the parties that might refund it exactly one does; a refund
    /// that fails stays `refunding` and the reconciler retries it (with the
    /// same idempotency key, so it is made once).
    pub(crate) async fn refund_attempt(
        &self,
        gateway: &dyn PaymentGateway,
        attempt: PaymentAttemptId,
        charge: &Charge,
        amount: Money,
    ) -> Result<(), StoreError> {
        if !self.store.begin_attempt_refund(attempt, &charge.reference, self.now()).await? {
            return Ok(());
        }
        self.finish_refund(gateway, attempt, charge, amount).await
    }

    async fn finish_refund(
        &self,
        gateway: &dyn PaymentGateway,
        attempt: PaymentAttemptId,
        charge: &Charge,
        amount: Money,
    ) -> Result<(), StoreError> {
        let key = format!("refund:{attempt}");
        match gateway.refund(RefundRequest { idempotency_key: &key, charge, amount }).await {
            Ok(()) => {
                self.store.finish_attempt_refund(attempt, self.now()).await?;
                metrics::counter!("payments_refunded_total").increment(1);
            }
            Err(e) => {
                tracing::error!(%attempt, charge = %charge.reference, error = %e, "refund of an unused charge did not go through; the reconciler retries");
            }
        }
        Ok(())
    }

    /// A charge is known to have been made for an attempt that no order
    /// holds: complete the order if the hold is still live, else refund.
    async fn settle_charged(&self, attempt: &PaymentAttemptRecord, charge: Charge) -> Result<(), StoreError> {
        let Some(gateway) = self.payments.get(&attempt.gateway).cloned() else {
            tracing::error!(attempt = %attempt.id, gateway = attempt.gateway, "charged attempt at a gateway no longer configured");
            return Ok(());
        };
        if !matches!(attempt.status, AttemptStatus::Pending | AttemptStatus::Charged | AttemptStatus::Failed) {
            return Ok(());
        }
        self.store.mark_attempt_charged(attempt.id, &charge.reference, self.now()).await?;
        let Ok(order_key) = IdempotencyKey::parse(&attempt.order_key) else {
            return Err(StoreError::Corrupt(format!("attempt {} has a bad order key", attempt.id)));
        };
        let cmd = PlaceOrder {
            hold: attempt.hold,
            gateway: attempt.gateway.clone(),
            token: String::new(),
            idempotency_key: order_key,
        };
        let paid = Paid { attempt: attempt.id, gateway: gateway.clone(), charge: charge.clone() };
        match self.checkout(attempt.user, &cmd, Some(paid), None).await {
            Ok(order) => {
                tracing::info!(attempt = %attempt.id, order = %order.id, "a charge whose answer was lost completed its order");
                Ok(())
            }
            Err(OrderError::Store(e)) => Err(e),
            Err(e) => {
                // The order could not be made (the hold expired, was paid
                // another way, the event was cancelled): give the money back.
                tracing::info!(attempt = %attempt.id, reason = %e, "refunding a charge no order can hold");
                self.refund_attempt(gateway.as_ref(), attempt.id, &charge, attempt.amount).await
            }
        }
    }

    /// Acts on a gateway's notification (webhook) once: verifies it, then a
    /// success settles its attempt (completing or refunding), a failure is
    /// recorded. A notification seen before changes nothing.
    pub async fn payment_notification(
        &self,
        gateway_name: &str,
        notification: &Notification<'_>,
    ) -> Result<NotificationOutcome, NotificationFailure> {
        let gateway = self
            .payments
            .get(gateway_name)
            .ok_or_else(|| NotificationFailure::UnknownGateway(gateway_name.to_owned()))?;
        let event = gateway.parse_notification(notification, self.now()).map_err(|e| match e {
            NotificationError::Unsupported => NotificationFailure::UnknownGateway(gateway_name.to_owned()),
            e => NotificationFailure::Refused(e),
        })?;
        if self.store.payment_event_seen(gateway.name(), &event.id).await? {
            return Ok(NotificationOutcome::Duplicate);
        }
        match &event.outcome {
            EventOutcome::Succeeded { reference, attempt, amount_minor } => {
                if let Some(record) = self.attempt_of(gateway.name(), reference, attempt.as_deref()).await?
                    && record.gateway == gateway.name()
                {
                    // A charge of another amount than the attempt's is not
                    // this attempt's payment: left to an operator (and not
                    // refused, which would only make the gateway resend it).
                    if *amount_minor == record.amount.amount_minor() {
                        self.settle_charged(&record, Charge { reference: reference.clone() }).await?;
                    } else {
                        tracing::error!(attempt = %record.id, charge = %reference, amount_minor, "a charge's amount differs from its attempt's; not settled");
                    }
                }
            }
            EventOutcome::Failed { reference, attempt, reason } => {
                if let Some(record) = self.attempt_of(gateway.name(), reference, attempt.as_deref()).await?
                    && record.gateway == gateway.name()
                {
                    self.store
                        .mark_attempt_failed(record.id, AttemptStatus::Failed, Some(reference), reason, self.now())
                        .await?;
                }
            }
            EventOutcome::Ignored => {}
        }
        // Recorded after acting: a crash in between means the gateway sends
        // it again, and acting again is harmless (every step is conditional).
        Ok(if self.store.record_payment_event(gateway.name(), &event.id, &event.kind, self.now()).await? {
            NotificationOutcome::Processed
        } else {
            NotificationOutcome::Duplicate
        })
    }

    async fn attempt_of(
        &self,
        gateway: &str,
        reference: &str,
        attempt: Option<&str>,
    ) -> Result<Option<PaymentAttemptRecord>, StoreError> {
        if let Some(id) = attempt.and_then(|a| a.parse::<PaymentAttemptId>().ok())
            && let Some(found) = self.store.payment_attempt(id).await?
        {
            return Ok(Some(found));
        }
        self.store.payment_attempt_by_reference(gateway, reference).await
    }

    /// Settles attempts left open: a pending one (the gateway's answer never
    /// came) is looked up at the gateway; a charged one without an order is
    /// completed or refunded; a refund that failed is retried. Safe on every
    /// node at once: each step is a conditional update. Returns how many
    /// attempts were looked at.
    pub async fn reconcile_payments(&self) -> Result<usize, StoreError> {
        let before = self.now() - chrono::Duration::seconds(RECONCILE_AFTER_SECS);
        let open = self.store.unsettled_payment_attempts(before, RECONCILE_BATCH_MAX).await?;
        for attempt in &open {
            // Moves it to the back of the queue whatever happens below.
            self.store.touch_payment_attempt(attempt.id, self.now()).await?;
            let Some(gateway) = self.payments.get(&attempt.gateway).cloned() else {
                continue;
            };
            match attempt.status {
                AttemptStatus::Pending => {
                    match gateway.lookup(&attempt.id.to_string(), &attempt.idempotency_key).await {
                        Ok(Lookup::Charged(charge)) => self.settle_charged(attempt, charge).await?,
                        Ok(Lookup::NotCharged) => {
                            self.store
                                .mark_attempt_failed(
                                    attempt.id,
                                    AttemptStatus::Failed,
                                    None,
                                    "the gateway has no charge for this attempt",
                                    self.now(),
                                )
                                .await?;
                        }
                        Ok(Lookup::Unsupported) => {}
                        Err(e) => {
                            tracing::warn!(attempt = %attempt.id, error = %e, "payment lookup failed; retrying later")
                        }
                    }
                }
                AttemptStatus::Charged => {
                    let Some(reference) = attempt.reference.clone() else {
                        continue;
                    };
                    self.settle_charged(attempt, Charge { reference }).await?;
                }
                AttemptStatus::Refunding => {
                    if let Some(reference) = attempt.reference.clone() {
                        self.finish_refund(gateway.as_ref(), attempt.id, &Charge { reference }, attempt.amount).await?;
                    }
                }
                _ => {}
            }
        }
        Ok(open.len())
    }

    /// The organization's gateway order for failover (empty: the buyer's
    /// choice alone). Members may read it.
    pub async fn organization_payment_gateways(
        &self,
        user: UserId,
        org: OrganizationId,
    ) -> Result<Vec<String>, GatewayListError> {
        self.require_role(user, org, |_| true, "members only").await?;
        Ok(self.store.organization_payment_gateways(org).await?)
    }

    /// Sets the order in which checkout tries gateways for the
    /// organization's events; only gateways this installation configured.
    pub async fn set_organization_payment_gateways(
        &self,
        user: UserId,
        org: OrganizationId,
        gateways: Vec<String>,
    ) -> Result<Vec<String>, GatewayListError> {
        self.require_role(user, org, |r| r.can_manage_events(), "only owners and admins choose payment gateways")
            .await
            .map_err(GatewayListError::from)?;
        if gateways.is_empty() || gateways.len() > ORGANIZATION_GATEWAYS_MAX {
            return Err(GatewayListError::BadList);
        }
        for (i, name) in gateways.iter().enumerate() {
            if self.payments.get(name).is_none() {
                return Err(GatewayListError::UnknownGateway(name.clone(), self.payments.names().join(", ")));
            }
            if gateways[..i].contains(name) {
                return Err(GatewayListError::BadList);
            }
        }
        self.store.set_organization_payment_gateways(org, &gateways).await?;
        Ok(gateways)
    }
}
