//! latchkey's integration tests: each starts the real server on port 0 with
//! its own database and speaks HTTP to it. SQLite by default; set
//! `TEST_DATABASE_URL=postgres://...` to run the same tests on PostgreSQL.

mod admin_users;
mod bearer;
mod blacklist;
mod browser;
mod cli;
mod django;
mod drf_token;
mod health;
mod helpers;
mod instances;
mod introspect;
mod key_attacks;
mod keys;
mod obtain;
mod operations;
mod outage;
mod password_change;
mod profiles;
mod refresh;
mod requests;
mod scale_out;
mod schema;
mod security;
mod security_sessions;
mod sessions;
mod signals;
mod signup;
mod sliding;
mod throttle;
mod verify;
