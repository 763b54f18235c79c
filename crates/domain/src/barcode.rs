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
//!
//! Every barcode also has an **entry code** ([`entry_code`]): twelve
//! characters a person can read out and type at a gate whose camera fails or
//! whose holder's screen is cracked. It is the first 60 bits of the
//! barcode's SHA-256, so it changes with every re-issue and cannot be made
//! without the signed barcode; the server maps it back to the ticket. An
//! offline gate's manifest carries only a salted hash of each code
//! ([`entry_code_digest`]), so that a gate's ticket list is no list of codes
//! that would let anyone in.

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
/// Characters of an entry code: 60 bits. Recovering the codes of an event
/// from its manifest's hashes takes about 2^60 hashes; the chance that any
/// two tickets of a 100,000-ticket event share a code is about one in 200
/// million, and a code that names two tickets is refused (the QR code still
/// works), never guessed at.
pub const ENTRY_CODE_LEN: usize = 12;
/// Characters between the dashes of a code as shown: `K7QF-3M2P-XA9B`.
const ENTRY_CODE_GROUP: usize = 4;
/// Crockford's base32: no I, L, O or U, so nothing reads as another
/// character. Written here because it is 20 lines and the only base32 the
/// project needs.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

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

/// The entry code of `barcode`, in its canonical form (ten characters, no
/// separator); [`display_entry_code`] splits it for reading.
pub fn entry_code(barcode: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(barcode.as_bytes());
    let bits = u64::from_be_bytes(digest[..8].try_into().expect("a digest has 32 bytes")) >> (64 - 5 * ENTRY_CODE_LEN);
    (0..ENTRY_CODE_LEN).rev().map(|i| char::from(CROCKFORD[((bits >> (5 * i)) & 31) as usize])).collect()
}

/// `K7QF3M2PXA9B` as `K7QF-3M2P-XA9B`.
pub fn display_entry_code(code: &str) -> String {
    let groups: Vec<&str> =
        code.as_bytes().chunks(ENTRY_CODE_GROUP).map(|g| std::str::from_utf8(g).unwrap_or("")).collect();
    groups.join("-")
}

/// What an offline gate's manifest carries instead of a ticket's code: the
/// hex SHA-256 of `"{event}:{code}"`. The gate hashes what is typed the
/// same way and looks it up; the event in the salt makes a table built for
/// one event useless for the next.
pub fn entry_code_digest(event: EventId, code: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{event}:{code}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a person typed, as a canonical entry code, if it is one: case,
/// spaces and dashes do not matter, and O, I and L read as 0, 1 and 1.
pub fn parse_entry_code(typed: &str) -> Option<String> {
    if typed.len() > 4 * ENTRY_CODE_LEN {
        return None;
    }
    let mut code = String::with_capacity(ENTRY_CODE_LEN);
    for c in typed.chars().filter(|c| !matches!(c, ' ' | '-' | '\t' | '\r' | '\n')) {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) {
            return None;
        }
        code.push(c);
    }
    (code.len() == ENTRY_CODE_LEN).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_codes_are_short_stable_and_forgiving_to_type() {
        let k = key(5);
        let c = claims();
        let code = entry_code(&k.sign(&c));
        assert_eq!(code.len(), ENTRY_CODE_LEN);
        assert_eq!(code, entry_code(&k.sign(&c)), "one barcode, one code");
        let reissued = entry_code(&k.sign(&BarcodeClaims { serial: c.serial + 1, ..c }));
        assert_ne!(code, reissued, "a re-issue changes the code");
        let shown = display_entry_code(&code);
        assert_eq!(shown.len(), ENTRY_CODE_LEN + 2);
        assert_eq!(shown.matches('-').count(), 2);
        assert_eq!(parse_entry_code(&shown), Some(code.clone()));
        assert_eq!(parse_entry_code(&shown.to_lowercase().replace('-', " ")), Some(code.clone()));
        assert_eq!(parse_entry_code("0O1I-Labc-defg"), Some("00111ABCDEFG".into()));
        for junk in ["", "ABCDE", "ABCD-EFGH-JKMN-P", "ABCD-EFGH-JKMU", "ÄBCD-EFGH-JKMN", &"A".repeat(100), "RT1.AAAA"]
        {
            assert_eq!(parse_entry_code(junk), None, "{junk}");
        }
        // The manifest's hash: of this event's code only.
        let event = EventId::new();
        let digest = entry_code_digest(event, &code);
        assert_eq!(digest.len(), 64);
        assert_ne!(digest, entry_code_digest(EventId::new(), &code));
        assert_ne!(digest, entry_code_digest(event, &reissued));
    }

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
