//! Storage of the public ownership log: entries, their sequencing, signed
//! tree heads, and the log's keys.

use domain::Timestamp;
use domain::ids::{EventId, TicketId};

use crate::{Result, Store, StoreError, id, ms, ts};

/// An entry to append, written in the transaction of the fact it records.
#[derive(Clone, Debug)]
pub struct NewLedgerEntry {
    /// issue, transfer, resale, check_in, refund or revoke.
    pub kind: &'static str,
    pub ticket: TicketId,
    pub event: EventId,
    /// The RFC 6962 leaf input: the canonical encoding of the entry.
    pub leaf_input: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct LedgerEntryRecord {
    pub leaf_index: Option<u64>,
    pub leaf_input: Vec<u8>,
    pub kind: String,
    pub ticket: TicketId,
    pub event: EventId,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeHeadRecord {
    pub tree_size: u64,
    pub timestamp: Timestamp,
    pub root_hash: Vec<u8>,
    pub signature: Vec<u8>,
}

pub(crate) async fn insert_ledger_entry(tx: &mut crate::WriteTx, e: &NewLedgerEntry, now: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO ledger_entries (id, leaf_input, kind, ticket_id, event_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&e.leaf_input)
    .bind(e.kind)
    .bind(e.ticket.to_string())
    .bind(e.event.to_string())
    .bind(ms(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn index(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative ledger index {v}")))
}

type EntryRow = (Option<i64>, Vec<u8>, String, String, String, i64);

fn entry(r: EntryRow) -> Result<LedgerEntryRecord> {
    Ok(LedgerEntryRecord {
        leaf_index: r.0.map(index).transpose()?,
        leaf_input: r.1,
        kind: r.2,
        ticket: id(&r.3)?,
        event: id(&r.4)?,
        created_at: ts(r.5)?,
    })
}

impl Store {
    /// The 32-byte secret called `name`, created from `fresh` on first use.
    /// Every node of a deployment ends up with the same secret.
    pub async fn ledger_secret(&self, name: &str, fresh: [u8; 32], now: Timestamp) -> Result<[u8; 32]> {
        self.write_one(
            sqlx::query(
                "INSERT INTO ledger_keys (name, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(fresh.to_vec())
            .bind(ms(now)),
        )
        .await?;
        let (secret,): (Vec<u8>,) = sqlx::query_as("SELECT secret FROM ledger_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *self.read().await?)
            .await?;
        secret.try_into().map_err(|_| StoreError::Corrupt(format!("ledger key {name} is not 32 bytes")))
    }

    /// Gives up to `limit` waiting entries the next leaf indices, in order of
    /// arrival; returns the log's size afterwards. The state row's lock makes
    /// concurrent sequencers on several nodes take turns.
    pub async fn sequence_ledger(&self, limit: u32) -> Result<u64> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE ledger_state SET tree_size = tree_size WHERE id = 1").execute(&mut *tx).await?;
        let (size,): (i64,) =
            sqlx::query_as("SELECT tree_size FROM ledger_state WHERE id = 1").fetch_one(&mut *tx).await?;
        // One statement numbers them all: a statement per entry held the
        // write connection (SQLite's one writer) for as long as a checkout's
        // whole order did.
        let numbered = sqlx::query(
            "UPDATE ledger_entries SET leaf_index = $1 + w.n - 1 \
             FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM ledger_entries \
                   WHERE leaf_index IS NULL ORDER BY created_at, id LIMIT $2) AS w \
             WHERE ledger_entries.id = w.id",
        )
        .bind(size)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let next = size + i64::try_from(numbered).map_err(|_| StoreError::Corrupt("ledger entry count".into()))?;
        if next != size {
            sqlx::query("UPDATE ledger_state SET tree_size = $1 WHERE id = 1").bind(next).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        index(next)
    }

    pub async fn ledger_size(&self) -> Result<u64> {
        let (size,): (i64,) = sqlx::query_as("SELECT tree_size FROM ledger_state WHERE id = 1")
            .fetch_one(&mut *self.read().await?)
            .await?;
        index(size)
    }

    /// Leaf inputs of the sequenced entries `start..end`, in index order.
    pub async fn ledger_leaf_inputs(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
            "SELECT leaf_input FROM ledger_entries WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index",
        )
        .bind(start as i64)
        .bind(end as i64)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(rows.into_iter().map(|(l,)| l).collect())
    }

    /// Sequenced entries with indices `start..=end`.
    pub async fn ledger_entries(&self, start: u64, end: u64) -> Result<Vec<LedgerEntryRecord>> {
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT leaf_index, leaf_input, kind, ticket_id, event_id, created_at FROM ledger_entries \
             WHERE leaf_index >= $1 AND leaf_index <= $2 ORDER BY leaf_index",
        )
        .bind(start as i64)
        .bind(end as i64)
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(entry).collect()
    }

    /// A ticket's entries, sequenced or still waiting, oldest first.
    pub async fn ticket_ledger_entries(&self, ticket: TicketId) -> Result<Vec<LedgerEntryRecord>> {
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT leaf_index, leaf_input, kind, ticket_id, event_id, created_at FROM ledger_entries \
             WHERE ticket_id = $1 ORDER BY created_at, id",
        )
        .bind(ticket.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.into_iter().map(entry).collect()
    }

    pub async fn insert_tree_head(&self, head: &TreeHeadRecord) -> Result<()> {
        self.write_one(
            sqlx::query(
                "INSERT INTO ledger_tree_heads (tree_size, timestamp, root_hash, signature) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tree_size) DO NOTHING",
            )
            .bind(head.tree_size as i64)
            .bind(ms(head.timestamp))
            .bind(&head.root_hash)
            .bind(&head.signature),
        )
        .await?;
        Ok(())
    }

    pub async fn latest_tree_head(&self) -> Result<Option<TreeHeadRecord>> {
        let row: Option<(i64, i64, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT tree_size, timestamp, root_hash, signature FROM ledger_tree_heads ORDER BY tree_size DESC LIMIT 1",
        )
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(|(size, at, root, sig)| {
            Ok(TreeHeadRecord { tree_size: index(size)?, timestamp: ts(at)?, root_hash: root, signature: sig })
        })
        .transpose()
    }
}
