-- "Tokens issued before this instant are void": set when a password changes,
-- a user is deactivated or logs out everywhere. It reaches tokens that belong
-- to no session here (Simple JWT tokens not yet adopted, kid-less access
-- tokens), which revoking sessions cannot. NULL: no such instant.
ALTER TABLE users ADD COLUMN tokens_valid_after TIMESTAMP NULL;
