//! Proof verification for auditors, written as the iterative algorithms of
//! RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency): they need only
//! the proof, the sizes and the roots, never the leaves.
//!
//! Both return a plain `bool`: an auditor needs only to know whether to trust
//! the log, and distinguishing failure reasons would invite partial trust.

use crate::hash::{EMPTY_ROOT, Hash, node_hash};
use crate::{PROOF_HASHES_MAX, TREE_SIZE_MAX};

/// Whether `proof` shows that `leaf_hash` is leaf number `leaf_index` of the
/// tree of `tree_size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf_hash: &Hash, leaf_index: u64, tree_size: u64, proof: &[Hash], root: &Hash) -> bool {
    // Step 1, plus our limits: refuse before doing any hashing.
    if leaf_index >= tree_size || tree_size > TREE_SIZE_MAX || proof.len() > PROOF_HASHES_MAX {
        return false;
    }
    // Steps 2 and 3. `f_n` walks up from the leaf, `s_n` from the last leaf;
    // they meet at the root. tree_size >= 1 here, so no underflow.
    let mut f_n = leaf_index;
    let mut s_n = tree_size - 1;
    let mut r = *leaf_hash;
    // Step 4.
    for p in proof {
        if s_n == 0 {
            return false; // the proof is longer than the path to the root
        }
        if f_n & 1 == 1 || f_n == s_n {
            // Our node is a right child, or the last node on its level and
            // so has no right sibling: the proof hash goes on the left.
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                // Skip the levels where our node was promoted unpaired.
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 5: the proof must have reached the root exactly.
    s_n == 0 && r == *root
}

/// Whether `proof` shows that the tree of `first` leaves with root
/// `first_root` is a prefix of the tree of `second` leaves with root
/// `second_root` (RFC 9162 §2.1.4.2).
///
/// Before the RFC's algorithm, which assumes `0 < first < second`: equal
/// sizes are consistent exactly when the roots are equal and the proof is
/// empty; from size 0 the proof must be empty and `first_root` must be the
/// empty tree's root (every tree extends the empty tree).
pub fn verify_consistency(first: u64, second: u64, first_root: &Hash, second_root: &Hash, proof: &[Hash]) -> bool {
    if first > second || second > TREE_SIZE_MAX || proof.len() > PROOF_HASHES_MAX {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        return proof.is_empty() && *first_root == EMPTY_ROOT;
    }
    // Step 1.
    let Some((head, tail)) = proof.split_first() else {
        return false;
    };
    // Step 2: when the old tree is a perfect subtree of the new one, the
    // proof leaves out its root, which the verifier already holds.
    let (seed, rest) = if first.is_power_of_two() { (first_root, proof) } else { (head, tail) };
    // Step 3. 0 < first < second, so no underflow.
    let mut f_n = first - 1;
    let mut s_n = second - 1;
    // Step 4.
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 5.
    let mut f_r = *seed;
    let mut s_r = *seed;
    // Step 6.
    for c in rest {
        if s_n == 0 {
            return false; // the proof is longer than the path to the root
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 7.
    f_r == *first_root && s_r == *second_root && s_n == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tree;
    use crate::hash::{from_hex, hash_from_hex, leaf_hash};
    use crate::tree::tests::{CT_CONSISTENCY, CT_INCLUSION, CT_LEAVES_HEX, CT_ROOTS_HEX, hashes};
    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    /// A real Certificate Transparency log inclusion proof: leaf 848049 of a
    /// tree of 3630887, 22 hashes. From google/certificate-transparency
    /// python/ct/crypto/merkle_test.py (`sha256_audit_path`, `leaf_hash`,
    /// `expected_root_hash`).
    const CT_LOG_AUDIT_PATH: [&str; 22] = [
        "1a208aeebcd1b39fe2de247ee8db9454e1e93a312d206b87f6ca9cc6ec6f1ddd",
        "0a1b78b383f580856f433c01a5741e160d451c185910027f6cc9f828687a40c4",
        "3d1745789bc63f2da15850de1c12a5bf46ed81e1cc90f086148b1662e79aab3d",
        "9095b61e14d8990acf390905621e62b1714fb8e399fbb71de5510e0aef45affe",
        "0a332b91b8fab564e6afd1dd452449e04619b18accc0ff9aa8393cd4928451f2",
        "2336f0181d264aed6d8f3a6507ca14a8d3b3c3a23791ac263e845d208c1ee330",
        "b4ce56e300590500360c146c6452edbede25d4ed83919278749ee5dbe178e048",
        "933f6ddc848ea562e4f9c5cfb5f176941301dad0c6fdb9d1fbbe34fac1be6966",
        "b95a6222958a86f74c030be27c44f57dbe313e5e7c7f4ffb98bcbd3a03bb52f2",
        "daeeb3ce5923defd0faeb8e0c210b753b85b809445d7d3d3cd537a9aabaa9c45",
        "7fadd0a13e9138a2aa6c3fdec4e2275af233b94812784f66bcca9aa8e989f2bc",
        "1864e6ba3e32878610546539734fb5eeae2529991f130c575c73a7e25a2a7c56",
        "12842d1202b1dc6828a17ab253c02e7ce9409b5192430feba44189f39cc02d66",
        "29af64b16fa3053c13d02ac63aa75b23aa468506e44c3a2315edc85d2dc22b11",
        "b527b99934a0bd9edd154e449b0502e2c499bba783f3bc3dfe23364b6b532009",
        "4584db8ae8e351ace08e01f306378a92bfd43611714814f3d834a2842d69faa8",
        "86a9a41573b0d6e4292f01e93243d6cc65b30f06606fc6fa57390e7e90ed580f",
        "a88b98fbe84d4c6aae8db9d1605dfac059d9f03fe0fcb0d5dff1295dacba09e6",
        "06326dc617a6d1f7021dc536026dbfd5fffc6f7c5531d48ef6ccd1ed1569f2a1",
        "f41fe8fdc3a2e4e8345e30216e7ebecffee26ff266eeced208a6c2a3cf08f960",
        "40cf5bde8abb76983f3e98ba97aa36240402975674e120f234b3448911090f8d",
        "b3222dc8658538079883d980d7fdc2bef9285344ea34338968f736b04aeb387a",
    ];

    #[test]
    fn verifies_a_real_ct_log_inclusion_proof() {
        let leaf = hash_from_hex("7a395c866d5ecdb0cccb623e011dbc392cd348d1d1d72776174e127a24b09c78");
        let root = hash_from_hex("78316a05c9bcf14a3a4548f5b854a9adfcd46a4c034401b3ce7eb7ac2f1d0ecb");
        let path = hashes(&CT_LOG_AUDIT_PATH);
        assert!(verify_inclusion(&leaf, 848049, 3630887, &path, &root));
        assert!(!verify_inclusion(&leaf, 848048, 3630887, &path, &root));
        assert!(!verify_inclusion(&leaf, 848049, 3630887, &path[..21], &root));
        assert!(!verify_inclusion(&leaf, 848049, 3630887, &path, &[0; 32]));
    }

    /// Every corruption transparency-dev/merkle's `corruptInclusionProof` tries
    /// that our fixed-size hashes can express, on each published vector.
    #[test]
    fn published_inclusion_proofs_fail_when_corrupted() {
        let some_hash = hash_from_hex("abacaba000000000000000000000000000000000000000000060061e00123456");
        for (index, size, proof) in CT_INCLUSION {
            let proof = hashes(proof);
            let leaf = leaf_hash(&from_hex(CT_LEAVES_HEX[index as usize]));
            let root = hash_from_hex(CT_ROOTS_HEX[size as usize - 1]);
            assert!(verify_inclusion(&leaf, index, size, &proof, &root));
            let bad = |i: u64, n: u64, l: &Hash, p: &[Hash], r: &Hash| {
                assert!(!verify_inclusion(l, i, n, p, r), "({index}, {size}) accepted a corruption")
            };
            bad(index.wrapping_sub(1), size, &leaf, &proof, &root);
            bad(index + 1, size, &leaf, &proof, &root);
            bad(index ^ 2, size, &leaf, &proof, &root);
            bad(index, size * 2, &leaf, &proof, &root);
            bad(index, size / 2, &leaf, &proof, &root);
            bad(index, size, &leaf_hash(b"WrongLeaf"), &proof, &root);
            bad(index, size, &leaf, &proof, &EMPTY_ROOT);
            bad(index, size, &leaf, &proof, &some_hash);
            bad(index, size, &leaf, &[proof.clone(), vec![root]].concat(), &root);
            bad(index, size, &leaf, &[vec![root], proof.clone()].concat(), &root);
            for i in 0..proof.len() {
                let mut p = proof.clone();
                p[i][0] ^= 8;
                bad(index, size, &leaf, &p, &root);
            }
            if let Some((_, shorter)) = proof.split_last() {
                bad(index, size, &leaf, shorter, &root);
            }
            if proof.len() > 1 {
                let inserted = [&[proof[0], some_hash], &proof[1..]].concat();
                bad(index, size, &leaf, &inserted, &root);
            }
        }
    }

    /// transparency-dev/merkle's `corruptConsistencyProof`, as far as it applies.
    #[test]
    fn published_consistency_proofs_fail_when_corrupted() {
        for (first, second, proof) in CT_CONSISTENCY {
            let proof = hashes(proof);
            let r1 = hash_from_hex(CT_ROOTS_HEX[first as usize - 1]);
            let r2 = hash_from_hex(CT_ROOTS_HEX[second as usize - 1]);
            assert!(verify_consistency(first, second, &r1, &r2, &proof));
            if proof.is_empty() {
                continue; // first == second: only the roots matter, tested below
            }
            let bad = |f: u64, s: u64, a: &Hash, b: &Hash, p: &[Hash]| {
                assert!(!verify_consistency(f, s, a, b, p), "({first}, {second}) accepted a corruption")
            };
            let wrong = hash_from_hex(CT_ROOTS_HEX[0]).map(|b| !b);
            bad(first - 1, second, &r1, &r2, &proof);
            bad(first + 1, second, &r1, &r2, &proof);
            bad(first ^ 2, second, &r1, &r2, &proof);
            bad(first, second * 2, &r1, &r2, &proof);
            bad(first, second / 2, &r1, &r2, &proof);
            bad(first, second, &wrong, &r2, &proof);
            bad(first, second, &r1, &wrong, &proof);
            bad(first, second, &r2, &r1, &proof);
            bad(first, second, &r1, &r2, &[]);
            for extra in [r1, r2] {
                bad(first, second, &r1, &r2, &[proof.clone(), vec![extra]].concat());
                bad(first, second, &r1, &r2, &[vec![extra], proof.clone()].concat());
            }
            bad(first, second, &r1, &r2, &[vec![proof[0]], proof.clone()].concat());
            bad(first, second, &r1, &r2, &proof[..proof.len() - 1]);
            for i in 0..proof.len() {
                let mut p = proof.clone();
                p[i][0] ^= 16;
                bad(first, second, &r1, &r2, &p);
            }
        }
    }

    /// transparency-dev/merkle `TestVerifyConsistency`'s edge cases, adapted:
    /// we also insist that a size-0 tree has the empty root.
    #[test]
    fn consistency_edge_cases() {
        let (a, b) = ([1; 32], [2; 32]);
        assert!(!verify_consistency(0, 0, &a, &b, &[]));
        assert!(!verify_consistency(1, 1, &a, &b, &[]));
        assert!(verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]));
        assert!(verify_consistency(0, 1, &EMPTY_ROOT, &b, &[]));
        assert!(!verify_consistency(0, 1, &a, &b, &[]));
        assert!(verify_consistency(1, 1, &b, &b, &[]));
        assert!(!verify_consistency(1, 0, &a, &b, &[]));
        assert!(!verify_consistency(2, 1, &a, &b, &[]));
        assert!(!verify_consistency(1, 2, &a, &b, &[]));
        assert!(!verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[EMPTY_ROOT]));
        assert!(!verify_consistency(0, 1, &EMPTY_ROOT, &EMPTY_ROOT, &[EMPTY_ROOT]));
        assert!(!verify_consistency(1, 1, &EMPTY_ROOT, &EMPTY_ROOT, &[EMPTY_ROOT]));
    }

    #[test]
    fn inclusion_edge_cases() {
        let h = leaf_hash(b"data");
        // A one-leaf tree's root is its leaf hash, with an empty proof.
        assert!(verify_inclusion(&h, 0, 1, &[], &h));
        assert!(!verify_inclusion(&h, 0, 1, &[], &EMPTY_ROOT));
        for (index, size) in [(0, 0), (1, 0), (2, 1), (u64::MAX, u64::MAX)] {
            assert!(!verify_inclusion(&h, index, size, &[], &h));
        }
    }

    #[test]
    fn oversized_inputs_are_refused_without_panicking() {
        let h = [7; 32];
        let long = vec![h; PROOF_HASHES_MAX + 1];
        assert!(!verify_inclusion(&h, 0, TREE_SIZE_MAX, &long, &h));
        assert!(!verify_inclusion(&h, 0, TREE_SIZE_MAX + 1, &[], &h));
        assert!(!verify_inclusion(&h, u64::MAX - 1, u64::MAX, &vec![h; PROOF_HASHES_MAX], &h));
        assert!(!verify_consistency(1, TREE_SIZE_MAX + 1, &h, &h, &[h]));
        assert!(!verify_consistency(1, 2, &h, &h, &long));
        assert!(!verify_consistency(u64::MAX - 1, u64::MAX, &h, &h, &[h]));
        assert!(!verify_consistency(TREE_SIZE_MAX - 1, TREE_SIZE_MAX, &h, &h, &vec![h; PROOF_HASHES_MAX]));
    }

    /// ceil(log2(n)) for n >= 1: the height of a tree of n leaves.
    fn height(n: u64) -> usize {
        if n <= 1 { 0 } else { (u64::BITS - (n - 1).leading_zeros()) as usize }
    }

    fn tree_of(n: u64) -> Tree {
        let mut tree = Tree::new();
        for i in 0..n {
            tree.append(leaf_hash(&i.to_be_bytes())).unwrap();
        }
        tree
    }

    /// Exhaustive over small trees: every leaf, every pair of sizes.
    #[test]
    fn every_small_proof_verifies_and_is_short() {
        let tree = tree_of(33);
        for n in 1..=tree.size() {
            let root = tree.root_at(n).unwrap();
            for i in 0..n {
                let proof = tree.inclusion_proof(i, n).unwrap();
                assert!(proof.len() <= height(n), "PATH({i}, D[{n}]) has {} hashes", proof.len());
                assert!(verify_inclusion(&tree.leaf_hash(i).unwrap(), i, n, &proof, &root), "PATH({i}, D[{n}])");
            }
            for m in 0..=n {
                let proof = tree.consistency_proof(m, n).unwrap();
                assert!(proof.len() <= height(n) + 1, "PROOF({m}, D[{n}]) has {} hashes", proof.len());
                assert!(verify_consistency(m, n, &tree.root_at(m).unwrap(), &root, &proof), "PROOF({m}, D[{n}])");
            }
        }
    }

    fn config() -> ProptestConfig {
        // A fixed seed keeps CI deterministic; the exhaustive test above covers
        // every small tree, this explores larger ones.
        ProptestConfig {
            cases: 128,
            rng_seed: RngSeed::Fixed(6962),
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// A tree size and a leaf index below it.
    fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
        (1u64..=600).prop_flat_map(|n| (Just(n), 0..n))
    }

    /// A tree size and an older size at most it.
    fn sizes() -> impl Strategy<Value = (u64, u64)> {
        (1u64..=600).prop_flat_map(|n| (0..=n, Just(n)))
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn inclusion_proofs_verify_and_detect_tampering((n, i) in size_and_index(), other in any::<u64>(), bit in 0usize..256) {
            let tree = tree_of(n);
            let root = tree.root();
            let leaf = tree.leaf_hash(i).unwrap();
            let proof = tree.inclusion_proof(i, n).unwrap();
            prop_assert!(proof.len() <= height(n));
            prop_assert!(verify_inclusion(&leaf, i, n, &proof, &root));

            let flip = |mut h: Hash| { h[bit / 8] ^= 1 << (bit % 8); h };
            prop_assert!(!verify_inclusion(&flip(leaf), i, n, &proof, &root));
            prop_assert!(!verify_inclusion(&leaf, i, n, &proof, &flip(root)));
            let wrong_index = if n > 1 { (i + 1 + other % (n - 1)) % n } else { 1 };
            prop_assert_ne!(wrong_index, i);
            prop_assert!(!verify_inclusion(&leaf, wrong_index, n, &proof, &root));
            prop_assert!(!verify_inclusion(&leaf, i + n, n, &proof, &root));
            if !proof.is_empty() {
                let mut tampered = proof.clone();
                let at = (other % proof.len() as u64) as usize;
                tampered[at] = flip(tampered[at]);
                prop_assert!(!verify_inclusion(&leaf, i, n, &tampered, &root));
                prop_assert!(!verify_inclusion(&leaf, i, n, &proof[1..], &root));
            }
            let mut longer = proof.clone();
            longer.push(root);
            prop_assert!(!verify_inclusion(&leaf, i, n, &longer, &root));
        }

        #[test]
        fn consistency_proofs_verify_and_detect_tampering((m, n) in sizes(), other in any::<u64>(), bit in 0usize..256) {
            let tree = tree_of(n);
            let (old_root, new_root) = (tree.root_at(m).unwrap(), tree.root());
            let proof = tree.consistency_proof(m, n).unwrap();
            prop_assert!(proof.len() <= height(n) + 1);
            prop_assert!(verify_consistency(m, n, &old_root, &new_root, &proof));

            let flip = |mut h: Hash| { h[bit / 8] ^= 1 << (bit % 8); h };
            prop_assert!(!verify_consistency(m, n, &flip(old_root), &new_root, &proof));
            if m > 0 {
                // From the empty tree nothing constrains the new root.
                prop_assert!(!verify_consistency(m, n, &old_root, &flip(new_root), &proof));
            }
            if !proof.is_empty() {
                let mut tampered = proof.clone();
                let at = (other % proof.len() as u64) as usize;
                tampered[at] = flip(tampered[at]);
                prop_assert!(!verify_consistency(m, n, &old_root, &new_root, &tampered));
                prop_assert!(!verify_consistency(m, n, &old_root, &new_root, &proof[1..]));
            }
            // The tree of n + 1 leaves is not the tree of n leaves.
            let mut bigger = tree.clone();
            bigger.append(leaf_hash(b"one more")).unwrap();
            if m > 0 {
                prop_assert!(!verify_consistency(m, n + 1, &old_root, &bigger.root(), &proof));
            }
        }
    }
}
