"""The training lock on a real Redis: short, renewed while a training runs, gone once it ends."""

from __future__ import annotations

import time

import pytest
import redis
from memethresher_shared import coordination

from tests.trainer.conftest import ENCODER


def test_a_training_longer_than_the_lock_timeout_keeps_its_lock(redis_conn: redis.Redis) -> None:
    with coordination.held_training_lock(redis_conn, ENCODER, timeout_s=1.0):
        deadline = time.monotonic() + 3.5  # three and a half timeouts
        while time.monotonic() < deadline:
            assert not coordination.training_lock(redis_conn, ENCODER).acquire(), "a second training got the lock"
            assert coordination.retrain_running(redis_conn, ENCODER)
            time.sleep(0.25)
    assert not coordination.retrain_running(redis_conn, ENCODER)


def test_a_held_lock_is_refused_and_released_when_the_training_fails(redis_conn: redis.Redis) -> None:
    with pytest.raises(RuntimeError), coordination.held_training_lock(redis_conn, ENCODER):
        with pytest.raises(coordination.LockHeld), coordination.held_training_lock(redis_conn, ENCODER):
            pass
        raise RuntimeError("the training failed")
    assert not coordination.retrain_running(redis_conn, ENCODER)


def test_an_abandoned_lock_expires_within_a_minute(redis_conn: redis.Redis) -> None:
    """What a killed trainer leaves behind: nobody renews it."""
    assert coordination.training_lock(redis_conn, ENCODER).acquire()
    ttl = redis_conn.pttl(coordination.TRAINING_LOCK.format(encoder=ENCODER))
    assert 0 < ttl <= 60_000
