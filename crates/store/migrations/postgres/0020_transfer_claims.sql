-- A transfer offer's claim: the SHA-256 of a secret sent only to the
-- recipient's address. An account made after the offer (anyone may sign up
-- with any address) accepts it only with that secret, which proves it reads
-- the mail sent there. NULL for offers made before claims existed.
ALTER TABLE transfers ADD COLUMN claim_hash TEXT;
