"""Measuring a model against the user's good/bad labels: AUROC and precision at score percentiles."""

from __future__ import annotations

import numpy as np

PERCENTILES = (50, 75, 90, 95)


def auroc(scores: np.ndarray, good: np.ndarray) -> float:
    """Probability that a good meme outscores a bad one (ties count half); NaN without both kinds."""
    good = np.asarray(good, dtype=bool)
    n_good, n_bad = int(good.sum()), int((~good).sum())
    if n_good == 0 or n_bad == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = np.asarray(scores)[order]
    # Average ranks over ties so equal scores count half, as in the Mann-Whitney statistic.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[good].sum() - n_good * (n_good + 1) / 2.0) / (n_good * n_bad))


def precision_at_percentiles(
    scores: np.ndarray, good: np.ndarray, percentiles: tuple[int, ...] = PERCENTILES
) -> dict[str, float]:
    """Share of good memes among those scoring at or above each percentile ("p90": the top 10%)."""
    out: dict[str, float] = {}
    for pct in percentiles:
        above = scores >= np.percentile(scores, pct)
        out[f"p{pct}"] = float(np.asarray(good)[above].mean()) if above.any() else float("nan")
    return out


def pairwise_accuracy(scores: np.ndarray, a: np.ndarray, b: np.ndarray, target: np.ndarray) -> float:
    """Share of non-tied rated pairs whose winner the model scores higher."""
    decided = target != 0.5
    if not decided.any():
        return float("nan")
    right = (scores[a] > scores[b]) == (target > 0.5)
    return float(right[decided].mean())
