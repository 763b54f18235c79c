//! Signed tree heads: the log's signed statement "my first `tree_size`
//! leaves have this root, as of this time". Auditors keep them and ask for
//! consistency proofs between them to catch a log that rewrites history.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::hash::{HASH_LEN, Hash};

/// Domain separation: no other message this key could ever sign starts with
/// these bytes, so a tree head signature cannot be replayed as, say, a ticket
/// barcode signature, nor the other way round. The version is part of it: a
/// new layout gets a new prefix, never a reinterpretation of this one.
pub const STH_DOMAIN: &[u8; 23] = b"robust-ticketing/sth/v1";

/// Length of [`TreeHead::signed_bytes`]: prefix, two u64s, one hash.
pub const TREE_HEAD_SIGNED_LEN: usize = STH_DOMAIN.len() + 8 + 8 + HASH_LEN;

/// What a tree head states. The timestamp is supplied by the caller (this
/// crate reads no clock); it is milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TreeHead {
    pub tree_size: u64,
    pub timestamp_ms: u64,
    pub root_hash: Hash,
}

impl TreeHead {
    /// The exact bytes that are signed:
    /// `"robust-ticketing/sth/v1" || tree_size (u64 BE) || timestamp_ms (u64 BE) || root_hash`.
    /// Fixed width throughout, so no two tree heads share an encoding.
    pub fn signed_bytes(&self) -> [u8; TREE_HEAD_SIGNED_LEN] {
        let mut out = [0u8; TREE_HEAD_SIGNED_LEN];
        let (domain, rest) = out.split_at_mut(STH_DOMAIN.len());
        let (size, rest) = rest.split_at_mut(8);
        let (timestamp, root) = rest.split_at_mut(8);
        domain.copy_from_slice(STH_DOMAIN);
        size.copy_from_slice(&self.tree_size.to_be_bytes());
        timestamp.copy_from_slice(&self.timestamp_ms.to_be_bytes());
        root.copy_from_slice(&self.root_hash);
        out
    }
}

/// Ed25519 signature (RFC 8032) over [`TreeHead::signed_bytes`].
pub fn sign_tree_head(key: &SigningKey, head: &TreeHead) -> [u8; 64] {
    key.sign(&head.signed_bytes()).to_bytes()
}

/// Whether `signature` is the holder of `public_key`'s signature over `head`.
/// Uses `verify_strict`: it refuses small-order keys and non-canonical
/// signatures, so one tree head cannot carry two different valid signatures.
pub fn verify_tree_head(public_key: &[u8; 32], head: &TreeHead, signature: &[u8; 64]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    key.verify_strict(&head.signed_bytes(), &Signature::from_bytes(signature)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_from_hex;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn head() -> TreeHead {
        TreeHead {
            tree_size: 8,
            timestamp_ms: 1_700_000_000_123,
            // RFC 6962 test data, MTH(D[8]).
            root_hash: hash_from_hex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
        }
    }

    #[test]
    fn signed_bytes_are_the_documented_layout() {
        let bytes = head().signed_bytes();
        assert_eq!(bytes.len(), 71);
        assert_eq!(&bytes[..23], b"robust-ticketing/sth/v1");
        assert_eq!(bytes[23..31], [0, 0, 0, 0, 0, 0, 0, 8]);
        // 1_700_000_000_123 = 0x0000_018B_CFE5_687B
        assert_eq!(bytes[31..39], [0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b]);
        assert_eq!(bytes[39..], head().root_hash);
    }

    #[test]
    fn signature_verifies_with_the_signing_key() {
        let k = key(1);
        let sig = sign_tree_head(&k, &head());
        assert!(verify_tree_head(&k.verifying_key().to_bytes(), &head(), &sig));
    }

    #[test]
    fn signature_fails_when_anything_changes() {
        let k = key(1);
        let public = k.verifying_key().to_bytes();
        let sig = sign_tree_head(&k, &head());

        let mut h = head();
        h.tree_size += 1;
        assert!(!verify_tree_head(&public, &h, &sig));
        let mut h = head();
        h.timestamp_ms += 1;
        assert!(!verify_tree_head(&public, &h, &sig));
        for byte in 0..32 {
            let mut h = head();
            h.root_hash[byte] ^= 0x01;
            assert!(!verify_tree_head(&public, &h, &sig), "root byte {byte}");
        }
        for byte in 0..64 {
            let mut s = sig;
            s[byte] ^= 0x80;
            assert!(!verify_tree_head(&public, &head(), &s), "signature byte {byte}");
        }
        assert!(!verify_tree_head(&key(2).verifying_key().to_bytes(), &head(), &sig));
        // Not a valid curve point / small-order keys must not verify anything.
        assert!(!verify_tree_head(&[0; 32], &head(), &sig));
        assert!(!verify_tree_head(&[0xff; 32], &head(), &sig));
    }

    #[test]
    fn signature_over_other_bytes_is_not_a_tree_head_signature() {
        // A signature over the same fields without the domain prefix must not verify.
        let k = key(1);
        let bare = k.sign(&head().signed_bytes()[STH_DOMAIN.len()..]).to_bytes();
        assert!(!verify_tree_head(&k.verifying_key().to_bytes(), &head(), &bare));
    }
}
