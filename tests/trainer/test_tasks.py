"""The trainer and scorer as real Celery workers on a real database and Redis."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient
from memethresher_api.main import create_app
from memethresher_api.settings import get_api_settings
from memethresher_shared import coordination, tasks
from memethresher_shared.celery_app import send
from memethresher_shared.db import session_scope
from memethresher_shared.models import AcquisitionBatch, CurationItem, ModelVersion, Rating, Score
from sqlalchemy import func, select

from tests.api import helpers as api_helpers
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


def test_a_pinned_version_stays_current_through_retrains_until_unpinned(
    env: Env, redis_conn: redis.Redis, start_worker: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the API as the Models and rating pages use it, with a real trainer worker."""
    every = 5
    monkeypatch.setenv("MEMETHRESHER_RETRAIN_EVERY", str(every))
    get_api_settings.cache_clear()
    ids = api_helpers.add_memes(24)
    with session_scope() as session:
        session.add_all(Rating(a_id=ids[i], b_id=ids[i + 1], choice="a") for i in range(20))
    small = {"MEMETHRESHER_ENSEMBLE_MEMBERS": "4", "MEMETHRESHER_ENSEMBLE_MAX_EPOCHS": "30"}
    worker = start_worker("memethresher_trainer.tasks", "train,score", env.vars | small)
    pairs = iter((a, b) for a in ids for b in ids[::-1] if a < b)

    def rate(n: int) -> None:
        for _ in range(n):
            a, b = next(pairs)
            assert client.post("/api/ratings", json={"a": a, "b": b, "choice": "a"}).status_code == 201
            time.sleep(0.3)  # a person's pace: the API asks at most once a second

    def newest() -> int:
        return max(v.id for v in versions())

    with TestClient(create_app(), base_url=api_helpers.BASE_URL) as client:
        assert client.post("/api/models/retrain").json()["queued"]
        first = wait_until(current_id, 90, message=f"the first version\n{worker.output()}")
        rate(every)
        wait_until(lambda: current_id() != first, 60, message=f"the second version\n{worker.output()}")

        pinned = client.post(f"/api/models/{first}/pin").json()
        assert pinned["pinned"] and not pinned["is_current"]
        wait_until(lambda: current_id() == first, 60, message=f"the pinned version current\n{worker.output()}")
        before = newest()
        rate(2 * every)  # retrains run and record versions, but none replaces the pinned one
        wait_until(lambda: newest() > before, 60, message=f"a retrain while pinned\n{worker.output()}")
        time.sleep(2)
        assert current_id() == first
        models = {m["id"]: m for m in client.get("/api/models").json()}
        assert models[first]["pinned"] and models[first]["is_current"]

        assert not client.delete(f"/api/models/{first}/pin").json()["pinned"]
        rate(every)
        message = f"the retrain after unpinning\n{worker.output()}"
        wait_until(lambda: current_id() not in (first, None), 60, message=message)
        assert current_id() > before
