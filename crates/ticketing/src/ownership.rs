//! The public ownership log: every ticket issued, passed on, resold, checked
//! in or revoked (by a refund or a cancellation) becomes
//! an RFC 6962 leaf (see the `ledger` crate for the encodings), appended in
//! the same transaction as the fact itself and sequenced moments later.
//!
//! Holders appear as keyed hashes of their user ids, never as names or
//! e-mail addresses. Each node keeps the Merkle tree of sequenced leaves in
//! memory (32 bytes a leaf), catching up from the database before it answers.

use domain::Timestamp;
use domain::ids::{EventId, TicketId, UserId};
use ledger::{Entry, EntryKind, EventRef, HolderId, HolderKey, TicketRef, Tree, TreeHead};
use store::{LedgerEntryRecord, NewLedgerEntry, StoreError, TreeHeadRecord};
use tokio::sync::{Mutex, OnceCell};

use crate::Ticketing;

/// Entries sequenced per pass: bounds one transaction.
const SEQUENCE_BATCH_MAX: u32 = 5_000;
/// Entries one `entries` request may return (RFC 6962 lets logs cap this).
pub const LEDGER_ENTRIES_PER_REQUEST_MAX: u64 = 1_000;

struct Keys {
    signing: ed25519_dalek::SigningKey,
    holder: HolderKey,
}

/// This node's view of the log.
#[derive(Default)]
pub struct LedgerState {
    keys: OnceCell<Keys>,
    // tokio Mutex: held across the database reads that extend the tree.
    tree: Mutex<Tree>,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerQueryError {
    #[error("{0}")]
    OutOfRange(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug)]
pub struct SignedTreeHead {
    pub tree_size: u64,
    pub timestamp: Timestamp,
    pub root_hash: [u8; 32],
    pub signature: [u8; 64],
    pub public_key: [u8; 32],
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Issue => "issue",
        EntryKind::Transfer => "transfer",
        EntryKind::Resale => "resale",
        EntryKind::CheckIn => "check_in",
        EntryKind::Refund => "refund",
        EntryKind::Revoke => "revoke",
    }
}

fn entry_with(
    keys: &Keys,
    kind: EntryKind,
    ticket: TicketId,
    event: EventId,
    holder: UserId,
    at: Timestamp,
) -> NewLedgerEntry {
    let entry = Entry {
        kind,
        ticket: TicketRef(*ticket.as_bytes()),
        event: EventRef(*event.as_bytes()),
        timestamp_ms: u64::try_from(at.timestamp_millis()).unwrap_or(0),
        holder: HolderId::derive(&keys.holder, holder.as_bytes()),
    };
    NewLedgerEntry { kind: kind_name(kind), ticket, event, leaf_input: entry.encode().to_vec() }
}

fn random_secret() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::fill(&mut b);
    b
}

impl Ticketing {
    async fn ledger_keys(&self) -> Result<&Keys, StoreError> {
        self.ledger
            .keys
            .get_or_try_init(|| async {
                let now = self.now();
                let signing = self.store.ledger_secret("log-signing", random_secret(), now).await?;
                let holder = self.store.ledger_secret("holder-pseudonyms", random_secret(), now).await?;
                Ok(Keys {
                    signing: ed25519_dalek::SigningKey::from_bytes(&signing),
                    holder: HolderKey::from_bytes(holder),
                })
            })
            .await
    }

    /// The log entry recording `kind` for a ticket held by `holder`.
    pub(crate) async fn ledger_entry(
        &self,
        kind: EntryKind,
        ticket: TicketId,
        event: EventId,
        holder: UserId,
        at: Timestamp,
    ) -> Result<NewLedgerEntry, StoreError> {
        Ok(entry_with(self.ledger_keys().await?, kind, ticket, event, holder, at))
    }

