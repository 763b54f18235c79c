-- Invitations to an organization's team. The e-mail carries a secret link;
-- only its SHA-256 is kept here, so the table alone lets nobody join. An
-- invitation is open until it is accepted, revoked or replaced by a newer
-- one to the same address, or until it expires.
CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    email           TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'gate')),
    token_hash      TEXT NOT NULL UNIQUE,
    invited_by      TEXT NOT NULL REFERENCES users(id),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    accepted_by     TEXT REFERENCES users(id),
    closed_at       INTEGER,
    -- 'open', 'accepted', 'revoked' (by a manager, or replaced by a newer invitation)
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'revoked'))
);
CREATE INDEX invitations_org ON invitations (organization_id, status, created_at);
