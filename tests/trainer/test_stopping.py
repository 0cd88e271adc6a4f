"""The stopping signal: how many keep/discard decisions the next 100 ratings are expected to change."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import ModelVersion
from memethresher_trainer import jobs
from memethresher_trainer.settings import get_trainer_settings
from memethresher_trainer.stopping import expected_decision_change
from sqlalchemy import select

from tests.conftest import Env
from tests.trainer.conftest import ENCODER


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


def test_training_stores_the_signal_in_the_model_version(env: Env, rated_memes: Callable) -> None:
    rated_memes(120, 150)
    with session_scope() as session:
        assert jobs.train(session, get_trainer_settings(), ENCODER)["status"] == "trained"
    with session_scope() as session:
        stopping = session.execute(select(ModelVersion)).scalar_one().metrics["stopping"]
    assert stopping["next_ratings"] == 100
    assert 0 < stopping["decision_change_share"] < 0.5
    assert stopping["decision_changes"] == round(stopping["decision_change_share"] * 120)
