#!/usr/bin/env python3
"""Login abuse, measured: does verify keep answering during a login flood,
and does limiter memory stay bounded under a million client addresses?

    python3 bench/login_flood.py     # ROUNDS=3 DURATION=10 FLOOD_CONNECTIONS=256 ADDRESSES=1000000

ADDRESSES=0 skips the memory part.

1. Verify latency, idle and during a flood of logins at many times the
   hashing capacity (FLOOD_CONNECTIONS connections, each waiting up to
   hash_wait_ms for a slot, each request from a new address behind a
   trusted proxy, so no rate limit turns it away and every one wants a hash).
   Idle and flooded runs alternate, ROUNDS times; the report gives the median
   p99 of each and their ratio.
2. Resident memory (VmRSS) before and after 1,000,000 failed logins from
   1,000,000 distinct addresses through the trusted proxy, and again after a
   pruning interval. Here hash_wait_ms is 1, so requests that find every
   hashing slot busy get 503 at once: the flood reaches a million addresses in
   minutes instead of days, and every address still goes through the limiter.

Uses the release build on SQLite. Needs: wrk.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, run, wait_until_serving, wrk  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "10"))
ADDRESSES = int(os.environ.get("ADDRESSES", "1000000"))
FLOOD_CONNECTIONS = int(os.environ.get("FLOOD_CONNECTIONS", "256"))
PORT = int(os.environ.get("PORT", "18200"))
BASE = f"http://127.0.0.1:{PORT}"
PASSWORD = "bench password"


def start(binary, data_dir, extra):
    env = {
        **os.environ,
        "LATCHKEY_SERVER__BIND": f"127.0.0.1:{PORT}",
        "LATCHKEY_DATA_DIR": data_dir,
        "LATCHKEY_LOG__FILTER": "error",
        "LATCHKEY_JWT__SIGNING_KEY": "benchmark-secret-benchmark-secret-benchmark",
        "LATCHKEY_THROTTLE__TRUSTED_PROXIES": "127.0.0.1",
        **extra,
    }
    run([binary, "users", "create", "bench", "--password-stdin"], env=env, input=PASSWORD + "\n")
    server = subprocess.Popen([binary, "serve"], env=env)
    wait_until_serving(BASE)
    return server


def rss_mb(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def access_token():
    """Logs in, retrying while the hashing slots are still busy with a flood."""
    request = urllib.request.Request(
        BASE + "/api/token/", json.dumps({"username": "bench", "password": PASSWORD}).encode(),
        {"Content-Type": "application/json", "X-Forwarded-For": "192.0.2.1"})
    for _ in range(60):
        try:
            with urllib.request.urlopen(request) as response:
                return json.load(response)["access"]
        except urllib.error.HTTPError as error:
            if error.code != 503:
                raise
            time.sleep(1)
    raise RuntimeError("no login got a hashing slot in a minute")


def flood(duration, connections, start_at=0, extra=()):
    """Starts wrk flooding logins; returns the process."""
    env = {**os.environ, "BODY": json.dumps({"username": "bench", "password": "wrong"}),
           "START": str(start_at)}
    return subprocess.Popen(["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", *extra,
                             "-s", str(ROOT / "bench/flood.lua"), f"{BASE}/api/token/"],
                            env=env, stdout=subprocess.PIPE, text=True)


def verify_latency(token):
    # Few connections: latency, not throughput, is what the flood must not ruin.
    return wrk(["-t", "1", "-c", "4", "-d", f"{DURATION}s", "-s", str(ROOT / "bench/request.lua"),
                f"{BASE}/api/token/verify/"], {"METHOD": "POST", "BODY": json.dumps({"token": token})})


def latency_under_flood(binary):
    data_dir = tempfile.mkdtemp(prefix="latchkey-flood-")
    server = start(binary, data_dir, {})
    idle, flooded, floods = [], [], []
    try:
        for round_number in range(1, ROUNDS + 1):
            print(f"latency round {round_number}/{ROUNDS}", flush=True)
            token = access_token()
            time.sleep(3)  # the previous flood's queued logins drain
            idle.append(verify_latency(token))
            attack = flood(DURATION + 2, FLOOD_CONNECTIONS, start_at=round_number * 10_000_000)
            time.sleep(1)
            flooded.append(verify_latency(token))
            out = attack.communicate()[0]
            floods.append({
                "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                "statuses": {int(k): int(v) for k, v in re.findall(r"status (\d+): (\d+)", out)},
            })
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
    return idle, flooded, floods


def memory_under_addresses(binary):
    data_dir = tempfile.mkdtemp(prefix="latchkey-addresses-")
    server = start(binary, data_dir, {"LATCHKEY_THROTTLE__HASH_WAIT_MS": "1"})
    try:
        before = rss_mb(server.pid)
        sent, peak, started = 0, before, time.time()
        # Chunks of 15 s, until a million distinct addresses have been sent.
        while sent < ADDRESSES:
            attack = flood(15, 64, start_at=sent)
            out = attack.communicate()[0]
            sent += int(re.search(r"(\d+) requests in", out).group(1))
            peak = max(peak, rss_mb(server.pid))
            print(f"{sent} addresses, {rss_mb(server.pid):.1f} MB", flush=True)
        elapsed = time.time() - started
        after_flood = rss_mb(server.pid)
        time.sleep(12)  # one pruning interval (10 s) and then some
        after_prune = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"addresses": sent, "seconds": elapsed, "rss_before_mb": before, "rss_peak_mb": peak,
            "rss_after_flood_mb": after_flood, "rss_after_prune_mb": after_prune}


def sum_statuses(floods):
    total = {}
    for flood_run in floods:
        for status, count in flood_run["statuses"].items():
            total[status] = total.get(status, 0) + count
    return total


def main():
    if not shutil.which("wrk"):
        sys.exit("wrk is required (apt-get install wrk)")
    print("building the release binary ...", flush=True)
    run(["cargo", "build", "--release", "--locked", "--bin", "latchkey"], cwd=ROOT)
    binary = str(ROOT / "target/release/latchkey")
    idle, flooded, floods = latency_under_flood(binary)
    memory = memory_under_addresses(binary) if ADDRESSES else None
    print(json.dumps({"idle": idle, "flooded": flooded, "floods": floods, "memory": memory}), flush=True)
    idle_p99 = statistics.median(r["p99"] for r in idle)
    flooded_p99 = statistics.median(r["p99"] for r in flooded)
    ratio = statistics.median(f["p99"] / i["p99"] for i, f in zip(idle, flooded))
    # The flood's own answers are meant to be refusals (401, 429, 503); the
    # verify requests measured beside it must all succeed.
    verify_errors = sum(r["errors"] for r in idle + flooded)
    print("\n".join([
        "settings as shipped (limits on); each flood request from a new address behind the trusted proxy",
        f"rounds={ROUNDS} duration={DURATION}s cores={os.cpu_count()}",
        "",
        "| POST /api/token/verify/ (4 connections) | requests/s | p50 ms | p99 ms |",
        "|---|---|---|---|",
        f"| idle | {statistics.median(r['rps'] for r in idle):.0f} | "
        f"{statistics.median(r['p50'] for r in idle):.2f} | {idle_p99:.2f} |",
        f"| during the login flood | {statistics.median(r['rps'] for r in flooded):.0f} | "
        f"{statistics.median(r['p50'] for r in flooded):.2f} | {flooded_p99:.2f} |",
        "",
        f"flood: {statistics.median(f['rps'] for f in floods):.0f} logins/s answered (median); by status, "
        f"all rounds: {dict(sorted(sum_statuses(floods).items()))}",
        f"p99 during flood / idle p99 (median of per-round ratios): {ratio:.2f}x (target <= 3x)",
        "",
    ]))
    if memory:
        print(f"memory: {memory['addresses']} distinct addresses in {memory['seconds']:.0f} s; RSS "
              f"{memory['rss_before_mb']:.1f} MB before, {memory['rss_peak_mb']:.1f} MB peak, "
              f"{memory['rss_after_flood_mb']:.1f} MB at the end, "
              f"{memory['rss_after_prune_mb']:.1f} MB after pruning")
    if verify_errors:
        print(f"INVALID RUN: {verify_errors} non-2xx answers to verify")
        sys.exit(1)


if __name__ == "__main__":
    main()
