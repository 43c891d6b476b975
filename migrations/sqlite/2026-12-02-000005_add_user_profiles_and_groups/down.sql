DROP TABLE user_group_members;
DROP TABLE user_groups;
ALTER TABLE users DROP COLUMN claims;
ALTER TABLE users DROP COLUMN is_superuser;
ALTER TABLE users DROP COLUMN is_staff;
ALTER TABLE users DROP COLUMN last_name;
ALTER TABLE users DROP COLUMN first_name;
ALTER TABLE users DROP COLUMN email;
