"""Measuring a model against the user's good/bad labels: AUROC, the one definition every service uses."""

from __future__ import annotations

import numpy as np


def auroc(scores: np.ndarray, good: np.ndarray) -> float | None:
    """Probability that a random good meme outscores a random bad one, ties counting half (the
    Mann-Whitney statistic); None without labels of both kinds."""
    scores = np.asarray(scores, dtype=np.float64)
    good = np.asarray(good, dtype=bool)
    n_good, n_bad = int(good.sum()), int((~good).sum())
    if n_good == 0 or n_bad == 0:
        return None
    ranks = average_ranks(scores)
    return float((ranks[good].sum() - n_good * (n_good + 1) / 2.0) / (n_good * n_bad))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks (N,), tied values sharing their mean rank."""
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(np.asarray(values)[order], return_index=True, return_counts=True)
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(first + (counts - 1) / 2.0 + 1.0, counts)
    return ranks
