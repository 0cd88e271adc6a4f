"""AUROC, as every service computes it."""

import itertools

import numpy as np
import pytest
from memethresher_shared import metrics
from memethresher_trainer import evaluate


def brute_auroc(scores: np.ndarray, good: np.ndarray) -> float:
    wins = [1.0 if g > b else 0.5 if g == b else 0.0
            for g, b in itertools.product(scores[good], scores[~good])]  # fmt: skip
    return float(np.mean(wins))


@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_pairwise_definition_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, 40).astype(float)  # many ties
    good = rng.random(40) < 0.4
    assert metrics.auroc(scores, good) == pytest.approx(brute_auroc(scores, good))


def test_auroc_of_perfect_and_inverted_rankings() -> None:
    scores = np.arange(10.0)
    good = scores >= 5
    assert metrics.auroc(scores, good) == 1.0
    assert metrics.auroc(-scores, good) == 0.0
    assert metrics.auroc(scores, np.ones(10, bool)) is None


def test_the_trainer_reports_the_same_auroc_and_nan_without_both_kinds() -> None:
    rng = np.random.default_rng(7)
    scores, good = rng.random(30), rng.random(30) < 0.5
    assert evaluate.auroc(scores, good) == metrics.auroc(scores, good)
    assert np.isnan(evaluate.auroc(scores, np.zeros(30, bool)))
