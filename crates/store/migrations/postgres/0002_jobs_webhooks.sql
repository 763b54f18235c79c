-- Durable background jobs, in the same database as the data they act on, so
-- a job can be enqueued in the same transaction as the change that needs it
-- (the outbox pattern). At-least-once: a job whose lease runs out, because
-- its process died, is taken again by another.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts     BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    run_at       BIGINT NOT NULL,
    locked_by    TEXT,
    locked_until BIGINT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(status, run_at);

-- Organizer webhook endpoints; deliveries are jobs.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    event_types     TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_organization ON webhook_endpoints(organization_id);
