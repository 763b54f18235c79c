//! Rotating barcodes: a code that changes every [`ROTATION_STEP_SECS`], so a
//! screenshot or a photo of someone's phone stops working within a minute.
//!
//! A rotating code wraps the static, Ed25519-signed barcode (see
//! [`crate::barcode`]) with a time step and a MAC over that step made with a
//! per-ticket secret:
//!
//! ```text
//! "RT2." + base64url-no-pad(
//!     RT1 bytes (101: payload + signature) | step u64 BE | HMAC-SHA256(ticket secret, "rt2" | step BE | ticket id)[..16]
//! )
//! ```
//!
//! where `step = floor(unix_seconds / ROTATION_STEP_SECS)`. The ticket secret
//! is derived from the event's signing secret, the ticket id and its serial
//! ([`ticket_secret`]): nothing new is stored, and a transfer (serial + 1)
//! changes it. A gate verifies the signed part with the event's public key and
//! the MAC with the ticket's secret, which the offline manifest carries.
//!
//! Like the rest of the domain this never reads the clock: `now` is passed in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::Timestamp;
use crate::barcode::{self, BARCODE_LEN_MAX, BarcodeError};
use crate::ids::TicketId;

/// How long one code is shown before the next replaces it.
pub const ROTATION_STEP_SECS: i64 = 15;
/// Steps after its own for which a code is still accepted: with 15 s steps a
/// code is never accepted more than 60 s after its step began, so a
/// screenshot older than a minute is refused, while a gate's slow scan or a
/// holder's phone a few seconds behind still passes.
pub const ROTATION_MAX_AGE_STEPS: i64 = 3;
/// Steps ahead of the verifier's clock a code may be: phones and gates drift.
pub const ROTATION_MAX_AHEAD_STEPS: i64 = 1;

/// Prefix of a rotating code; static barcodes start with `RT1.`.
pub const ROTATING_PREFIX: &str = "RT2.";
const STATIC_PREFIX: &str = "RT1.";
const SECRET_DOMAIN: &[u8] = b"robust-ticketing/rotating/v1";
const MAC_DOMAIN: &[u8] = b"rt2";
/// Bytes of a static barcode once decoded: payload (37) + signature (64).
const STATIC_LEN: usize = 101;
/// Bytes of the truncated MAC: 128 bits, enough against guessing within a minute.
pub const ROTATING_MAC_LEN: usize = 16;
const ROTATING_LEN: usize = STATIC_LEN + 8 + ROTATING_MAC_LEN;

/// Why a rotating code whose signed part verified is still refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RotatingError {
    /// The code's step is more than [`ROTATION_MAX_AGE_STEPS`] behind: an old
    /// screenshot.
    #[error("the code is older than a minute")]
    Stale,
    /// The code's step is ahead of the verifier's clock by more than the skew allowed.
    #[error("the code is from the future")]
    Future,
    /// The MAC was not made with this ticket's secret for this step.
    #[error("the code was not made for this ticket")]
    BadMac,
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// The ticket's rotating secret: HMAC-SHA256 keyed with the event's signing
/// secret over the domain, the ticket id and its serial (big-endian).
pub fn ticket_secret(event_secret: &[u8; 32], ticket: TicketId, serial: u32) -> [u8; 32] {
    hmac_sha256(event_secret, &[SECRET_DOMAIN, ticket.as_bytes(), &serial.to_be_bytes()]).finalize().into_bytes().into()
}

/// The step `now` falls in.
pub fn step_at(now: Timestamp) -> i64 {
    now.timestamp().div_euclid(ROTATION_STEP_SECS)
}

fn mac_for(secret: &[u8; 32], ticket: TicketId, step: i64) -> Hmac<Sha256> {
    hmac_sha256(secret, &[MAC_DOMAIN, &(step as u64).to_be_bytes(), ticket.as_bytes()])
}

/// Whether `code` is a rotating code (it may still be malformed).
pub fn is_rotating(code: &str) -> bool {
    code.trim().starts_with(ROTATING_PREFIX)
}

