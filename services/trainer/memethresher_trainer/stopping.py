"""When to stop rating: how many keep/discard decisions the next ratings are expected to change.

The members' spread on a meme's score stands for how unsure the model is of it. With n ratings behind
the model, `more` ratings shrink that uncertainty's variance by about n / (n + more), so the ensemble's
mean score moves by roughly N(0, spread^2 * more / (n + more)), plus the retrain's own redraw of the
members; a meme's decision (in the top
`top_fraction` or not) changes when that move crosses the curation threshold. The expected share of
changed decisions is the mean of those crossing probabilities. Its accuracy is measured in
benchmarks/bench_learning.py (predicted against the decisions that really changed 100 ratings later).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from memethresher_trainer.model import Ensemble
from memethresher_trainer.score import fuse

NEXT = 100  # ratings the signal looks ahead


def expected_decision_change(member_scores: np.ndarray, n_ratings: int, top_fraction: float, more: int = NEXT) -> float:
    """Expected share of memes whose keep/discard decision changes after `more` ratings.

    member_scores: (N, M) each member's score of each meme; Bradley-Terry scores have an arbitrary offset
    per member, so each member's scores are centred before their spread is read."""
    if member_scores.ndim != 2 or len(member_scores) < 2 or not 0 < top_fraction < 1:
        raise ValueError("need (N >= 2, M) member scores and a top fraction in (0, 1)")
    centred = member_scores - member_scores.mean(0, keepdims=True)
    mean, spread = centred.mean(1), centred.std(1)
    threshold = np.quantile(mean, 1.0 - top_fraction)
    # A retrain also draws the ensemble afresh: its mean of M members moves by about spread * sqrt(2 / M)
    # with no new information at all (the benchmark's first runs, without this term, predicted a third of
    # the changes that happened).
    move = spread * math.sqrt(more / (max(n_ratings, 0) + more) + 2.0 / member_scores.shape[1])
    z = np.abs(mean - threshold) / np.maximum(move, 1e-12)
    return float(torch.special.ndtr(torch.from_numpy(-z)).mean())  # P(N(0, 1) > z)


def stopping_metrics(member_scores: np.ndarray, n_ratings: int, top_fraction: float) -> dict[str, Any]:
    """What the trainer stores in a model version's metrics for the rating page and /api/stats."""
    share = expected_decision_change(member_scores, n_ratings, top_fraction)
    return {"next_ratings": NEXT, "decision_change_share": share,
            "decision_changes": int(round(share * len(member_scores)))}  # fmt: skip


def model_stopping_metrics(model: Ensemble, vectors: np.ndarray, n_ratings: int, top_fraction: float) -> dict[str, Any]:
    """The signal for a freshly trained model over every embedded meme, on the overall axis (the first)."""
    return stopping_metrics(fuse(model).member_scores(vectors)[:, :, 0], n_ratings, top_fraction)
