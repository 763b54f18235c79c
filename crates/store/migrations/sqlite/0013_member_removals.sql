-- When someone left an organization's team, and in which role: gate staff
-- removed while their device was offline may still sync the scans it made
-- before (the holders are inside), and nothing after.
CREATE TABLE member_removals (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    role            TEXT NOT NULL,
    removed_at      INTEGER NOT NULL
);
CREATE INDEX member_removals_user ON member_removals (user_id, organization_id, removed_at);
