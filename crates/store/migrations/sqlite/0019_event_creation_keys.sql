-- The key a creation request carried (the API's Idempotency-Key, the
-- console form's own) and a hash of what it asked for: the same request
-- sent again finds the event it made instead of making a second one, and
-- the key sent with a different request is told apart. One key names one
-- event per organization.
ALTER TABLE events ADD COLUMN creation_key TEXT;
ALTER TABLE events ADD COLUMN creation_hash TEXT;
CREATE UNIQUE INDEX events_creation_key ON events(organization_id, creation_key);
