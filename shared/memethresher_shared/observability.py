"""Prometheus metrics for the API and the Celery workers (structured logs live in `logs.py`).

Workers call `install_worker_observability(app, service)` once in their `tasks.py`: task
counters and durations come from Celery's signals, logs become JSON lines carrying the task
id, and the worker's main process serves `/metrics` on `MEMETHRESHER_METRICS_PORT`. With a
prefork pool, set `PROMETHEUS_MULTIPROC_DIR` (one empty folder per worker) before the worker
starts, so the pool's children write their samples where the main process can read them.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from celery import Celery, signals
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    make_asgi_app,
    multiprocess,
    start_http_server,
)
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from memethresher_shared import tasks
from memethresher_shared.logs import configure_logging
from memethresher_shared.settings import ENV_PREFIX, get_settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: a crawl page takes under one, a training run minutes.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800)

log = logging.getLogger(__name__)


class ObservabilitySettings(BaseSettings):
    """Where workers serve metrics and how every process logs."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    # 0 turns the worker's metrics endpoint off (several workers on one host need distinct ports).
    metrics_port: int = Field(default=9100, ge=0, le=65535)
    # Empty: the `host` setting, so a worker's metrics are reachable where the API is and no further.
    metrics_addr: str = ""
    log_format: Literal["json", "text"] = "json"
    # Empty: a worker's `--loglevel`, INFO elsewhere.
    log_level: str = ""


@functools.cache
def get_observability_settings() -> ObservabilitySettings:
    return ObservabilitySettings()


@dataclass(frozen=True)
class Metrics:
    """Every metric MemeThresher exports; label values stay from small, fixed sets."""

    tasks: Counter
    task_duration: Histogram
    task_exceptions: Counter
    task_retries: Counter
    images_crawled: Counter
    images_embedded: Counter
    images_failed: Counter
    ratings: Counter
    training_runs: Counter
    validation_loss: Gauge


_TASK = ("queue", "task")
# field, type, metric name, help, labels, extra arguments
_METRIC_SPECS: tuple[tuple[str, type, str, str, tuple[str, ...], dict[str, Any]], ...] = (
    ("tasks", Counter, "memethresher_tasks", "Celery tasks by queue, name and state", (*_TASK, "state"), {}),
    ("task_duration", Histogram, "memethresher_task_duration_seconds", "Wall time of a Celery task", _TASK,
     {"buckets": DURATION_BUCKETS}),
    ("task_exceptions", Counter, "memethresher_task_exceptions", "Failed tasks by exception type",
     (*_TASK, "exception"), {}),
    ("task_retries", Counter, "memethresher_task_retries", "Task retries by the error that caused them",
     (*_TASK, "reason"), {}),
    ("images_crawled", Counter, "memethresher_images_crawled", "Images stored by the crawler",
     ("source_kind",), {}),
    ("images_embedded", Counter, "memethresher_images_embedded", "Images turned into vectors",
     ("encoder",), {}),
    ("images_failed", Counter, "memethresher_images_failed", "Images marked failed, by stage and reason",
     ("stage", "reason"), {}),
    ("ratings", Counter, "memethresher_ratings", "Ratings stored, by choice and where the pair came from",
     ("choice", "origin"), {}),
    ("training_runs", Counter, "memethresher_training_runs", "Training runs by encoder and outcome",
     ("encoder", "outcome"), {}),
    ("validation_loss", Gauge, "memethresher_validation_loss", "Best validation loss of the newest model",
     ("encoder",), {"multiprocess_mode": "mostrecent"}),
)  # fmt: skip


def build_metrics(registry: CollectorRegistry | None = REGISTRY) -> Metrics:
    """Create the metrics in `registry` (the process-wide one unless a test passes its own)."""
    return Metrics(**{
        field: kind(name, doc, labels, registry=registry, **extra)
        for field, kind, name, doc, labels, extra in _METRIC_SPECS
    })  # fmt: skip


@functools.cache
def get_metrics() -> Metrics:
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        # prometheus_client writes each process's samples there and fails if it is missing.
        Path(folder).mkdir(parents=True, exist_ok=True)
    return build_metrics()


# Domain counters: the services call these where the event happens.


def record_images_crawled(count: int, source_kind: str) -> None:
    """`source_kind` is the source's type ("reddit", "folder")."""
    get_metrics().images_crawled.labels(source_kind).inc(count)


def record_images_embedded(count: int, encoder: str) -> None:
    get_metrics().images_embedded.labels(encoder).inc(count)


def record_image_failed(stage: Literal["crawl", "embed"], reason: str) -> None:
    """`reason` is a short category ("decode", "too_large", "http_404"), never a free-text message."""
    get_metrics().images_failed.labels(stage, reason).inc()


def record_rating(choice: str, origin: str) -> None:
    """`origin` is "random", "acquisition" or "four" (a best-of-four answer), as the rating stores it."""
    get_metrics().ratings.labels(choice, origin).inc()


def record_training_run(encoder: str, outcome: Literal["published", "skipped", "failed"],
                        validation_loss: float | None = None) -> None:  # fmt: skip
    get_metrics().training_runs.labels(encoder, outcome).inc()
    if validation_loss is not None:
        get_metrics().validation_loss.labels(encoder).set(validation_loss)


