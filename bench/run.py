#!/usr/bin/env python3
"""latchkey's HTTP benchmark: the release build on PostgreSQL, measured with
wrk (Debian) and compared, in the same run, against its own /healthz and
against pgbench doing a refresh's writes.

    python3 bench/run.py            # ROUNDS=5 DURATION=8 CONNECTIONS=32 by default

Endpoints are measured round-robin, ROUNDS times, and the medians reported, so
the noise of a shared machine falls on all of them alike. Needs: wrk, pgbench,
a PostgreSQL at PGURL (default postgres://postgres@127.0.0.1:5432).
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("ROUNDS", "5"))
DURATION = int(os.environ.get("DURATION", "8"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
CHAINS = int(os.environ.get("REFRESH_CHAINS", os.environ.get("CONNECTIONS", "32")))
FEW_CHAINS = int(os.environ.get("FEW_REFRESH_CHAINS", "8"))
PORT = int(os.environ.get("PORT", "18000"))
PGURL = os.environ.get("PGURL", "postgres://postgres@127.0.0.1:5432")
DATABASE = "latchkey_bench"
PASSWORD = "bench password"
BASE = f"http://127.0.0.1:{PORT}"
# The load comes from one address (wrk on loopback), so the per-address
# protections would measure themselves instead of the endpoint: the rate
# limits and the per-address connection cap are off in every benchmark of
# throughput. bench/login_flood.py measures the protections, on.
ONE_CLIENT_SETTINGS = {
    "LATCHKEY_THROTTLE__LOGIN_ATTEMPTS__PER_MINUTE": "0",
    "LATCHKEY_THROTTLE__LOGIN_FAILURES__PER_MINUTE": "0",
    "LATCHKEY_THROTTLE__ACCOUNT_FAILURES__PER_MINUTE": "0",
    "LATCHKEY_THROTTLE__REFRESH__PER_MINUTE": "0",
    "LATCHKEY_SERVER__MAX_CONNECTIONS_PER_ADDRESS": "0",
}
SETTINGS_NOTE = "rate limits and per-address connection cap off (one load-generating address)"


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs).stdout


def post(path, body):
    request = urllib.request.Request(BASE + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def wait_until_serving(base, path="/healthz"):
    """Waits (up to 20 s) until the server at `base` answers `path` (any
    HTTP status counts: the server is up)."""
    for _ in range(200):
        try:
            urllib.request.urlopen(base + path)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{base} did not start")


def obtain():
    return post("/api/token/", {"username": "bench", "password": PASSWORD})


def to_ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(args, env=None):
    duration = [] if "-d" in args else ["-d", f"{DURATION}s"]
    out = run(["wrk", "--latency", *duration, *args], env={**os.environ, **(env or {})})
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "errors": int(non2xx.group(1)) if non2xx else 0}


def main():
    for tool in ("wrk", "pgbench", "psql"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is required (apt-get install wrk postgresql-client)")
    print("building the release binary ...", flush=True)
    run(["cargo", "build", "--release", "--locked", "--bin", "latchkey"], cwd=ROOT)
    binary = ROOT / "target/release/latchkey"

    psql = ["psql", "-q", "-v", "ON_ERROR_STOP=1", f"{PGURL}/postgres", "-c"]
    run(psql + [f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"])
    run(psql + [f"CREATE DATABASE {DATABASE}"])
    data_dir = tempfile.mkdtemp(prefix="latchkey-bench-")
    env = {
        **os.environ,
        "LATCHKEY_DATABASE__URL": f"{PGURL}/{DATABASE}",
        "LATCHKEY_JWT__SIGNING_KEY": "benchmark-secret-benchmark-secret-benchmark",
        "LATCHKEY_SERVER__BIND": f"127.0.0.1:{PORT}",
        "LATCHKEY_DATA_DIR": data_dir,
        "LATCHKEY_LOG__FILTER": "error",
        **ONE_CLIENT_SETTINGS,
    }
    print("measuring password hashing ...", flush=True)
    hashes = hashing()
    run([binary, "migrate"], env=env)
    run([binary, "users", "create", "bench", "--password-stdin"], env=env, input=PASSWORD + "\n")
    server = subprocess.Popen([binary, "serve"], env=env)
    try:
        wait_until_serving(BASE)
        results = measure()
        rss_mb = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps({"results": results, "peak_rss_mb": rss_mb, "hashing": hashes}), flush=True)
    report(results, rss_mb, hashes)


def measure():
    lua = str(ROOT / "bench")
    pg_parents = 200_000
    # One session per parent token, as logins make them.
    run(["psql", "-q", "-v", "ON_ERROR_STOP=1", f"{PGURL}/{DATABASE}", "-c",
         "INSERT INTO token_families (id, user_id, created_at, last_used_at, expires_at) "
         f"SELECT 'family-' || i, 1, now(), now(), now() + interval '30 days' FROM generate_series(1, {pg_parents}) i; "
         "INSERT INTO refresh_tokens (jti, user_id, family_id, issued_at, expires_at) "
         f"SELECT 'parent-' || i, 1, 'family-' || i, now(), now() + interval '1 day' "
         f"FROM generate_series(1, {pg_parents}) i"])
    results = {name: [] for name in ("healthz", "verify", "me", "refresh", "refresh_few", "obtain",
                                      "pgbench", "pgbench_few")}
    connections = ["-t", "2", "-c", str(CONNECTIONS)]
    for round_number in range(1, ROUNDS + 1):
        print(f"round {round_number}/{ROUNDS}", flush=True)
        # All rounds together outlast an access token (5 minutes): each gets its own.
        access = obtain()["access"]
        script = ["-s", f"{lua}/request.lua"]
        results["healthz"].append(wrk([*connections, *script, f"{BASE}/healthz"]))
        results["verify"].append(wrk([*connections, *script, f"{BASE}/api/token/verify/"],
                                     {"METHOD": "POST", "BODY": json.dumps({"token": access})}))
        results["me"].append(wrk([*connections, *script, f"{BASE}/api/me/"],
                                 {"AUTHORIZATION": f"Bearer {access}"}))
        for key, chains in (("refresh", CHAINS), ("refresh_few", FEW_CHAINS)):
            with tempfile.NamedTemporaryFile("w", suffix=".tokens") as tokens:
                tokens.write("\n".join(obtain()["refresh"] for _ in range(chains)) + "\n")
                tokens.flush()
                results[key].append(wrk(["-t", str(chains), "-c", str(chains), "-s", f"{lua}/refresh.lua",
                                         f"{BASE}/api/token/refresh/"], {"TOKENS": tokens.name}))
        # Logins are few per second: a longer run counts enough of them.
        results["obtain"].append(wrk(["-t", "2", "-c", "4", "-d", f"{3 * DURATION}s", *script, f"{BASE}/api/token/"],
                                     {"METHOD": "POST",
                                      "BODY": json.dumps({"username": "bench", "password": PASSWORD})}))
        for key, clients in (("pgbench", CHAINS), ("pgbench_few", FEW_CHAINS)):
            out = run(["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(DURATION),
                       "-D", f"parents={pg_parents}", "-f", f"{lua}/refresh.pgbench", f"{PGURL}/{DATABASE}"])
            tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
            results[key].append({"rps": tps, "p50": float("nan"), "p99": float("nan"), "errors": 0})
    return results


def peak_rss_mb(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def hashing():
    """One hash's median time (ms), and hashes/s with every core hashing."""
    out = run(["cargo", "bench", "--locked", "--bench", "pbkdf2"], cwd=ROOT)
    one = float(re.search(r"aws-lc-rs\s+median\s+([\d.]+) ms", out).group(1))
    parallel = float(re.search(r"cores at once: ([\d.]+) hashes/s", out).group(1))
    return one, parallel


