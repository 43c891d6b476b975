#!/usr/bin/env bash
# The OpenAPI contract against a live latchkey on PostgreSQL: schemathesis
# runs every check it has on every operation in openapi.yaml (positive and
# negative data, response schemas, status codes, headers, stateful links),
# logging in for Bearer tokens and as an introspection client. Any failure or
# 5xx fails the run. Needs the debug build (cargo build) and schemathesis
# (tests/verifiers/requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
source clients/live.sh

schemathesis --config-file clients/schemathesis.toml run openapi.yaml \
    --url "$LIVE_URL" \
    --checks all \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-60}" \
    --seed "${SCHEMATHESIS_SEED:-20261122}" \
    --no-color
