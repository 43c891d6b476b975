#!/usr/bin/env python3
"""Verify, /api/me/ and refresh of the current build against an earlier
build, side by side in one run.

    python3 bench/compare.py     # BASELINE_REV=8dc5473 TOLERANCE=0.05 ROUNDS=5 DURATION=8

Both builds run on PostgreSQL at once, on two ports with two databases. The
current build starts with REVOKED (default 10,000) revoked sessions, which it
loads into memory, and its bench user has a tokens-valid-after mark (set a
day ago), so every request goes through both in-memory checks: the
revoked-session lookup and the user's mark. Each round measures both builds
back to back, alternating which goes first; the result is the median of the
per-round ratios, held to TOLERANCE. Refresh is measured as in
bench/run.py: REFRESH_CHAINS clients, each following its own chain of
rotating refresh tokens. With SEED_BASELINE=1 the baseline gets the same
revoked sessions and mark (for a change that must not cost anything, such
as a restructuring); by default only the current build has them (for a
change that adds those checks). BASELINE_REV=current compares the
current build with itself under other settings: CURRENT_ENV (a JSON object
of LATCHKEY_ variables) applies to the current side only, and SEED_PROFILE=1
adds two groups and a claims object to the bench user wherever the seed
goes (with SEED_BASELINE=1, both sides; the baseline must have those
tables). Needs wrk and psql.

Earlier baselines: 770bc70 (before sessions, for the revocation check),
8dc5473 (before the per-user mark, the default), 59eca68 (before the
sessions service, with SEED_BASELINE=1).
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
import run as bench  # noqa: E402  (the shared helpers of bench/run.py)

ROOT = bench.ROOT
BASELINE_REV = os.environ.get("BASELINE_REV", "8dc5473")
TOLERANCE = float(os.environ.get("TOLERANCE", "0.05"))
REVOKED = int(os.environ.get("REVOKED", "10000"))
SEED_BASELINE = os.environ.get("SEED_BASELINE", "") == "1"
SEED_PROFILE = os.environ.get("SEED_PROFILE", "") == "1"
CURRENT_ENV = json.loads(os.environ.get("CURRENT_ENV", "{}"))
PROFILE_SEED = (
    "INSERT INTO user_groups (name) VALUES ('staff'), ('beta'); "
    "INSERT INTO user_group_members (user_id, group_id) SELECT 1, id FROM user_groups; "
    "UPDATE users SET email = 'bench@example.com', "
    "claims = '{\"tenant\": \"acme\", \"plan\": \"pro\", \"seats\": 25}'"
)
# Which endpoints, of verify, me, refresh and obtain (logins: LOGIN_CONNECTIONS
# clients, hashes at 1000 iterations so what surrounds the hash shows).
ENDPOINTS = tuple(os.environ.get("ENDPOINTS", "verify,me,refresh").split(","))
LOGIN_CONNECTIONS = int(os.environ.get("LOGIN_CONNECTIONS", "4"))
# LATCHKEY_ variables for both sides (after the one-client settings, which
# turn the limits off): e.g. a limit turned on with a budget never reached,
# so both sides check it.
BOTH_ENV = json.loads(os.environ.get("BOTH_ENV", "{}"))
CONNECTIONS = ["-t", "2", "-c", str(bench.CONNECTIONS)]
SCRIPT = ["-s", str(ROOT / "bench" / "request.lua")]


def build_baseline(workdir):
    """The baseline's release binary, built once per commit and kept under
    target/bench-baselines/ (the current one for BASELINE_REV=current)."""
    if BASELINE_REV == "current":
        return ROOT / "target/release/latchkey"
    commit = bench.run(["git", "rev-parse", "--short", BASELINE_REV], cwd=ROOT).strip()
    kept = ROOT / "target" / "bench-baselines" / commit / "latchkey"
    if kept.exists():
        return kept
    tree = Path(workdir) / "baseline"
    bench.run(["git", "worktree", "add", "--detach", str(tree), BASELINE_REV], cwd=ROOT)
    bench.run(["cargo", "build", "--release", "--locked", "--bin", "latchkey"], cwd=tree)
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(tree / "target/release/latchkey", kept)
    return kept


def start(binary, database, port, data_dir, seed_sql=None, extra_env=None):
    url = f"{bench.PGURL}/{database}"
    psql = ["psql", "-q", "-v", "ON_ERROR_STOP=1", f"{bench.PGURL}/postgres", "-c"]
    bench.run(psql + [f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"])
    bench.run(psql + [f"CREATE DATABASE {database}"])
    env = {
        **os.environ,
        "LATCHKEY_DATABASE__URL": url,
        "LATCHKEY_JWT__SIGNING_KEY": "benchmark-secret-benchmark-secret-benchmark",
        "LATCHKEY_SERVER__BIND": f"127.0.0.1:{port}",
        "LATCHKEY_DATA_DIR": data_dir,
        "LATCHKEY_LOG__FILTER": "error",
        # Logins are not measured here.
        "LATCHKEY_PASSWORDS__ITERATIONS": "1000",
        **bench.ONE_CLIENT_SETTINGS,
        **BOTH_ENV,
        **(extra_env or {}),
    }
    bench.run([binary, "migrate"], env=env)
    bench.run([binary, "users", "create", "bench", "--password-stdin"], env=env, input=bench.PASSWORD + "\n")
    if seed_sql:
        bench.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", seed_sql])
    server = subprocess.Popen([binary, "serve"], env=env)
    base = f"http://127.0.0.1:{port}"
    bench.wait_until_serving(base)
    return server, base


def access_token(base):
    return login(base)["access"]


def login(base):
    request = urllib.request.Request(
        base + "/api/token/",
        json.dumps({"username": "bench", "password": bench.PASSWORD}).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def measure(base):
    measured = {}
    if "verify" in ENDPOINTS:
        access = access_token(base)
        measured["verify"] = bench.wrk([*CONNECTIONS, *SCRIPT, f"{base}/api/token/verify/"],
                                       {"METHOD": "POST", "BODY": json.dumps({"token": access})})
    if "me" in ENDPOINTS:
        access = access_token(base)
        measured["me"] = bench.wrk([*CONNECTIONS, *SCRIPT, f"{base}/api/me/"],
                                   {"AUTHORIZATION": f"Bearer {access}"})
    if "refresh" in ENDPOINTS:
        chains = bench.CHAINS
        with tempfile.NamedTemporaryFile("w", suffix=".tokens") as tokens:
            tokens.write("\n".join(login(base)["refresh"] for _ in range(chains)) + "\n")
            tokens.flush()
            measured["refresh"] = bench.wrk(
                ["-t", str(chains), "-c", str(chains), "-s", str(ROOT / "bench" / "refresh.lua"),
                 f"{base}/api/token/refresh/"], {"TOKENS": tokens.name})
    if "obtain" in ENDPOINTS:
        body = json.dumps({"username": "bench", "password": bench.PASSWORD})
        measured["obtain"] = bench.wrk(
            ["-t", "1", "-c", str(LOGIN_CONNECTIONS), *SCRIPT, f"{base}/api/token/"],
            {"METHOD": "POST", "BODY": body})
    return measured


def main():
    print("building both releases ...", flush=True)
    bench.run(["cargo", "build", "--release", "--locked", "--bin", "latchkey"], cwd=ROOT)
    workdir = tempfile.mkdtemp(prefix="latchkey-compare-")
    servers = []
    try:
        baseline_binary = build_baseline(workdir)
        seed = (
            "INSERT INTO token_families (id, user_id, created_at, last_used_at, expires_at, revoked_at, revoked_reason) "
            f"SELECT 'revoked-' || i, 1, now(), now(), now() + interval '30 days', now(), 'logout' "
            f"FROM generate_series(1, {REVOKED}) i; "
            "UPDATE users SET tokens_valid_after = now() - interval '1 day'"
        )
        if SEED_PROFILE:
            seed += "; " + PROFILE_SEED
        servers.append(start(ROOT / "target/release/latchkey", "latchkey_bench_current", bench.PORT,
                             f"{workdir}/current", seed, CURRENT_ENV))
        servers.append(start(baseline_binary, "latchkey_bench_baseline", bench.PORT + 1, f"{workdir}/baseline",
                             seed if SEED_BASELINE else None))
        (_, current), (_, baseline) = servers
        rows = {side: {endpoint: [] for endpoint in ENDPOINTS} for side in ("current", "baseline")}
        for round_number in range(1, bench.ROUNDS + 1):
            print(f"round {round_number}/{bench.ROUNDS}", flush=True)
            order = [("current", current), ("baseline", baseline)]
            if round_number % 2 == 0:
                order.reverse()
            for name, base in order:
                for endpoint, result in measure(base).items():
                    rows[name][endpoint].append(result)
    finally:
        for server, _ in servers:
            server.terminate()
            server.wait()
        subprocess.run(["git", "worktree", "remove", "--force", f"{workdir}/baseline"], cwd=ROOT,
                       capture_output=True)
    report(rows)


def report(rows):
    errors = sum(r["errors"] for side in rows.values() for runs in side.values() for r in runs)
    lines = [
        f"baseline={BASELINE_REV} revoked_sessions={REVOKED} user_mark=set "
        f"({'both builds' if SEED_BASELINE else 'current build only'}) "
        f"{'profile=group+claims ' if SEED_PROFILE else ''}current_env={json.dumps(CURRENT_ENV)} "
        f"both_env={json.dumps(BOTH_ENV)} rounds={bench.ROUNDS} "
        f"duration={bench.DURATION}s connections={bench.CONNECTIONS} refresh_chains={bench.CHAINS}; "
        f"{bench.SETTINGS_NOTE}",
        "",
        f"| endpoint | baseline {BASELINE_REV}, req/s | current, req/s | ratio (median per round) "
        f"| rounds | within {TOLERANCE:.0%} |",
        "|---|---|---|---|---|---|",
    ]
    for endpoint in ENDPOINTS:
        before = [r["rps"] for r in rows["baseline"][endpoint]]
        after = [r["rps"] for r in rows["current"][endpoint]]
        ratios = [a / b for a, b in zip(after, before)]
        ratio = statistics.median(ratios)
        rounds = ", ".join(f"{r:.2f}" for r in ratios)
        lines.append(f"| {endpoint} | {statistics.median(before):.0f} | {statistics.median(after):.0f} | "
                     f"{ratio:.2f}x | {rounds} | {'yes' if ratio >= 1 - TOLERANCE else 'NO'} |")
    if errors:
        lines += ["", f"INVALID RUN: {errors} non-2xx answers"]
    text = "\n".join(lines)
    print(json.dumps(rows))
    print(text)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "compare.md").write_text(text + "\n")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
