-- When the account's holder showed they read mail sent to its address: by
-- the link mailed at sign-up (or sent again), or by accepting a ticket
-- through the link mailed with its offer. Anyone may sign up with any
-- address, so only a confirmed address is taken to be its owner's: a ticket
-- passed on to an unconfirmed one is accepted with the mailed link alone.
-- NULL for accounts made before this column existed: they confirm as any
-- new account does.
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;
-- The links mailed to confirm an address; only their SHA-256 is kept. A
-- link confirms the address it was sent to, not one the account has since.
CREATE TABLE email_verifications (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    email      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX email_verifications_user ON email_verifications (user_id, created_at);
