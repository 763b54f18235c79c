//! The platform fee: what the platform charges the buyer on top of the
//! ticket prices, set per organization.
//!
//! A fee is a percentage of the order's subtotal, in basis points, plus a
//! fixed part per paid ticket, in minor units of the event's currency (so a
//! fixed part of 50 is 0.50 EUR on a EUR event and 50 JPY on a JPY event).
//! Free tickets carry no fee. The percentage is taken of the whole subtotal
//! once, not per ticket, and rounded half up to the minor unit: the buyer
//! pays at most half a minor unit more than the exact rate, and the fee of
//! an order never depends on how its lines are split.

use crate::hold::HoldLine;
use crate::money::{Money, MoneyError};

/// One hundred percent, in basis points.
pub const BASIS_POINTS_PER_UNIT: i64 = 10_000;
/// The highest percentage a fee may have: 25 %. Beyond that a "fee" is a
/// price, and should be one.
pub const FEE_PERCENT_BP_MAX: u32 = 2_500;
/// The highest fixed part per ticket, in minor units: 100.00 in a currency
/// with two decimals. Keeps a mistyped fee from dwarfing the ticket.
pub const FEE_FIXED_MINOR_PER_TICKET_MAX: i64 = 10_000;

/// An organization's platform fee. Construct with [`FeePolicy::new`], which
/// enforces the limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FeePolicy {
    percent_bp: u32,
    fixed_minor_per_ticket: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    #[error("percent_bp must be between 0 and {FEE_PERCENT_BP_MAX} (25 %), got {0}")]
    PercentOutOfRange(i64),
    #[error("fixed_per_ticket must be between 0 and {FEE_FIXED_MINOR_PER_TICKET_MAX} minor units, got {0}")]
    FixedOutOfRange(i64),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// What the buyer pays, broken down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeBreakdown {
    /// The tickets' prices.
    pub subtotal: Money,
    pub fee: Money,
    /// `subtotal + fee`: what is charged.
    pub total: Money,
}

impl FeePolicy {
    /// No fee at all: the policy of an organization without one.
    pub const NONE: FeePolicy = FeePolicy { percent_bp: 0, fixed_minor_per_ticket: 0 };

    pub fn new(percent_bp: i64, fixed_minor_per_ticket: i64) -> Result<Self, FeeError> {
        if !(0..=i64::from(FEE_PERCENT_BP_MAX)).contains(&percent_bp) {
            return Err(FeeError::PercentOutOfRange(percent_bp));
        }
        if !(0..=FEE_FIXED_MINOR_PER_TICKET_MAX).contains(&fixed_minor_per_ticket) {
            return Err(FeeError::FixedOutOfRange(fixed_minor_per_ticket));
        }
        let percent_bp = u32::try_from(percent_bp).expect("checked against FEE_PERCENT_BP_MAX");
        Ok(Self { percent_bp, fixed_minor_per_ticket })
    }

    pub fn percent_bp(&self) -> u32 {
        self.percent_bp
    }

    pub fn fixed_minor_per_ticket(&self) -> i64 {
        self.fixed_minor_per_ticket
    }

