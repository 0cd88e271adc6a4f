"""The taste prompts' prior: memes close to a liked prompt rank first, and while no model is trained from
ratings the prior is the current version that scores, curates and chooses the first pairs."""

from __future__ import annotations

import numpy as np
import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import (
    PROMPT_PRIOR_KIND,
    AcquisitionBatch,
    AcquisitionPair,
    CurationItem,
    ModelVersion,
    PromptVector,
    Score,
    TastePrompt,
)
from memethresher_trainer import jobs, prior_version
from memethresher_trainer.prior import favoured, prior_direction, prior_scores
from memethresher_trainer.settings import get_trainer_settings
from sqlalchemy import delete, select

from tests.conftest import Env
from tests.trainer.conftest import ENCODER, add_memes, add_ratings
from tests.trainer.tastes import hidden_taste, unit_vectors

DIM = 32
NEAR = 6


def near(direction: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` unit vectors at cosine about 0.7 to `direction`, far enough apart not to be near-duplicates."""
    noise = unit_vectors(n, DIM, seed)
    x = 0.7 * direction + 0.7 * noise
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def world() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prompt vectors (liked, disliked) and memes: NEAR near the liked one, NEAR near the disliked one, then 48
    others, shuffled so their order says nothing."""
    liked, disliked = unit_vectors(2, DIM, seed=7)
    memes = np.concatenate([near(liked, NEAR, 1), near(disliked, NEAR, 2), unit_vectors(48, DIM, seed=3)])
    return np.stack([liked, disliked]), memes, np.random.default_rng(4).permutation(len(memes))


def test_memes_near_a_liked_prompt_rank_first_and_near_a_disliked_one_last() -> None:
    prompts, memes, order = world()
    scores = prior_scores(memes[order], prompts, np.array([True, False]))
    ranked = order[np.argsort(-scores)]  # original indices, best first
    assert set(ranked[:NEAR]) == set(range(NEAR))
    assert set(ranked[-NEAR:]) == set(range(NEAR, 2 * NEAR))


def test_the_prior_is_one_linear_direction_on_unit_vectors() -> None:
    prompts, memes, _ = world()
    like = np.array([True, False])
    np.testing.assert_allclose(memes @ prior_direction(prompts, like), prior_scores(memes, prompts, like), atol=1e-5)
    assert np.all(prior_scores(memes, np.zeros((0, DIM)), np.zeros(0, bool)) == 0)


def test_favoured_memes_are_the_top_fraction_best_first() -> None:
    assert favoured(np.array([0.1, 0.9, 0.5, 0.3]), 0.5).tolist() == [1, 2]
    assert favoured(np.array([0.1, 0.9, 0.5]), 0.1).tolist() == [1, 2], "at least two: a pair"


def add_prompts(vectors: np.ndarray, like: list[bool]) -> list[int]:
    with session_scope() as session:
        prompts = [TastePrompt(text=f"prompt {i}", liked=x) for i, x in enumerate(like)]
        session.add_all(prompts)
        session.flush()
        for prompt, vector in zip(prompts, vectors, strict=True):
            session.add(
                PromptVector(prompt_id=prompt.id, encoder=ENCODER, dim=DIM, vector=vector.astype("<f2").tobytes())
            )
        return [p.id for p in prompts]


def publish() -> dict:
    with session_scope() as session:
        return prior_version.publish_prior(session, get_trainer_settings(), ENCODER)


def current() -> ModelVersion | None:
    with session_scope() as session:
        version = session.scalar(select(ModelVersion).where(ModelVersion.is_current.is_(True)))
        session.expunge_all()
        return version


@pytest.fixture
def prompted(env: Env, monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[int]]:
    """Memes of the world in the database (ids in its order) and both prompts with vectors."""
    monkeypatch.setenv("MEMETHRESHER_CURATION_TOP_FRACTION", "0.1")
    monkeypatch.setenv("MEMETHRESHER_ACQUISITION_BATCH_SIZE", "8")
    prompts, memes, _ = world()
    return add_memes(memes), add_prompts(prompts, [True, False])


def test_before_any_rating_the_prior_scores_curates_and_chooses_pairs_among_the_favoured(
    prompted: tuple[list[int], list[int]],
) -> None:
    ids, _ = prompted
    outcome = publish()
    assert outcome["status"] == "published" and outcome["scored"] == len(ids)
    version = current()
    assert version is not None and version.config["kind"] == PROMPT_PRIOR_KIND and version.n_ratings == 0
    with session_scope() as session:
        scores = {
            m: s
            for m, s in session.execute(select(Score.meme_id, Score.mean).where(Score.model_version_id == version.id))
        }
        queued = set(session.scalars(select(CurationItem.meme_id).where(CurationItem.status == "pending")))
        pairs = session.execute(select(AcquisitionPair.a_id, AcquisitionPair.b_id)).all()
        strategies = session.scalars(select(AcquisitionBatch.strategy)).all()
    best_first = sorted(scores, key=lambda m: -scores[m])
    assert set(best_first[:NEAR]) == set(ids[:NEAR]), "the memes near the liked prompt score highest"
    assert queued == set(ids[:NEAR]), "the curation queue holds the memes near the liked prompt"
    top_half = set(best_first[: len(ids) // 2])
    assert len(pairs) == 8 and all(a in top_half and b in top_half for a, b in pairs)
    assert strategies == [PROMPT_PRIOR_KIND]
    assert not any(a in ids[NEAR : 2 * NEAR] or b in ids[NEAR : 2 * NEAR] for a, b in pairs)

    assert publish()["status"] == "skipped", "the same prompts publish nothing new"


def test_new_memes_are_scored_by_the_prior_as_they_are_embedded(prompted: tuple[list[int], list[int]]) -> None:
    publish()
    prompts, _, _ = world()
    [fresh] = add_memes(near(prompts[0], 1, seed=9), first=1000)
    with session_scope() as session:
        outcome = jobs.score_memes(session, get_trainer_settings(), [fresh])
    assert outcome["status"] == "scored" and outcome["queued"] == 1


def test_removing_every_prompt_retires_the_prior(prompted: tuple[list[int], list[int]]) -> None:
    publish()
    with session_scope() as session:
        session.execute(delete(TastePrompt))
    assert publish()["status"] == "retired"
    assert current() is None


def test_a_model_trained_from_ratings_takes_over_and_the_prior_steps_aside(
    prompted: tuple[list[int], list[int]],
) -> None:
    ids, _ = prompted
    publish()
    _, memes, _ = world()
    add_ratings(ids, hidden_taste(memes), 80)
    with session_scope() as session:
        trained = jobs.train(session, get_trainer_settings(), ENCODER)
    assert trained["status"] == "trained"
    version = current()
    assert version is not None and version.id == trained["model_version_id"] and "kind" not in version.config
    with session_scope() as session:
        session.execute(delete(TastePrompt).where(TastePrompt.id == prompted[1][1]))
    skipped = publish()
    assert skipped["status"] == "skipped" and "trained from ratings" in skipped["reason"]
    assert current().id == version.id  # type: ignore[union-attr]


def test_the_stopping_signal_does_not_count_the_change_from_the_prompts_decisions(
    prompted: tuple[list[int], list[int]],
) -> None:
    ids, _ = prompted
    publish()  # the prior's version, at 0 rating events
    _, memes, _ = world()
    add_ratings(ids, hidden_taste(memes), 110)
    with session_scope() as session:
        trained = jobs.train(session, get_trainer_settings(), ENCODER)
    assert trained["status"] == "trained"
    # No version trained from ratings is 100 events older: nothing to compare with, not the prompts' picks.
    assert trained["metrics"]["stopping"]["observed_change_share"] is None
