"""Flower, as deployed: behind basic auth, and it lists the live workers."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.deploy.deploy_files import REPO

pytestmark = pytest.mark.integration

AUTH = "keeper:a-long-flower-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, auth: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def flower(tmp_path: Path, redis_conn: redis.Redis) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "flower.log").open("wb")
    # The password comes from the environment, as in the compose file and the k8s Secret.
    env = {**os.environ, "FLOWER_BASIC_AUTH": AUTH}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "memethresher_shared.celery_app", "flower",
         f"--port={port}", "--address=127.0.0.1", "--persistent=False"],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "flower.log").read_text()
            try:
                if get(f"{base}/healthcheck")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "Flower did not start"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_flower_lists_live_workers_only_to_whoever_knows_the_password(
    flower: str, start_worker: Callable[..., object]
) -> None:
    worker = start_worker("tests.deploy.metrics_worker_app", "embed", {**os.environ,
                          "MEMETHRESHER_METRICS_PORT": "0"}, name="embedder")  # fmt: skip
    assert get(f"{flower}/api/workers")[0] == 401
    assert get(f"{flower}/api/workers", auth="keeper:wrong")[0] == 401

    deadline = time.monotonic() + 60
    while True:
        status, body = get(f"{flower}/api/workers?refresh=1", auth=AUTH)
        assert status == 200
        workers = json.loads(body)
        if worker.name in workers:  # type: ignore[attr-defined]
            break
        assert time.monotonic() < deadline, f"Flower never listed {worker.name}: {sorted(workers)}"  # type: ignore[attr-defined]
        time.sleep(0.5)
    queues = {q["name"] for q in workers[worker.name]["active_queues"]}  # type: ignore[attr-defined]
    assert queues == {"embed"}
