-- A family is one login (a session): every refresh token rotated from that
-- login belongs to it. Revoking the family ends the session: its refresh
-- tokens, and the access tokens that name it in their "sid" claim.
CREATE TABLE token_families (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    -- The absolute end of the session: rotation never extends past it.
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP NULL,
    revoked_reason TEXT NULL,
    client_ip TEXT NULL,
    user_agent TEXT NULL
);
CREATE INDEX token_families_user_id ON token_families (user_id);
CREATE INDEX token_families_expires_at ON token_families (expires_at);
CREATE INDEX token_families_revoked_at ON token_families (revoked_at) WHERE revoked_at IS NOT NULL;

-- Families for the tokens issued before this migration.
INSERT INTO token_families (id, user_id, created_at, last_used_at, expires_at)
SELECT family_id, MIN(user_id), MIN(issued_at), MAX(issued_at), MAX(expires_at)
FROM refresh_tokens GROUP BY family_id;

ALTER TABLE refresh_tokens
    ADD CONSTRAINT refresh_tokens_family_id_fkey
    FOREIGN KEY (family_id) REFERENCES token_families (id) ON DELETE CASCADE;

-- The change feed also says "this family was revoked".
ALTER TABLE auth_events ADD COLUMN family_id TEXT NULL;
