//! QR codes for ticket barcodes: rendered by `ticketing::qr`, which the
//! e-mailed tickets share.

pub use ticketing::qr::{QrError, png, svg};

/// How a ticket's QR code may be cached. Personal, so never in a shared
/// cache; and checked again on every use, because the code at that address
/// changes when the ticket passes to someone else: a copy kept for a day
/// showed the new holder a code that no longer admits (the service worker
/// keeps its own copy for offline use).
pub const QR_CACHE_CONTROL: &str = "private, no-cache";
