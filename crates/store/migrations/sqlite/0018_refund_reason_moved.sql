-- A refund's reason may also be event_moved: the buyer took the refund the
-- organizer offered when the event moved. SQLite changes a CHECK only by
-- rebuilding the table, and its child refund_tickets with it: renaming a
-- parent rewrites the children's references to the old name.
ALTER TABLE refund_tickets RENAME TO refund_tickets_before_0018;
ALTER TABLE refunds RENAME TO refunds_before_0018;
CREATE TABLE refunds (
    id              TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL REFERENCES orders(id),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    reason          TEXT NOT NULL CHECK (reason IN ('organizer', 'event_cancelled', 'event_moved')),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'refunded', 'failed')),
    idempotency_key TEXT NOT NULL UNIQUE,
    requested_by    TEXT REFERENCES users(id),
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    refunded_at     INTEGER
);
INSERT INTO refunds (id, order_id, amount, currency, reason, status, idempotency_key, requested_by, last_error,
                     created_at, refunded_at)
    SELECT id, order_id, amount, currency, reason, status, idempotency_key, requested_by, last_error,
           created_at, refunded_at
    FROM refunds_before_0018;
CREATE TABLE refund_tickets (
    refund_id TEXT NOT NULL REFERENCES refunds(id),
    ticket_id TEXT NOT NULL REFERENCES tickets(id),
    PRIMARY KEY (refund_id, ticket_id)
);
INSERT INTO refund_tickets (refund_id, ticket_id) SELECT refund_id, ticket_id FROM refund_tickets_before_0018;
DROP TABLE refund_tickets_before_0018;
DROP TABLE refunds_before_0018;
CREATE INDEX refunds_order ON refunds(order_id, created_at);
