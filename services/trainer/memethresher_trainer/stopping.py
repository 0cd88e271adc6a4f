"""When to stop rating: how many keep/discard decisions the next ratings are expected to change.

The members' spread on a meme's score stands for how unsure the model is of it. With n ratings behind
the model, `more` ratings shrink that uncertainty's variance by about n / (n + more), so the ensemble's
mean score moves by roughly N(0, spread^2 * more / (n + more)), plus the retrain's own redraw of the
members; a meme's decision (in the top
`top_fraction` or not) changes when that move crosses the curation threshold. The expected share of
changed decisions is the mean of those crossing probabilities. Its accuracy is measured in
benchmarks/bench_learning.py (predicted against the decisions that really changed 100 ratings later).

With members that all trained on the same answers that estimate fell far short there (about 1% predicted
where 11% changed), while the share of decisions that changed over the previous 100 ratings was off by
less than half as much; so the signal the product shows is the larger of the two, the observed one
weighted. Bootstrapped members disagree about as much as the model is unsure, but scoring with them
costs AUROC early (`MEMETHRESHER_ENSEMBLE_BOOTSTRAP`, off). So the trainer fits a bootstrapped twin beside
the ensemble and reads the spread from it (`MEMETHRESHER_STOPPING_SPREAD_TWIN`, on): the shown share's
error fell from 0.065 to 0.038 (benchmarks/RESULTS.md, learning, tenth round).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from memethresher_trainer.model import Ensemble, EnsembleConfig
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


def twin_config(config: EnsembleConfig) -> EnsembleConfig | None:
    """The recipe of the bootstrapped twin whose disagreement the signal reads; None when the ensemble is
    bootstrapped itself, and its own members disagree enough."""
    return None if config.bootstrap else replace(config, bootstrap=True)


def keep_decisions(scores: np.ndarray, top_fraction: float) -> np.ndarray:
    """The curation decision: whether each meme is in the top `top_fraction` by score."""
    return scores >= np.quantile(scores, 1.0 - top_fraction)


def observed_decision_change(current: np.ndarray, previous: np.ndarray, top_fraction: float) -> float | None:
    """Share of memes whose keep/discard decision differs between two models' scores (N,) of the same memes.

    `previous` is NaN where the older model scored no such meme (embedded since): only memes both scored
    count, each model's threshold taken over those; None when fewer than two are shared."""
    if current.shape != previous.shape or not 0 < top_fraction < 1:
        raise ValueError("need two score arrays of the same memes and a top fraction in (0, 1)")
    both = ~np.isnan(previous)
    if both.sum() < 2:
        return None
    return float((keep_decisions(current[both], top_fraction) != keep_decisions(previous[both], top_fraction)).mean())


# Changes slow down as ratings accumulate, so the last 100 ratings' change overstates the next 100's (by 3
# points of 11 in the learning benchmark); this weight, fitted on its tuning families, took the error from
# 0.042 to 0.029 there and from 0.041 to 0.027-0.028 on the held-out ones (benchmarks/RESULTS.md).
OBSERVED_WEIGHT = 0.7


def shown_share(disagreement: float, observed: float | None) -> float:
    """The signal the product shows: the larger of the disagreement estimate and the weighted observed
    change (chosen by the learning benchmark's stopping accuracy)."""
    return disagreement if observed is None else max(disagreement, OBSERVED_WEIGHT * observed)


def stopping_metrics(
    member_scores: np.ndarray,
    n_ratings: int,
    top_fraction: float,
    previous: np.ndarray | None = None,
    spread_scores: np.ndarray | None = None,
) -> dict[str, Any]:
    """What the trainer stores in a model version's metrics for the rating page and /api/stats.

    `previous`: the scores (N,) of the same memes by the version trained about NEXT ratings earlier;
    `spread_scores`: member scores (N, M') of a bootstrapped twin, whose disagreement is read instead."""
    spread = member_scores if spread_scores is None else spread_scores
    disagreement = expected_decision_change(spread, n_ratings, top_fraction)
    current = member_scores.mean(1)
    observed = None if previous is None else observed_decision_change(current, previous, top_fraction)
    share = shown_share(disagreement, observed)
    return {"next_ratings": NEXT, "decision_change_share": share,
            "decision_changes": int(round(share * len(member_scores))),
            "disagreement_share": disagreement, "observed_change_share": observed}  # fmt: skip


def model_stopping_metrics(
    model: Ensemble,
    vectors: np.ndarray,
    n_ratings: int,
    top_fraction: float,
    previous: np.ndarray | None = None,
    twin: Ensemble | None = None,
) -> dict[str, Any]:
    """The signal for a freshly trained model over every embedded meme, on the overall axis (the first);
    the disagreement is read from `twin`, a bootstrapped ensemble on the same answers, when given."""
    spread = None if twin is None else fuse(twin).member_scores(vectors)[:, :, 0]
    return stopping_metrics(fuse(model).member_scores(vectors)[:, :, 0], n_ratings, top_fraction, previous, spread)
