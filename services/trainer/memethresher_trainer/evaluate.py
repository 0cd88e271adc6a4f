"""Measuring a model against the user's good/bad labels: AUROC and precision at score percentiles."""

from __future__ import annotations

import numpy as np
from memethresher_shared import metrics

PERCENTILES = (50, 75, 90, 95)


def auroc(scores: np.ndarray, good: np.ndarray) -> float:
    """The shared AUROC (`memethresher_shared.metrics`); NaN without both kinds, so reports and
    learning curves stay numeric."""
    value = metrics.auroc(scores, good)
    return float("nan") if value is None else value


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
