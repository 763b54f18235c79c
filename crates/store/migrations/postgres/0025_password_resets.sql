-- The links mailed to set a new password when the old one is forgotten;
-- only their SHA-256 is kept. A link works once, for a short time, and only
-- while the account still has the address it was sent to. Using one ends
-- every other link of the account, and every session.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX password_resets_user ON password_resets (user_id, created_at);
-- Ending all of an account's sessions (a new password) finds them by user.
CREATE INDEX sessions_user ON sessions (user_id);