    /// The fee on `subtotal` for `paid_tickets` tickets with a price above
    /// zero, in the subtotal's currency.
    pub fn fee(&self, subtotal: Money, paid_tickets: u32) -> Result<Money, FeeError> {
        // i128: subtotal (< 2^30) times basis points (< 2^12) cannot overflow,
        // and neither can the fixed part times a ticket count.
        let proportional = (i128::from(subtotal.amount_minor()) * i128::from(self.percent_bp)
            + i128::from(BASIS_POINTS_PER_UNIT / 2))
            / i128::from(BASIS_POINTS_PER_UNIT);
        let fixed = i128::from(self.fixed_minor_per_ticket) * i128::from(paid_tickets);
        let fee = i64::try_from(proportional + fixed).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(fee, subtotal.currency()).map_err(|_| MoneyError::Overflow)?)
    }

    /// Subtotal, fee and total of a hold's lines. The lines share one
    /// currency (an event is priced in one); a mix is refused, never summed.
    pub fn breakdown(&self, lines: &[HoldLine]) -> Result<FeeBreakdown, FeeError> {
        let currency = lines.first().map(|l| l.unit_price().currency()).ok_or(MoneyError::Overflow)?;
        let mut subtotal = Money::zero(currency);
        let mut paid_tickets: u32 = 0;
        for line in lines {
            subtotal = subtotal.checked_add(line.unit_price().checked_mul(line.units())?)?;
            if line.unit_price().amount_minor() > 0 {
                paid_tickets = paid_tickets.checked_add(line.units()).ok_or(MoneyError::Overflow)?;
            }
        }
        self.breakdown_of(subtotal, paid_tickets)
    }

    /// Subtotal, fee and total for a subtotal and its number of paid tickets.
    pub fn breakdown_of(&self, subtotal: Money, paid_tickets: u32) -> Result<FeeBreakdown, FeeError> {
        let fee = self.fee(subtotal, paid_tickets)?;
        let total = subtotal.checked_add(fee)?;
        Ok(FeeBreakdown { subtotal, fee, total })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::money::{AMOUNT_MINOR_MAX, Currency};

    fn eur(a: i64) -> Money {
        Money::new(a, "EUR".parse().unwrap()).unwrap()
    }

    #[test]
    fn limits_are_enforced() {
        assert!(FeePolicy::new(-1, 0).is_err());
        assert!(FeePolicy::new(i64::from(FEE_PERCENT_BP_MAX) + 1, 0).is_err());
        assert!(FeePolicy::new(0, -1).is_err());
        assert!(FeePolicy::new(0, FEE_FIXED_MINOR_PER_TICKET_MAX + 1).is_err());
        assert!(FeePolicy::new(i64::from(FEE_PERCENT_BP_MAX), FEE_FIXED_MINOR_PER_TICKET_MAX).is_ok());
    }

    #[test]
    fn known_values_round_half_up() {
        // 2.5 % of 45.00 = 1.125 → 1.13, plus 2 × 0.50.
        let p = FeePolicy::new(250, 50).unwrap();
        assert_eq!(p.fee(eur(9000), 2).unwrap().amount_minor(), 225 + 100);
        assert_eq!(p.fee(eur(4500), 1).unwrap().amount_minor(), 113 + 50);
        // 1 bp of 49 minor units = 0.0049 → 0; of 50 → 0.005 → 1 (half up).
        let p = FeePolicy::new(1, 0).unwrap();
        assert_eq!(p.fee(eur(4999), 0).unwrap().amount_minor(), 0);
        assert_eq!(p.fee(eur(5000), 0).unwrap().amount_minor(), 1);
        assert_eq!(FeePolicy::NONE.fee(eur(123_456), 7).unwrap().amount_minor(), 0);
    }

    #[test]
    fn free_tickets_carry_no_fixed_part() {
        use crate::ids::{GaAreaId, SeatId, TicketTypeId};
        let p = FeePolicy::new(0, 100).unwrap();
        let lines = vec![
            HoldLine::Seat { seat: SeatId::new(), ticket_type: TicketTypeId::new(), unit_price: eur(0) },
            HoldLine::Ga {
                area: GaAreaId::new(),
                quantity: 3,
                ticket_type: TicketTypeId::new(),
                unit_price: eur(1000),
            },
        ];
        let b = p.breakdown(&lines).unwrap();
        assert_eq!((b.subtotal.amount_minor(), b.fee.amount_minor(), b.total.amount_minor()), (3000, 300, 3300));
    }

    #[test]
    fn mixed_currencies_are_refused() {
        use crate::ids::{SeatId, TicketTypeId};
        let usd = Money::new(100, "USD".parse().unwrap()).unwrap();
        let lines = vec![
            HoldLine::Seat { seat: SeatId::new(), ticket_type: TicketTypeId::new(), unit_price: eur(100) },
            HoldLine::Seat { seat: SeatId::new(), ticket_type: TicketTypeId::new(), unit_price: usd },
        ];
        assert!(FeePolicy::NONE.breakdown(&lines).is_err());
    }

    fn currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(vec!["EUR", "JPY", "KWD", "USD"]).prop_map(|c| c.parse().unwrap())
    }

    proptest! {
        /// The fee is the exact rate rounded half up: never more than half a
        /// minor unit away from subtotal × bp / 10000, plus the fixed part.
        #[test]
        fn fee_is_the_rate_rounded_half_up(
            subtotal in 0..=AMOUNT_MINOR_MAX / 2, bp in 0..=FEE_PERCENT_BP_MAX,
            fixed in 0..=FEE_FIXED_MINOR_PER_TICKET_MAX, tickets in 0u32..=100, c in currency(),
        ) {
            let p = FeePolicy::new(i64::from(bp), fixed).unwrap();
            let fee = p.fee(Money::new(subtotal, c).unwrap(), tickets).unwrap();
            prop_assert_eq!(fee.currency(), c);
            let proportional = i128::from(fee.amount_minor()) - i128::from(fixed) * i128::from(tickets);
            // 2 × 10000 × |fee − exact| ≤ 10000, in integers.
            let twice_error = (proportional * 10_000 - i128::from(subtotal) * i128::from(bp)) * 2;
            prop_assert!(twice_error <= 10_000 && twice_error > -10_000, "fee {} for {} at {} bp", fee.amount_minor(), subtotal, bp);
        }

        /// A larger subtotal never has a smaller fee, and the total is always
        /// subtotal + fee in the subtotal's currency.
        #[test]
        fn fee_is_monotonic_and_adds_up(
            a in 0..=AMOUNT_MINOR_MAX / 2, b in 0..=AMOUNT_MINOR_MAX / 2, bp in 0..=FEE_PERCENT_BP_MAX,
            fixed in 0..=FEE_FIXED_MINOR_PER_TICKET_MAX, tickets in 0u32..=100,
        ) {
            let p = FeePolicy::new(i64::from(bp), fixed).unwrap();
            let (lo, hi) = (a.min(b), a.max(b));
            let fee_lo = p.fee(eur(lo), tickets).unwrap();
            let fee_hi = p.fee(eur(hi), tickets).unwrap();
            prop_assert!(fee_lo.amount_minor() <= fee_hi.amount_minor());
            let br = p.breakdown_of(eur(hi), tickets).unwrap();
            prop_assert_eq!(br.total.amount_minor(), br.subtotal.amount_minor() + br.fee.amount_minor());
            prop_assert!(br.fee.amount_minor() <= hi / 4 + 1 + fixed * i64::from(tickets));
        }

        /// Splitting a subtotal across orders never lowers the total fee by
        /// more than the rounding of each part: at most one minor unit per order.
        #[test]
        fn splitting_changes_the_fee_by_rounding_only(
            a in 0..=AMOUNT_MINOR_MAX / 4, b in 0..=AMOUNT_MINOR_MAX / 4, bp in 0..=FEE_PERCENT_BP_MAX,
        ) {
            let p = FeePolicy::new(i64::from(bp), 0).unwrap();
            let whole = p.fee(eur(a + b), 0).unwrap().amount_minor();
            let parts = p.fee(eur(a), 0).unwrap().amount_minor() + p.fee(eur(b), 0).unwrap().amount_minor();
            prop_assert!((whole - parts).abs() <= 1);
        }

        /// Amounts beyond the supported range are refused, never wrapped.
        #[test]
        fn totals_beyond_the_range_are_refused(bp in 1..=FEE_PERCENT_BP_MAX) {
            let p = FeePolicy::new(i64::from(bp), 0).unwrap();
            prop_assert!(p.breakdown_of(eur(AMOUNT_MINOR_MAX), 0).is_err());
        }
    }
}
