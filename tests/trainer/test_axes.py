"""Every rating axis end to end in the trainer: its own scores, acquisition batch and curation threshold."""

from __future__ import annotations

import numpy as np
import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import AcquisitionBatch, AcquisitionPair, CurationItem, Rating, Score
from memethresher_trainer import jobs
from memethresher_trainer.settings import get_trainer_settings
from sqlalchemy import select

from tests.conftest import Env
from tests.trainer.conftest import ENCODER, add_memes, add_ratings
from tests.trainer.tastes import hidden_taste, unit_vectors


def rate_axis(ids: list[int], taste: np.ndarray, n: int, axis: str, seed: int) -> None:
    """Ratings on `axis` by a rater who always prefers the meme `taste` ranks higher."""
    rng = np.random.default_rng(seed)
    with session_scope() as session:
        for _ in range(n):
            i, j = rng.choice(len(ids), 2, replace=False)
            choice = "a" if taste[i] > taste[j] else "b"
            session.add(Rating(a_id=ids[i], b_id=ids[j], choice=choice, axis=axis))


def train() -> dict:
    get_trainer_settings.cache_clear()
    with session_scope() as session:
        return jobs.train(session, get_trainer_settings(), ENCODER)


def axis_scores(version_id: int, axis: str, ids: list[int]) -> np.ndarray:
    with session_scope() as session:
        rows = dict(
            session.execute(
                select(Score.meme_id, Score.mean).where(Score.model_version_id == version_id, Score.axis == axis)
            ).all()
        )
    assert sorted(rows) == ids
    return np.array([rows[i] for i in ids])


def test_each_axis_gets_its_scores_batch_and_curation_threshold(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMETHRESHER_RATING_AXES", '["funny"]')
    monkeypatch.setenv("MEMETHRESHER_CURATION_TOP_FRACTION_BY_AXIS", '{"funny": 0.2}')
    vectors = unit_vectors(120, 32)
    overall_taste, funny_taste = hidden_taste(vectors, seed=1), hidden_taste(vectors, seed=7)
    ids = add_memes(vectors)
    rate_axis(ids, overall_taste, 200, "overall", seed=0)
    rate_axis(ids, funny_taste, 200, "funny", seed=1)
    result = train()
    version_id = result["model_version_id"]
    overall, funny = axis_scores(version_id, "overall", ids), axis_scores(version_id, "funny", ids)
    # Each head learnt its own axis' taste, not the other's.
    assert np.corrcoef(funny, funny_taste)[0, 1] > np.corrcoef(overall, funny_taste)[0, 1] + 0.2
    assert np.corrcoef(overall, overall_taste)[0, 1] > np.corrcoef(funny, overall_taste)[0, 1] + 0.2
    with session_scope() as session:
        batches = {b.axis: b.id for b in session.execute(select(AcquisitionBatch)).scalars()}
        assert set(batches) == {"overall", "funny"}
        assert result["by_axis"]["funny"]["acquisition_batch_id"] == batches["funny"]
        pairs = session.execute(select(AcquisitionPair)).scalars().all()
        queued = session.execute(select(CurationItem)).scalars().all()
    by_batch = {axis: {frozenset((p.a_id, p.b_id)) for p in pairs if p.batch_id == b} for axis, b in batches.items()}
    assert by_batch["overall"] and by_batch["funny"] and not by_batch["overall"] & by_batch["funny"]
    score_of = {"overall": dict(zip(ids, overall, strict=True)), "funny": dict(zip(ids, funny, strict=True))}
    funny_items = [q for q in queued if q.axis == "funny"]
    # The funny axis takes its own top fifth: more memes than overall's top 5%, each above funny's threshold.
    assert len(funny_items) > 6 >= len([q for q in queued if q.axis == "overall"]) >= 1
    assert all(score_of["funny"][q.meme_id] >= np.quantile(funny, 0.8) - 1e-9 for q in funny_items)
    assert len({q.meme_id for q in queued}) == len(queued)  # one item per meme, whichever axis queued it


def test_a_new_axis_keeps_training_on_the_overall_ratings(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = unit_vectors(100, 32)
    taste = hidden_taste(vectors)
    ids = add_memes(vectors)
    add_ratings(ids, taste, 120)
    before = train()
    monkeypatch.setenv("MEMETHRESHER_RATING_AXES", '["funny"]')
    rate_axis(ids, -taste, 10, "funny", seed=3)
    after = train()
    # Every old overall rating still trains the new model, beside the new axis' ratings.
    assert after["metrics"]["pairs"] == before["metrics"]["pairs"] + 10
    overall = axis_scores(after["model_version_id"], "overall", ids)
    assert np.corrcoef(overall, taste)[0, 1] > 0.6
    assert axis_scores(after["model_version_id"], "funny", ids).shape == (100,)
