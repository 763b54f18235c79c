-- Ticket transfers, and each event's transfer policy.
ALTER TABLE events ADD COLUMN transferable INTEGER NOT NULL DEFAULT 1;
-- Transfers close this many hours before the event starts.
ALTER TABLE events ADD COLUMN transfer_cutoff_hours INTEGER NOT NULL DEFAULT 0;
-- How many times one ticket may change hands by transfer.
ALTER TABLE events ADD COLUMN transfers_per_ticket_max INTEGER NOT NULL DEFAULT 3;

CREATE TABLE transfers (
    id          TEXT PRIMARY KEY,
    ticket_id   TEXT NOT NULL REFERENCES tickets(id),
    from_user   TEXT NOT NULL REFERENCES users(id),
    to_email    TEXT NOT NULL,
    to_user     TEXT REFERENCES users(id),
    status      TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'cancelled')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER
);
CREATE INDEX transfers_ticket ON transfers(ticket_id, created_at);
CREATE INDEX transfers_recipient ON transfers(to_email, status);
CREATE UNIQUE INDEX transfers_one_pending ON transfers(ticket_id) WHERE status = 'pending';
