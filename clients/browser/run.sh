#!/usr/bin/env bash
# The browser check: a live latchkey (the debug build) in cookie mode on a
# SQLite file of its own, with a user, and the example SPA in Debian's
# chromium driven by playwright-core (clients/browser/browser.mjs).
# Needs chromium (apt) and node with npm; run from .ci/run.
set -euo pipefail
cd "$(dirname "$0")/../.."

api_port="${BROWSER_API_PORT:-18181}"
page_port="${PAGE_PORT:-18182}"
dir="$(mktemp -d)"
export LATCHKEY_DATA_DIR="$dir"
export LATCHKEY_SERVER__BIND="127.0.0.1:$api_port"
export LATCHKEY_LOG__FILTER="warn"
export LATCHKEY_PASSWORDS__ITERATIONS=1000
export LATCHKEY_COOKIES__ENABLED=true
export LATCHKEY_CORS__ALLOWED_ORIGINS="[\"http://localhost:$page_port\"]"
binary="target/debug/latchkey"
echo "correct horse battery" | "$binary" users create alice --password-stdin >/dev/null
"$binary" serve >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$api_port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
(
    cd clients/browser
    npm ci --no-audit --no-fund --loglevel=error
    PAGE_PORT="$page_port" node browser.mjs "http://localhost:$api_port" alice "correct horse battery"
)
