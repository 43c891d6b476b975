#!/usr/bin/env python3
"""latchkey head to head with Django REST framework Simple JWT, in one run.

    python3 bench/simplejwt.py     # ROUNDS=3 DURATION=8 CONNECTIONS=16 REFRESH_CHAINS=8

Simple JWT 5.5 (with Django and gunicorn, pinned in
bench/simplejwt/requirements.txt) is installed into a virtualenv under bench/
and serves bench/simplejwt/benchsite: the token views and a Bearer-protected
/api/me/, rotation and blacklist-after-rotation on, SQLite, gunicorn with one
worker per core. latchkey's release build serves its embedded default
(SQLite) beside it. Both sign HS256 with the same secret and hash passwords
with PBKDF2-SHA256 at 1,000,000 iterations.

Each round measures every endpoint on both servers back to back, alternating
which goes first: verify (an access token), /api/me/ (Bearer), refresh
(single-use tokens: each connection follows its own chain of rotating
tokens) and obtain (a login). The report gives medians and the median of the
per-round ratios, latchkey / Simple JWT. Any non-2xx answer makes the run
invalid. Needs: wrk, python3 with venv.
"""

import hashlib
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

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "8"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))
CHAINS = int(os.environ.get("REFRESH_CHAINS", "8"))
FIRST_PORT = int(os.environ.get("PORT", "18300"))
SECRET = "benchmark-secret-benchmark-secret-benchmark"
PASSWORD = "bench password"
PROJECT = ROOT / "bench" / "simplejwt"
VENV = ROOT / "bench" / ".simplejwt-venv"
WORKERS = os.cpu_count() or 2


def simplejwt_python():
    """The virtualenv's python, installed from the pinned requirements once."""
    requirements = (PROJECT / "requirements.txt").read_text()
    stamp = VENV / "requirements.installed"
    python = VENV / "bin" / "python"
    if not (stamp.exists() and stamp.read_text() == requirements and python.exists()):
        print("installing Simple JWT, Django and gunicorn ...", flush=True)
        shutil.rmtree(VENV, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(VENV)])
        run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-r", str(PROJECT / "requirements.txt")])
        stamp.write_text(requirements)
    return python


def start_simplejwt(python, port, workdir):
    env = {**os.environ, "BENCH_SIGNING_KEY": SECRET, "BENCH_DATABASE": str(Path(workdir) / "simplejwt.sqlite3"),
           "DJANGO_SETTINGS_MODULE": "benchsite.settings", "PYTHONPATH": str(PROJECT)}
    run([str(python), "-m", "django", "migrate", "--verbosity", "0"], env=env)
    run([str(python), "-m", "django", "shell", "-c",
         "from django.contrib.auth.models import User; "
         f"User.objects.create_user('bench', password={PASSWORD!r})"], env=env)
    server = subprocess.Popen(
        [str(python), "-m", "gunicorn", "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "benchsite.wsgi"],
        env=env, cwd=PROJECT)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base, "/api/token/verify/")
    return server, base


def start_latchkey(port, workdir):
    binary = ROOT / "target/release/latchkey"
    env = {**os.environ, "LATCHKEY_SERVER__BIND": f"127.0.0.1:{port}", "LATCHKEY_DATA_DIR": str(Path(workdir) / "latchkey"),
           "LATCHKEY_JWT__SIGNING_KEY": SECRET, "LATCHKEY_LOG__FILTER": "error", **ONE_CLIENT_SETTINGS}
    run([str(binary), "users", "create", "bench", "--password-stdin"], env=env, input=PASSWORD + "\n")
    server = subprocess.Popen([str(binary), "serve"], env=env)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base)
    return server, base


