-- The key a creation request carried (the API's Idempotency-Key, the
-- console form's own): the same request sent again finds the event it made
-- instead of making a second one. One key names one event per organization.
ALTER TABLE events ADD COLUMN creation_key TEXT;
CREATE UNIQUE INDEX events_creation_key ON events(organization_id, creation_key);
