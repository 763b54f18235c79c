//! The log itself: an append-only list of leaf hashes, with roots and proofs
//! for any earlier size, computed from the definitions of RFC 6962 §2.1.
//!
//! Everything is recomputed from the leaves on demand (linear in the tree
//! size): simple enough to check against the RFC line by line. Storing
//! interior nodes is a later optimisation that must produce identical bytes.

use crate::hash::{Hash, leaf_hash, root_of, split_point};
use crate::{Entry, LedgerError, TREE_SIZE_MAX};

/// An in-memory Merkle log over leaf hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    leaves: Vec<Hash>,
}

impl Tree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        // A Vec's length fits u64 on every platform Rust supports.
        self.leaves.len() as u64
    }

    /// Appends a leaf hash and returns its index.
    pub fn append(&mut self, leaf_hash: Hash) -> Result<u64, LedgerError> {
        let index = self.size();
        if index >= TREE_SIZE_MAX {
            return Err(LedgerError::TreeFull);
        }
        self.leaves.push(leaf_hash);
        Ok(index)
    }

    /// Appends the leaf hash of an entry's canonical encoding; returns its index.
    pub fn append_entry(&mut self, entry: &Entry) -> Result<u64, LedgerError> {
        self.append(leaf_hash(&entry.encode()))
    }

    /// The leaf hash at `index`, if there is one.
    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        self.leaves.get(usize::try_from(index).ok()?).copied()
    }

    /// The root of the whole tree (`MTH` of every leaf).
    pub fn root(&self) -> Hash {
        root_of(&self.leaves)
    }

    /// The root the tree had when it held `tree_size` leaves, for old tree heads.
    pub fn root_at(&self, tree_size: u64) -> Result<Hash, LedgerError> {
        Ok(root_of(self.prefix(tree_size)?))
    }

    /// `PATH(leaf_index, D[tree_size])` of RFC 6962 §2.1.1: the sibling hashes
    /// from the leaf up to the root of the tree of `tree_size` leaves.
    pub fn inclusion_proof(&self, leaf_index: u64, tree_size: u64) -> Result<Vec<Hash>, LedgerError> {
        let leaves = self.prefix(tree_size)?;
        if leaf_index >= tree_size {
            return Err(LedgerError::LeafIndexOutOfRange { leaf_index, tree_size });
        }
        // leaf_index < tree_size <= leaves.len(), so it fits usize.
        let mut proof = Vec::new();
        path(leaf_index as usize, leaves, &mut proof);
        Ok(proof)
    }

    /// `PROOF(first, D[second])` of RFC 6962 §2.1.2: hashes proving that the
    /// tree of `first` leaves is a prefix of the tree of `second` leaves.
    /// Empty when `first` is 0 or equal to `second`: nothing needs proving.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LedgerError> {
        let leaves = self.prefix(second)?;
        if first > second {
            return Err(LedgerError::SizesInverted { first, second });
        }
        let mut proof = Vec::new();
        if first > 0 && first < second {
            // first < second <= leaves.len(), so it fits usize.
            subproof(first as usize, leaves, true, &mut proof);
        }
        Ok(proof)
    }

    /// The first `tree_size` leaves, or an error if the tree is smaller.
    fn prefix(&self, tree_size: u64) -> Result<&[Hash], LedgerError> {
        usize::try_from(tree_size)
            .ok()
            .and_then(|n| self.leaves.get(..n))
            .ok_or(LedgerError::TreeSizeOutOfRange { requested: tree_size, available: self.size() })
    }
}

/// Appends `PATH(m, D[n])` to `out`, where `D[n]` is `leaves` and `m < n`.
fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    assert!(m < leaves.len(), "leaf index checked by the caller");
    if leaves.len() == 1 {
        return; // PATH(0, {d0}) = {}
    }
    let k = split_point(leaves.len());
    if m < k {
        // PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])
        path(m, &leaves[..k], out);
        out.push(root_of(&leaves[k..]));
    } else {
        // PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])
        path(m - k, &leaves[k..], out);
        out.push(root_of(&leaves[..k]));
    }
}

