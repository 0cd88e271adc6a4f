"""The trainer's jobs on a real database: every table the API reads is filled, and reruns change nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from memethresher_shared.db import session_scope
from memethresher_shared.models import (
    AcquisitionBatch,
    AcquisitionPair,
    CurationItem,
    ModelVersion,
    Rating,
    Score,
    TrainingMetric,
)
from memethresher_trainer import artifacts, jobs
from memethresher_trainer.settings import get_trainer_settings
from memethresher_trainer.train import fit
from sqlalchemy import func, select

from tests.conftest import Env
from tests.trainer.conftest import ENCODER, add_memes, add_ratings


def count(model: type) -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def run_train() -> dict:
    with session_scope() as session:
        return jobs.train(session, get_trainer_settings(), ENCODER)


def test_training_publishes_a_version_scores_pairs_and_curation(env: Env, rated_memes: Callable) -> None:
    ids, vectors, taste = rated_memes(120, 150)
    result = run_train()
    assert result["status"] == "trained"
    with session_scope() as session:
        version = session.execute(select(ModelVersion)).scalar_one()
        assert version.is_current and version.encoder == ENCODER and version.n_ratings == 150
        assert Path(version.artifact).is_relative_to(env.storage / "models")
        assert (Path(version.artifact) / "weights.safetensors").is_file()
        assert version.metrics["val_loss"] is not None
        # Both fits of a retrain are timed: the ensemble and the stopping signal's twin.
        assert version.metrics["train_seconds"] > 0 and version.metrics["twin_train_seconds"] > 0
        curve = session.execute(select(TrainingMetric).order_by(TrainingMetric.step)).scalars().all()
        assert len(curve) == version.metrics["epochs_run"] and curve[0].val_loss is not None
        scores = dict(session.execute(select(Score.meme_id, Score.mean)).all())
        assert sorted(scores) == ids
        batch = session.execute(select(AcquisitionBatch)).scalar_one()
        assert batch.model_version_id == version.id and batch.strategy == "random"
        pairs = session.execute(select(AcquisitionPair)).scalars().all()
        rated = {frozenset((r.a_id, r.b_id)) for r in session.execute(select(Rating)).scalars()}
        assert len(pairs) == 64 and all(p.status == "pending" for p in pairs)
        assert not rated & {frozenset((p.a_id, p.b_id)) for p in pairs}
        queued = session.execute(select(CurationItem)).scalars().all()
    learned = np.array([scores[i] for i in ids])
    assert np.corrcoef(learned, taste)[0, 1] > 0.6
    # The queue holds the top of the ranking, not a random draw.
    assert 1 <= len(queued) <= 7
    assert min(q.score for q in queued) >= np.quantile(learned, 0.9)


def test_rerun_on_the_same_ratings_changes_nothing(env: Env, rated_memes: Callable) -> None:
    rated_memes(60, 40)
    first = run_train()
    again = run_train()
    assert again == {"status": "skipped", "reason": "already trained on these ratings",
                     "model_version_id": first["model_version_id"]}  # fmt: skip
    assert count(ModelVersion) == 1 and count(AcquisitionBatch) == 1


def train_twice(rated_memes: Callable, first: int, more: int) -> tuple[np.ndarray, dict]:
    """Train on `first` ratings, add `more`, train again: the memes' vectors and the second result."""
    ids, vectors, taste = rated_memes(80, first)
    run_train()
    add_ratings(ids, taste, more, seed=1)
    return vectors, run_train()


def test_new_ratings_make_a_new_current_version_and_batch(env: Env, rated_memes: Callable) -> None:
    _, second = train_twice(rated_memes, 60, 20)
    with session_scope() as session:
        current = session.execute(select(ModelVersion).where(ModelVersion.is_current)).scalars().all()
        assert [v.id for v in current] == [second["model_version_id"]]
        statuses = dict(
            session.execute(
                select(AcquisitionPair.batch_id, func.count()).where(AcquisitionPair.status == "pending")
                .group_by(AcquisitionPair.batch_id)
            ).all()
        )  # fmt: skip
    assert list(statuses) == [second["acquisition_batch_id"]]  # older pending pairs set aside


def test_a_retrain_learns_afresh_instead_of_from_the_last_version(env: Env, rated_memes: Callable) -> None:
    # A version warm-started from the last one kept that one's early mistakes (RESULTS.md, learning, tenth
    # round); the second version must be what a fresh fit on all ratings gives, whatever came before.
    vectors, second = train_twice(rated_memes, 30, 60)
    with session_scope() as session:
        td = jobs.load_training_data(session, get_trainer_settings(), ENCODER)
        assert td is not None
        fresh = fit(td.vectors.matrix, td.pairs, td.config, [int(i) for i in td.vectors.ids]).model
        saved = artifacts.load(Path(session.get(ModelVersion, second["model_version_id"]).artifact))
    x = torch.from_numpy(vectors)
    with torch.no_grad():
        torch.testing.assert_close(saved.score_all(x), fresh.score_all(x))


def test_no_ratings_or_no_model_is_a_clear_skip(env: Env) -> None:
    add_memes(np.eye(4, 8, dtype=np.float32))
    assert run_train()["status"] == "skipped"
    with session_scope() as session:
        result = jobs.score_memes(session, get_trainer_settings(), [1, 2])
    assert result["status"] == "skipped" and "no model" in result["reason"]


def test_new_memes_are_scored_with_the_current_model_and_curated(env: Env, rated_memes: Callable) -> None:
    ids, vectors, _ = rated_memes(60, 60)
    run_train()
    # A meme the model likes more than anything it has seen, and its near-duplicate.
    with session_scope() as session:
        top = session.execute(select(Score.meme_id).order_by(Score.mean.desc())).scalars().first()
    best = vectors[ids.index(top)]
    twin = best + 0.001
    new_ids = add_memes(np.stack([best, twin / np.linalg.norm(twin)]), first=10_000)
    with session_scope() as session:
        session.execute(CurationItem.__table__.update().values(status="kept"))
        result = jobs.score_memes(session, get_trainer_settings(), new_ids)
    assert result["status"] == "scored" and result["scored"] == 2
    with session_scope() as session:
        assert session.scalar(select(func.count()).where(Score.meme_id.in_(new_ids))) == 2
        # Both are near-duplicates of a kept meme, so neither is queued.
        assert session.scalar(select(func.count()).where(CurationItem.meme_id.in_(new_ids))) == 0


@pytest.mark.postgres
def test_training_on_postgresql(pg_env: Env, rated_memes: Callable) -> None:
    rated_memes(60, 50)
    assert run_train()["status"] == "trained"
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Score)) == 60
    # Scores are upserted: publishing the same version again leaves one row per meme.
    with session_scope() as session:
        version = session.execute(select(ModelVersion)).scalar_one()
        jobs.publish_version(session, get_trainer_settings(), version)
    assert count(Score) == 60
