-- Until when the buyers of a moved event may take their money back
-- themselves; none when the organizer offers no such window.
ALTER TABLE event_reschedules ADD COLUMN refunds_until BIGINT;
