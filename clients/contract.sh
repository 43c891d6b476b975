#!/usr/bin/env bash
# The OpenAPI contract against a live latchkey on PostgreSQL:
# 1. schemathesis runs every check it has on every operation in openapi.yaml
#    (positive and negative data, response schemas, status codes, headers,
#    stateful links), logging in for Bearer tokens and as an introspection
#    and an admin client; any failure or 5xx fails the run; the admin API's
#    run comes last (3.), as it may delete the user the others log in as;
# 2. a Python client generated with openapi-python-client and a TypeScript
#    client generated with @hey-api/openapi-ts each run the token flow
#    (clients/python/flow.py, clients/typescript/flow.ts); the Python one
#    then runs the admin flow (users, claims, password change). The generated code
#    is built here, in a temporary directory, never committed.
# Needs the debug build (cargo build), schemathesis
# (clients/requirements.txt), python3 with venv, and node with npm.
set -euo pipefail
cd "$(dirname "$0")/.."
source clients/live.sh

run_schemathesis() {
    schemathesis --config-file clients/schemathesis.toml run openapi.yaml \
        --url "$LIVE_URL" \
        --checks all \
        --max-examples "${SCHEMATHESIS_EXAMPLES:-60}" \
        --seed "${SCHEMATHESIS_SEED:-20261122}" \
        --no-color \
        "$@"
}
echo "==> schemathesis: every operation but the admin API"
run_schemathesis --exclude-tag admin

work="$(mktemp -d)"
trap 'kill "$LIVE_PID" 2>/dev/null || true; rm -rf "$LIVE_DIR" "$work"' EXIT

echo "==> Python client (openapi-python-client), generated and driven"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -r clients/python/requirements.txt
"$work/venv/bin/openapi-python-client" generate --path openapi.yaml --output-path "$work/python" \
    --config clients/python/generator.yaml
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$work/python"
"$work/venv/bin/python" clients/python/flow.py "$LIVE_URL" "$LIVE_USERNAME" "$LIVE_PASSWORD" \
    "$LIVE_ADMIN_ID" "$LIVE_ADMIN_SECRET" "$LIVE_GROUP"

echo "==> TypeScript client (@hey-api/openapi-ts), generated, type-checked and driven"
(
    cd clients/typescript
    npm ci --no-audit --no-fund --loglevel=error
    npm run --silent generate
    npm run --silent check
    npm run --silent flow -- "$LIVE_URL" "$LIVE_USERNAME" "$LIVE_PASSWORD"
)

# Last, on its own: the admin API may change or delete any user it finds,
# the one every check above logs in as included.
echo "==> schemathesis: the admin API"
run_schemathesis --include-tag admin
