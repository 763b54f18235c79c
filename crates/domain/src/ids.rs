//! Typed identifiers. Every aggregate has its own id type so that a seat id can
//! never be passed where an event id is expected. Ids are UUIDv7: time-ordered,
//! which keeps B-tree inserts local and gives a stable tie-breaker for cursors.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            pub const fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

impl OrderId {
    /// The order's reference for people: the twelve hex digits that end its
    /// id, as `A1B2-C3D4-E5F6`. They are the random part of a UUIDv7 (its
    /// start is the time, alike for orders placed together): among an
    /// event's 100,000 orders two share one with a chance of about one in
    /// 50,000. The console finds an order by it (and lists every match).
    pub fn reference(&self) -> String {
        let hex = self.0.simple().to_string().to_uppercase();
        let tail = &hex[hex.len() - ORDER_REFERENCE_DIGITS..];
        format!("{}-{}-{}", &tail[..4], &tail[4..8], &tail[8..])
    }

    /// The digits of a typed reference, or of a part of one read out (at
    /// least [`ORDER_REFERENCE_PART_MIN`] of them; any case, with or without
    /// dashes), as the id's own lowercase hex has them; `None` if it is not
    /// one.
    pub fn reference_part(typed: &str) -> Option<String> {
        let digits: String = typed.trim().chars().filter(|c| !matches!(c, '-' | ' ' | '#')).collect();
        ((ORDER_REFERENCE_PART_MIN..=ORDER_REFERENCE_DIGITS).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| digits.to_ascii_lowercase())
    }
}

/// Hex digits in an order's reference.
pub const ORDER_REFERENCE_DIGITS: usize = 12;
/// Fewest digits of a reference a search looks for: one group of it.
pub const ORDER_REFERENCE_PART_MIN: usize = 4;

id_type! {
    UserId,
    OrganizationId,
    VenueId,
    SectionId,
    SeatId,
    GaAreaId,
    EventId,
    TicketTypeId,
    HoldId,
    OrderId,
    TicketId,
    CheckinId,
    TransferId,
    ListingId,
    WebhookEndpointId,
    WebhookMessageId,
    PaymentAttemptId,
    QueueEntryId,
    NotificationId,
    RefundId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_orders_reference_is_the_end_of_its_id_and_is_found_again_however_typed() {
        let order = OrderId::from_uuid("01a24f66-3f99-7282-80bf-89c9418b655d".parse().unwrap());
        assert_eq!(order.reference(), "89C9-418B-655D");
        for typed in ["89C9-418B-655D", "89c9418b655d", " 89c9 418b 655d ", "#89C9-418B", "418B-655D", "655d"] {
            let part = OrderId::reference_part(typed).unwrap();
            assert!(order.to_string()[24..].contains(&part), "{typed}");
        }
        for not_one in ["89C9-418B-655DX", "ZZC9-418B", "655", "", "ada@example.org"] {
            assert_eq!(OrderId::reference_part(not_one), None, "{not_one}");
        }
    }
}
