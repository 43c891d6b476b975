-- A sliding login is a session too: the iat of its newest sliding token,
-- and of the one that token replaced (presented again within the reuse grace
-- it gets the newest again; any other superseded one is reuse). NULL for
-- sessions of refresh tokens.
ALTER TABLE token_families ADD COLUMN sliding_newest_iat TIMESTAMP NULL;
ALTER TABLE token_families ADD COLUMN sliding_previous_iat TIMESTAMP NULL;

-- Django REST framework token keys (drf_token). Only a SHA-256 digest of a
-- key is kept; a key given by latchkey is derived from drf_token.secret and
-- its nonce, so the same key can be given again without being stored. A key
-- imported from Django has no nonce.
CREATE TABLE drf_token_keys (
    digest TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    nonce TEXT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX drf_token_keys_user_id ON drf_token_keys (user_id);

-- The digest of the DRF key the last Django import found for the user, so
-- a re-import brings a key only when Django's changed (a key ended here
-- stays ended).
ALTER TABLE users ADD COLUMN imported_drf_key_digest TEXT NULL;
