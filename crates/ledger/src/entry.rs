//! Leaf inputs: the canonical bytes of one ticketing fact, which the log
//! hashes into a leaf. The layout is in the crate docs; it is versioned and
//! carries its own body length so a reader can frame entries in a stream and
//! refuse any version it does not know.
//!
//! No personal data ever enters the log: the holder is an HMAC of the user's
//! internal id under a key the log never publishes, so the public log cannot
//! be searched for a person, while the operator can still prove "this entry
//! is about this user" by recomputing the HMAC.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The only entry layout this crate writes or reads.
pub const ENTRY_VERSION: u8 = 1;
/// Body bytes of a version 1 entry: ticket, event, timestamp, holder.
pub const ENTRY_V1_BODY_LEN: usize = 16 + 16 + 8 + 32;
/// Total bytes of a version 1 entry: version, kind, u16 body length, body.
pub const ENTRY_V1_LEN: usize = HEADER_LEN + ENTRY_V1_BODY_LEN;
const HEADER_LEN: usize = 1 + 1 + 2;

/// What happened to the ticket. The byte values are part of the encoding and
/// never change; a new kind gets a new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EntryKind {
    Issue = 0x01,
    Transfer = 0x02,
    Resale = 0x03,
    CheckIn = 0x04,
    Refund = 0x05,
    Revoke = 0x06,
}

impl EntryKind {
    pub const ALL: [EntryKind; 6] =
        [Self::Issue, Self::Transfer, Self::Resale, Self::CheckIn, Self::Refund, Self::Revoke];

    pub fn to_byte(self) -> u8 {
        self as u8
    }

    pub fn from_byte(byte: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.to_byte() == byte)
    }
}

/// A ticket's 16 UUID bytes. Raw bytes rather than the domain's `TicketId` so
/// that this crate, which auditors may vendor, depends on nothing of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketRef(pub [u8; 16]);

/// An event's 16 UUID bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventRef(pub [u8; 16]);

/// A pseudonymous holder: HMAC-SHA256(holder key, user id). Stable per user
/// (so an auditor can follow one ticket's chain of holders) but meaningless
/// without the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HolderId(pub [u8; 32]);

/// The secret key behind [`HolderId`]s. Kept by the operator, never logged.
#[derive(Clone)]
pub struct HolderKey([u8; 32]);

impl HolderKey {
    pub fn from_bytes(secret: [u8; 32]) -> Self {
        Self(secret)
    }
}

impl std::fmt::Debug for HolderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret: with it, holder ids can be linked to users.
        f.write_str("HolderKey(..)")
    }
}

impl HolderId {
    /// HMAC-SHA256(key, user_id). The input is the user's internal UUID bytes,
    /// deliberately a fixed 16-byte array: an e-mail address or a name cannot
    /// be passed by mistake, and would be guessable by brute force if it were.
    pub fn derive(key: &HolderKey, user_id: &[u8; 16]) -> Self {
        Self(hmac_sha256(&key.0, user_id))
    }
}

/// HMAC-SHA256 (RFC 2104 with SHA-256).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length (long ones are hashed first), so this
    // cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// One ticketing fact, as recorded in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    pub kind: EntryKind,
    pub ticket: TicketRef,
    pub event: EventRef,
    /// Milliseconds since the Unix epoch, UTC, supplied by the caller.
    pub timestamp_ms: u64,
    pub holder: HolderId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EntryDecodeError {
    #[error("entry is {len} bytes, shorter than its {HEADER_LEN}-byte header")]
    Truncated { len: usize },
    #[error("entry version {0} is not supported")]
    UnknownVersion(u8),
    #[error("entry kind {0:#04x} is not known")]
    UnknownKind(u8),
    #[error("entry body length {0} is not the {ENTRY_V1_BODY_LEN} bytes of version 1")]
    BadBodyLength(u16),
    #[error("entry is {len} bytes, but its header says {expected}")]
    LengthMismatch { len: usize, expected: usize },
}

