"""Throwaway Redis and PostgreSQL servers to break on purpose, gunicorn's process tree, and timed load.

The shared servers on 127.0.0.1:6379 and :5432 serve every other test (and CI): fault tests
stop, freeze and restart private instances of the real binaries on free ports instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import redis

from tests.service.conftest import free_port
from tests.service.test_model_reload import Load, wait_for

# PostgreSQL refuses to run as root: as root, its tools run as this OS user instead.
PG_OS_USER = "postgres"


def find_binary(name: str) -> str | None:
    """A server binary on PATH, else in Debian's versioned PostgreSQL directories."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(candidates[0]) if candidates else None


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile of `values` (nearest rank); 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def children(pid: int) -> list[int]:
    """The live child processes of `pid`, from /proc (gunicorn's workers, for its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # The command name may hold spaces and parentheses: the fields start after the last ')'.
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == pid and state != "Z":
            found.append(int(entry.name))
    return sorted(found)


class PrivateRedis:
    """A redis-server of this test's own on a free port, without persistence: restarted, it is empty."""

    def __init__(self, directory: Path):
        self.binary = find_binary("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server is not installed")
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server (again, on the same port) and wait until it answers."""
        self.process = subprocess.Popen(
            [
                str(self.binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, 10)

    def answers(self) -> bool:
        """Whether the server answers a PING now."""
        client = self.client(timeout=0.2)
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def client(self, timeout: float = 2.0) -> redis.Redis:
        """A client of the server (without retries: a fault must show at once)."""
        return redis.Redis.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=None)

    def stop(self) -> None:
        """Stop the server (SIGTERM, as an operator's restart does) and wait for it to exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen server must be able to act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def freeze(self) -> None:
        """Suspend the server: connections are accepted by the kernel, and nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume a frozen server."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (initdb into a temporary directory), on a free port.

    As root, initdb and pg_ctl run as the `postgres` OS user (PostgreSQL refuses root), so the
    directory is made outside pytest's root-only temporary tree and handed to that user.
    """

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if self.initdb is None or self.pg_ctl is None:
            raise RuntimeError("initdb and pg_ctl are not installed")
        self.prefix = self._run_as()
        # A short path: the Unix socket in it must stay under the kernel's 107-byte limit.
        self.root = Path(tempfile.mkdtemp(prefix="sfpg-"))
        if self.prefix:
            owner = pwd.getpwnam(PG_OS_USER)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/spamfilter"
        self.running = False
        try:
            self._pg(self.initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
            self.start()
            with psycopg.connect(self.admin_url, autocommit=True) as admin:
                admin.execute("CREATE DATABASE spamfilter")
        except BaseException:
            self.close()
            raise

    @property
    def admin_url(self) -> str:
        """A libpq URL of the cluster's `postgres` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def _run_as() -> list[str]:
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam(PG_OS_USER)
        except KeyError as exc:
            raise RuntimeError(f"running as root and there is no {PG_OS_USER!r} OS user to run PostgreSQL") from exc
        runuser = shutil.which("runuser")
        if runuser is None:
            raise RuntimeError("running as root and runuser (util-linux) is missing to run PostgreSQL as postgres")
        return [runuser, "-u", PG_OS_USER, "--"]

    def _pg(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*self.prefix, *args], cwd=self.root, capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")

    def start(self) -> None:
        """Start the cluster (again) and wait until it accepts connections."""
        # fsync off: a throwaway cluster; stopping it kills processes, not the machine, so no commit is lost.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg(str(self.pg_ctl), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        self.running = True

    def stop(self, mode: str = "immediate") -> None:
        """Stop the cluster; `immediate` ends every backend at once, as a crash would."""
        self._pg(str(self.pg_ctl), "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def close(self) -> None:
        """Stop the cluster if it may run (even after a failed start) and delete its directory."""
        try:
            if self.running or (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class TimedLoad(Load):
    """`Load` that also times every check and, on one request in `feedback_every`, sends feedback.

    Each feedback carries a comment text of its own; the texts of those acknowledged (201 or
    200) are kept, with every failure's time, so a test can match them against the database.
    """

    def __init__(
        self, urls: list[str], key: str, texts: list[str], threads: int = 4, feedback_every: int = 0, tag: str = ""
    ):
        super().__init__(urls, key, texts, threads)
        self.feedback_every, self.tag = feedback_every, tag
        self.timings: list[tuple[float, float]] = []  # (started, seconds) of each answered check
        self.acknowledged: list[str] = []
        self.acknowledged_at: list[float] = []
        self.unacknowledged: list[str] = []  # feedback texts whose request failed: saved or not
        self.failed_at: list[float] = []

    def __enter__(self) -> TimedLoad:
        super().__enter__()
        return self

    def _run(self, number: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(timeout=10) as client:
            # Threads walk different stretches of the texts, so a long list means front-cache misses.
            i = number * len(self.texts) // len(self._threads)
            while not self._stop.is_set():
                url, text = self.urls[i % len(self.urls)], self.texts[i % len(self.texts)]
                i += 1
                if self.feedback_every and i % self.feedback_every == 0:
                    self._feedback(client, url, headers, f"{self.tag} feedback {number}-{i}: {text}")
                    continue
                started = time.monotonic()
                try:
                    response = client.post(f"{url}/v1/check", json={"content": text}, headers=headers)
                except httpx.HTTPError as exc:
                    self._fail(f"{url} check: {exc!r}")
                    continue
                if response.status_code != 200:
                    self._fail(f"{url} check: {response.status_code} {response.text[:200]}")
                    continue
                with self._lock:
                    self.timings.append((started, time.monotonic() - started))
                    self.answers.append(
                        (time.monotonic(), url, i, {**response.json(), "text": text, "started": started})
                    )

    def _feedback(self, client: httpx.Client, url: str, headers: dict[str, str], text: str) -> None:
        try:
            response = client.post(f"{url}/v1/feedback", json={"content": text, "label": "ham"}, headers=headers)
        except httpx.HTTPError as exc:
            self.unacknowledged.append(text)
            self._fail(f"{url} feedback: {exc!r}")
            return
        if response.status_code in (200, 201):
            with self._lock:
                self.acknowledged.append(text)
                self.acknowledged_at.append(time.monotonic())
        else:
            self.unacknowledged.append(text)
            self._fail(f"{url} feedback: {response.status_code} {response.text[:200]}")

    def _fail(self, message: str) -> None:
        with self._lock:
            self.failures.append(message)
            self.failed_at.append(time.monotonic())

    def latencies(self, start: float, end: float) -> list[float]:
        """Seconds taken by the checks that started in [start, end)."""
        with self._lock:
            return [seconds for at, seconds in self.timings if start <= at < end]


def summary(name: str, seconds: list[float]) -> str:
    """`name: n, p50, p99, max` in milliseconds, for the printed figures."""
    return (
        f"{name}: {len(seconds)} checks, p50 {percentile(seconds, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(seconds, 0.99) * 1000:.1f} ms, max {max(seconds, default=0) * 1000:.1f} ms"
    )
