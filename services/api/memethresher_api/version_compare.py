"""Two model versions side by side (pure numpy): how each does on the same held-out labels, and the
memes they disagree on most. Scores of two versions live on different scales, so memes are compared by
their percentile among the memes both scored."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from memethresher_shared import metrics

from memethresher_api import evaluation


@dataclass(frozen=True)
class Disagreement:
    meme_id: int
    percentile_a: float  # 0-100, among the memes both versions scored
    percentile_b: float


def on_labels(scores: np.ndarray, good: np.ndarray, fractions: tuple[float, ...]) -> dict[str, object]:
    """AUROC and precision of the top fractions of labelled memes, as the evaluation page reports them."""
    return {
        "auroc": metrics.auroc(scores, good),
        "precision_at_top": {f"{f:g}": evaluation.precision_at_top(scores, good, f) for f in fractions},
    }


def percentiles(scores: np.ndarray) -> np.ndarray:
    """Each score's percentile (N,), 0-100, ties sharing theirs."""
    if len(scores) == 0:
        return np.zeros(0)
    return 100.0 * (metrics.average_ranks(scores) - 0.5) / len(scores)


def disagreements(ids: np.ndarray, a: np.ndarray, b: np.ndarray, top: int) -> list[Disagreement]:
    """The `top` memes whose percentiles under the two versions differ most, largest gap first."""
    pa, pb = percentiles(a), percentiles(b)
    order = np.argsort(-np.abs(pa - pb), kind="mergesort")[:top]
    return [Disagreement(int(ids[i]), round(float(pa[i]), 1), round(float(pb[i]), 1)) for i in order]
