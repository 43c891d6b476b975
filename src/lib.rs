//! latchkey: a JWT access/refresh token service that speaks Django REST
//! framework Simple JWT's wire contract, on PostgreSQL or embedded SQLite.
//!
//! Layout: [`startup`] builds the app from [`settings`]; [`routes`] are thin
//! HTTP handlers (with the [`auth`] Bearer and [`clients`] Basic extractors,
//! and [`cookies`] for browser apps)
//! over [`sessions`], the session service (login, refresh, logout, whether a
//! token is live), and [`users`], the user service (profiles, groups,
//! claims, the admin API, password changes, signup), which use [`tokens`]
//! (claims, signing, validation),
//! [`passwords`] (Django-compatible hashes), [`throttle`] (limits, client
//! addresses) and [`db`] (storage); [`error`] turns every failure into its
//! HTTP answer. Data flows one way: route -> service -> db.

pub mod audit;
pub mod auth;
pub mod clients;
pub mod commands;
pub mod cookies;
pub mod db;
pub mod error;
pub mod metrics;
pub mod passwords;
pub mod private_files;
pub mod routes;
pub mod sessions;
pub mod settings;
pub mod signals;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod throttle;
pub mod tokens;
pub mod users;
