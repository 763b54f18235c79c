//! Ticket barcodes: a compact payload signed with the event's Ed25519 key.
//!
//! A gate can verify a barcode with nothing but the event's public key, so it
//! works offline; the server additionally checks the ticket's current state.
//!
//! Wire format (version 1), before encoding:
//!
//! ```text
//! 0       1                17               33          37                 101
//! | ver=1 | ticket id (16) | event id (16)  | serial u32 | Ed25519 signature |
//! ```
//!
//! The signature covers `DOMAIN || bytes[0..37]`, where `DOMAIN` separates
//! these signatures from anything else the key might ever sign. The whole is
//! encoded as `RT1.` followed by unpadded base64url: 139 ASCII characters,
//! which fit a QR code of version 7 at error-correction level M.
//! The serial counts re-issues: when a ticket changes hands it gets a new
//! serial, and barcodes carrying an old one are refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::ids::{EventId, TicketId};

const VERSION: u8 = 1;
const PREFIX: &str = "RT1.";
const DOMAIN: &[u8] = b"robust-ticketing/ticket-barcode/v1";
const PAYLOAD_LEN: usize = 1 + 16 + 16 + 4;
const SIGNED_LEN: usize = PAYLOAD_LEN + 64;
/// Longest barcode text accepted before decoding: anything longer is not ours,
/// and refusing early bounds the work an attacker can make a gate do.
pub const BARCODE_LEN_MAX: usize = 512;

/// What a barcode claims. Only trustworthy once [`verify`] has checked it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarcodeClaims {
    pub ticket: TicketId,
    pub event: EventId,
    pub serial: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BarcodeError {
    #[error("not a ticket barcode")]
    Malformed,
    #[error("the barcode's signature does not verify")]
    BadSignature,
}

/// An event's signing key: 32 secret bytes, kept in the database.
#[derive(Clone)]
pub struct EventKey(SigningKey);

impl EventKey {
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&secret))
    }

    pub fn secret_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn public_bytes(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    pub fn sign(&self, claims: &BarcodeClaims) -> String {
        let payload = encode_payload(claims);
        let signature = self.0.sign(&signed_message(&payload));
        let mut bytes = Vec::with_capacity(SIGNED_LEN);
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(&signature.to_bytes());
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }
}

impl std::fmt::Debug for EventKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("EventKey").field("public", &URL_SAFE_NO_PAD.encode(self.public_bytes())).finish()
    }
}

fn encode_payload(c: &BarcodeClaims) -> [u8; PAYLOAD_LEN] {
    let mut p = [0u8; PAYLOAD_LEN];
    p[0] = VERSION;
    p[1..17].copy_from_slice(c.ticket.as_bytes());
    p[17..33].copy_from_slice(c.event.as_bytes());
    p[33..37].copy_from_slice(&c.serial.to_be_bytes());
    p
}

fn signed_message(payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + payload.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(payload);
    m
}

fn split(barcode: &str) -> Result<(BarcodeClaims, [u8; PAYLOAD_LEN], [u8; 64]), BarcodeError> {
    let barcode = barcode.trim();
    if barcode.len() > BARCODE_LEN_MAX {
        return Err(BarcodeError::Malformed);
    }
    let body = barcode.strip_prefix(PREFIX).ok_or(BarcodeError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| BarcodeError::Malformed)?;
    if bytes.len() != SIGNED_LEN || bytes[0] != VERSION {
        return Err(BarcodeError::Malformed);
    }
    let mut payload = [0u8; PAYLOAD_LEN];
    payload.copy_from_slice(&bytes[..PAYLOAD_LEN]);
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&bytes[PAYLOAD_LEN..]);
    let uuid = |r: std::ops::Range<usize>| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&payload[r]);
        uuid::Uuid::from_bytes(b)
    };
    let claims = BarcodeClaims {
        ticket: TicketId::from_uuid(uuid(1..17)),
        event: EventId::from_uuid(uuid(17..33)),
        serial: u32::from_be_bytes([payload[33], payload[34], payload[35], payload[36]]),
    };
    Ok((claims, payload, sig))
}

/// Reads the claims without checking the signature, to learn which event's key
/// to verify with. Never act on the result before [`verify`].
pub fn peek(barcode: &str) -> Result<BarcodeClaims, BarcodeError> {
    split(barcode).map(|(claims, _, _)| claims)
}

/// Checks the signature with the event's public key and returns the claims.
pub fn verify(public_key: &[u8; 32], barcode: &str) -> Result<BarcodeClaims, BarcodeError> {
    let (claims, payload, sig) = split(barcode)?;
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| BarcodeError::BadSignature)?;
    key.verify_strict(&signed_message(&payload), &Signature::from_bytes(&sig))
        .map_err(|_| BarcodeError::BadSignature)?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> EventKey {
        EventKey::from_secret([seed; 32])
    }

    fn claims() -> BarcodeClaims {
        BarcodeClaims { ticket: TicketId::new(), event: EventId::new(), serial: 7 }
    }

    #[test]
    fn round_trips_and_is_compact() {
        let k = key(1);
        let c = claims();
        let code = k.sign(&c);
        assert_eq!(code.len(), 4 + (SIGNED_LEN * 4).div_ceil(3));
        assert!(code.len() <= BARCODE_LEN_MAX);
        assert_eq!(verify(&k.public_bytes(), &code), Ok(c));
        assert_eq!(peek(&code), Ok(c));
    }

    #[test]
    fn any_altered_byte_is_refused() {
        let k = key(2);
        let code = k.sign(&claims());
        let body = URL_SAFE_NO_PAD.decode(&code[PREFIX.len()..]).unwrap();
        for i in 0..body.len() {
            let mut tampered = body.clone();
            tampered[i] ^= 0x01;
            let forged = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&tampered));
            assert!(verify(&k.public_bytes(), &forged).is_err(), "byte {i} flipped still verified");
        }
    }

    #[test]
    fn another_key_does_not_verify() {
        let code = key(3).sign(&claims());
        assert_eq!(verify(&key(4).public_bytes(), &code), Err(BarcodeError::BadSignature));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for junk in ["", "RT1.", "RT1.!!!!", "hello", &"RT1.".repeat(200), "RT1.AAAA"] {
            assert_eq!(peek(junk), Err(BarcodeError::Malformed));
        }
    }
}
