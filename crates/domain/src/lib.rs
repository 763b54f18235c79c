//! The ticketing domain: identifiers, money, seat maps, events, holds, orders,
//! ticket barcodes and check-in rules.
//!
//! This crate is pure. It knows nothing about SQL, HTTP, async runtimes or the
//! wall clock: every function that depends on time takes `now` as an argument,
//! and every secret (signing keys) is handed in by the caller; only fresh ids
//! are minted here (UUIDv7). That keeps the
//! rules deterministic and unit-testable without a database.

pub mod admission;
pub mod auth;
pub mod availability;
pub mod barcode;
pub mod calendar;
pub mod checkin;
pub mod email;
pub mod event;
pub mod fees;
pub mod hold;
pub mod ids;
pub mod money;
pub mod resale;
pub mod rotating;
pub mod seatmap;
pub mod text;
pub mod transfer;
pub mod venue;
pub mod webpush;

pub use chrono::{DateTime, Utc};

/// An instant in UTC. The domain never reads the clock itself; see [`Clock`].
pub type Timestamp = DateTime<Utc>;

/// The source of "now". Injected so that expiry can be tested without sleeping.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}
