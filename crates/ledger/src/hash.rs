//! RFC 6962 §2.1 hashing: domain-separated leaf and node hashes and the
//! Merkle Tree Hash over a list of leaf hashes.

use sha2::{Digest, Sha256};

/// Bytes in a SHA-256 digest, and so in every hash of the log.
pub const HASH_LEN: usize = 32;

/// A SHA-256 value: a leaf hash, a node hash, a root. A plain array rather
/// than a newtype because proofs travel as raw hashes to auditors who
/// reimplement this in other languages; the function names say which is which.
pub type Hash = [u8; HASH_LEN];

/// Prefix of a leaf hash's preimage. Together with [`NODE_PREFIX`] it makes a
/// leaf impossible to pass off as an interior node (the second-preimage
/// attack that plain Merkle trees allow).
const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// `MTH({})`: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41,
    0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// `SHA-256(0x00 || leaf_input)`.
pub fn leaf_hash(leaf_input: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(leaf_input);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The Merkle Tree Hash of a list of leaf hashes (RFC 6962 §2.1), computed
/// directly from the definition. Linear in the number of leaves; recursion
/// depth is at most 64 because each level at least halves the list.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => EMPTY_ROOT,
        [only] => *only,
        _ => {
            let k = split_point(leaves.len());
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly smaller than `n`: where RFC 6962 splits a
/// tree of `n > 1` leaves into a perfect left subtree and the rest.
pub(crate) fn split_point(n: usize) -> usize {
    assert!(n > 1, "only trees of two or more leaves are split");
    // (n - 1) >= 1, so its highest set bit is the largest power of two <= n - 1.
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

#[cfg(test)]
pub(crate) fn from_hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit")).collect()
}

#[cfg(test)]
pub(crate) fn hash_from_hex(s: &str) -> Hash {
    from_hex(s).try_into().expect("32-byte hex")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        // `echo -n | sha256sum`; also transparency-dev/merkle rfc6962_test.go.
        assert_eq!(EMPTY_ROOT, hash_from_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
        assert_eq!(root_of(&[]), EMPTY_ROOT);
    }

    #[test]
    fn leaf_and_node_hashes_match_published_vectors() {
        // transparency-dev/merkle rfc6962/rfc6962_test.go
        assert_eq!(leaf_hash(b""), hash_from_hex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"));
        assert_eq!(
            leaf_hash(b"L123456"),
            hash_from_hex("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
        );
        // google/certificate-transparency python/ct/crypto/merkle_test.py
        assert_eq!(
            leaf_hash(&from_hex("101112131415161718191a1b1c1d1e1f")),
            hash_from_hex("3bfb960453ebaebf33727da7a1f4db38acc051d381b6da20d6d4e88f0eabfd7a")
        );
        assert_eq!(
            node_hash(
                &hash_from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
                &hash_from_hex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"),
            ),
            hash_from_hex("1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57")
        );
    }

    #[test]
    fn leaves_and_nodes_are_domain_separated() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut concatenated = Vec::from(a);
        concatenated.extend_from_slice(&b);
        assert_ne!(node_hash(&a, &b), leaf_hash(&concatenated));
        assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (7, 4), (8, 4), (9, 8), (1025, 1024)] {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }
}
