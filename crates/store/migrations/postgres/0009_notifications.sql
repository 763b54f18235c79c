-- Refunds, and notifications (in-app and e-mail) written as an outbox.

-- The language messages to this user are written in ('en' unless chosen).
ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';

-- A refund is recorded (and its tickets revoked) before the gateway is asked;
-- a job then moves the money and marks it refunded. idempotency_key is unique
-- so a replayed request or a re-run cancellation finds the refund it made.
CREATE TABLE refunds (
    id              TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL REFERENCES orders(id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    reason          TEXT NOT NULL CHECK (reason IN ('organizer', 'event_cancelled')),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'refunded', 'failed')),
    idempotency_key TEXT NOT NULL UNIQUE,
    requested_by    TEXT REFERENCES users(id),
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    refunded_at     BIGINT
);
CREATE INDEX refunds_order ON refunds(order_id, created_at);

-- The tickets a refund revoked.
CREATE TABLE refund_tickets (
    refund_id TEXT NOT NULL REFERENCES refunds(id),
    ticket_id TEXT NOT NULL REFERENCES tickets(id),
    PRIMARY KEY (refund_id, ticket_id)
);

-- One row per fact told to one person: shown in the app (when the person has
-- an account) and e-mailed (when an address is known). Written in the same
-- transaction as the fact; dedupe_key makes re-running a fan-out harmless.
-- The id is the e-mail's Message-ID, the same on every delivery attempt.
CREATE TABLE notifications (
    id            TEXT PRIMARY KEY,
    dedupe_key    TEXT NOT NULL UNIQUE,
    user_id       TEXT REFERENCES users(id),
    email         TEXT,
    kind          TEXT NOT NULL,
    locale        TEXT NOT NULL,
    title         TEXT NOT NULL,
    link          TEXT,
    data          TEXT NOT NULL,
    email_status  TEXT NOT NULL CHECK (email_status IN ('none', 'queued', 'sent')),
    email_sent_at BIGINT,
    read_at       BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX notifications_user ON notifications(user_id, created_at);

-- Events whose day-before reminders have been scheduled: at most once each.
CREATE TABLE event_reminders (
    event_id     TEXT PRIMARY KEY REFERENCES events(id),
    scheduled_at BIGINT NOT NULL
);
