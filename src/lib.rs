//! latchkey: a JWT access/refresh token service that speaks Django REST
//! framework Simple JWT's wire contract, on PostgreSQL or embedded SQLite.
//!
//! Layout: [`startup`] builds the app from [`settings`]; [`routes`] are thin
//! HTTP handlers over [`tokens`] (claims, signing, validation), [`passwords`]
//! (Django-compatible hashes) and [`db`] (users and the refresh-token
//! allow-list); [`error`] turns every failure into its HTTP answer.

pub mod auth;
pub mod client_ip;
pub mod commands;
pub mod connections;
pub mod db;
pub mod directory;
pub mod error;
pub mod introspection;
pub mod passwords;
pub mod private_files;
pub mod revocation;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod sync;
pub mod telemetry;
pub mod throttle;
pub mod tokens;
