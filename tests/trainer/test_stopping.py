"""The stopping signal: how many keep/discard decisions the next 100 ratings are expected to change."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import ModelVersion, Score
from memethresher_trainer import jobs
from memethresher_trainer.settings import get_trainer_settings
from memethresher_trainer.stopping import (
    OBSERVED_WEIGHT,
    expected_decision_change,
    model_stopping_metrics,
    observed_decision_change,
    stopping_metrics,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Env
from tests.trainer.conftest import ENCODER, add_ratings


def members(spread: float, n: int = 400, m: int = 16, seed: int = 0) -> np.ndarray:
    """Member scores around a common taste, each member with its own offset and `spread` of disagreement."""
    rng = np.random.default_rng(seed)
    taste = rng.normal(size=(n, 1))
    return taste + rng.normal(size=(1, m)) * 5 + rng.normal(scale=spread, size=(n, m))


def test_members_that_agree_up_to_their_offsets_leave_nothing_to_change() -> None:
    assert expected_decision_change(members(0.0), n_ratings=200, top_fraction=0.3) < 1e-6


def test_more_disagreement_means_more_decisions_expected_to_change() -> None:
    shares = [expected_decision_change(members(s), n_ratings=200, top_fraction=0.3) for s in (0.05, 0.3, 1.0)]
    assert 0 < shares[0] < shares[1] < shares[2] < 0.5


def test_the_same_disagreement_after_more_ratings_changes_less() -> None:
    scores = members(0.3)
    early, late = (expected_decision_change(scores, n_ratings=n, top_fraction=0.3) for n in (50, 2000))
    assert late < 0.7 * early


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        expected_decision_change(np.zeros((1, 16)), 10, 0.3)
    with pytest.raises(ValueError):
        expected_decision_change(members(0.1), 10, 1.5)


def test_observed_change_counts_the_memes_that_crossed_the_threshold() -> None:
    scores = np.arange(10.0)  # top 30%: the memes scored 7, 8, 9
    assert observed_decision_change(scores, scores + 3.0, 0.3) == 0.0
    swapped = scores.copy()
    swapped[[6, 7]] = swapped[[7, 6]]  # one meme in, one out
    assert observed_decision_change(swapped, scores, 0.3) == pytest.approx(0.2)


def test_memes_the_older_model_never_scored_are_left_out() -> None:
    scores, older = np.arange(10.0), np.arange(10.0)
    older[:5] = np.nan
    scores[:5] = 100.0  # would all be kept, but there is nothing to compare them with
    assert observed_decision_change(scores, older, 0.4) == 0.0
    assert observed_decision_change(scores, np.full(10, np.nan), 0.4) is None
    with pytest.raises(ValueError):
        observed_decision_change(scores, older[:9], 0.4)


def test_the_shown_share_is_the_larger_of_estimate_and_weighted_observed_change() -> None:
    scores = members(0.05)
    alone = stopping_metrics(scores, 200, 0.3)
    assert alone["observed_change_share"] is None
    assert alone["decision_change_share"] == alone["disagreement_share"] < 0.05
    reshuffled = np.random.default_rng(1).permutation(scores.mean(1))
    compared = stopping_metrics(scores, 200, 0.3, previous=reshuffled)
    assert compared["observed_change_share"] > 0.2
    assert compared["decision_change_share"] == OBSERVED_WEIGHT * compared["observed_change_share"]
    assert compared["decision_changes"] == round(compared["decision_change_share"] * 400)
    same = stopping_metrics(scores, 200, 0.3, previous=scores.mean(1))
    assert same["observed_change_share"] == 0.0 and same["decision_change_share"] == same["disagreement_share"]


def kept(session: Session, version_id: int, top: float) -> dict[int, bool]:
    """Each meme's keep decision by a version's stored scores."""
    rows = session.execute(select(Score.meme_id, Score.mean).where(Score.model_version_id == version_id)).all()
    means = np.array([mean for _, mean in rows])
    threshold = np.quantile(means, 1 - top)
    return {meme_id: mean >= threshold for meme_id, mean in rows}


def test_training_compares_with_the_version_at_least_100_ratings_older(env: Env, rated_memes: Callable) -> None:
    ids, _, taste = rated_memes(120, 150)
    settings = get_trainer_settings()
    stopping = []
    for more, seed in ((0, 0), (50, 1), (60, 2)):  # versions after 150, 200 and 260 ratings
        add_ratings(ids, taste, more, seed=seed)
        with session_scope() as session:
            stopping.append(jobs.train(session, settings, ENCODER)["metrics"]["stopping"])
    assert stopping[0]["observed_change_share"] is None  # nothing older
    assert stopping[1]["observed_change_share"] is None  # the older one is only 50 ratings back
    with session_scope() as session:
        first, _, last = session.execute(select(ModelVersion.id).order_by(ModelVersion.id)).scalars().all()
        top = settings.curation_top_fraction_of("overall")
        before, after = kept(session, first, top), kept(session, last, top)
    changed = np.mean([before[m] != after[m] for m in ids])
    assert stopping[2]["observed_change_share"] == pytest.approx(changed, abs=1.5 / 120)
    parts = (OBSERVED_WEIGHT * stopping[2]["observed_change_share"], stopping[2]["disagreement_share"])
    assert stopping[2]["decision_change_share"] == max(parts)


def test_training_stores_the_signal_in_the_model_version(env: Env, rated_memes: Callable) -> None:
    rated_memes(120, 150)
    with session_scope() as session:
        assert jobs.train(session, get_trainer_settings(), ENCODER)["status"] == "trained"
    with session_scope() as session:
        stopping = session.execute(select(ModelVersion)).scalar_one().metrics["stopping"]
    assert stopping["next_ratings"] == 100
    assert 0 < stopping["decision_change_share"] < 0.5
    assert stopping["decision_changes"] == round(stopping["decision_change_share"] * 120)


def test_the_disagreement_is_read_from_the_twin_and_the_change_from_the_ensemble() -> None:
    scores, twin = members(0.0), members(0.5, m=8, seed=3)
    metrics = stopping_metrics(scores, 200, 0.3, previous=scores.mean(1), spread_scores=twin)
    assert metrics["disagreement_share"] == expected_decision_change(twin, 200, 0.3) > 0.05
    assert metrics["observed_change_share"] == 0.0  # the ensemble's own decisions did not move


def test_a_bootstrapped_twin_disagrees_more_than_the_ensemble_on_the_same_ratings(
    env: Env, rated_memes: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    rated_memes(120, 150)
    shares = {}
    for twin in ("false", "true"):
        monkeypatch.setenv("MEMETHRESHER_STOPPING_SPREAD_TWIN", twin)
        get_trainer_settings.cache_clear()
        with session_scope() as session:
            td = jobs.load_training_data(session, get_trainer_settings(), ENCODER)
            assert td is not None
            spread = jobs.spread_twin(get_trainer_settings(), td)
            assert (spread is None) == (twin == "false")
            model = jobs.fit_data(td).model
            twin_model = None if spread is None else spread.model
            shares[twin] = model_stopping_metrics(model, td.vectors.matrix, 150, 0.3, twin=twin_model)[
                "disagreement_share"
            ]
    assert shares["true"] > 3 * shares["false"]
