//! HTTP handlers, one module per area. Each handler parses the request into a
//! domain command, calls one use case and renders the result; errors become
//! problem+json through `From<…> for Problem`.

pub mod accounts;
pub mod checkins;
pub mod events;
pub mod gate;
pub mod holds;
pub mod ledger;
pub mod live;
pub mod ops;
pub mod orders;
pub mod organizations;
pub mod resale;
pub mod tickets;
pub mod transfers;
pub mod venues;
pub mod webhooks;
