-- A change feed for what running instances cache: each row says "this user
-- changed". Instances poll it (id > last seen) to drop stale cache entries.
-- Writers lock the table for the length of their transaction, so ids become
-- visible in id order and a poller never skips a row committed late.
CREATE TABLE auth_events (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX auth_events_created_at ON auth_events (created_at);
