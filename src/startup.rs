//! Builds the application from settings: pool, migrations, keys, state, and
//! an HTTP server bound to its own listener, so tests can bind port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::Server;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{App, HttpMessage, HttpServer, middleware, web};
use tracing_actix_web::TracingLogger;

use crate::audit::{self, Audit};
use crate::db::{self, Database};
use crate::error::ApiError;
use crate::metrics::{self, Metrics, RequestLabels, RouteLabels};
use crate::passwords::HashingPool;
use crate::routes::{self, input::BodyLimits};
use crate::sessions::drf_keys::KeyMint;
use crate::sessions::{SessionParts, SessionPolicy, Sessions, Upkeep};
use crate::settings::{CorsSettings, Settings};
use crate::signals;
use crate::state::AppState;
use crate::telemetry::RequestSpan;
use crate::throttle::Throttle;
use crate::throttle::client_ip::ResolvedClient;
use crate::throttle::connections::{ConnectionCounter, OverConnectionCap};
use crate::throttle::shared::SharedStore;
use crate::tokens::{KeySet, TokenService};
use crate::users::{UserParts, Users};

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on its own listener (`metrics.bind`), and its port.
    metrics_server: Option<(Server, u16)>,
    state: AppState,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let state = build_state(settings)?;
        state.sessions.start()?;
        state.db.probe_while_unreachable(Duration::from_millis(
            state.settings.database.probe_interval_ms,
        ));
        spawn_throttle_pruning(
            state.throttle.clone(),
            Duration::from_secs(state.settings.throttle.prune_interval_seconds),
        );
        if state.settings.audit.store {
            audit::spawn_retention(
                state.db.clone(),
                chrono::Duration::days(i64::from(state.settings.audit.retention_days)),
            );
        }
        signals::reload_on_hangup(state.clone())?;
        let listener = TcpListener::bind(&state.settings.server.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", state.settings.server.bind))?;
        let port = listener.local_addr()?.port();
        let metrics_server = match state.settings.metrics.enabled
            && !state.settings.metrics.bind.is_empty()
        {
            true => {
                let bind = &state.settings.metrics.bind;
                let listener = TcpListener::bind(bind)
                    .map_err(|e| anyhow::anyhow!("cannot listen on {bind} (metrics.bind): {e}"))?;
                let port = listener.local_addr()?.port();
                Some((serve_metrics(listener, state.clone())?, port))
            }
            false => None,
        };
        let server = serve(listener, state.clone())?;
        Ok(Self {
            port,
            server,
            metrics_server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of `/metrics`' own listener, when `metrics.bind` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(_, port)| *port)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM (or the server's handle stops it; SIGINT stops
    /// at once): then new connections are refused, requests in flight get
    /// `server.shutdown_timeout_seconds` to finish, and the audit events
    /// recorded so far are stored before this returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics_server.map(|(server, _)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let served = self.server.await;
        if let Some(metrics) = metrics {
            metrics.stop(true).await;
        }
        let audit = self.state.audit.clone();
        let _ = tokio::task::spawn_blocking(move || audit.flush(Duration::from_secs(5))).await;
        served
    }
}

/// Opens the database (migrating it if configured), loads the keys and
/// builds the services.
pub fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    let metrics = Arc::new(Metrics::new());
    let db = Database::connect(
        &settings.database_url(),
        settings.database.pool_size,
        Duration::from_secs(settings.database.connect_timeout_seconds),
        metrics.clone(),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    if settings.database.migrate_on_start {
        let applied = db.with_connection(db::run_migrations)?;
        if applied > 0 {
            tracing::info!(applied, "database migrations applied");
        }
    }
    let keys = KeySet::load(&settings.jwt.key_config(&settings.data_dir))?;
    let tokens = Arc::new(TokenService::new(
        settings.jwt.token_rules(&settings.sliding),
        keys,
        metrics.clone(),
    ));
    let audit = Arc::new(Audit::new(
        metrics.clone(),
        db.clone(),
        settings.audit.store,
    )?);
    let shared = match settings.throttle.shared_store() {
        Some(url) => Some(SharedStore::new(
            url,
            &settings.throttle.redis_key_prefix,
            Duration::from_millis(settings.throttle.redis_timeout_ms),
            metrics.clone(),
        )?),
        None => None,
    };
    let throttle = Arc::new(Throttle::new(&settings.throttle.limits(), shared));
    let hasher = settings.passwords.hasher();
    let hashing = Arc::new(HashingPool::start(
        settings.throttle.hash_slots(),
        Duration::from_millis(settings.throttle.hash_wait_ms),
    )?);
    let sessions = Arc::new(Sessions::new(SessionParts {
        db: db.clone(),
        tokens: tokens.clone(),
        throttle: throttle.clone(),
        hasher: hasher.clone(),
        hashing: hashing.clone(),
        policy: SessionPolicy::from_settings(&settings),
        upkeep: Upkeep::from_settings(&settings),
        rotation_writers: settings.database.rotation_writers,
        audit: audit.clone(),
        metrics: metrics.clone(),
        drf_keys: if settings.drf_token.enabled {
            Some(KeyMint::new(&settings.drf_token.secret_bytes(
                &settings.data_dir,
                settings.is_production(),
            )?))
        } else {
            None
        },
    }));
    let users = Users::new(UserParts {
        db: db.clone(),
        sessions: sessions.clone(),
        throttle: throttle.clone(),
        hasher,
        hashing: hashing.clone(),
        rules: settings.passwords.rules(),
        configured_claims: settings.jwt.configured_claim_names(),
        audit: audit.clone(),
    });
    let proxies = Arc::new(settings.throttle.proxies());
    Ok(AppState {
        connections: ConnectionCounter::new(
            settings.server.max_connections_per_address,
            proxies.clone(),
        ),
        proxies,
        throttle,
        metrics,
        audit,
        hashing,
        sessions,
        users: Arc::new(users),
        tokens,
        db,
        settings: Arc::new(settings),
    })
}

/// Drops rate-limit state whose budget is full again every `interval`, so a
/// flood of distinct addresses costs memory only for as long as it lasts.
fn spawn_throttle_pruning(throttle: Arc<Throttle>, interval: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            throttle.prune();
            tracing::debug!(sizes = ?throttle.sizes(), "rate-limit state pruned");
        }
    });
}

