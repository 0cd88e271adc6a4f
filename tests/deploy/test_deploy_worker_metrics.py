"""A real prefork worker serves the metrics of all its pool processes on the host setting's address, and logs
JSON with task ids."""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import redis
from memethresher_shared import celery_app

from tests.conftest import wait_until

pytestmark = pytest.mark.integration

# The probe task of tests/deploy/metrics_worker_app.py (not imported: it instruments the worker it runs in).
PROBE = "embedder.observability_probe"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_prefork_worker_serves_metrics_of_every_pool_process(
    tmp_path: Path, redis_conn: redis.Redis, start_worker: Callable[..., object]
) -> None:
    port = free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    (multiproc / "counter_stale.db").write_bytes(b"left over from a previous run")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc), "MEMETHRESHER_METRICS_PORT": str(port),
           "MEMETHRESHER_METRICS_ADDR": "127.0.0.1", "MEMETHRESHER_LOG_FORMAT": "json"}  # fmt: skip
    worker = start_worker("tests.deploy.metrics_worker_app", "embed", env, extra_args=("--concurrency", "2"))

    results = [celery_app.send(PROBE, n, "probe-meet", 2) for n in range(1, 9)]
    pids = {result.get(timeout=60) for result in results}
    assert len(pids) == 2, "the first two probes wait for each other, so both pool processes ran some"

    success = 'memethresher_tasks_total{queue="embed",state="success",task="embedder.observability_probe"}'
    # Celery stores a task's result before its postrun signal, so the last counts may trail a moment.
    samples = wait_until(lambda: (s := scrape(port)).get(success) == 8 and s, timeout_s=20,
                         message="8 successful probes in the worker's metrics")  # fmt: skip
    assert samples['memethresher_images_embedded_total{encoder="probe-encoder"}'] == sum(range(1, 9))
    count = 'memethresher_task_duration_seconds_count{queue="embed",task="embedder.observability_probe"}'
    assert samples[count] == 8

    ids = {result.id for result in results}
    lines = worker.log.read_text().splitlines()  # type: ignore[attr-defined]
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    probes = [entry for entry in logged if entry["message"].startswith("probe embedded")]
    assert len(probes) == 8 and {entry["task_id"] for entry in probes} == ids
    assert all(entry["service"] == "embedder" for entry in probes)


def test_worker_metrics_bind_to_the_host_setting_not_every_interface(
    tmp_path: Path, redis_conn: redis.Redis, start_worker: Callable[..., object]
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MEMETHRESHER_METRICS_ADDR"}
    env |= {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"), "MEMETHRESHER_METRICS_PORT": str(port),
            "MEMETHRESHER_HOST": "127.0.0.2"}  # fmt: skip
    (tmp_path / "prometheus").mkdir()
    start_worker("tests.deploy.metrics_worker_app", "embed", env)

    def listening() -> set[str]:
        return {c.laddr.ip for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port}

    assert wait_until(listening, timeout_s=20, message=f"the worker's metrics endpoint on port {port}") == {"127.0.0.2"}
