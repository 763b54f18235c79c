-- When a ticket's barcode stopped admitting. An offline gate may have let
-- its holder in before that moment and report the scan only after it; the
-- server then knows the scan was good when it was made, and that the
-- ticket was used, rather than refusing it as revoked.
--
-- A refund or an event's cancellation revoked the ticket (NULL for tickets
-- revoked before this column existed):
ALTER TABLE tickets ADD COLUMN revoked_at BIGINT;
-- A transfer or resale re-issued it under a new serial, retiring the old
-- one:
CREATE TABLE retired_serials (
    ticket_id  TEXT NOT NULL REFERENCES tickets(id),
    serial     BIGINT NOT NULL,
    retired_at BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, serial)
);
