-- The public ownership log (RFC 6962). Entries are written in the same
-- transaction as the fact they record (a ticket issued, a check-in); a
-- sequencer later gives them their leaf index, in one place at a time, so
-- that busy sales never queue on the log.
CREATE TABLE ledger_entries (
    id         TEXT PRIMARY KEY,
    leaf_input BLOB NOT NULL,
    kind       TEXT NOT NULL,
    ticket_id  TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    leaf_index INTEGER UNIQUE
);
CREATE INDEX ledger_entries_pending ON ledger_entries(created_at, id) WHERE leaf_index IS NULL;
CREATE INDEX ledger_entries_ticket ON ledger_entries(ticket_id);

-- One row: how many entries are sequenced. Sequencers lock it.
CREATE TABLE ledger_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    tree_size INTEGER NOT NULL
);
INSERT INTO ledger_state (id, tree_size) VALUES (1, 0);

CREATE TABLE ledger_tree_heads (
    tree_size INTEGER PRIMARY KEY,
    timestamp INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    signature BLOB NOT NULL
);

-- The log's signing key and the key of its pseudonymous holder ids.
CREATE TABLE ledger_keys (
    name       TEXT PRIMARY KEY,
    secret     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
