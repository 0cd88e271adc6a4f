"""`memethresher up`: the whole system as child processes on one machine.

Same topology as docker-compose and k8s (API, one Celery worker per queue, beat, Flower), so
the embedded default and a distributed install run the same code path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from memethresher_shared.settings import Settings

CELERY = [sys.executable, "-m", "celery"]
# Flower's basic-auth user when `memethresher up` serves off loopback; the password is the API token.
FLOWER_USER = "memethresher"


@dataclass
class Child:
    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None


# The embedder's task threads share one model and decode pool, so the model takes its batches
# from several tasks at once (memethresher_embedder.engine); compose and k8s run it the same way.
EMBEDDER_TASKS_AHEAD = 8


def worker(name: str, module: str, queues: str, metrics_port: int, data_dir: Path, concurrency: int = 1,
           pool: str = "prefork") -> Child:  # fmt: skip
    args = [*CELERY, "-A", module, "worker", "-Q", queues, "-n", f"{name}@%h", "--pool", pool,
            "--concurrency", str(concurrency), "--prefetch-multiplier", "1", "--loglevel", "INFO"]  # fmt: skip
    # Workers on one host each need their own metrics port and multiprocess folder.
    env = {"MEMETHRESHER_METRICS_PORT": str(metrics_port),
           "PROMETHEUS_MULTIPROC_DIR": str((data_dir / "prometheus" / name).resolve())}  # fmt: skip
    return Child(name, args, env)


def flower_access(settings: Settings) -> tuple[str, dict[str, str]]:
    """Flower's address and environment. Off loopback it asks for the API token as its password, or
    stays on loopback when the token cannot be one (Flower splits credentials at commas, compares ASCII)."""
    if not settings.needs_token:
        return settings.host, {}
    token = settings.api_token
    if not token:
        raise RuntimeError(f"MEMETHRESHER_HOST is {settings.host!r}, not loopback: set MEMETHRESHER_API_TOKEN")
    if token.isascii() and token.isprintable() and "," not in token:
        return settings.host, {"FLOWER_BASIC_AUTH": f"{FLOWER_USER}:{token}"}
    return "127.0.0.1", {}


def flower_url(settings: Settings) -> str:
    """Where a user finds Flower, and how to log in."""
    address, env = flower_access(settings)
    login = f" (user {FLOWER_USER}, the API token as password)" if env else ""
    return f"http://{address}:{settings.flower_port}/{login}"


def flower(settings: Settings) -> Child:
    address, env = flower_access(settings)
    args = [*CELERY, "-A", "memethresher_shared.celery_app", "flower", f"--port={settings.flower_port}",
            f"--address={address}"]  # fmt: skip
    return Child("flower", args, env)


def children(settings: Settings, metrics_port: int = 9100) -> list[Child]:
    """Every process of the system, in start order. Worker i serves metrics on `metrics_port + i` (0: off)."""

    def port(i: int) -> int:
        return metrics_port + i if metrics_port else 0

    data = settings.data_dir
    return [
        worker("crawler", "memethresher_crawler.tasks", "crawl", port(1), data, concurrency=2),
        worker(
            "embedder",
            "memethresher_embedder.tasks",
            "embed",
            port(2),
            data,
            concurrency=EMBEDDER_TASKS_AHEAD,
            pool="threads",
        ),
        worker("trainer", "memethresher_trainer.tasks", "train", port(3), data),
        worker("scorer", "memethresher_trainer.tasks", "score", port(4), data),
        Child(
            "beat",
            [
                *CELERY,
                "-A",
                "memethresher_shared.celery_app",
                "beat",
                "--loglevel",
                "INFO",
                "-s",
                str(settings.data_dir / "celerybeat-schedule"),
            ],
        ),  # fmt: skip
        flower(settings),
        Child(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "memethresher_api.main:create_app",
                "--host",
                settings.host,
                "--port",
                str(settings.port),
                "--log-level",
                "warning",
            ],
        ),  # fmt: skip
    ]


@dataclass
class Supervisor:
    """Starts children with their output in `<data>/logs/`, and stops them all, newest first."""

    log_dir: Path
    env: dict[str, str]
    running: list[Child] = field(default_factory=list)

    def start(self, child: Child) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        child.log = self.log_dir / f"{child.name}.log"
        with child.log.open("ab") as log:
            # A session of its own: Ctrl-C reaches only `up`, which then stops children in order.
            child.process = subprocess.Popen(
                child.args, env={**self.env, **child.env}, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.running.append(child)

    def dead(self) -> list[Child]:
        return [c for c in self.running if c.process is not None and c.process.poll() is not None]

    def stop_all(self, timeout_s: float = 20.0) -> None:
        for child in reversed(self.running):
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in reversed(self.running):
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        self.running.clear()


def wait_for_http(url: str, timeout_s: float, supervisor: Supervisor) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if dead := supervisor.dead():
            raise RuntimeError(f"{dead[0].name} exited early; see {dead[0].log}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f}s")
