-- The password hash as the last import from Django found it. A re-import
-- takes Django's hash only if it differs from this one (the password changed
-- in Django), never merely because a login here rehashed it.
ALTER TABLE users ADD COLUMN imported_password TEXT;
