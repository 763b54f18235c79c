-- Every move of a published event's dates (a postponement, or an earlier
-- start): what it was, what it became, who moved it and what they told the
-- ticket holders. The job that tells them reads its row.
CREATE TABLE event_reschedules (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events(id),
    old_starts_at   INTEGER NOT NULL,
    old_ends_at     INTEGER NOT NULL,
    new_starts_at   INTEGER NOT NULL,
    new_ends_at     INTEGER NOT NULL,
    note            TEXT NOT NULL,
    moved_by        TEXT NOT NULL REFERENCES users(id),
    created_at      INTEGER NOT NULL
);
CREATE INDEX event_reschedules_event ON event_reschedules (event_id, created_at);
