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
