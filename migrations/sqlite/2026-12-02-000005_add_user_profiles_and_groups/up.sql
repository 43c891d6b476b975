-- Django's auth_user profile fields, and the claims object the application
-- owns (JSON text, at most 2 KB, written only through latchkey).
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN first_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN is_staff BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN is_superuser BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN claims TEXT NOT NULL DEFAULT '{}';

-- Named groups (Django's auth_group) and who is in them (auth_user_groups).
CREATE TABLE user_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE user_group_members (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);

CREATE INDEX user_group_members_group_id ON user_group_members (group_id);
