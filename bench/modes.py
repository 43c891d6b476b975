#!/usr/bin/env python3
"""Bearer-protected /api/me/ with each credential the opt-in modes add,
against an access token, on one server in one run.

    python3 bench/modes.py      # ROUNDS=5 DURATION=8 CONNECTIONS=32 TOLERANCE=0.10

The release build serves on PostgreSQL with sliding tokens and DRF token
keys on (drf_token.enabled, sliding.enabled), the rest at its defaults but
the one-client settings of bench/run.py. Each round measures /api/me/ with
`Authorization: Bearer <access>`, `Token <key>` and `Bearer <sliding>`,
back to back, rotating which goes first; the result is the median of the
per-round ratios to the access token's throughput, held to TOLERANCE (a
DRF key within 10% of an access token: issue 18). Needs wrk and psql.
"""

import json
import os
import shutil
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (start(), the same server set-up as compare.py)
import run as bench  # noqa: E402

ROOT = bench.ROOT
TOLERANCE = float(os.environ.get("TOLERANCE", "0.10"))
MODES_ENV = {
    "LATCHKEY_SLIDING__ENABLED": "true",
    "LATCHKEY_DRF_TOKEN__ENABLED": "true",
    "LATCHKEY_DRF_TOKEN__SECRET": "benchmark-drf-secret-benchmark-drf-secret",
}
CREDENTIALS = ("access", "drf_key", "sliding")


def post(base, path, body):
    request = urllib.request.Request(base + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def headers(base):
    login = {"username": "bench", "password": bench.PASSWORD}
    return {
        "access": f"Bearer {post(base, '/api/token/', login)['access']}",
        "drf_key": f"Token {post(base, '/api-token-auth/', login)['token']}",
        "sliding": f"Bearer {post(base, '/api/token/sliding/', login)['token']}",
    }


def main():
    for tool in ("wrk", "psql"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is required (apt-get install wrk postgresql-client)")
    print("building the release binary ...", flush=True)
    bench.run(["cargo", "build", "--release", "--locked", "--bin", "latchkey"], cwd=ROOT)
    workdir = tempfile.mkdtemp(prefix="latchkey-modes-")
    server, base = compare.start(ROOT / "target/release/latchkey", "latchkey_bench_modes", bench.PORT,
                                 workdir, extra_env=MODES_ENV)
    rows = {credential: [] for credential in CREDENTIALS}
    try:
        authorization = headers(base)
        for round_number in range(1, bench.ROUNDS + 1):
            print(f"round {round_number}/{bench.ROUNDS}", flush=True)
            shift = (round_number - 1) % len(CREDENTIALS)
            for credential in CREDENTIALS[shift:] + CREDENTIALS[:shift]:
                rows[credential].append(bench.wrk(
                    [*compare.CONNECTIONS, *compare.SCRIPT, f"{base}/api/me/"],
                    {"AUTHORIZATION": authorization[credential]}))
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    report(rows)


def report(rows):
    errors = sum(r["errors"] for runs in rows.values() for r in runs)
    lines = [
        f"/api/me/ by credential; sliding and drf_token on; rounds={bench.ROUNDS} "
        f"duration={bench.DURATION}s connections={bench.CONNECTIONS}; {bench.SETTINGS_NOTE}",
        "",
        f"| credential | req/s (median) | p50 ms | p99 ms | ratio to access (median per round) "
        f"| rounds | within {TOLERANCE:.0%} |",
        "|---|---|---|---|---|---|---|",
    ]
    access = [r["rps"] for r in rows["access"]]
    for credential in CREDENTIALS:
        runs = rows[credential]
        ratios = [r["rps"] / a for r, a in zip(runs, access)]
        ratio = statistics.median(ratios)
        lines.append(
            f"| {credential} | {statistics.median(r['rps'] for r in runs):.0f} | "
            f"{statistics.median(r['p50'] for r in runs):.2f} | "
            f"{statistics.median(r['p99'] for r in runs):.2f} | {ratio:.2f}x | "
            f"{', '.join(f'{r:.2f}' for r in ratios)} | {'yes' if ratio >= 1 - TOLERANCE else 'NO'} |")
    if errors:
        lines += ["", f"INVALID RUN: {errors} non-2xx answers"]
    text = "\n".join(lines)
    print(json.dumps(rows))
    print(text)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "modes.md").write_text(text + "\n")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
