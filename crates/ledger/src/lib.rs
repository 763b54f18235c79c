//! The ticketing ledger: an append-only Merkle log in the style of Certificate
//! Transparency (RFC 6962 §2.1, with the verification algorithms of RFC 9162
//! §2.1.3.2 and §2.1.4.2), over canonical encodings of ticketing facts (issue,
//! transfer, resale, check-in, refund, revoke), plus Ed25519-signed tree heads.
//!
//! This crate owns the hashing, the in-memory tree, proof generation, the
//! verifiers an outside auditor runs, the signed tree head encoding and the
//! leaf encoding. It never does I/O, never reads a clock (timestamps are
//! passed in), never touches a database, and never sees personal data: a
//! holder appears only as an HMAC of an internal user id. Nothing here is
//! async. No function panics on any input; bad arguments are [`LedgerError`]s
//! or a `false` from a verifier.
//!
//! # Encodings, precisely (all integers big-endian)
//!
//! **Hashing** (RFC 6962 §2.1), with `SHA-256` as `H`:
//! - leaf hash: `H(0x00 || leaf_input)`;
//! - node hash: `H(0x01 || left || right)`, both children 32 bytes;
//! - `MTH({})` = `H("")` (the empty tree);
//! - `MTH(D[n])` for `n > 1` = node hash of `MTH(D[0:k])` and `MTH(D[k:n])`,
//!   where `k` is the largest power of two strictly smaller than `n`.
//!
//! **Leaf input** ([`Entry::encode`]), version 1, exactly 76 bytes:
//!
//! ```text
//! offset len  field
//! 0      1    version = 0x01
//! 1      1    kind: 0x01 issue, 0x02 transfer, 0x03 resale,
//!                   0x04 check_in, 0x05 refund, 0x06 revoke
//! 2      2    body length in bytes, u16 = 72 for version 1
//! 4      16   ticket id (the ticket UUID's 16 bytes)
//! 20     16   event id (the event UUID's 16 bytes)
//! 36     8    timestamp, u64 milliseconds since the Unix epoch (UTC)
//! 44     32   holder id = HMAC-SHA256(holder key, user UUID's 16 bytes)
//! ```
//!
//! Decoding accepts only exactly this: any other version, kind, body length,
//! or total length (short or long) is refused.
//!
//! **Signed tree head** ([`TreeHead::signed_bytes`]), exactly 71 bytes, signed
//! with Ed25519 (RFC 8032, pure, no pre-hash) and verified strictly:
//!
//! ```text
//! offset len  field
//! 0      23   ASCII "robust-ticketing/sth/v1" (domain separation, no terminator)
//! 23     8    tree size, u64
//! 31     8    timestamp, u64 milliseconds since the Unix epoch (UTC)
//! 39     32   root hash, MTH of the first `tree size` leaves
//! ```
//!
//! **Proofs** are sequences of 32-byte hashes in the order of RFC 6962 §2.1.1
//! (`PATH`) and §2.1.2 (`PROOF`/`SUBPROOF`): from the leaf (or the old tree's
//! subtrees) upwards. The consistency proof from size 0, or between equal
//! sizes, is empty.

mod entry;
mod hash;
mod tree;
mod tree_head;
mod verify;

pub use entry::{
    ENTRY_V1_BODY_LEN, ENTRY_V1_LEN, ENTRY_VERSION, Entry, EntryDecodeError, EntryKind, EventRef, HolderId, HolderKey,
    TicketRef,
};
pub use hash::{EMPTY_ROOT, HASH_LEN, Hash, leaf_hash, node_hash, root_of};
pub use tree::Tree;
pub use tree_head::{STH_DOMAIN, TREE_HEAD_SIGNED_LEN, TreeHead, sign_tree_head, verify_tree_head};
pub use verify::{verify_consistency, verify_inclusion};

/// Largest tree any function here accepts, in leaves. 2^40 is about 10^12
/// ticketing facts, far beyond any plausible log, while keeping every size and
/// index comfortably inside u64 arithmetic and every proof at most 41 hashes.
pub const TREE_SIZE_MAX: u64 = 1 << 40;

/// Longest proof a verifier will look at, in hashes. A tree of u64 size has at
/// most 64 levels, so anything longer is garbage; refusing it before hashing
/// bounds the work a hostile proof can make an auditor do.
pub const PROOF_HASHES_MAX: usize = 64;

/// What can go wrong asking the tree for a root or a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("tree size {requested} is larger than the tree's {available} leaves")]
    TreeSizeOutOfRange { requested: u64, available: u64 },
    #[error("leaf index {leaf_index} is not below tree size {tree_size}")]
    LeafIndexOutOfRange { leaf_index: u64, tree_size: u64 },
    #[error("consistency proof asked from size {first} to the smaller size {second}")]
    SizesInverted { first: u64, second: u64 },
    #[error("the tree already holds the maximum of {TREE_SIZE_MAX} leaves")]
    TreeFull,
}
