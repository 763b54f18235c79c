-- A refund's reason may also be event_moved: the buyer took the refund the
-- organizer offered when the event moved.
ALTER TABLE refunds DROP CONSTRAINT refunds_reason_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_reason_check
    CHECK (reason IN ('organizer', 'event_cancelled', 'event_moved'));
