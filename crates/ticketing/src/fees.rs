//! Platform fees per organization, and the organizer's payout report.

use domain::auth::Role;
use domain::fees::{FeeError, FeePolicy};
use domain::ids::{EventId, OrganizationId, UserId};
use domain::money::Currency;
use store::{OrganizationFeeRecord, StoreError};

use crate::{Denied, Ticketing, from_visible};

#[derive(Debug, thiserror::Error)]
pub enum FeeSettingsError {
    #[error(transparent)]
    Invalid(#[from] FeeError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(FeeSettingsError);

#[derive(Debug, thiserror::Error)]
pub enum PayoutError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}
from_visible!(PayoutError);

/// One currency's line of the payout report, in minor units.
///
/// The platform fee is paid by the buyer on top of the ticket price and is
/// the platform's: it is shown, not deducted. A refund gives back an order's
/// ticket money first and its fee only beyond that (`refunded_fees`, borne by
/// the platform). What the organizer is owed is the tickets' prices, less the
/// resale prices that belong to the sellers, less the ticket money refunded:
/// `net_payout = gross_sales - resale_seller_shares - (refunds -
/// refunded_fees)` (negative when more was refunded than sold).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutLine {
    pub currency: Currency,
    pub orders: i64,
    pub gross_sales: i64,
    pub platform_fees: i64,
    pub refunds: i64,
    pub refunded_fees: i64,
    pub resale_seller_shares: i64,
    pub net_payout: i64,
}

#[derive(Clone, Debug)]
pub struct PayoutReport {
    pub event: EventId,
    pub event_title: String,
    /// One line per currency, alphabetically; never summed across currencies.
    pub lines: Vec<PayoutLine>,
}

impl Ticketing {
    /// The organization's fee policy; no fee when none was set.
    pub(crate) async fn fee_policy(&self, org: OrganizationId) -> Result<FeePolicy, StoreError> {
        match self.store.organization_fee(org).await? {
            None => Ok(FeePolicy::NONE),
            Some(f) => FeePolicy::new(f.percent_bp, f.fixed_minor)
                .map_err(|e| StoreError::Corrupt(format!("stored fee of organization {org}: {e}"))),
        }
    }

    /// The organization's fee, for its owners and admins.
    pub async fn organization_fees(&self, user: UserId, org: OrganizationId) -> Result<FeePolicy, FeeSettingsError> {
        self.require_role(user, org, |r| r.can_manage_events(), "only owners and admins see the platform fee").await?;
        Ok(self.fee_policy(org).await?)
    }

    /// Sets the organization's platform fee (the owner only). Holds placed
    /// afterwards carry it; holds already placed keep the fee they showed.
    pub async fn set_organization_fees(
        &self,
        user: UserId,
        org: OrganizationId,
        percent_bp: i64,
        fixed_minor_per_ticket: i64,
    ) -> Result<FeePolicy, FeeSettingsError> {
        self.require_role(user, org, |r| *r == Role::Owner, "only the owner sets the platform fee").await?;
        let policy = FeePolicy::new(percent_bp, fixed_minor_per_ticket)?;
        let record = OrganizationFeeRecord {
            percent_bp: i64::from(policy.percent_bp()),
            fixed_minor: policy.fixed_minor_per_ticket(),
        };
        self.store.set_organization_fee(org, record, user, self.now()).await?;
        Ok(policy)
    }

    /// What the event's organization is owed, per currency.
    pub async fn payout_report(&self, user: UserId, event: EventId) -> Result<PayoutReport, PayoutError> {
        let record = self.store.event(event).await?.ok_or(Denied::NotFound("event"))?;
        match self.store.role_in(user, record.organization).await? {
            // Not a member: the event's money is none of their business.
            None => return Err(Denied::NotFound("event").into()),
            Some(role) if !role.can_manage_events() => {
                return Err(Denied::Forbidden("only owners and admins see payouts").into());
            }
            Some(_) => {}
        }
        let figures = self.store.payout_figures(event).await?;
        let mut lines = Vec::with_capacity(figures.len());
        for f in figures {
            let currency: Currency =
                f.currency.parse().map_err(|_| StoreError::Corrupt(format!("bad currency '{}'", f.currency)))?;
            lines.push(PayoutLine {
                currency,
                orders: f.orders,
                gross_sales: f.gross_sales,
                platform_fees: f.platform_fees,
                refunds: f.refunds,
                refunded_fees: f.refunded_fees,
                resale_seller_shares: f.resale_seller_shares,
                net_payout: f.gross_sales - f.resale_seller_shares - (f.refunds - f.refunded_fees),
            });
        }
        Ok(PayoutReport { event, event_title: record.title, lines })
    }
}
