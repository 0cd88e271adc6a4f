"""Cross-service coordination through Redis: retrain requests that coalesce, and the
one-training-at-a-time lock per encoder that the rating page reads to show "retraining"."""

from __future__ import annotations

import functools

import redis

from memethresher_shared import tasks
from memethresher_shared.celery_app import send
from memethresher_shared.settings import get_settings

RETRAIN_QUEUED = "memethresher:retrain-queued:{encoder}"
TRAINING_LOCK = "memethresher:training:{encoder}"


def redis_py_url(broker_url: str) -> str:
    """Celery spells a unix socket `redis+socket://PATH`; redis-py spells it `unix://PATH`."""
    if broker_url.startswith("redis+socket://"):
        return "unix://" + broker_url.removeprefix("redis+socket://")
    return broker_url


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(redis_py_url(get_settings().broker_url))


def retrain_due(total_ratings: int, ratings_at_current_model: int, every: int) -> bool:
    """True once `every` ratings have arrived since the current model was trained."""
    return total_ratings - ratings_at_current_model >= every


def request_retrain(client: redis.Redis, encoder: str) -> bool:
    """Queue one training for `encoder` unless one is already queued; True if this call queued it."""
    if client.set(RETRAIN_QUEUED.format(encoder=encoder), "1", nx=True, ex=6 * 3600):
        send(tasks.TRAIN, encoder)
        return True
    return False


def clear_retrain_request(client: redis.Redis, encoder: str) -> None:
    """Called by the trainer as it starts, so ratings that arrive during training queue the next one."""
    client.delete(RETRAIN_QUEUED.format(encoder=encoder))


def training_lock(client: redis.Redis, encoder: str, timeout_s: int = 3600) -> redis.lock.Lock:
    return client.lock(TRAINING_LOCK.format(encoder=encoder), timeout=timeout_s, blocking=False)


def retrain_running(client: redis.Redis, encoder: str) -> bool:
    return bool(client.exists(TRAINING_LOCK.format(encoder=encoder)))