fn serve(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let server_settings = &state.settings.server;
    let body_limits = BodyLimits {
        max_bytes: server_settings.max_body_bytes,
        read_timeout: Duration::from_millis(server_settings.body_timeout_ms),
    };
    let workers = server_settings.worker_threads();
    // actix counts connections per worker.
    let per_worker = server_settings.max_connections.div_ceil(workers);
    let connections = state.connections.clone();
    let shutdown_timeout = server_settings.shutdown_timeout_seconds;
    let cors_enabled = !state.settings.cors.allowed_origins.is_empty();
    let browser = (
        state.settings.cors.clone(),
        state.settings.cookies.csrf_header.clone(),
    );
    let served = routes::Served::from_settings(&state.settings);
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(middleware::Condition::new(
                cors_enabled,
                cors(&browser.0, &browser.1),
            ))
            .wrap(TracingLogger::<RequestSpan>::new())
            .wrap(middleware::from_fn(refuse_over_connection_cap))
            // Outermost: every answer is counted, the connection cap's too.
            .wrap(middleware::from_fn(observe_request))
            .app_data(data.clone())
            .app_data(body_limits)
            .configure(move |config| routes::configure(config, served))
            .default_service(web::to(routes::not_found))
    })
    .on_connect(move |connection, data| connections.on_connect(connection, data))
    .workers(workers)
    .max_connections(per_worker)
    .shutdown_timeout(shutdown_timeout)
    .listen(listener)?;
    Ok(server.run())
}

/// `/metrics` alone, on the listener `metrics.bind` names.
fn serve_metrics(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(routes::MetricsListener)
            .route("/metrics", web::get().to(routes::metrics))
            .default_service(web::to(routes::not_found))
    })
    .workers(1)
    // SIGTERM stops the API's server, which then stops this one.
    .disable_signals()
    .listen(listener)?;
    Ok(server.run())
}

/// Counts and times every request by its route template and status class
/// (`crate::metrics`), and runs it with its client's address at hand for
/// the audit events it records (`crate::audit`).
async fn observe_request(
    request: ServiceRequest,
    next: middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let state = request.app_data::<web::Data<AppState>>().cloned();
    // Resolved once here; the span, the routes and the limits read it.
    let client = state
        .as_ref()
        .map(|state| ResolvedClient::of(request.request(), &state.proxies));
    if let Some(client) = client {
        request.extensions_mut().insert(ResolvedClient(client));
    }
    let method = metrics::method_label(request.method());
    let outcome = Audit::for_client(client, next.call(request)).await;
    if let Some(state) = state {
        let (route, status) = match &outcome {
            Ok(response) => (
                response
                    .request()
                    .app_data::<routes::RouteLabel>()
                    .map(|label| label.0),
                response.status(),
            ),
            Err(error) => (None, error.as_response_error().status_code()),
        };
        let route = route.unwrap_or(metrics::UNMATCHED);
        state
            .metrics
            .request_seconds
            .get_or_create(&RouteLabels { route })
            .observe(started.elapsed().as_secs_f64());
        state
            .metrics
            .requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status: metrics::status_class(status.as_u16()),
            })
            .inc();
    }
    outcome
}

/// CORS for the exact origins in `cors.allowed_origins`, with credentials:
/// a request from another origin gets no CORS headers (the browser keeps
/// the answer from its page), and a preflight is answered and may be cached
/// for `cors.max_age_seconds`. Nothing here can allow every origin.
fn cors(settings: &CorsSettings, csrf_header: &str) -> actix_cors::Cors {
    use actix_web::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName};
    let mut headers = vec![AUTHORIZATION, CONTENT_TYPE, ACCEPT];
    let mut exposed = Vec::new();
    if let Ok(csrf) = HeaderName::from_bytes(csrf_header.as_bytes()) {
        headers.push(csrf.clone());
        // The CSRF token a token answer carries, for a page on another site.
        exposed.push(csrf);
    }
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "HEAD", "POST", "PATCH", "DELETE"])
        .allowed_headers(headers)
        .expose_headers(exposed)
        .supports_credentials()
        .max_age(usize::try_from(settings.max_age_seconds).ok());
    for origin in &settings.allowed_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Answers every request on a connection opened over its address's cap
/// with 429, and closes it (see `crate::throttle::connections`).
async fn refuse_over_connection_cap(
    request: ServiceRequest,
    next: middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if request.conn_data::<OverConnectionCap>().is_some() {
        return Err(ApiError::TooManyConnections.into());
    }
    next.call(request).await
}