/// The code to show at `now` for the ticket whose static barcode is `static_barcode`.
pub fn rotating_code(static_barcode: &str, secret: &[u8; 32], now: Timestamp) -> Result<String, BarcodeError> {
    let claims = barcode::peek(static_barcode)?;
    let body = static_barcode.trim().strip_prefix(STATIC_PREFIX).ok_or(BarcodeError::Malformed)?;
    let signed = URL_SAFE_NO_PAD.decode(body).map_err(|_| BarcodeError::Malformed)?;
    if signed.len() != STATIC_LEN {
        return Err(BarcodeError::Malformed);
    }
    let step = step_at(now);
    let mac = mac_for(secret, claims.ticket, step).finalize().into_bytes();
    let mut bytes = Vec::with_capacity(ROTATING_LEN);
    bytes.extend_from_slice(&signed);
    bytes.extend_from_slice(&(step as u64).to_be_bytes());
    bytes.extend_from_slice(&mac[..ROTATING_MAC_LEN]);
    Ok(format!("{ROTATING_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Splits a rotating code into the static barcode it carries (to verify with
/// [`barcode::verify`] as usual), its step and its MAC. Checks nothing else.
pub fn split_rotating(code: &str) -> Result<(String, i64, [u8; ROTATING_MAC_LEN]), BarcodeError> {
    let code = code.trim();
    if code.len() > BARCODE_LEN_MAX {
        return Err(BarcodeError::Malformed);
    }
    let body = code.strip_prefix(ROTATING_PREFIX).ok_or(BarcodeError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| BarcodeError::Malformed)?;
    if bytes.len() != ROTATING_LEN {
        return Err(BarcodeError::Malformed);
    }
    let static_barcode = format!("{STATIC_PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes[..STATIC_LEN]));
    let mut step = [0u8; 8];
    step.copy_from_slice(&bytes[STATIC_LEN..STATIC_LEN + 8]);
    let step = i64::try_from(u64::from_be_bytes(step)).map_err(|_| BarcodeError::Malformed)?;
    let mut mac = [0u8; ROTATING_MAC_LEN];
    mac.copy_from_slice(&bytes[STATIC_LEN + 8..]);
    Ok((static_barcode, step, mac))
}

/// Checks a rotating code's MAC (in constant time) and that its step is
/// within the window around `now`. The signed part is checked separately.
pub fn verify_rotating(
    secret: &[u8; 32],
    ticket: TicketId,
    step: i64,
    mac: &[u8; ROTATING_MAC_LEN],
    now: Timestamp,
) -> Result<(), RotatingError> {
    // The MAC first: a forged code learns nothing about the window.
    mac_for(secret, ticket, step).verify_truncated_left(mac).map_err(|_| RotatingError::BadMac)?;
    let current = step_at(now);
    if step > current.saturating_add(ROTATION_MAX_AHEAD_STEPS) {
        return Err(RotatingError::Future);
    }
    if current.saturating_sub(step) > ROTATION_MAX_AGE_STEPS {
        return Err(RotatingError::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barcode::{BarcodeClaims, EventKey};
    use crate::ids::EventId;
    use chrono::TimeZone;

    /// A fixed clock at the start of a step, so offsets map to whole steps.
    fn t0() -> Timestamp {
        chrono::Utc.timestamp_opt(1_800_000_000 - 1_800_000_000 % ROTATION_STEP_SECS, 0).unwrap()
    }

    fn secs(s: i64) -> chrono::Duration {
        chrono::Duration::seconds(s)
    }

    struct Fixture {
        key: EventKey,
        claims: BarcodeClaims,
        barcode: String,
        secret: [u8; 32],
    }

    fn fixture() -> Fixture {
        let key = EventKey::from_secret([9; 32]);
        let claims = BarcodeClaims { ticket: TicketId::new(), event: EventId::new(), serial: 1 };
        let barcode = key.sign(&claims);
        let secret = ticket_secret(&key.secret_bytes(), claims.ticket, claims.serial);
        Fixture { key, claims, barcode, secret }
    }

    fn check(f: &Fixture, code: &str, now: Timestamp) -> Result<(), RotatingError> {
        let (static_barcode, step, mac) = split_rotating(code).expect("well formed");
        let claims = barcode::verify(&f.key.public_bytes(), &static_barcode).expect("signed part verifies");
        assert_eq!(claims, f.claims);
        verify_rotating(&f.secret, claims.ticket, step, &mac, now)
    }

    #[test]
    fn a_fresh_code_verifies_and_carries_the_static_barcode() {
        let f = fixture();
        let code = rotating_code(&f.barcode, &f.secret, t0()).unwrap();
        assert!(code.starts_with(ROTATING_PREFIX) && code.len() <= BARCODE_LEN_MAX);
        assert_eq!(code.len(), 4 + (ROTATING_LEN * 4).div_ceil(3));
        let (static_barcode, step, _) = split_rotating(&code).unwrap();
        assert_eq!(static_barcode, f.barcode);
        assert_eq!(step, step_at(t0()));
        assert_eq!(check(&f, &code, t0()), Ok(()));
        assert_eq!(check(&f, &code, t0() + secs(59)), Ok(()), "within the minute");
    }

    #[test]
    fn the_code_changes_every_step() {
        let f = fixture();
        let a = rotating_code(&f.barcode, &f.secret, t0()).unwrap();
        assert_eq!(a, rotating_code(&f.barcode, &f.secret, t0() + secs(14)).unwrap());
        assert_ne!(a, rotating_code(&f.barcode, &f.secret, t0() + secs(15)).unwrap());
    }

    #[test]
    fn a_code_older_than_a_minute_is_stale() {
        let f = fixture();
        let code = rotating_code(&f.barcode, &f.secret, t0()).unwrap();
        assert_eq!(check(&f, &code, t0() + secs(61)), Err(RotatingError::Stale));
        // Whenever in its step it was shown, a code is refused 61 s later.
        for offset in 0..ROTATION_STEP_SECS {
            let code = rotating_code(&f.barcode, &f.secret, t0() + secs(offset)).unwrap();
            assert_eq!(check(&f, &code, t0() + secs(offset + 61)), Err(RotatingError::Stale), "offset {offset}");
        }
    }

    #[test]
    fn another_tickets_secret_is_refused() {
        let f = fixture();
        let other = ticket_secret(&f.key.secret_bytes(), TicketId::new(), 1);
        let code = rotating_code(&f.barcode, &other, t0()).unwrap();
        assert_eq!(check(&f, &code, t0()), Err(RotatingError::BadMac));
        // The same ticket after a transfer (new serial) has a new secret too.
        let reissued = ticket_secret(&f.key.secret_bytes(), f.claims.ticket, 2);
        assert_ne!(reissued, f.secret);
        let code = rotating_code(&f.barcode, &reissued, t0()).unwrap();
        assert_eq!(check(&f, &code, t0()), Err(RotatingError::BadMac));
    }

    #[test]
    fn a_tampered_step_is_refused() {
        let f = fixture();
        let code = rotating_code(&f.barcode, &f.secret, t0()).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&code[ROTATING_PREFIX.len()..]).unwrap();
        // Move an old code forward by one step: the MAC no longer matches.
        let step = step_at(t0()) + 1;
        bytes[STATIC_LEN..STATIC_LEN + 8].copy_from_slice(&(step as u64).to_be_bytes());
        let forged = format!("{ROTATING_PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(check(&f, &forged, t0() + secs(15)), Err(RotatingError::BadMac));
        // And any flipped MAC byte.
        for i in STATIC_LEN + 8..ROTATING_LEN {
            let mut tampered = URL_SAFE_NO_PAD.decode(&code[ROTATING_PREFIX.len()..]).unwrap();
            tampered[i] ^= 1;
            let forged = format!("{ROTATING_PREFIX}{}", URL_SAFE_NO_PAD.encode(&tampered));
            assert_eq!(check(&f, &forged, t0()), Err(RotatingError::BadMac), "byte {i}");
        }
    }

    #[test]
    fn a_little_clock_skew_is_allowed() {
        let f = fixture();
        let ahead_16 = rotating_code(&f.barcode, &f.secret, t0() + secs(16)).unwrap();
        assert_eq!(check(&f, &ahead_16, t0()), Ok(()));
        let ahead_31 = rotating_code(&f.barcode, &f.secret, t0() + secs(31)).unwrap();
        assert_eq!(check(&f, &ahead_31, t0()), Err(RotatingError::Future));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let f = fixture();
        for junk in ["", "RT2.", "RT2.!!!!", "RT2.AAAA", &f.barcode, &"RT2.".repeat(200)] {
            assert_eq!(split_rotating(junk), Err(BarcodeError::Malformed), "{junk}");
        }
        assert_eq!(rotating_code("RT1.AAAA", &f.secret, t0()), Err(BarcodeError::Malformed));
    }
}