def obtain(base):
    request = urllib.request.Request(base + "/api/token/",
                                     json.dumps({"username": "bench", "password": PASSWORD}).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def measure(base):
    """One round of every endpoint against the server at `base`."""
    script = ["-s", str(ROOT / "bench" / "request.lua")]
    connections = ["-t", "2", "-c", str(CONNECTIONS)]
    access = obtain(base)["access"]
    results = {
        "verify": wrk([*connections, *script, f"{base}/api/token/verify/"],
                      {"METHOD": "POST", "BODY": json.dumps({"token": access})}),
        "me": wrk([*connections, *script, f"{base}/api/me/"], {"AUTHORIZATION": f"Bearer {access}"}),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".tokens") as tokens:
        tokens.write("\n".join(obtain(base)["refresh"] for _ in range(CHAINS)) + "\n")
        tokens.flush()
        results["refresh"] = wrk(["-t", str(CHAINS), "-c", str(CHAINS), "-s", str(ROOT / "bench" / "refresh.lua"),
                                  f"{base}/api/token/refresh/"], {"TOKENS": tokens.name})
    # Logins are a few per second: a longer run counts enough of them.
    results["obtain"] = wrk(["-t", "2", "-c", "4", "-d", f"{2 * DURATION}s", *script, f"{base}/api/token/"],
                            {"METHOD": "POST", "BODY": json.dumps({"username": "bench", "password": PASSWORD})})
    return results


def main():
    if not shutil.which("wrk"):
        sys.exit("wrk is required (apt-get install wrk)")
    print("building the release binary ...", flush=True)
    run(["cargo", "build", "--release", "--locked", "--bin", "latchkey"], cwd=ROOT)
    python = simplejwt_python()
    versions = run([str(python), "-c",
                    "import django, rest_framework, rest_framework_simplejwt, gunicorn; "
                    "print(f'Django {django.get_version()}, DRF {rest_framework.VERSION}, "
                    "Simple JWT {rest_framework_simplejwt.__version__}, gunicorn {gunicorn.__version__}')"]).strip()
    commit = run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT).strip()
    workdir = tempfile.mkdtemp(prefix="latchkey-vs-simplejwt-")
    servers = []
    try:
        servers.append(start_simplejwt(python, FIRST_PORT, workdir))
        servers.append(start_latchkey(FIRST_PORT + 1, workdir))
        (_, simplejwt), (_, latchkey) = servers
        rows = {"simplejwt": [], "latchkey": []}
        for round_number in range(1, ROUNDS + 1):
            print(f"round {round_number}/{ROUNDS}", flush=True)
            order = [("latchkey", latchkey), ("simplejwt", simplejwt)]
            if round_number % 2 == 0:
                order.reverse()
            for name, base in order:
                rows[name].append(measure(base))
    finally:
        for server, _ in servers:
            server.terminate()
            server.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(rows), flush=True)
    report(rows, versions, commit)


def report(rows, versions, commit):
    labels = {"verify": "verify (access token)", "me": "`/api/me/` (Bearer)",
              "refresh": f"refresh ({CHAINS} rotating chains)", "obtain": "obtain (login, 4 connections)"}
    lines = [
        f"latchkey {commit} vs {versions}; rounds={ROUNDS} duration={DURATION}s connections={CONNECTIONS} "
        f"cores={os.cpu_count()} gunicorn_workers={WORKERS}; SQLite on both; latchkey: {SETTINGS_NOTE}",
        "",
        "| endpoint | Simple JWT req/s | p50 ms | p99 ms | latchkey req/s | p50 ms | p99 ms | "
        "latchkey / Simple JWT (median of rounds) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    errors = {}
    for endpoint, label in labels.items():
        theirs = [r[endpoint] for r in rows["simplejwt"]]
        ours = [r[endpoint] for r in rows["latchkey"]]
        for name, runs in (("simplejwt", theirs), ("latchkey", ours)):
            failed = sum(r["errors"] for r in runs)
            if failed:
                errors[f"{name} {endpoint}"] = failed
        ratio = statistics.median(o["rps"] / t["rps"] for o, t in zip(ours, theirs))

        def median(runs, key):
            return statistics.median(r[key] for r in runs)

        lines.append(
            f"| {label} | {median(theirs, 'rps'):.0f} | {median(theirs, 'p50'):.2f} | {median(theirs, 'p99'):.2f} | "
            f"{median(ours, 'rps'):.0f} | {median(ours, 'p50'):.2f} | {median(ours, 'p99'):.2f} | {ratio:.2f}x |")
    if errors:
        lines += ["", f"INVALID RUN: non-2xx answers {errors}"]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "simplejwt.md").write_text(text + "\n")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
