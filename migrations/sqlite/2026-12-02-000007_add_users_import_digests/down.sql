ALTER TABLE users DROP COLUMN imported_record_digest;
ALTER TABLE users DROP COLUMN imported_password_digest;