    /// What writes the `revoke` entry of each ticket a refund or a
    /// cancellation revokes at `at`: the store calls it inside that
    /// transaction, where it knows who holds each ticket at that moment.
    pub(crate) async fn revoke_entries(
        &self,
        at: Timestamp,
    ) -> Result<impl Fn(TicketId, EventId, UserId) -> NewLedgerEntry + Send + Sync + '_, StoreError> {
        let keys = self.ledger_keys().await?;
        Ok(move |ticket, event, holder| entry_with(keys, EntryKind::Revoke, ticket, event, holder, at))
    }

    /// Brings this node's tree up to the sequenced size; returns the size.
    async fn sync_tree(&self) -> Result<u64, StoreError> {
        let size = self.store.ledger_size().await?;
        let mut tree = self.ledger.tree.lock().await;
        while tree.size() < size {
            let start = tree.size();
            let end = size.min(start + u64::from(SEQUENCE_BATCH_MAX));
            let leaves = self.store.ledger_leaf_inputs(start, end).await?;
            if leaves.len() as u64 != end - start {
                return Err(StoreError::Corrupt(format!("ledger leaves {start}..{end} are not all sequenced")));
            }
            for leaf in leaves {
                tree.append(ledger::leaf_hash(&leaf)).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            }
        }
        Ok(tree.size())
    }

    /// Sequences waiting entries and publishes a signed tree head for the
    /// new size. Runs on every node; the database makes them take turns.
    pub async fn sequence_ledger(&self) -> Result<u64, StoreError> {
        let size = self.store.sequence_ledger(SEQUENCE_BATCH_MAX).await?;
        let latest = self.store.latest_tree_head().await?;
        if latest.as_ref().is_some_and(|h| h.tree_size >= size) {
            return Ok(size);
        }
        self.sync_tree().await?;
        let root = self.ledger.tree.lock().await.root_at(size).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let now = self.now();
        let head = TreeHead {
            tree_size: size,
            timestamp_ms: u64::try_from(now.timestamp_millis()).unwrap_or(0),
            root_hash: root,
        };
        let signature = ledger::sign_tree_head(&self.ledger_keys().await?.signing, &head);
        self.store
            .insert_tree_head(&TreeHeadRecord {
                tree_size: size,
                timestamp: now,
                root_hash: root.to_vec(),
                signature: signature.to_vec(),
            })
            .await?;
        Ok(size)
    }

    /// The newest signed tree head (of the empty log before any sale).
    pub async fn signed_tree_head(&self) -> Result<SignedTreeHead, StoreError> {
        if self.store.latest_tree_head().await?.is_none() {
            self.sequence_ledger().await?;
        }
        let head = self.store.latest_tree_head().await?.ok_or_else(|| StoreError::Corrupt("no tree head".into()))?;
        let keys = self.ledger_keys().await?;
        Ok(SignedTreeHead {
            tree_size: head.tree_size,
            timestamp: head.timestamp,
            root_hash: head.root_hash.try_into().map_err(|_| StoreError::Corrupt("root hash length".into()))?,
            signature: head.signature.try_into().map_err(|_| StoreError::Corrupt("signature length".into()))?,
            public_key: keys.signing.verifying_key().to_bytes(),
        })
    }

    pub async fn ledger_entries(&self, start: u64, end: u64) -> Result<Vec<LedgerEntryRecord>, LedgerQueryError> {
        let size = self.store.ledger_size().await?;
        if start > end || start >= size {
            return Err(LedgerQueryError::OutOfRange(format!("need 0 <= start <= end and start < tree size {size}")));
        }
        let end = end.min(size - 1).min(start + LEDGER_ENTRIES_PER_REQUEST_MAX - 1);
        Ok(self.store.ledger_entries(start, end).await?)
    }

    pub async fn inclusion_proof(&self, leaf_index: u64, tree_size: u64) -> Result<Vec<[u8; 32]>, LedgerQueryError> {
        self.sync_tree().await?;
        let tree = self.ledger.tree.lock().await;
        tree.inclusion_proof(leaf_index, tree_size).map_err(|e| LedgerQueryError::OutOfRange(e.to_string()))
    }

    pub async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<[u8; 32]>, LedgerQueryError> {
        self.sync_tree().await?;
        let tree = self.ledger.tree.lock().await;
        tree.consistency_proof(first, second).map_err(|e| LedgerQueryError::OutOfRange(e.to_string()))
    }

    /// Every log entry of a ticket, oldest first. Public, like the log.
    pub async fn ticket_history(&self, ticket: TicketId) -> Result<Vec<LedgerEntryRecord>, StoreError> {
        self.store.ticket_ledger_entries(ticket).await
    }
}
