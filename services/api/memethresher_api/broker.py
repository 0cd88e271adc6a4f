"""What the dashboard reads from the broker: queue depths and live workers."""

from __future__ import annotations

import logging
from typing import Any

import redis
from memethresher_shared.celery_app import app
from memethresher_shared.coordination import redis_py_url
from memethresher_shared.tasks import QUEUES

log = logging.getLogger(__name__)


def _client(broker_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_py_url(broker_url), socket_connect_timeout=1, socket_timeout=1)


def broker_reachable(broker_url: str) -> bool:
    if not broker_url:
        return False
    try:
        with _client(broker_url) as client:
            return bool(client.ping())
    except (redis.RedisError, ValueError, OSError):
        return False


def queue_depths(broker_url: str) -> dict[str, int] | None:
    """Messages waiting on each queue (Redis lists named after the queues); None if unreachable."""
    if not broker_url:
        return None
    try:
        with _client(broker_url) as client:
            pipe = client.pipeline()
            for queue in QUEUES:
                pipe.llen(queue)
            return dict(zip(QUEUES, (int(n) for n in pipe.execute()), strict=True))
    except (redis.RedisError, ValueError, OSError):
        log.info("broker unreachable while reading queue depths", exc_info=True)
        return None


def live_workers(timeout_s: float) -> list[dict[str, Any]] | None:
    """Workers answering a ping, with the queues they consume; None if the broker is unreachable."""
    try:
        inspector = app.control.inspect(timeout=timeout_s)
        replies = inspector.active_queues() or {}
    except Exception:  # kombu raises several kinds of connection errors
        log.info("could not inspect workers", exc_info=True)
        return None
    return [
        {"name": name, "queues": sorted(q.get("name", "") for q in queues or [])}
        for name, queues in sorted(replies.items())
    ]
