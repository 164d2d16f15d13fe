"""Redis through Sentinel: the cache finds the master Sentinel names, and follows it across a failover."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from service.db import upgrade
from tests.service.conftest import HAM_TEXT, free_port, new_key


def _start(args: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(["redis-server", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port, socket_timeout=0.5).ping():
                return process
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server {args} did not start")


@pytest.fixture
def sentinel_setup(tmp_path: Path) -> Iterator[dict[str, int]]:
    """A private master, its replica and one Sentinel watching them (quorum 1), all on free ports."""
    ports = {"master": free_port(), "replica": free_port(), "sentinel": free_port()}
    common = ["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]
    processes = [_start(["--port", str(ports["master"]), *common], ports["master"])]
    try:
        replica = ["--port", str(ports["replica"]), "--replicaof", "127.0.0.1", str(ports["master"]), *common]
        processes.append(_start(replica, ports["replica"]))
        config = tmp_path / "sentinel.conf"
        config.write_text(
            f"port {ports['sentinel']}\nbind 127.0.0.1\ndir {tmp_path}\n"
            f"sentinel monitor mymaster 127.0.0.1 {ports['master']} 1\n"
            "sentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n"
        )
        processes.append(_start([str(config), "--sentinel"], ports["sentinel"]))
        yield ports
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=10)


def _verdict_keys(port: int) -> int:
    return len(list(redis.Redis(port=port).scan_iter("sentinel-test:verdict:*")))


def test_the_cache_uses_and_follows_the_master_sentinel_names(
    sentinel_setup: dict[str, int], app_factory: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    app: Flask = app_factory(
        url,
        SPAMFILTER_REDIS_SENTINELS=f"127.0.0.1:{sentinel_setup['sentinel']}",
        SPAMFILTER_REDIS_PREFIX="sentinel-test",
        SPAMFILTER_REDIS_TIMEOUT_MS=200,
    )
    client, auth = app.test_client(), {"Authorization": f"Bearer {new_key(app)}"}

    def check(n: int) -> dict[str, Any]:
        response = client.post("/v1/check", json={"content": f"{HAM_TEXT} {n}"}, headers=auth)
        assert response.status_code == 200
        app.extensions["spamfilter.cache"].flush()
        return dict(response.json)

    check(1)
    assert _verdict_keys(sentinel_setup["master"]) == 1  # written to the master Sentinel named
    sentinel = redis.Redis(port=sentinel_setup["sentinel"])
    sentinel.execute_command("SENTINEL", "FAILOVER", "mymaster")
    deadline = time.monotonic() + 20
    while sentinel.sentinel_get_master_addr_by_name("mymaster")[1] != sentinel_setup["replica"]:
        assert time.monotonic() < deadline, "Sentinel did not fail over"
        time.sleep(0.1)
    answered, n = 0, 1
    while _verdict_keys(sentinel_setup["replica"]) <= 1:  # the new master got a write of its own
        n += 1
        answered += check(n)["verdict"] is not None
        assert time.monotonic() < deadline + 10, "the cache did not follow the failover"
        time.sleep(0.05)
    assert answered == n - 1  # every check was answered while the master changed
    assert client.get("/readyz").json["components"]["cache"] == "ok"
