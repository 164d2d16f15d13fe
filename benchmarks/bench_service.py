"""Load benchmark of the HTTP service with wrk on 127.0.0.1; prints req/s, p50, p99 and ratios.

Run: python benchmarks/bench_service.py [--seconds 10] [--connections 8] [--workers 2]
Needs wrk (Debian: apt-get install wrk) and, for the Redis cache, REDIS_URL (default
redis://127.0.0.1:6379/14). One run measures, against the same server:
  trivial   GET /healthz
  uncached  POST /v1/check, every comment distinct
  cached    POST /v1/check, a few repeated comments
Targets (issue 3, 2 cores, 2 workers, 8 connections): uncached >= 0.5x trivial, cached >= 0.8x
trivial, p99 <= 10 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

# Every run goes through a Lua script whose requests are built in init(), so wrk spends the same
# few microseconds per request on every route and the ratios compare the server alone.
TRIVIAL = r"""
local req
init = function(args) req = wrk.format("GET", "/healthz") end
request = function() return req end
"""
UNCACHED = r"""
local reqs, n, i = {}, 200000, 0
local openers = {"I think", "Honestly,", "As a local resident I feel", "Good article, but", "My view is that", "Not sure", "I agree that", "Frankly"}
local subjects = {"the council", "the new budget", "this policy", "the school plan", "the traffic scheme", "the housing report", "the mayor", "the referee"}
local verbs = {"got it right", "missed the point", "should think again", "deserves more time", "is overdue", "went too far", "made a fair case", "needs a vote"}
local tails = {"on this", "this year", "for the town", "again", "in my street", "after all", "for once", "last week"}
init = function(args)
  math.randomseed(tonumber(args[1]) or 1)
  for k = 1, n do
    local body = string.format('{"content": "%s %s %s %s, see point %d.", "author": "reader%d"}',
      openers[math.random(#openers)], subjects[math.random(#subjects)], verbs[math.random(#verbs)],
      tails[math.random(#tails)], k, math.random(1, 100000))
    reqs[k] = wrk.format("POST", "/v1/check", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer __KEY__"}, body)
  end
end
request = function()
  i = i % n + 1
  return reqs[i]
end
"""
CACHED = r"""
local reqs, n, i = {}, 200000, 0
local words = {"council", "budget", "weather", "match", "article", "policy", "school", "traffic", "housing", "review"}
init = function(args)
  math.randomseed(tonumber(args[1]) or 1)
  for k = 1, n do
    local body = string.format('{"content": "Comment %d-%d about the %s and the %s, what do you think?", "author": "reader%d"}',
      k, math.random(1, 1000000000), words[k % 10 + 1], words[(k * 7) % 10 + 1], k % 97)
    reqs[k] = wrk.format("POST", "/v1/check", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer __KEY__"}, body)
  end
end
request = function()
  i = i % n + 1
  return reqs[i]
end
"""
CACHED = r"""
local reqs, i = {}, 0
local bodies = {
  '{"content": "Great article, thanks for writing it", "author": "ann"}',
  '{"content": "Check out my channel and subscribe http://bit.ly/x", "author": "spam"}',
  '{"content": "I disagree with the council on the budget", "author": "bob"}',
  '{"content": "Win a free holiday! Text GO now", "author": "x"}',
}
init = function(args)
  for k = 1, #bodies do
    reqs[k] = wrk.format("POST", "/v1/check", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer __KEY__"}, bodies[k])
  end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ms(value: str) -> float:
    if not re.fullmatch(r"[\d.]+(us|ms|s|m)", value):
        raise RuntimeError(f"unexpected wrk latency {value!r}")
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, seconds: int, connections: int, script: str, seed: int = 1) -> dict[str, float]:
    """One wrk run; returns req/s, p50 and p99 in ms, and the error count."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url, "--", str(seed)]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    if "Requests/sec" not in out or " 50%" not in out:
        raise RuntimeError(f"wrk printed no figures:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1)),  # type: ignore[union-attr]
        "errors": float(errors.group(1) if errors else 0)
        + sum(map(float, socket_errors.groups()) if socket_errors else []),
    }


def worker_memory(master: int) -> list[dict[str, float]]:
    """RSS, PSS and private memory in MB of the gunicorn master and each worker (Linux /proc)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    rows = []
    for role, pid in [("master", master)] + [("worker", int(c)) for c in children]:
        fields = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = float(value.split()[0]) / 1024
        private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
        rows.append({"role": role, "pid": pid, "rss": fields["Rss"], "pss": fields["Pss"], "private": private})
    return rows


def _forget(url: str, prefix: str) -> None:
    """Delete the run's keys: hundreds of thousands of checks would otherwise sit in Redis for days."""
    import redis

    client = redis.Redis.from_url(url)
    batch = []
    for key in client.scan_iter(match=f"{prefix}:*", count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)
    client.close()


def main() -> None:
    """Start a server, run the three loads, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="spamfilter-bench-"))
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "SPAMFILTER_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        "SPAMFILTER_LOG_LEVEL": "WARNING",
    }
    cli = [sys.executable, "-m", "spamfilter.cli"]
    key = subprocess.run(
        [*cli, "keys", "create", "--site", "https://bench.example"], env=env, capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    server = subprocess.Popen(
        [*cli, "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers), "--threads", str(args.threads)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        scripts = {}
        for name, template in (("trivial", TRIVIAL), ("uncached", UNCACHED), ("cached", CACHED)):
            path = tmp / f"{name}.lua"
            path.write_text(template.replace("__KEY__", key))
            scripts[name] = str(path)
        run_wrk(base, 2, args.connections, scripts["cached"])  # warm-up: every worker loads its caches
        results = {
            "trivial": run_wrk(base, args.seconds, args.connections, scripts["trivial"]),
            "uncached": run_wrk(base, args.seconds, args.connections, scripts["uncached"], seed=int(time.time())),
            "cached": run_wrk(base, args.seconds, args.connections, scripts["cached"]),
        }
        memory = worker_memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
        _forget(env["REDIS_URL"], env["SPAMFILTER_REDIS_PREFIX"])
    trivial = results["trivial"]["rps"]
    print(
        f"{args.workers} workers x {args.threads} threads, {args.connections} connections, {args.seconds}s per run, wrk on 127.0.0.1"
    )
    print(f"{'route':10s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'x trivial':>10s} {'errors':>7s}")
    for name, r in results.items():
        print(
            f"{name:10s} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['rps'] / trivial:10.2f} {r['errors']:7.0f}"
        )
    print("targets: uncached >= 0.50x, cached >= 0.80x, p99 <= 10 ms")
    print()
    print("memory after the runs (MB; PSS shares pages between the processes that map them)")
    print(f"{'process':10s} {'RSS':>8s} {'PSS':>8s} {'private':>8s}")
    for row in memory:
        print(f"{row['role']:10s} {row['rss']:8.1f} {row['pss']:8.1f} {row['private']:8.1f}")


if __name__ == "__main__":
    main()
