//! QR codes for ticket barcodes: rendered by `ticketing::qr`, which the
//! e-mailed tickets share.

pub use ticketing::qr::{QrError, png, svg};
