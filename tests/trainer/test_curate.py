"""Curation: the top fraction by score goes to the queue, near-duplicates of kept memes do not."""

from __future__ import annotations

import numpy as np
from memethresher_trainer.curate import pick_for_curation, score_threshold

from tests.trainer.tastes import unit_vectors


def test_only_the_top_fraction_is_queued_best_first() -> None:
    scores = np.arange(100, dtype=float)
    threshold = score_threshold(scores, 0.05)
    picked = pick_for_curation(scores, unit_vectors(100, 32), threshold, np.zeros((0, 32)), 0.95)
    assert picked.tolist() == [99, 98, 97, 96, 95]


def test_near_duplicates_of_kept_memes_and_of_each_other_are_skipped() -> None:
    x = unit_vectors(4, 32)
    kept = x[:1]
    nearly_kept = x[0] + 0.01 * x[1]
    nearly_kept /= np.linalg.norm(nearly_kept)
    nearly_second = x[2] + 0.01 * x[3]
    nearly_second /= np.linalg.norm(nearly_second)
    candidates = np.stack([nearly_kept, x[2], nearly_second, x[3]])
    picked = pick_for_curation(np.array([9.0, 8.0, 7.0, 6.0]), candidates, 0.0, kept, 0.95)
    assert picked.tolist() == [1, 3]


def test_nothing_scored_means_nothing_reaches_the_threshold() -> None:
    assert score_threshold(np.zeros(0), 0.05) == float("inf")
