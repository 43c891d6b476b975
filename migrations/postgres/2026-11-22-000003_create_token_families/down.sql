ALTER TABLE auth_events DROP COLUMN family_id;
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_family_id_fkey;
DROP TABLE token_families;
