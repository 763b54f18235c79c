-- A ticket's entry code: ten characters derived from its barcode (see
-- domain::barcode::entry_code), typed at a gate when the QR code cannot be
-- scanned. Not unique: a code two tickets share is refused, not guessed.
-- Tickets issued before this column existed get theirs when the server
-- starts (Store::fill_entry_codes).
ALTER TABLE tickets ADD COLUMN entry_code TEXT;
CREATE INDEX tickets_entry_code ON tickets (event_id, entry_code);