impl Entry {
    /// The canonical leaf input (see the crate docs for the layout).
    pub fn encode(&self) -> [u8; ENTRY_V1_LEN] {
        let mut out = [0u8; ENTRY_V1_LEN];
        out[0] = ENTRY_VERSION;
        out[1] = self.kind.to_byte();
        // ENTRY_V1_BODY_LEN is 72: it fits a u16 by construction.
        out[2..4].copy_from_slice(&(ENTRY_V1_BODY_LEN as u16).to_be_bytes());
        out[4..20].copy_from_slice(&self.ticket.0);
        out[20..36].copy_from_slice(&self.event.0);
        out[36..44].copy_from_slice(&self.timestamp_ms.to_be_bytes());
        out[44..76].copy_from_slice(&self.holder.0);
        out
    }

    /// Parses exactly one canonical entry: every byte must be accounted for.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryDecodeError> {
        let Some((&[version, kind, len_hi, len_lo], body)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(EntryDecodeError::Truncated { len: bytes.len() });
        };
        if version != ENTRY_VERSION {
            return Err(EntryDecodeError::UnknownVersion(version));
        }
        let kind = EntryKind::from_byte(kind).ok_or(EntryDecodeError::UnknownKind(kind))?;
        let body_len = u16::from_be_bytes([len_hi, len_lo]);
        if usize::from(body_len) != ENTRY_V1_BODY_LEN {
            return Err(EntryDecodeError::BadBodyLength(body_len));
        }
        let body: &[u8; ENTRY_V1_BODY_LEN] = body
            .try_into()
            .map_err(|_| EntryDecodeError::LengthMismatch { len: bytes.len(), expected: ENTRY_V1_LEN })?;
        let (ticket, rest) = body.split_first_chunk::<16>().expect("72 >= 16");
        let (event, rest) = rest.split_first_chunk::<16>().expect("56 >= 16");
        let (timestamp, holder) = rest.split_first_chunk::<8>().expect("40 >= 8");
        let holder: &[u8; 32] = holder.try_into().expect("32 bytes remain");
        Ok(Self {
            kind,
            ticket: TicketRef(*ticket),
            event: EventRef(*event),
            timestamp_ms: u64::from_be_bytes(*timestamp),
            holder: HolderId(*holder),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_from_hex;
    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    fn entry() -> Entry {
        Entry {
            kind: EntryKind::Transfer,
            ticket: TicketRef([0x11; 16]),
            event: EventRef([0x22; 16]),
            timestamp_ms: 0x0102_0304_0506_0708,
            holder: HolderId([0x33; 32]),
        }
    }

    #[test]
    fn encoding_is_the_documented_layout() {
        let bytes = entry().encode();
        let mut want = vec![0x01, 0x02, 0x00, 0x48];
        want.extend([0x11; 16]);
        want.extend([0x22; 16]);
        want.extend([1, 2, 3, 4, 5, 6, 7, 8]);
        want.extend([0x33; 32]);
        assert_eq!(bytes.to_vec(), want);
        assert_eq!(ENTRY_V1_LEN, 76);
    }

    #[test]
    fn every_kind_round_trips_with_its_fixed_byte() {
        let bytes = [
            (EntryKind::Issue, 1),
            (EntryKind::Transfer, 2),
            (EntryKind::Resale, 3),
            (EntryKind::CheckIn, 4),
            (EntryKind::Refund, 5),
            (EntryKind::Revoke, 6),
        ];
        for (kind, byte) in bytes {
            assert_eq!(kind.to_byte(), byte);
            let e = Entry { kind, ..entry() };
            assert_eq!(e.encode()[1], byte);
            assert_eq!(Entry::decode(&e.encode()), Ok(e));
        }
        assert_eq!(EntryKind::from_byte(0), None);
        assert_eq!(EntryKind::from_byte(7), None);
    }

    #[test]
    fn malformed_entries_are_refused() {
        let good = entry().encode();
        assert_eq!(Entry::decode(&[]), Err(EntryDecodeError::Truncated { len: 0 }));
        assert_eq!(Entry::decode(&good[..3]), Err(EntryDecodeError::Truncated { len: 3 }));
        for cut in 4..ENTRY_V1_LEN {
            assert_eq!(
                Entry::decode(&good[..cut]),
                Err(EntryDecodeError::LengthMismatch { len: cut, expected: 76 }),
                "cut at {cut}"
            );
        }
        let mut longer = good.to_vec();
        longer.push(0);
        assert_eq!(Entry::decode(&longer), Err(EntryDecodeError::LengthMismatch { len: 77, expected: 76 }));

        let mut b = good;
        b[0] = 2;
        assert_eq!(Entry::decode(&b), Err(EntryDecodeError::UnknownVersion(2)));
        let mut b = good;
        b[0] = 0;
        assert_eq!(Entry::decode(&b), Err(EntryDecodeError::UnknownVersion(0)));
        let mut b = good;
        b[1] = 0x07;
        assert_eq!(Entry::decode(&b), Err(EntryDecodeError::UnknownKind(7)));
        let mut b = good;
        b[3] = 0x49;
        assert_eq!(Entry::decode(&b), Err(EntryDecodeError::BadBodyLength(0x49)));
        // A body length that matches a longer input is still not version 1.
        let mut long = good.to_vec();
        long[3] = 0x49;
        long.push(0);
        assert_eq!(Entry::decode(&long), Err(EntryDecodeError::BadBodyLength(0x49)));
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 §4.2 (test case 1) and §4.3 (test case 2), HMAC-SHA-256.
        assert_eq!(
            hmac_sha256(&[0x0b; 20], b"Hi There"),
            hash_from_hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        );
        assert_eq!(
            hmac_sha256(b"Jefe", b"what do ya want for nothing?"),
            hash_from_hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
    }

    #[test]
    fn holder_id_is_hmac_sha256_of_the_user_id() {
        // Computed independently with Python's hmac module:
        // hmac.new(b"\x0b" * 32, b"\x00" * 16, hashlib.sha256).hexdigest()
        let key = HolderKey::from_bytes([0x0b; 32]);
        assert_eq!(
            HolderId::derive(&key, &[0; 16]).0,
            hash_from_hex("7d45cd196b867c549292d780f29405beb927bc26b8124416b82457d94776e4f4")
        );
        // Different users, or a different key: different ids.
        assert_ne!(HolderId::derive(&key, &[0; 16]), HolderId::derive(&key, &[1; 16]));
        assert_ne!(HolderId::derive(&key, &[0; 16]), HolderId::derive(&HolderKey::from_bytes([0x0c; 32]), &[0; 16]));
    }

    #[test]
    fn holder_key_debug_hides_the_secret() {
        assert_eq!(format!("{:?}", HolderKey::from_bytes([0x42; 32])), "HolderKey(..)");
    }

    fn any_entry() -> impl Strategy<Value = Entry> {
        (0..EntryKind::ALL.len(), any::<[u8; 16]>(), any::<[u8; 16]>(), any::<u64>(), any::<[u8; 32]>()).prop_map(
            |(k, t, e, ts, h)| Entry {
                kind: EntryKind::ALL[k],
                ticket: TicketRef(t),
                event: EventRef(e),
                timestamp_ms: ts,
                holder: HolderId(h),
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: RngSeed::Fixed(76), failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn entries_round_trip(e in any_entry()) {
            prop_assert_eq!(Entry::decode(&e.encode()), Ok(e));
        }

        #[test]
        fn truncated_or_extended_entries_are_refused(e in any_entry(), cut in 0..ENTRY_V1_LEN, extra in proptest::collection::vec(any::<u8>(), 1..64)) {
            let bytes = e.encode();
            prop_assert!(Entry::decode(&bytes[..cut]).is_err());
            let mut longer = bytes.to_vec();
            longer.extend(extra);
            prop_assert!(Entry::decode(&longer).is_err());
        }

        #[test]
        fn garbage_never_panics_and_only_canonical_bytes_decode(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(e) = Entry::decode(&bytes) {
                // Whatever decodes must re-encode to exactly the input.
                prop_assert_eq!(e.encode().to_vec(), bytes);
            }
        }
    }
}
