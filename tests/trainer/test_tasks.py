"""The trainer and scorer as real Celery workers on a real database and Redis."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
import redis
from memethresher_shared import coordination, tasks
from memethresher_shared.celery_app import send
from memethresher_shared.db import session_scope
from memethresher_shared.models import AcquisitionBatch, CurationItem, ModelVersion, Score
from sqlalchemy import func, select

from tests.conftest import Env, wait_until
from tests.trainer.conftest import ENCODER, add_memes, add_ratings

pytestmark = pytest.mark.integration


def versions() -> list[ModelVersion]:
    with session_scope() as session:
        return list(session.execute(select(ModelVersion).order_by(ModelVersion.id)).scalars())


def current_id() -> int | None:
    return next((v.id for v in versions() if v.is_current), None)


def test_worker_trains_scores_acquires_curates_and_sweeps(
    env: Env, redis_conn: redis.Redis, rated_memes: Callable, start_worker: Callable
) -> None:
    ids, vectors, taste = rated_memes(100, 120)
    worker = start_worker("memethresher_trainer.tasks", "train,score", env.vars | {"MEMETHRESHER_TRAINER_THREADS": "1"})

    # A retrain request as the API makes it: queued once, however often it is asked for.
    assert coordination.request_retrain(redis_conn, ENCODER)
    wait_until(lambda: current_id(), 90, message=f"a trained model version\n{worker.output()}")
    first = current_id()
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Score)) == 100
        assert session.scalar(select(func.count()).select_from(AcquisitionBatch)) == 1
        assert session.scalar(select(func.count()).select_from(CurationItem)) >= 1

    # While another training holds the lock, a requested one waits, then runs.
    add_ratings(ids, taste, 20, seed=3)
    lock = coordination.training_lock(redis_conn, ENCODER)
    assert lock.acquire()
    send(tasks.TRAIN, ENCODER)
    time.sleep(3)
    assert current_id() == first
    lock.release()
    wait_until(lambda: current_id() != first, 60, message=f"the retrain after the lock\n{worker.output()}")

    # The embedder hands over new memes: they are scored by the current model.
    new_ids = add_memes(vectors[:3] * -1, first=5000)
    send(tasks.SCORE_MEMES, new_ids)
    wait_until(lambda: _scored(new_ids, current_id()), 30, message=f"new memes scored\n{worker.output()}")

    # A sweep fans out over the workers and makes the best candidate current.
    before = {v.id for v in versions()}
    send(tasks.SWEEP, ENCODER, [{"hidden": 16}, {"hidden": 48, "dropout": 0.2}])
    wait_until(lambda: current_id() not in before, 90, message=f"the sweep's pick\n{worker.output()}")
    candidates = [v for v in versions() if v.id not in before]
    assert len(candidates) == 2
    best = min(candidates, key=lambda v: v.metrics["val_loss"])
    assert best.is_current and best.metrics["sweep"] in ({"hidden": 16}, {"hidden": 48, "dropout": 0.2})
    assert np.isfinite(best.metrics["val_loss"])

    # Rolling back to the first version (what the models page asks for) makes it current and rescores.
    send(tasks.MAKE_CURRENT, first)
    wait_until(lambda: current_id() == first, 60, message=f"the roll-back\n{worker.output()}")
    assert [v.id for v in versions() if v.is_current] == [first]
    wait_until(lambda: _scored(new_ids, first), 30, message=f"scores of the restored version\n{worker.output()}")


def _scored(meme_ids: list[int], version_id: int | None) -> bool:
    with session_scope() as session:
        found = session.scalar(
            select(func.count()).where(Score.meme_id.in_(meme_ids), Score.model_version_id == version_id)
        )
    return found == len(meme_ids)
