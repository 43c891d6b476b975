-- Audit events (audit.store = true): who did what, when, from where. No
-- foreign key to users: a user's events outlive the user. Never a token,
-- a password or a key; kept for audit.retention_days.
CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    event TEXT NOT NULL,
    user_id BIGINT NULL,
    session_id TEXT NULL,
    client_ip TEXT NULL,
    detail TEXT NULL
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user_at ON audit_events (user_id, at);
