//! `[server]`: the listener, its workers and what one request may cost.

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct ServerSettings {
    pub bind: String,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub public_url: String,
    pub body_timeout_ms: u64,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// How long requests in flight may take to finish after SIGTERM.
    pub shutdown_timeout_seconds: u64,
}

impl ServerSettings {
    /// The HTTP worker threads: `workers`, or one per core when 0.
    pub fn worker_threads(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            workers => workers,
        }
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if !self.public_url.is_empty() {
            let parsed = url::Url::parse(&self.public_url).ok();
            if !parsed.is_some_and(|url| {
                matches!(url.scheme(), "http" | "https")
                    && url.has_host()
                    && url.query().is_none()
                    && url.fragment().is_none()
            }) {
                return Err(format!(
                    "server.public_url is {:?}; give the service's external base URL, e.g. \"https://auth.example.com\"",
                    self.public_url
                ));
            }
        }
        if !(100..=300_000).contains(&self.body_timeout_ms) {
            return Err(
                "server.body_timeout_ms must be between 100 and 300000: a body that trickles in must not hold its connection for long"
                    .to_owned(),
            );
        }
        if self.shutdown_timeout_seconds > 3600 {
            return Err("server.shutdown_timeout_seconds must be at most 3600".to_owned());
        }
        if self.max_connections == 0 {
            return Err("server.max_connections must be at least 1".to_owned());
        }
        if self.max_body_bytes < 256 {
            return Err("server.max_body_bytes must be at least 256".to_owned());
        }
        Ok(())
    }
}
