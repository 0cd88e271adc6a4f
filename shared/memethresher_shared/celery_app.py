"""The one Celery app every service uses. Its configuration is built from settings on first
use (Celery reads `app.conf` lazily), never at import."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import redis
from celery import Celery, Task
from sqlalchemy.exc import OperationalError

from memethresher_shared import tasks
from memethresher_shared.settings import get_settings


def celery_config() -> dict[str, Any]:
    settings = get_settings()
    if not settings.broker_url:
        raise RuntimeError(
            "MEMETHRESHER_BROKER_URL is empty: start everything with `memethresher up` "
            "(it runs an embedded Redis) or point it at a Redis server, e.g. redis://127.0.0.1:6379/0"
        )
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.broker_url,
        "result_expires": 3600,
        "task_routes": tasks.ROUTES,
        "task_default_queue": tasks.CRAWL_QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        # Every task is idempotent, so a task whose worker died is redelivered, not dropped.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": settings.task_visibility_timeout_s,
            # Sweep for tasks of vanished workers often enough to honour the timeout above.
            "unacked_restore_interval": max(1, min(10, settings.task_visibility_timeout_s // 3)),
            "unacked_restore_throttle": 1,
        },
        "result_backend_transport_options": {"retry_policy": {"timeout": 5.0}},
        "worker_hijack_root_logger": False,
        "beat_schedule": {
            "crawl-due-sources": {"task": tasks.CRAWL_DUE_SOURCES, "schedule": timedelta(seconds=60)},
        },
    }


class _LazyConfig(Mapping[str, Any]):
    """A mapping Celery reads on first access to `app.conf`; settings are read only then."""

    @functools.cached_property
    def _data(self) -> dict[str, Any]:
        return celery_config()

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class MemeThresherTask(Task):  # type: ignore[misc]
    """Base of every task: a dropped database or broker connection is retried with backoff, not lost.

    Safe because every task is idempotent."""

    autoretry_for = (OperationalError, redis.ConnectionError, redis.TimeoutError)
    retry_backoff = 1
    retry_backoff_max = 30
    retry_jitter = True
    max_retries = 8


app = Celery("memethresher", task_cls=MemeThresherTask)
app.config_from_object(_LazyConfig())


def send(task_name: str, *args: Any, **kwargs: Any) -> Any:
    """Enqueue a task by name; the route table picks its queue."""
    return app.send_task(task_name, args=args, kwargs=kwargs)