# Task metrics from Celery's signals.


def queue_for_task(task_name: str, delivery_info: dict[str, Any] | None = None) -> str:
    """The queue a task runs on: the shared route table first, then what the broker said."""
    for pattern, route in tasks.ROUTES.items():
        if fnmatch.fnmatchcase(task_name, pattern):
            return str(route["queue"])
    return str((delivery_info or {}).get("routing_key") or "unknown")


class TaskMetricsRecorder:
    """Signal receivers for one Celery app; tasks of other apps in the process are ignored."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._started: dict[str, float] = {}

    def _labels(self, task: Any) -> tuple[str, str] | None:
        if task is None or getattr(task, "app", None) is not self.app:
            return None
        return queue_for_task(task.name, getattr(task.request, "delivery_info", None)), task.name

    def prerun(self, sender: Any = None, task_id: str = "", task: Any = None, **_: Any) -> None:
        labels = self._labels(task or sender)
        if labels:
            self._started[task_id] = time.monotonic()
            get_metrics().tasks.labels(*labels, "started").inc()

    def postrun(self, sender: Any = None, task_id: str = "", task: Any = None, state: str | None = None,
                **_: Any) -> None:  # fmt: skip
        labels = self._labels(task or sender)
        started = self._started.pop(task_id, None)
        if not labels:
            return
        get_metrics().tasks.labels(*labels, (state or "unknown").lower()).inc()
        if started is not None:
            get_metrics().task_duration.labels(*labels).observe(time.monotonic() - started)

    def failure(self, sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
        labels = self._labels(sender)
        if labels:
            get_metrics().task_exceptions.labels(*labels, type(exception).__name__).inc()

    def retry(self, sender: Any = None, reason: Any = None, **_: Any) -> None:
        labels = self._labels(sender)
        if labels:
            # Celery passes its Retry exception; the error behind it is its `exc`.
            cause = getattr(reason, "exc", None)
            name = type(cause).__name__ if isinstance(cause, BaseException) else "requested"
            get_metrics().task_retries.labels(*labels, name).inc()


def install_task_metrics(app: Celery) -> TaskMetricsRecorder:
    """Count every task of `app` by queue and state and time it; idempotent per app."""
    recorder = TaskMetricsRecorder(app)
    uid = f"memethresher-task-metrics-{id(app)}"
    signals.task_prerun.connect(recorder.prerun, weak=False, dispatch_uid=uid)
    signals.task_postrun.connect(recorder.postrun, weak=False, dispatch_uid=uid)
    signals.task_failure.connect(recorder.failure, weak=False, dispatch_uid=uid)
    signals.task_retry.connect(recorder.retry, weak=False, dispatch_uid=uid)
    return recorder


# Serving metrics.


def metrics_registry() -> CollectorRegistry:
    """What to serve: the samples of every process under the multiprocess folder, or this one's."""
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def metrics_asgi_app() -> Any:
    """ASGI app for the API: `app.mount("/metrics", metrics_asgi_app())`."""
    return make_asgi_app(metrics_registry())


def render_metrics() -> tuple[bytes, str]:
    """The exposition text and its content type, for a plain `GET /metrics` route."""
    return generate_latest(metrics_registry()), CONTENT_TYPE_LATEST


def clear_multiprocess_dir() -> None:
    """Empty the multiprocess folder, so samples of a previous run are not served again."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for child in path.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def start_metrics_server(port: int | None = None, addr: str | None = None) -> int | None:
    """Serve `/metrics` from a background thread; returns the bound port, or None when turned off."""
    settings = get_observability_settings()
    port = settings.metrics_port if port is None else port
    if port == 0:
        return None
    try:
        address = addr or settings.metrics_addr or get_settings().host
        server, _thread = start_http_server(port, address, registry=metrics_registry())
    except OSError as error:
        # A busy port must not stop the worker from doing its work.
        log.warning("metrics endpoint not started on port %s: %s", port, error)
        return None
    return int(server.server_port)


def _on_worker_init(**_: Any) -> None:
    clear_multiprocess_dir()


def _on_worker_ready(**_: Any) -> None:
    port = start_metrics_server()
    if port is not None:
        log.info("worker metrics on port %s", port)


def _on_worker_process_shutdown(pid: int | None = None, **_: Any) -> None:
    if os.environ.get(MULTIPROC_ENV) and pid is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def install_worker_observability(app: Celery, service: str) -> None:
    """Everything a worker needs: task metrics, a `/metrics` endpoint and JSON logs with task ids."""
    install_task_metrics(app)
    uid = f"memethresher-worker-{service}"
    # A receiver on setup_logging makes Celery leave logging to us.
    signals.setup_logging.connect(
        lambda loglevel=None, **_: configure_logging(service, level=loglevel), weak=False, dispatch_uid=uid
    )
    signals.worker_init.connect(_on_worker_init, weak=False, dispatch_uid=uid)
    signals.worker_ready.connect(_on_worker_ready, weak=False, dispatch_uid=uid)
    signals.worker_process_shutdown.connect(_on_worker_process_shutdown, weak=False, dispatch_uid=uid)
