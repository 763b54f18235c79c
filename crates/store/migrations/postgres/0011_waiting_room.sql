-- On-sale protection per event: the virtual waiting room, the per-account
-- ticket limit, and the accounts that velocity rules flagged or blocked.

CREATE TABLE sale_controls (
    event_id                TEXT PRIMARY KEY REFERENCES events(id),
    -- off | on | auto (switches itself on above auto_threshold holds a minute)
    waiting_room            TEXT NOT NULL CHECK (waiting_room IN ('off', 'on', 'auto')),
    room_active             BIGINT NOT NULL DEFAULT 0,
    -- Arrivals before this instant draw lots; later ones queue in arrival order.
    opens_at                BIGINT NOT NULL,
    -- Buyers let in at once (holding an unspent token or a live hold): the
    -- closed loop that keeps admissions at the pace checkout sustains.
    admission_window        BIGINT NOT NULL,
    auto_threshold          BIGINT NOT NULL,
    pow_difficulty          BIGINT NOT NULL,
    tickets_per_account_max BIGINT,
    -- HMAC key for admission tokens and proof-of-work challenges.
    secret                  BYTEA NOT NULL,
    -- The lottery among early arrivals has been drawn.
    drawn                   BIGINT NOT NULL DEFAULT 0,
    -- The next place in line to hand out, and the last one let in.
    next_no                 BIGINT NOT NULL DEFAULT 1,
    admitted_through        BIGINT NOT NULL DEFAULT 0,
    admitted_last_minute    BIGINT NOT NULL DEFAULT 0,
    updated_at              BIGINT NOT NULL
);

CREATE TABLE queue_entries (
    id               TEXT PRIMARY KEY,
    event_id         TEXT NOT NULL REFERENCES events(id),
    user_id          TEXT NOT NULL REFERENCES users(id),
    joined_at        BIGINT NOT NULL,
    -- Joined before opens_at: placed by lottery, not by arrival.
    early            BIGINT NOT NULL,
    lottery          BIGINT NOT NULL,
    -- Place in line: given on arrival after the draw, or by the draw.
    no               BIGINT,
    status           TEXT NOT NULL CHECK (status IN ('waiting', 'admitted', 'used', 'expired')),
    admitted_at      BIGINT,
    token_expires_at BIGINT
);
CREATE UNIQUE INDEX queue_entries_one_per_account ON queue_entries(event_id, user_id);
CREATE INDEX queue_entries_line ON queue_entries(event_id, status, no);

CREATE TABLE account_flags (
    id         TEXT PRIMARY KEY,
    event_id   TEXT NOT NULL REFERENCES events(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    rule       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    -- The rule blocks: holds and orders for this event are refused until cleared.
    blocking   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    cleared_at BIGINT
);
CREATE INDEX account_flags_event ON account_flags(event_id, created_at);
CREATE UNIQUE INDEX account_flags_one_open ON account_flags(event_id, user_id, rule) WHERE cleared_at IS NULL;
CREATE INDEX holds_user ON holds(user_id, event_id, created_at);
-- Declined payments per account, for the card-testing rule.
CREATE INDEX payment_attempts_user ON payment_attempts(user_id, created_at);
