"""Which memes go into the curation queue: the top fraction by score, minus near-duplicates."""

from __future__ import annotations

import numpy as np


def score_threshold(all_scores: np.ndarray, top_fraction: float) -> float:
    """The score a meme must reach to be in the top `top_fraction` of all scored memes."""
    if len(all_scores) == 0:
        return float("inf")
    return float(np.quantile(all_scores, 1.0 - top_fraction))


def pick_for_curation(
    candidate_scores: np.ndarray,
    candidate_vectors: np.ndarray,
    threshold: float,
    kept_vectors: np.ndarray,
    near_duplicate_cosine: float,
) -> np.ndarray:
    """Indices of candidates to queue, best first.

    A candidate qualifies at or above `threshold` unless its cosine similarity to a kept meme,
    or to a better candidate already picked, exceeds `near_duplicate_cosine` (vectors are unit length).
    """
    order = np.argsort(-candidate_scores, kind="stable")
    order = order[candidate_scores[order] >= threshold]
    picked: list[int] = []
    blockers = [np.asarray(kept_vectors, dtype=np.float32).reshape(-1, candidate_vectors.shape[1])]
    for i in order:
        v = candidate_vectors[i].astype(np.float32)
        if any(len(block) and float((block @ v).max()) > near_duplicate_cosine for block in blockers):
            continue
        picked.append(int(i))
        blockers.append(v[None, :])
    return np.asarray(picked, dtype=np.int64)
