-- Core ticketing schema (PostgreSQL). Kept column-for-column equal to the
-- SQLite schema so one set of queries serves both.
-- Times are BIGINT milliseconds since the Unix epoch (UTC); ids are UUID text.
-- Money is BIGINT minor units plus an ISO 4217 code, never floating point.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Bearer tokens are stored as SHA-256 hashes: a leaked table grants nothing.
CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'gate')),
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE venues (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    address         TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX venues_organization ON venues(organization_id);

CREATE TABLE sections (
    id         TEXT PRIMARY KEY,
    venue_id   TEXT NOT NULL REFERENCES venues(id),
    name       TEXT NOT NULL,
    price_zone TEXT NOT NULL,
    position   BIGINT NOT NULL
);
CREATE INDEX sections_venue ON sections(venue_id, position);

CREATE TABLE seats (
    id         TEXT PRIMARY KEY,
    venue_id   TEXT NOT NULL REFERENCES venues(id),
    section_id TEXT NOT NULL REFERENCES sections(id),
    row_label  TEXT NOT NULL,
    label      TEXT NOT NULL,
    x          DOUBLE PRECISION NOT NULL,
    y          DOUBLE PRECISION NOT NULL,
    accessible BIGINT NOT NULL,
    position   BIGINT NOT NULL
);
CREATE INDEX seats_venue ON seats(venue_id, position);

CREATE TABLE ga_areas (
    id       TEXT PRIMARY KEY,
    venue_id TEXT NOT NULL REFERENCES venues(id),
    name     TEXT NOT NULL,
    capacity BIGINT NOT NULL CHECK (capacity > 0),
    position BIGINT NOT NULL
);
CREATE INDEX ga_areas_venue ON ga_areas(venue_id, position);

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    venue_id        TEXT NOT NULL REFERENCES venues(id),
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    category        TEXT NOT NULL,
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('draft', 'published', 'ended', 'cancelled')),
    created_at      BIGINT NOT NULL,
    published_at    BIGINT
);
CREATE INDEX events_listing ON events(status, starts_at, id);
CREATE INDEX events_organization ON events(organization_id, starts_at);

-- One Ed25519 key per event signs its ticket barcodes.
CREATE TABLE event_keys (
    event_id   TEXT PRIMARY KEY REFERENCES events(id),
    public_key BYTEA NOT NULL,
    secret_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE ticket_types (
    id            TEXT PRIMARY KEY,
    event_id      TEXT NOT NULL REFERENCES events(id),
    name          TEXT NOT NULL,
    price_amount  BIGINT NOT NULL CHECK (price_amount >= 0),
    currency      TEXT NOT NULL,
    price_zone    TEXT,
    ga_area_id    TEXT REFERENCES ga_areas(id),
    max_per_order BIGINT NOT NULL CHECK (max_per_order > 0),
    sales_start   BIGINT,
    sales_end     BIGINT,
    position      BIGINT NOT NULL,
    CHECK ((price_zone IS NULL) <> (ga_area_id IS NULL))
);
CREATE INDEX ticket_types_event ON ticket_types(event_id, position);

-- A hold is live while status = 'active' and expires_at > now: expiry needs
-- no sweep to take effect.
CREATE TABLE holds (
    id           TEXT PRIMARY KEY,
    event_id     TEXT NOT NULL REFERENCES events(id),
    user_id      TEXT NOT NULL REFERENCES users(id),
    status       TEXT NOT NULL CHECK (status IN ('active', 'ordered', 'released', 'expired')),
    total_amount BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX holds_live ON holds(event_id, status, expires_at);

CREATE TABLE hold_lines (
    hold_id        TEXT NOT NULL REFERENCES holds(id),
    line_no        BIGINT NOT NULL,
    seat_id        TEXT REFERENCES seats(id),
    ga_area_id     TEXT REFERENCES ga_areas(id),
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    ticket_type_id TEXT NOT NULL REFERENCES ticket_types(id),
    unit_price     BIGINT NOT NULL,
    PRIMARY KEY (hold_id, line_no),
    CHECK ((seat_id IS NULL) <> (ga_area_id IS NULL))
);
CREATE INDEX hold_lines_ga ON hold_lines(ga_area_id) WHERE ga_area_id IS NOT NULL;

-- The arbiter of seats: at most one row per (event, seat). A hold may take a
-- row only if it is absent or its hold has expired; an order turns it 'sold'.
CREATE TABLE seat_claims (
    event_id   TEXT NOT NULL REFERENCES events(id),
    seat_id    TEXT NOT NULL REFERENCES seats(id),
    hold_id    TEXT NOT NULL REFERENCES holds(id),
    state      TEXT NOT NULL CHECK (state IN ('held', 'sold')),
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, seat_id)
);
CREATE INDEX seat_claims_hold ON seat_claims(hold_id);

CREATE TABLE orders (
    id                TEXT PRIMARY KEY,
    event_id          TEXT NOT NULL REFERENCES events(id),
    user_id           TEXT NOT NULL REFERENCES users(id),
    hold_id           TEXT NOT NULL UNIQUE REFERENCES holds(id),
    status            TEXT NOT NULL CHECK (status IN ('paid', 'refunded')),
    total_amount      BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    payment_gateway   TEXT NOT NULL,
    payment_reference TEXT NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE INDEX orders_user ON orders(user_id, created_at);
CREATE INDEX orders_event ON orders(event_id, created_at);

CREATE TABLE tickets (
    id             TEXT PRIMARY KEY,
    order_id       TEXT NOT NULL REFERENCES orders(id),
    event_id       TEXT NOT NULL REFERENCES events(id),
    ticket_type_id TEXT NOT NULL REFERENCES ticket_types(id),
    seat_id        TEXT REFERENCES seats(id),
    ga_area_id     TEXT REFERENCES ga_areas(id),
    holder_id      TEXT NOT NULL REFERENCES users(id),
    status         TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),
    serial         BIGINT NOT NULL,
    barcode        TEXT NOT NULL,
    price_amount   BIGINT NOT NULL,
    currency       TEXT NOT NULL,
    checked_in_at  BIGINT,
    created_at     BIGINT NOT NULL,
    CHECK ((seat_id IS NULL) <> (ga_area_id IS NULL))
);
-- The last line of defence against overselling a seat.
CREATE UNIQUE INDEX tickets_one_valid_per_seat ON tickets(event_id, seat_id)
    WHERE seat_id IS NOT NULL AND status = 'valid';
CREATE INDEX tickets_ga ON tickets(event_id, ga_area_id, status) WHERE ga_area_id IS NOT NULL;
CREATE INDEX tickets_holder ON tickets(holder_id, created_at);
CREATE INDEX tickets_order ON tickets(order_id);

-- Every scan, whatever its outcome: the gate's audit trail.
CREATE TABLE checkins (
    id         TEXT PRIMARY KEY,
    event_id   TEXT NOT NULL REFERENCES events(id),
    ticket_id  TEXT,
    result     TEXT NOT NULL,
    scanned_by TEXT NOT NULL REFERENCES users(id),
    scanned_at BIGINT NOT NULL
);
CREATE INDEX checkins_event ON checkins(event_id, scanned_at);

-- Idempotency-Key records for POST /orders. 'pending' while the first request
-- runs; then either an order id or the failure it got.
CREATE TABLE idempotency_keys (
    user_id        TEXT NOT NULL REFERENCES users(id),
    key            TEXT NOT NULL,
    request_hash   BYTEA NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    order_id       TEXT REFERENCES orders(id),
    failure_status BIGINT,
    failure_detail TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
