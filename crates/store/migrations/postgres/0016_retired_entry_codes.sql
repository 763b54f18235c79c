-- Entry codes a ticket had before it was passed on or resold, with the
-- barcode they stood for: typed at the gate, an old code is answered as the
-- old barcode would be (re-issued), not as a typo.
CREATE TABLE retired_entry_codes (
    event_id   TEXT NOT NULL REFERENCES events(id),
    entry_code TEXT NOT NULL,
    barcode    TEXT NOT NULL,
    retired_at BIGINT NOT NULL
);
CREATE INDEX retired_entry_codes_code ON retired_entry_codes (event_id, entry_code);
