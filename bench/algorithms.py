#!/usr/bin/env python3
"""Verify throughput per signing algorithm, side by side in one run.

    python3 bench/algorithms.py      # ROUNDS=5 DURATION=8 CONNECTIONS=32 by default

Starts one release latchkey per (algorithm, verified-token cache on/off), each
on its own SQLite file, all idle but the one being measured. Every round
measures /healthz and then POST /api/token/verify/ on each server with wrk, so
the machine's noise falls on all of them alike; the report gives medians and
the median of per-round ratios to HS256. With the cache on, a repeated token
skips the signature check (the common case: a client reuses its access token
until it expires); with it off, every request verifies the signature, which is
what a never-seen token costs. Needs: wrk.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ONE_CLIENT_SETTINGS, ROOT, SETTINGS_NOTE, run, wait_until_serving, wrk  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
FIRST_PORT = int(os.environ.get("PORT", "18100"))
ALGORITHMS = ["HS256", "EdDSA", "ES256", "RS256"]
PASSWORD = "bench password"


def start(binary, algorithm, cache, port, workdir):
    data_dir = Path(tempfile.mkdtemp(prefix=f"latchkey-{algorithm}-", dir=workdir))
    env = {
        **os.environ,
        "LATCHKEY_SERVER__BIND": f"127.0.0.1:{port}",
        "LATCHKEY_DATA_DIR": str(data_dir),
        "LATCHKEY_LOG__FILTER": "error",
        "LATCHKEY_PASSWORDS__ITERATIONS": "1000",
        "LATCHKEY_JWT__VERIFIED_TOKEN_CACHE_CAPACITY": "10000" if cache else "0",
        **ONE_CLIENT_SETTINGS,
    }
    if algorithm == "HS256":
        env["LATCHKEY_JWT__SIGNING_KEY"] = "benchmark-secret-benchmark-secret-benchmark"
    else:
        key_file = data_dir / "key.pem"
        out = run([binary, "keys", "generate", "--alg", algorithm, "--out", str(key_file)], env=env)
        kid = next(line[5:] for line in out.splitlines() if line.startswith("kid: "))
        env["LATCHKEY_JWT__KEYS"] = json.dumps([{"kid": kid, "algorithm": algorithm, "file": str(key_file)}])
        env["LATCHKEY_JWT__SIGNING_KID"] = kid
    run([binary, "users", "create", "bench", "--password-stdin"], env=env, input=PASSWORD + "\n")
    server = subprocess.Popen([binary, "serve"], env=env)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base)
    return server, base


def access_token(base):
    request = urllib.request.Request(
        base + "/api/token/", json.dumps({"username": "bench", "password": PASSWORD}).encode(),
        {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["access"]


def main():
    if not shutil.which("wrk"):
        sys.exit("wrk is required (apt-get install wrk)")
    print("building the release binary ...", flush=True)
    run(["cargo", "build", "--release", "--locked", "--bin", "latchkey"], cwd=ROOT)
    binary = str(ROOT / "target/release/latchkey")
    workdir = tempfile.mkdtemp(prefix="latchkey-algorithms-")
    servers = {}
    try:
        port = FIRST_PORT
        for algorithm in ALGORITHMS:
            for cache in (True, False):
                servers[(algorithm, cache)] = start(binary, algorithm, cache, port, workdir)
                port += 1
        results = {"healthz": []} | {f"{a} {'cached' if c else 'uncached'}": [] for a, c in servers}
        script = ["-s", str(ROOT / "bench/request.lua")]
        connections = ["-t", "2", "-c", str(CONNECTIONS)]
        for round_number in range(1, ROUNDS + 1):
            print(f"round {round_number}/{ROUNDS}", flush=True)
            first_base = servers[(ALGORITHMS[0], True)][1]
            results["healthz"].append(wrk([*connections, *script, f"{first_base}/healthz"]))
            for (algorithm, cache), (_, base) in servers.items():
                token = access_token(base)
                results[f"{algorithm} {'cached' if cache else 'uncached'}"].append(
                    wrk([*connections, *script, f"{base}/api/token/verify/"],
                        {"METHOD": "POST", "BODY": json.dumps({"token": token})}))
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(results), flush=True)
    report(results)


def report(results):
    def ratio(name, baseline):
        return statistics.median(a["rps"] / b["rps"] for a, b in zip(results[name], results[baseline]))

    lines = [
        f"rounds={ROUNDS} connections={CONNECTIONS} cores={os.cpu_count()}; {SETTINGS_NOTE}",
        "",
        "| POST /api/token/verify/ | requests/s (median) | p50 ms | p99 ms | vs HS256 (same cache) | non-2xx |",
        "|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        median = {key: statistics.median(r[key] for r in runs) for key in ("rps", "p50", "p99")}
        errors = sum(r["errors"] for r in runs)
        baseline = "HS256 " + name.split(" ")[-1] if name != "healthz" else None
        versus = f"{ratio(name, baseline):.2f}x" if baseline else ""
        label = "GET /healthz (reference)" if name == "healthz" else name
        lines.append(f"| {label} | {median['rps']:.0f} | {median['p50']:.2f} | {median['p99']:.2f} | "
                     f"{versus} | {errors} |")
    failed = sum(r["errors"] for runs in results.values() for r in runs)
    if failed:
        lines += ["", f"INVALID RUN: {failed} non-2xx answers"]
    print("\n".join(lines))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
