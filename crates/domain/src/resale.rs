//! Resale: the organizer's cap on prices and royalty, and how a resale
//! payment divides between seller, organizer and escrow, to the cent.

use crate::money::{Money, MoneyError};

/// Basis points in one whole (100 %).
pub const BPS_WHOLE: u32 = 10_000;
/// The highest cap an organizer may set: three times face value.
pub const RESALE_CAP_BPS_LIMIT: u32 = 30_000;
/// The highest royalty an organizer may take: half the price.
pub const RESALE_ROYALTY_BPS_LIMIT: u32 = 5_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResalePolicy {
    pub allowed: bool,
    /// Highest resale price in basis points of face value (11000 = face + 10 %).
    pub cap_bps: u32,
    /// The organizer's share of a resale, in basis points of its price.
    pub royalty_bps: u32,
}

impl Default for ResalePolicy {
    fn default() -> Self {
        Self { allowed: true, cap_bps: 11_000, royalty_bps: 500 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResaleError {
    #[error("the organizer does not allow resale for this event")]
    NotAllowed,
    #[error("the price may be at most {cap} (the organizer's cap); asked {asked}")]
    AboveCap { cap: Money, asked: Money },
    #[error("a resale price must be in the ticket's currency ({0})")]
    WrongCurrency(crate::money::Currency),
    #[error("a resale price must be more than zero")]
    Free,
    #[error(
        "resale policy out of range: the price cap is 100 % to {} % of face value, the royalty at most {} %",
        RESALE_CAP_BPS_LIMIT / (BPS_WHOLE / 100),
        RESALE_ROYALTY_BPS_LIMIT / (BPS_WHOLE / 100)
    )]
    BadPolicy,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// How a resale payment divides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResaleSplit {
    /// What the buyer pays.
    pub price: Money,
    /// The organizer's royalty, paid out at once.
    pub royalty: Money,
    /// The seller's share, held in escrow until the event has taken place.
    pub escrow: Money,
}

impl ResalePolicy {
    pub fn validate(&self) -> Result<(), ResaleError> {
        if self.cap_bps < BPS_WHOLE
            || self.cap_bps > RESALE_CAP_BPS_LIMIT
            || self.royalty_bps > RESALE_ROYALTY_BPS_LIMIT
        {
            return Err(ResaleError::BadPolicy);
        }
        Ok(())
    }

    /// The highest price a ticket of face value `face` may be listed at
    /// (rounded down to the minor unit: the cap is never exceeded).
    pub fn cap(&self, face: Money) -> Result<Money, ResaleError> {
        let minor = i128::from(face.amount_minor()) * i128::from(self.cap_bps) / i128::from(BPS_WHOLE);
        Ok(Money::new(i64::try_from(minor).map_err(|_| MoneyError::Overflow)?, face.currency())?)
    }

    /// Checks a listing price against the policy and splits it. The royalty
    /// is rounded down; the seller's escrow takes the remainder, so the two
    /// always add up to the price exactly.
    pub fn split(&self, face: Money, price: Money) -> Result<ResaleSplit, ResaleError> {
        if !self.allowed {
            return Err(ResaleError::NotAllowed);
        }
        if price.currency() != face.currency() {
            return Err(ResaleError::WrongCurrency(face.currency()));
        }
        if price.amount_minor() == 0 {
            return Err(ResaleError::Free);
        }
        let cap = self.cap(face)?;
        if price.amount_minor() > cap.amount_minor() {
            return Err(ResaleError::AboveCap { cap, asked: price });
        }
        let royalty_minor = i128::from(price.amount_minor()) * i128::from(self.royalty_bps) / i128::from(BPS_WHOLE);
        let royalty = Money::new(i64::try_from(royalty_minor).map_err(|_| MoneyError::Overflow)?, price.currency())?;
        let escrow = Money::new(price.amount_minor() - royalty.amount_minor(), price.currency())?;
        Ok(ResaleSplit { price, royalty, escrow })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(a: i64) -> Money {
        Money::new(a, "EUR".parse().unwrap()).unwrap()
    }

    #[test]
    fn the_cap_is_face_value_plus_the_allowed_margin_rounded_down() {
        let p = ResalePolicy::default();
        assert_eq!(p.cap(eur(4500)).unwrap(), eur(4950));
        assert_eq!(p.cap(eur(999)).unwrap(), eur(1098));
        assert!(matches!(p.split(eur(4500), eur(4951)), Err(ResaleError::AboveCap { .. })));
        assert!(p.split(eur(4500), eur(4950)).is_ok());
    }

    #[test]
    fn royalty_and_escrow_add_up_to_the_price_to_the_cent() {
        let p = ResalePolicy { allowed: true, cap_bps: 30_000, royalty_bps: 333 };
        for price in 1..5_000 {
            let s = p.split(eur(5_000), eur(price)).unwrap();
            assert_eq!(s.royalty.amount_minor() + s.escrow.amount_minor(), price);
            assert!(s.royalty.amount_minor() * 10_000 <= price * 333);
        }
    }

    #[test]
    fn refuses_what_the_policy_does_not_allow() {
        let closed = ResalePolicy { allowed: false, ..ResalePolicy::default() };
        assert_eq!(closed.split(eur(100), eur(100)), Err(ResaleError::NotAllowed));
        let p = ResalePolicy::default();
        assert_eq!(p.split(eur(100), eur(0)), Err(ResaleError::Free));
        let usd = Money::new(100, "USD".parse().unwrap()).unwrap();
        assert!(matches!(p.split(eur(100), usd), Err(ResaleError::WrongCurrency(_))));
        assert!(ResalePolicy { cap_bps: 9_000, ..p }.validate().is_err());
        assert!(ResalePolicy { royalty_bps: 6_000, ..p }.validate().is_err());
    }
}
