# Build: a full Rust toolchain with the PostgreSQL client library.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY config ./config
COPY benches ./benches
RUN cargo build --release --locked --bin latchkey

# Run: a slim Debian with only the runtime libraries, as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin latchkey
WORKDIR /app
COPY --from=build /src/target/release/latchkey /usr/local/bin/latchkey
COPY config ./config
RUN mkdir -p /app/data && chown latchkey /app/data
USER latchkey
ENV LATCHKEY_SERVER__BIND=0.0.0.0:8000
EXPOSE 8000
# `latchkey healthcheck` asks /readyz (the image has no curl): unhealthy while
# the database is away. An orchestrator that replaces unhealthy containers
# would replace ones still verifying tokens from memory: give it
# `latchkey healthcheck --live` (/healthz) instead.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["latchkey", "healthcheck"]
ENTRYPOINT ["latchkey"]
CMD ["serve"]
