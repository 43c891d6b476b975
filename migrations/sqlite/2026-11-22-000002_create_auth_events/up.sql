-- A change feed for what running instances cache: each row says "this user
-- changed". Instances poll it (id > last seen) to drop stale cache entries.
-- SQLite serializes writers, so ids become visible in id order.
CREATE TABLE auth_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX auth_events_created_at ON auth_events (created_at);
