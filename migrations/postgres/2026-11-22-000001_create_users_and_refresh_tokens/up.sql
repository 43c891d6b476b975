CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    -- Django's format: pbkdf2_sha256$<iterations>$<salt>$<base64 hash>
    password TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    date_joined TIMESTAMP NOT NULL,
    last_login TIMESTAMP NULL
);

-- One row per refresh token ever issued, identified by its jti; the token text
-- itself is never stored. The table is an allow-list: a refresh token whose jti
-- is not here is not accepted.
CREATE TABLE refresh_tokens (
    jti TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The login this token descends from, and the token it was rotated from.
    family_id TEXT NOT NULL,
    parent_jti TEXT NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    -- Set once, by the one request that rotated this token.
    rotated_at TIMESTAMP NULL,
    replaced_by TEXT NULL,
    -- Set by an explicit blacklist (logout).
    blacklisted_at TIMESTAMP NULL
);

CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
