-- A family is one login (a session): every refresh token rotated from that
-- login belongs to it. Revoking the family ends the session: its refresh
-- tokens, and the access tokens that name it in their "sid" claim.
CREATE TABLE token_families (
    id TEXT PRIMARY KEY NOT NULL,
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

-- SQLite cannot add a foreign key to an existing table: rebuild it.
CREATE TABLE refresh_tokens_new (
    jti TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id TEXT NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    parent_jti TEXT NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    rotated_at TIMESTAMP NULL,
    replaced_by TEXT NULL,
    blacklisted_at TIMESTAMP NULL
);
INSERT INTO refresh_tokens_new SELECT jti, user_id, family_id, parent_jti, issued_at, expires_at,
    rotated_at, replaced_by, blacklisted_at FROM refresh_tokens;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_new RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);

-- The change feed also says "this family was revoked".
ALTER TABLE auth_events ADD COLUMN family_id TEXT NULL;
