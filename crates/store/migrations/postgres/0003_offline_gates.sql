-- Offline gates: which device admitted a ticket, so that a ticket admitted
-- at two offline gates can be reported as a conflict when they sync.
ALTER TABLE tickets ADD COLUMN checked_in_device TEXT;
ALTER TABLE checkins ADD COLUMN device_id TEXT;
