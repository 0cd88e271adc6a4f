"""Cross-service coordination through Redis: requests that coalesce ("set once, then send"), and the
one-training-at-a-time lock per encoder that the rating page reads to show "retraining"."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import redis.lock
from redis.exceptions import LockError, RedisError

from memethresher_shared import tasks
from memethresher_shared.celery_app import send
from memethresher_shared.settings import get_settings

RETRAIN_QUEUED = "memethresher:retrain-queued:{encoder}"
TRAINING_LOCK = "memethresher:training:{encoder}"
# Short, and renewed while a training runs: a killed trainer's lock expires within a minute, so the
# next training starts and the rating page stops showing "retraining" soon after.
TRAINING_LOCK_TIMEOUT_S = 60

log = logging.getLogger(__name__)


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


def send_once(client: redis.Redis, flag: str, expire_s: int, task_name: str, *args: Any) -> bool:
    """Send `task_name` unless `flag` is set, then keep it set for `expire_s` (or until deleted);
    True if this call sent it. Callers racing here send one task between them."""
    if client.set(flag, "1", nx=True, ex=expire_s):
        send(task_name, *args)
        return True
    return False


def request_retrain(client: redis.Redis, encoder: str) -> bool:
    """Queue one training for `encoder` unless one is already queued; True if this call queued it."""
    return send_once(client, RETRAIN_QUEUED.format(encoder=encoder), 6 * 3600, tasks.TRAIN, encoder)


def clear_retrain_request(client: redis.Redis, encoder: str) -> None:
    """Called by the trainer as it starts, so ratings that arrive during training queue the next one."""
    client.delete(RETRAIN_QUEUED.format(encoder=encoder))


def training_lock(client: redis.Redis, encoder: str, timeout_s: float = TRAINING_LOCK_TIMEOUT_S) -> redis.lock.Lock:
    # Not thread-local: the thread that renews it is not the one that took it.
    name = TRAINING_LOCK.format(encoder=encoder)
    return client.lock(name, timeout=timeout_s, blocking=False, thread_local=False)


class LockHeld(Exception):
    """Another training of the same encoder is running."""


@contextmanager
def held_training_lock(
    client: redis.Redis, encoder: str, timeout_s: float = TRAINING_LOCK_TIMEOUT_S
) -> Iterator[redis.lock.Lock]:
    """Hold the training lock of `encoder` for the block, renewed every third of `timeout_s` by a
    thread; raises LockHeld when another training holds it. Released even when the block fails."""
    lock = training_lock(client, encoder, timeout_s)
    if not lock.acquire():
        raise LockHeld(encoder)
    done = threading.Event()
    renewer = threading.Thread(target=_renew, args=(lock, timeout_s / 3, done), name="training-lock", daemon=True)
    renewer.start()
    try:
        yield lock
    finally:
        done.set()
        renewer.join()
        try:
            lock.release()
        except LockError:  # expired while we worked (Redis was away); nobody else may hold it now
            pass


def _renew(lock: redis.lock.Lock, every_s: float, done: threading.Event) -> None:
    """Reset the lock's timeout until `done`; a Redis blip is logged and retried at the next tick."""
    while not done.wait(every_s):
        try:
            lock.reacquire()
        except RedisError as error:  # LockError included
            log.warning("could not renew the training lock %s: %s", lock.name, error)


def retrain_running(client: redis.Redis, encoder: str) -> bool:
    return bool(client.exists(TRAINING_LOCK.format(encoder=encoder)))
