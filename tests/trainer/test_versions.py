"""Which version is current after a training: pins, rating counts the API compares with, axes, batches."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from memethresher_api.pairs import acquisition_pairs
from memethresher_api.ratings import rating_counts
from memethresher_shared import coordination
from memethresher_shared.db import session_scope
from memethresher_shared.models import AcquisitionPair, ModelVersion, Rating
from memethresher_trainer import jobs
from memethresher_trainer.settings import get_trainer_settings
from sqlalchemy import func, select, update

from tests.conftest import Env
from tests.trainer.conftest import ENCODER, add_memes, add_ratings
from tests.trainer.tastes import unit_vectors

EVERY = 20


def run_train(encoder: str = ENCODER) -> dict:
    with session_scope() as session:
        return jobs.train(session, get_trainer_settings(), encoder)


def retrain_due_now() -> bool:
    """What the API decides on the next rating, from the counts it reads."""
    with session_scope() as session:
        total, at_model = rating_counts(session, ENCODER)
    return coordination.retrain_due(total + 1, at_model, EVERY)


def current() -> ModelVersion:
    with session_scope() as session:
        return session.execute(select(ModelVersion).where(ModelVersion.is_current)).scalar_one()


def pin(version_id: int) -> None:
    with session_scope() as session:
        session.execute(update(ModelVersion).values(pinned=ModelVersion.id == version_id))


def test_ratings_the_model_cannot_use_do_not_ask_for_a_retrain_on_every_rating(env: Env, rated_memes) -> None:  # type: ignore[no-untyped-def]
    ids, _, taste = rated_memes(60, 40)
    # Memes the encoder has no vectors for (another encoder's, or not embedded yet), rated often.
    others = add_memes(unit_vectors(10, 32, seed=5), encoder="another:encoder", first=1000)
    add_ratings(others, np.arange(10.0), 3 * EVERY, seed=2)
    result = run_train()
    assert result["status"] == "trained"
    assert not retrain_due_now()
    assert current().n_ratings == 40 + 3 * EVERY  # every rating row it saw: what the API counts
    assert result["metrics"]["pairs"] == 40  # the pairs it learnt from
    add_ratings(ids, taste, EVERY - 1, seed=3)
    assert retrain_due_now()  # the `every`-th rating since the training asks, not every one before it


def test_a_pinned_version_stays_current_while_retrains_record_new_ones(env: Env, rated_memes) -> None:  # type: ignore[no-untyped-def]
    ids, _, taste = rated_memes(80, 60)
    first = run_train()["model_version_id"]
    add_ratings(ids, taste, EVERY, seed=1)
    run_train()
    pin(first)
    add_ratings(ids, taste, EVERY, seed=2)
    recorded = run_train()
    assert current().id == first and current().pinned
    assert recorded["status"] == "trained" and recorded["pinned"] is True
    assert recorded["model_version_id"] != first and recorded["current_version_id"] == first
    # The pinned version chose the new acquisition batch; the retrain is not asked for again at once.
    with session_scope() as session:
        newest_batch = session.execute(select(func.max(AcquisitionPair.batch_id))).scalar_one()
        pending = session.execute(select(AcquisitionPair).where(AcquisitionPair.status == "pending")).scalars().all()
    assert {p.batch_id for p in pending} == {newest_batch} and recorded["acquisition_batch_id"] == newest_batch
    assert not retrain_due_now()

    with session_scope() as session:
        session.execute(update(ModelVersion).values(pinned=False))
    add_ratings(ids, taste, EVERY, seed=4)
    replaced = run_train()
    assert "pinned" not in replaced and current().id == replaced["model_version_id"] != first


def test_a_pin_set_while_another_version_became_current_wins_at_the_next_training(env: Env, rated_memes) -> None:  # type: ignore[no-untyped-def]
    ids, _, taste = rated_memes(60, 40)
    first = run_train()["model_version_id"]
    add_ratings(ids, taste, EVERY, seed=1)
    run_train()
    with session_scope() as session:  # as when a pin lands just after a training switched versions
        session.execute(update(ModelVersion).values(pinned=ModelVersion.id == first))
    add_ratings(ids, taste, EVERY, seed=2)
    run_train()
    assert current().id == first and current().pinned


def test_overall_ratings_train_the_overall_axis_when_extra_axes_are_set(
    env: Env, rated_memes: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMETHRESHER_RATING_AXES", '["funny", "useful"]')
    get_trainer_settings.cache_clear()
    ids, _, taste = rated_memes(60, 50)  # every one an overall rating
    with session_scope() as session:
        session.add_all(Rating(a_id=ids[i], b_id=ids[i + 1], choice="a", axis="funny") for i in range(10))
    result = run_train()
    assert result["status"] == "trained"
    assert current().config["axes"] == ["overall", "funny", "useful"]
    assert result["metrics"]["pairs"] == 60


def test_a_new_batch_supersedes_pending_pairs_but_keeps_user_skips(env: Env, rated_memes) -> None:  # type: ignore[no-untyped-def]
    ids, _, taste = rated_memes(80, 60)
    first = run_train()
    with session_scope() as session:
        pairs = session.execute(select(AcquisitionPair).order_by(AcquisitionPair.position)).scalars().all()
        pairs[0].status = "skipped"  # what the rating page's skip does
        old = [p.id for p in pairs]
    # Another encoder's batch leaves this encoder's pending pairs alone.
    others = add_memes(unit_vectors(30, 16, seed=9), encoder="another:encoder", first=2000)
    add_ratings(others, np.arange(30.0), 30, seed=5)
    assert run_train("another:encoder")["status"] == "trained"
    with session_scope() as session:
        still = session.execute(select(AcquisitionPair.status).where(AcquisitionPair.id.in_(old[1:]))).scalars()
        assert set(still) == {"pending"}
    add_ratings(ids, taste, EVERY, seed=1)
    second = run_train()
    with session_scope() as session:
        statuses = dict(session.execute(select(AcquisitionPair.id, AcquisitionPair.status)).all())
        served = acquisition_pairs(session, ENCODER, 500)
    assert statuses[old[0]] == "skipped"
    assert {statuses[i] for i in old[1:]} == {"superseded"}
    assert served and {p.batch_id for p in served} == {second["acquisition_batch_id"]}
    assert first["acquisition_batch_id"] != second["acquisition_batch_id"]
