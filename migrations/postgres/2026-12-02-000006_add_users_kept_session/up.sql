-- The session a user's own password change kept: its tokens issued before
-- the user's mark (tokens_valid_after) stand; every other token before the
-- mark is void. Cleared by the next change that moves the mark.
ALTER TABLE users ADD COLUMN kept_session_id TEXT;
