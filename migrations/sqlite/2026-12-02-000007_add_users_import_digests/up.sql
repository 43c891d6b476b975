-- What the last import from Django found, as SHA-256 digests (never the
-- Django hash itself, which may be a weak one the user has since moved off):
-- of the password hash, and of the rest of the record (names, flags, dates,
-- groups). A re-import takes from Django only what changed there since, so
-- a login's rehash or a change made here is not undone; a user without them
-- was not imported, and an import never overwrites them.
ALTER TABLE users ADD COLUMN imported_password_digest TEXT;
ALTER TABLE users ADD COLUMN imported_record_digest TEXT;
