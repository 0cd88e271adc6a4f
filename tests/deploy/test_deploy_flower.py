"""Flower, as deployed and under `memethresher up`: behind basic auth off loopback, and it lists the live workers."""

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
from memethresher_shared import launcher
from memethresher_shared.launcher import Supervisor
from memethresher_shared.settings import Settings

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


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if get(f"{base}/healthcheck")[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "Flower did not start"
        time.sleep(0.2)


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
        wait_healthy(base, process, tmp_path / "flower.log")
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


@pytest.mark.parametrize(("host", "token", "asks"), [("127.0.0.2", "a-long-api-token", True), ("127.0.0.1", "", False)])
def test_flower_under_memethresher_up_asks_for_the_api_token_off_loopback(  # type: ignore[no-untyped-def]
    tmp_path: Path, redis_conn: redis.Redis, host: str, token: str, asks: bool
) -> None:
    # 127.0.0.2 is not one of the loopback names the API trusts, yet no other machine can reach it.
    settings = Settings(host=host, api_token=token, flower_port=free_port(), data_dir=tmp_path)
    supervisor = Supervisor(tmp_path / "logs", dict(os.environ))
    supervisor.start(launcher.flower(settings))
    base = f"http://{host}:{settings.flower_port}"
    try:
        (child,) = supervisor.running
        assert child.process is not None and child.log is not None
        wait_healthy(base, child.process, child.log)
        if asks:
            assert get(f"{base}/workers")[0] == 401
            assert get(f"{base}/workers", auth=f"{launcher.FLOWER_USER}:wrong")[0] == 401
            assert get(f"{base}/workers", auth=f"{launcher.FLOWER_USER}:{token}")[0] == 200
        else:
            assert get(f"{base}/workers")[0] == 200
    finally:
        supervisor.stop_all()


@pytest.mark.parametrize("token", ["comma,in,it", "schlüssel"])
def test_flower_stays_on_loopback_when_the_token_cannot_be_its_password(token: str) -> None:
    settings = Settings(host="0.0.0.0", api_token=token)
    assert launcher.flower_access(settings) == ("127.0.0.1", {})
    assert launcher.flower_url(settings).startswith("http://127.0.0.1:")


def test_up_off_loopback_without_a_token_refuses_to_start_flower() -> None:
    with pytest.raises(RuntimeError, match="MEMETHRESHER_API_TOKEN"):
        launcher.children(Settings(host="0.0.0.0", api_token=""))
