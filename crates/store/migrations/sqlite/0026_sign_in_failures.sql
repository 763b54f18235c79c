-- Failed password checks per e-mail address, whether or not an account has
-- it (so that a refusal tells nothing about who is registered). Only the
-- address's SHA-256 is kept: anyone can type any address. A row counts the
-- failures of one window, from its first failure; once the window is over
-- the next failure starts a new one, and rows of windows long over are
-- tidied as failures are recorded.
CREATE TABLE sign_in_failures (
    email_hash BLOB PRIMARY KEY,
    failures   INTEGER NOT NULL,
    since      INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_since ON sign_in_failures (since);
