-- Resale policy and rotating barcodes, per event.
ALTER TABLE events ADD COLUMN resale_allowed BIGINT NOT NULL DEFAULT 1;
-- The highest resale price, in basis points of face value (11000 = +10 %).
ALTER TABLE events ADD COLUMN resale_cap_bps BIGINT NOT NULL DEFAULT 11000;
-- The organizer's royalty on a resale, in basis points of the resale price.
ALTER TABLE events ADD COLUMN resale_royalty_bps BIGINT NOT NULL DEFAULT 500;
-- Holders show a code that changes every few seconds; static codes are refused.
ALTER TABLE events ADD COLUMN rotating_barcodes BIGINT NOT NULL DEFAULT 0;
