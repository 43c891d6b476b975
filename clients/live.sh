#!/usr/bin/env bash
# Starts a live latchkey for the contract checks: the debug build, on a fresh
# PostgreSQL database, with a real user. Sourced by .ci/run; sets LIVE_URL,
# LIVE_USERNAME, LIVE_PASSWORD, LIVE_CLIENT_ID, LIVE_CLIENT_SECRET (an
# introspection client), LIVE_ADMIN_ID, LIVE_ADMIN_SECRET (an admin client),
# LIVE_GROUP (an existing group), LIVE_PID and LIVE_DIR, and stops the server
# on exit.
#   PGURL (default postgres://postgres@127.0.0.1:5432) and LIVE_PORT (18080).
set -euo pipefail

pg="${PGURL:-postgres://postgres@127.0.0.1:5432}"
port="${LIVE_PORT:-18080}"
database="latchkey_contract"
psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database"

live_dir="$(mktemp -d)"
export LATCHKEY_DATABASE__URL="$pg/$database"
export LATCHKEY_DATA_DIR="$live_dir"
export LATCHKEY_SERVER__BIND="127.0.0.1:$port"
export LATCHKEY_LOG__FILTER="warn"
# Contract checks log in and fail far more often than a person would; the
# limits themselves are tested in tests/api/throttle.rs.
export LATCHKEY_THROTTLE__LOGIN_FAILURES__PER_MINUTE=0
export LATCHKEY_THROTTLE__LOGIN_ATTEMPTS__PER_MINUTE=0
export LATCHKEY_THROTTLE__ACCOUNT_FAILURES__PER_MINUTE=0
export LATCHKEY_THROTTLE__REFRESH__PER_MINUTE=0
export LATCHKEY_THROTTLE__SIGNUPS__PER_MINUTE=0
export LATCHKEY_PASSWORDS__ITERATIONS=1000
LIVE_CLIENT_ID="contract"
LIVE_CLIENT_SECRET="contract-client-secret-0123456789abcdef"
export LATCHKEY_INTROSPECTION__CLIENTS="[{\"id\":\"$LIVE_CLIENT_ID\",\"secret\":\"$LIVE_CLIENT_SECRET\"}]"
LIVE_ADMIN_ID="backend"
LIVE_ADMIN_SECRET="contract-admin-secret-0123456789abcdef"
export LATCHKEY_ADMIN__CLIENTS="[{\"id\":\"$LIVE_ADMIN_ID\",\"secret\":\"$LIVE_ADMIN_SECRET\"}]"
export LATCHKEY_SIGNUP__ENABLED=true
# The opt-in modes, so their operations are checked too.
export LATCHKEY_SLIDING__ENABLED=true
export LATCHKEY_DRF_TOKEN__ENABLED=true
export LATCHKEY_DRF_TOKEN__SECRET="live-drf-token-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export LATCHKEY_JWT__USER_CLAIMS='["username", "groups", "claims"]'

binary="target/debug/latchkey"
LIVE_USERNAME="alice"
LIVE_PASSWORD="correct horse battery"
echo "$LIVE_PASSWORD" | "$binary" users create "$LIVE_USERNAME" --password-stdin
LIVE_GROUP="editors"
"$binary" groups create "$LIVE_GROUP" >/dev/null
"$binary" serve >"$live_dir/server.log" 2>&1 &
LIVE_PID=$!
LIVE_DIR="$live_dir"
trap 'kill "$LIVE_PID" 2>/dev/null || true; rm -rf "$LIVE_DIR"' EXIT
LIVE_URL="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    curl -fsS "$LIVE_URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$LIVE_URL/readyz" >/dev/null
export LIVE_URL LIVE_USERNAME LIVE_PASSWORD LIVE_PID LIVE_DIR LIVE_CLIENT_ID LIVE_CLIENT_SECRET \
    LIVE_ADMIN_ID LIVE_ADMIN_SECRET LIVE_GROUP
