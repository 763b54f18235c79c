-- Payments: one row per try at charging a gateway, written before the
-- gateway is called, so a charge whose answer never arrived is still known
-- and can be reconciled (completed into an order, or refunded).
CREATE TABLE payment_attempts (
    id              TEXT PRIMARY KEY,
    hold_id         TEXT NOT NULL REFERENCES holds(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    gateway         TEXT NOT NULL,
    amount          INTEGER NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    -- The buyer's Idempotency-Key of the checkout this attempt pays for.
    order_key       TEXT NOT NULL,
    -- The key the gateway deduplicates on: one per (checkout, gateway).
    idempotency_key TEXT NOT NULL UNIQUE,
    -- The gateway's id for the charge (a Stripe PaymentIntent), once known.
    reference       TEXT,
    -- pending: asked, answer unknown; charged: money taken, no order yet;
    -- completed: an order holds the money; declined/failed: nothing taken;
    -- refunding/refunded: given back (no order could be made).
    status          TEXT NOT NULL CHECK (status IN ('pending', 'charged', 'completed', 'declined', 'failed', 'refunding', 'refunded')),
    failure         TEXT,
    order_id        TEXT REFERENCES orders(id),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX payment_attempts_open ON payment_attempts(status, updated_at) WHERE status IN ('pending', 'charged', 'refunding');
CREATE INDEX payment_attempts_reference ON payment_attempts(gateway, reference);
CREATE INDEX payment_attempts_hold ON payment_attempts(hold_id);

-- Gateway notifications already acted on: a replayed event changes nothing.
CREATE TABLE payment_events (
    gateway     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (gateway, event_id)
);

-- An organization's gateways in the order they are tried (failover).
CREATE TABLE organization_payment_gateways (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    position        INTEGER NOT NULL,
    gateway         TEXT NOT NULL,
    PRIMARY KEY (organization_id, position),
    UNIQUE (organization_id, gateway)
);