/// Appends `SUBPROOF(m, D[n], whole)` to `out`, where `D[n]` is `leaves` and
/// `0 < m <= n`. `whole` is the RFC's `b`: whether `D[0:m]` is the old tree
/// itself, whose root the verifier already has.
fn subproof(m: usize, leaves: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    assert!(0 < m && m <= leaves.len(), "sizes checked by the caller");
    if m == leaves.len() {
        // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
        if !whole {
            out.push(root_of(leaves));
        }
        return;
    }
    // m < n, so n >= 2 and the tree splits.
    let k = split_point(leaves.len());
    if m <= k {
        // SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
        subproof(m, &leaves[..k], whole, out);
        out.push(root_of(&leaves[k..]));
    } else {
        // SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
        subproof(m - k, &leaves[k..], false, out);
        out.push(root_of(&leaves[..k]));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::hash::{EMPTY_ROOT, from_hex, hash_from_hex};
    use crate::verify::{verify_consistency, verify_inclusion};

    /// The eight leaf inputs of the RFC 6962 reference test data, as used by
    /// google/certificate-transparency (python/ct/crypto/merkle_test.py) and
    /// transparency-dev/merkle (proof/verify_test.go).
    pub(crate) const CT_LEAVES_HEX: [&str; 8] =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

    /// Published `MTH(D[n])` for n = 1..=8, from the same two files.
    pub(crate) const CT_ROOTS_HEX: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// `(leaf_index, tree_size, PATH)` from transparency-dev/merkle
    /// proof/verify_test.go `inclusionProofs`, whose leaf numbers are 1-based
    /// there and 0-based here.
    pub(crate) const CT_INCLUSION: [(u64, u64, &[&str]); 5] = [
        (0, 1, &[]),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    /// `(first, second, PROOF)` from transparency-dev/merkle proof/verify_test.go
    /// `consistencyProofs` (the first four also in google/certificate-transparency
    /// python/ct/crypto/merkle_test.py `sha256_proofs`).
    pub(crate) const CT_CONSISTENCY: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];

    pub(crate) fn ct_tree() -> Tree {
        let mut tree = Tree::new();
        for leaf in CT_LEAVES_HEX {
            tree.append(leaf_hash(&from_hex(leaf))).unwrap();
        }
        tree
    }

    pub(crate) fn hashes(hex: &[&str]) -> Vec<Hash> {
        hex.iter().map(|h| hash_from_hex(h)).collect()
    }

    #[test]
    fn roots_match_published_vectors_at_every_size() {
        let tree = ct_tree();
        assert_eq!(tree.root_at(0).unwrap(), EMPTY_ROOT);
        assert_eq!(Tree::new().root(), EMPTY_ROOT);
        for (i, want) in CT_ROOTS_HEX.iter().enumerate() {
            let size = i as u64 + 1;
            assert_eq!(tree.root_at(size).unwrap(), hash_from_hex(want), "tree size {size}");
        }
        assert_eq!(tree.root(), hash_from_hex(CT_ROOTS_HEX[7]));
    }

    #[test]
    fn leaf_hashes_match_published_vectors() {
        // leaf(0x00) appears as the first sibling of the (0, 8) path, leaf(@ABC)
        // as the first sibling of (5, 8): both from transparency-dev/merkle.
        let tree = ct_tree();
        assert_eq!(
            tree.leaf_hash(1).unwrap(),
            hash_from_hex("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")
        );
        assert_eq!(
            tree.leaf_hash(4).unwrap(),
            hash_from_hex("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")
        );
        assert_eq!(tree.leaf_hash(8), None);
        assert_eq!(tree.leaf_hash(u64::MAX), None);
    }

    #[test]
    fn inclusion_proofs_match_published_vectors() {
        let tree = ct_tree();
        for (index, size, want) in CT_INCLUSION {
            let proof = tree.inclusion_proof(index, size).unwrap();
            assert_eq!(proof, hashes(want), "PATH({index}, D[{size}])");
            let root = hash_from_hex(CT_ROOTS_HEX[size as usize - 1]);
            assert!(verify_inclusion(&tree.leaf_hash(index).unwrap(), index, size, &proof, &root));
        }
    }

    #[test]
    fn consistency_proofs_match_published_vectors() {
        let tree = ct_tree();
        for (first, second, want) in CT_CONSISTENCY {
            let proof = tree.consistency_proof(first, second).unwrap();
            assert_eq!(proof, hashes(want), "PROOF({first}, D[{second}])");
            let first_root = hash_from_hex(CT_ROOTS_HEX[first as usize - 1]);
            let second_root = hash_from_hex(CT_ROOTS_HEX[second as usize - 1]);
            assert!(verify_consistency(first, second, &first_root, &second_root, &proof));
        }
    }

    #[test]
    fn out_of_range_arguments_are_errors() {
        let tree = ct_tree();
        let too_big = LedgerError::TreeSizeOutOfRange { requested: 9, available: 8 };
        assert_eq!(tree.root_at(9), Err(too_big));
        assert_eq!(tree.inclusion_proof(0, 9), Err(too_big));
        assert_eq!(tree.consistency_proof(1, 9), Err(too_big));
        assert!(matches!(tree.root_at(u64::MAX), Err(LedgerError::TreeSizeOutOfRange { .. })));
        assert_eq!(tree.inclusion_proof(8, 8), Err(LedgerError::LeafIndexOutOfRange { leaf_index: 8, tree_size: 8 }));
        assert_eq!(tree.inclusion_proof(0, 0), Err(LedgerError::LeafIndexOutOfRange { leaf_index: 0, tree_size: 0 }));
        assert_eq!(
            tree.inclusion_proof(u64::MAX, 8),
            Err(LedgerError::LeafIndexOutOfRange { leaf_index: u64::MAX, tree_size: 8 })
        );
        assert_eq!(tree.consistency_proof(5, 4), Err(LedgerError::SizesInverted { first: 5, second: 4 }));
        assert_eq!(
            tree.consistency_proof(u64::MAX, u64::MAX),
            Err(LedgerError::TreeSizeOutOfRange { requested: u64::MAX, available: 8 })
        );
        assert_eq!(
            Tree::new().inclusion_proof(0, 0),
            Err(LedgerError::LeafIndexOutOfRange { leaf_index: 0, tree_size: 0 })
        );
    }

    #[test]
    fn trivial_consistency_proofs_are_empty() {
        let tree = ct_tree();
        for size in 0..=8 {
            assert_eq!(tree.consistency_proof(0, size).unwrap(), Vec::<Hash>::new());
            assert_eq!(tree.consistency_proof(size, size).unwrap(), Vec::<Hash>::new());
        }
    }

    #[test]
    fn append_returns_consecutive_indexes() {
        let mut tree = Tree::new();
        for i in 0..5u8 {
            assert_eq!(tree.append(leaf_hash(&[i])), Ok(u64::from(i)));
        }
        assert_eq!(tree.size(), 5);
    }
}
