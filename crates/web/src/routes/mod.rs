//! HTTP handlers, one module per area. Each handler parses the request into a
//! domain command, calls one use case and renders the result; errors become
//! problem+json through `From<…> for Problem`.

pub mod accounts;
pub mod checkins;
pub mod events;
pub mod fees;
pub mod gate;
pub mod holds;
pub mod ledger;
pub mod live;
pub mod notifications;
pub mod ops;
pub mod orders;
pub mod organizations;
pub mod payments;
pub mod push;
pub mod refunds;
pub mod resale;
pub mod tickets;
pub mod transfers;
pub mod venues;
pub mod waiting_room;
pub mod webhooks;
