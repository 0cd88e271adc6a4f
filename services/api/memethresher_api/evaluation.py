"""Model evaluation from the user's good/bad labels (pure numpy): ROC, precision by score percentile,
and the score CDF (AUROC is `memethresher_shared.metrics.auroc`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PERCENTILE_BANDS = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


@dataclass(frozen=True)
class PercentileBand:
    low: int  # percentile of the model's scores over all scored memes
    high: int
    labelled: int
    good: int

    @property
    def precision(self) -> float | None:
        return self.good / self.labelled if self.labelled else None


def roc_curve(scores: np.ndarray, good: np.ndarray) -> list[tuple[float, float]]:
    """(false positive rate, true positive rate) points from the strictest threshold down."""
    scores = np.asarray(scores, dtype=np.float64)
    good = np.asarray(good, dtype=bool)
    n_good, n_bad = int(good.sum()), int((~good).sum())
    if n_good == 0 or n_bad == 0:
        return []
    points = [(0.0, 0.0)]
    for threshold in np.unique(scores)[::-1]:
        chosen = scores >= threshold
        points.append((float((chosen & ~good).sum() / n_bad), float((chosen & good).sum() / n_good)))
    return points


def percentile_bands(all_scores: np.ndarray, labelled_scores: np.ndarray, good: np.ndarray) -> list[PercentileBand]:
    """Fraction of labelled memes judged good within each band of the model's score distribution."""
    all_scores = np.sort(np.asarray(all_scores, dtype=np.float64))
    labelled_scores = np.asarray(labelled_scores, dtype=np.float64)
    good = np.asarray(good, dtype=bool)
    if len(all_scores) == 0:
        return []
    # Percentile of each labelled meme: the share of all scored memes at or below its score.
    pct = 100.0 * np.searchsorted(all_scores, labelled_scores, side="right") / len(all_scores)
    bands = []
    for low, high in zip(PERCENTILE_BANDS[:-1], PERCENTILE_BANDS[1:], strict=True):
        inside = (pct > low) & (pct <= high) if low else (pct <= high)
        bands.append(PercentileBand(low, high, int(inside.sum()), int((inside & good).sum())))
    return bands


def precision_at_top(scores: np.ndarray, good: np.ndarray, fraction: float) -> float | None:
    """Share of good memes among the top `fraction` of labelled memes by score."""
    scores = np.asarray(scores, dtype=np.float64)
    good = np.asarray(good, dtype=bool)
    if len(scores) == 0:
        return None
    k = max(1, int(round(len(scores) * fraction)))
    top = np.argsort(-scores, kind="mergesort")[:k]
    return float(good[top].mean())


def score_cdf(scores: np.ndarray, points: int = 200) -> list[tuple[float, float]]:
    """(score, fraction of memes scoring at or below it), at most `points` points."""
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    if len(ordered) == 0:
        return []
    idx = np.unique(np.linspace(0, len(ordered) - 1, min(points, len(ordered))).astype(int))
    return [(float(ordered[i]), float((i + 1) / len(ordered))) for i in idx]