def report(results, rss_mb, hashes):
    median = {name: {key: statistics.median(r[key] for r in runs) for key in ("rps", "p50", "p99")}
              for name, runs in results.items()}
    errors = {name: sum(r["errors"] for r in runs) for name, runs in results.items()}
    one_hash, parallel_hashes = hashes
    cores = os.cpu_count()
    obtain_capacity = cores / (one_hash / 1000)
    lines = [
        f"rounds={ROUNDS} duration={DURATION}s connections={CONNECTIONS} refresh_chains={CHAINS}/{FEW_CHAINS} "
        f"cores={cores}; {SETTINGS_NOTE}",
        "",
        "| endpoint | requests/s (median) | p50 ms | p99 ms | non-2xx |",
        "|---|---|---|---|---|",
    ]
    labels = {"refresh": f"refresh, {CHAINS} chains", "refresh_few": f"refresh, {FEW_CHAINS} chains"}
    for name in ("healthz", "verify", "me", "refresh", "refresh_few", "obtain"):
        m = median[name]
        label = labels.get(name, name)
        lines.append(f"| {label} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {errors[name]} |")
    lines.append(f"| pgbench, refresh's writes, {CHAINS} clients | {median['pgbench']['rps']:.0f} tps | | | |")
    lines.append(f"| pgbench, refresh's writes, {FEW_CHAINS} clients | {median['pgbench_few']['rps']:.0f} tps | | | |")
    lines += [
        "",
        "| target (median of per-round ratios) | measured | met |",
        "|---|---|---|",
    ]
    def paired(numerator, denominator):
        """Median of the per-round ratios: each round measures both back to back."""
        return statistics.median(a["rps"] / b["rps"] for a, b in zip(results[numerator], results[denominator]))

    checks = [
        ("verify >= 0.8x healthz", paired("verify", "healthz"), 0.8),
        ("/api/me/ >= 0.8x healthz", paired("me", "healthz"), 0.8),
        (f"refresh >= 0.7x pgbench, {CHAINS} concurrent", paired("refresh", "pgbench"), 0.7),
        (f"refresh >= 0.7x pgbench, {FEW_CHAINS} concurrent", paired("refresh_few", "pgbench_few"), 0.7),
        (f"obtain >= 0.9x cores/hash ({obtain_capacity:.1f}/s, hash {one_hash:.1f} ms)",
         median["obtain"]["rps"] / obtain_capacity, 0.9),
        (f"(obtain vs {cores} cores hashing at once: {parallel_hashes:.1f}/s)",
         median["obtain"]["rps"] / parallel_hashes, 0.9),
    ]
    for label, ratio, target in checks:
        lines.append(f"| {label} | {ratio:.2f}x | {'yes' if ratio >= target else 'NO'} |")
    lines.append(f"| resident memory < 64 MB | {rss_mb:.1f} MB peak | {'yes' if rss_mb < 64 else 'NO'} |")
    failed = {name: count for name, count in errors.items() if count}
    if failed:
        lines += ["", f"INVALID RUN: non-2xx answers {failed}"]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "latest.md").write_text(text + "\n")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
