-- The resale marketplace: listings, and the sellers' money in escrow.
CREATE TABLE listings (
    id             TEXT PRIMARY KEY,
    ticket_id      TEXT NOT NULL REFERENCES tickets(id),
    event_id       TEXT NOT NULL REFERENCES events(id),
    seller_id      TEXT NOT NULL REFERENCES users(id),
    price_amount   INTEGER NOT NULL CHECK (price_amount > 0),
    royalty_amount INTEGER NOT NULL CHECK (royalty_amount >= 0),
    escrow_amount  INTEGER NOT NULL CHECK (escrow_amount >= 0),
    currency       TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('open', 'sold', 'withdrawn')),
    -- Like a seat claim: the hold that may buy it, until when.
    hold_id        TEXT,
    held_until     INTEGER,
    created_at     INTEGER NOT NULL,
    sold_at        INTEGER,
    CHECK (royalty_amount + escrow_amount = price_amount)
);
CREATE UNIQUE INDEX listings_one_open ON listings(ticket_id) WHERE status = 'open';
CREATE INDEX listings_event ON listings(event_id, status);

ALTER TABLE hold_lines ADD COLUMN listing_id TEXT REFERENCES listings(id);
ALTER TABLE hold_lines ADD COLUMN replaces_ticket_id TEXT REFERENCES tickets(id);

CREATE TABLE escrow (
    listing_id    TEXT PRIMARY KEY REFERENCES listings(id),
    seller_id     TEXT NOT NULL REFERENCES users(id),
    event_id      TEXT NOT NULL REFERENCES events(id),
    amount        INTEGER NOT NULL,
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('held', 'released', 'refunded')),
    release_after INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    settled_at    INTEGER
);
CREATE INDEX escrow_due ON escrow(status, release_after);
CREATE INDEX escrow_seller ON escrow(seller_id);
