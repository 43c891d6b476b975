ALTER TABLE users DROP COLUMN imported_drf_key_digest;
DROP TABLE drf_token_keys;
ALTER TABLE token_families DROP COLUMN sliding_previous_iat;
ALTER TABLE token_families DROP COLUMN sliding_newest_iat;
