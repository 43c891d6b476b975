//! What the integration tests share: the harness (`spawn_app()` and typed
//! helpers on `TestApp`), forged and legacy tokens, generated keys with the
//! third-party tools that check them (PyJWT, openssl), and a database per
//! test. Test files import from here only, never from each other.

mod cli;
mod database;
mod forge;
mod harness;
mod keys;
mod postgres_cluster;
mod python;
mod redis_server;
mod scrape;
mod server_process;

pub use cli::*;
pub use database::{TestDatabase, count_rows};
pub use forge::*;
pub use harness::*;
pub use keys::*;
pub use postgres_cluster::PostgresCluster;
pub use python::run_python;
pub use redis_server::RedisServer;
pub use scrape::{scrape, series};
pub use server_process::ServerProcess;
