ALTER TABLE users DROP COLUMN kept_session_id;
