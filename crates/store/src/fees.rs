//! Platform fees per organization, and the figures of an event's payout
//! report.

use domain::Timestamp;
use domain::ids::{EventId, OrganizationId, UserId};

use crate::{Result, Store, ms};

/// An organization's fee as stored: basis points and minor units per ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrganizationFeeRecord {
    pub percent_bp: i64,
    pub fixed_minor: i64,
}

/// One currency's money for an event, in minor units. The report never adds
/// amounts of different currencies: each currency has its own row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutFigures {
    pub currency: String,
    /// Orders paid (including ones refunded later).
    pub orders: i64,
    /// The tickets' prices of every order, without fees.
    pub gross_sales: i64,
    /// Platform fees the buyers paid on top.
    pub platform_fees: i64,
    /// Money given back to buyers (refunds recorded, pending or done).
    pub refunds: i64,
    /// The part of `refunds` that returned platform fees: per order, a
    /// refund gives back the tickets' prices first and the fee only beyond
    /// them (a full refund returns both).
    pub refunded_fees: i64,
    /// Resale prices that belong to the sellers (escrow), not the organizer.
    pub resale_seller_shares: i64,
}

impl Store {
    /// The organization's own fee, if it set one; from the read cache when fresh.
    pub async fn organization_fee(&self, org: OrganizationId) -> Result<Option<OrganizationFeeRecord>> {
        let fee = crate::cache::cached!(self.cache.fees, org, self.load_organization_fee(org).await.map(Some));
        fee.map(Option::flatten)
    }

    async fn load_organization_fee(&self, org: OrganizationId) -> Result<Option<OrganizationFeeRecord>> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT percent_bp, fixed_minor FROM organization_fees WHERE organization_id = $1")
                .bind(org.to_string())
                .fetch_optional(&mut *self.read().await?)
                .await?;
        Ok(row.map(|(percent_bp, fixed_minor)| OrganizationFeeRecord { percent_bp, fixed_minor }))
    }

    /// Sets the organization's fee; holds placed from now on use it, holds
    /// already placed keep the fee they were shown.
    pub async fn set_organization_fee(
        &self,
        org: OrganizationId,
        fee: OrganizationFeeRecord,
        by: UserId,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO organization_fees (organization_id, percent_bp, fixed_minor, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (organization_id) DO UPDATE \
             SET percent_bp = excluded.percent_bp, fixed_minor = excluded.fixed_minor, \
                 updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )
        .bind(org.to_string())
        .bind(fee.percent_bp)
        .bind(fee.fixed_minor)
        .bind(by.to_string())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.cache.fees.invalidate(&org);
        Ok(())
    }

    /// The event's sales, fees, refunds and resale shares per currency,
    /// read from one snapshot, currencies in alphabetical order.
    pub async fn payout_figures(&self, event: EventId) -> Result<Vec<PayoutFigures>> {
        let e = event.to_string();
        let mut tx = self.snapshot().await?;
        let orders: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT currency, COUNT(*), CAST(COALESCE(SUM(total_amount - fee_amount), 0) AS BIGINT), \
             CAST(COALESCE(SUM(fee_amount), 0) AS BIGINT) FROM orders WHERE event_id = $1 GROUP BY currency",
        )
        .bind(&e)
        .fetch_all(&mut *tx)
        .await?;
        // Per order: refunded = min(r, subtotal) of ticket money, the rest fee.
        let refunds: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT o.currency, CAST(COALESCE(SUM(r.amount), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN r.amount > o.total_amount - o.fee_amount \
                  THEN r.amount - (o.total_amount - o.fee_amount) ELSE 0 END), 0) AS BIGINT) \
             FROM orders o JOIN (SELECT order_id, SUM(amount) AS amount FROM refunds \
                  WHERE status IN ('pending', 'refunded') GROUP BY order_id) r ON r.order_id = o.id \
             WHERE o.event_id = $1 GROUP BY o.currency",
        )
        .bind(&e)
        .fetch_all(&mut *tx)
        .await?;
        let escrow: Vec<(String, i64)> = sqlx::query_as(
            "SELECT currency, CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM escrow WHERE event_id = $1 GROUP BY currency",
        )
        .bind(&e)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;

        let mut out: Vec<PayoutFigures> = Vec::new();
        fn row<'a>(out: &'a mut Vec<PayoutFigures>, currency: &str) -> &'a mut PayoutFigures {
            if let Some(i) = out.iter().position(|f| f.currency == currency) {
                return &mut out[i];
            }
            out.push(PayoutFigures {
                currency: currency.to_owned(),
                orders: 0,
                gross_sales: 0,
                platform_fees: 0,
                refunds: 0,
                refunded_fees: 0,
                resale_seller_shares: 0,
            });
            out.last_mut().expect("just pushed")
        }
        for (currency, count, gross, fees) in orders {
            let r = row(&mut out, &currency);
            r.orders = count;
            r.gross_sales = gross;
            r.platform_fees = fees;
        }
        for (currency, amount, fees) in refunds {
            let r = row(&mut out, &currency);
            r.refunds = amount;
            r.refunded_fees = fees;
        }
        for (currency, amount) in escrow {
            row(&mut out, &currency).resale_seller_shares = amount;
        }
        out.sort_by(|a, b| a.currency.cmp(&b.currency));
        Ok(out)
    }
}
