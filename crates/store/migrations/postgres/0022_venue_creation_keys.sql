-- The key a venue form carried: the same form sent again (Back, then Create,
-- or a double press) finds the venue it made instead of making a second one.
-- One key names one venue per organization.
ALTER TABLE venues ADD COLUMN creation_key TEXT;
CREATE UNIQUE INDEX venues_creation_key ON venues(organization_id, creation_key);
