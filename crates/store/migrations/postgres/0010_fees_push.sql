-- Platform fees, and web push subscriptions.

-- The platform's fee on an organization's sales: a percentage of the order
-- subtotal in basis points plus a fixed part per paid ticket, in minor units
-- of the event's currency. No row means no fee.
CREATE TABLE organization_fees (
    organization_id    TEXT PRIMARY KEY REFERENCES organizations(id),
    percent_bp         BIGINT NOT NULL CHECK (percent_bp >= 0),
    fixed_minor        BIGINT NOT NULL CHECK (fixed_minor >= 0),
    updated_by         TEXT NOT NULL REFERENCES users(id),
    updated_at         BIGINT NOT NULL
);

-- The fee locked in when a hold is placed and recorded on its order.
-- total_amount stays what the buyer is charged: the subtotal plus this fee.
ALTER TABLE holds ADD COLUMN fee_amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN fee_amount BIGINT NOT NULL DEFAULT 0;

-- Keys the application itself owns (the VAPID key pair for web push),
-- created once on first start; the first writer wins on a shared database.
CREATE TABLE app_keys (
    name       TEXT PRIMARY KEY,
    public_key BYTEA NOT NULL,
    secret_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- A browser's push subscription (the PushSubscription of the Push API).
-- One row per endpoint: a browser that subscribes again replaces its keys.
CREATE TABLE push_subscriptions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    endpoint   TEXT NOT NULL UNIQUE,
    p256dh     BYTEA NOT NULL,
    auth       BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_user ON push_subscriptions(user_id);
