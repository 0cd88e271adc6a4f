"""The taste prompts' prior, before the first rating: a meme scores by its closeness to the prompts the
user likes less its closeness to those they dislike. Pure: no database, no torch."""

from __future__ import annotations

import numpy as np

# The prior's acquisition pairs are drawn among the memes it ranks in this top fraction: the keep-or-not
# decision is made among the better memes, and half of them is broad enough that ratings can still
# correct a prompt the encoder reads differently from the user.
POOL_FRACTION = 0.5


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)


def signs(like: np.ndarray) -> np.ndarray:
    """+1 for a liked prompt, -1 for a disliked one: (P,)."""
    return np.where(np.asarray(like, dtype=bool), 1.0, -1.0).astype(np.float32)


def prior_scores(memes: np.ndarray, prompts: np.ndarray, like: np.ndarray) -> np.ndarray:
    """s(x) = sum over prompts of (+1 like / -1 dislike) * cos(x, prompt): memes (N, D), prompts (P, D) -> (N,)."""
    if len(prompts) == 0:
        return np.zeros(len(memes), dtype=np.float32)
    return (_unit(memes) @ _unit(prompts).T) @ signs(like)  # (N, P) @ (P,)


def prior_direction(prompts: np.ndarray, like: np.ndarray) -> np.ndarray:
    """The one vector w with s(x) = x . w for unit x: the signed sum of the unit prompt vectors, (D,).

    The prior is then a linear model, stored and scored like a trained one."""
    return (signs(like) @ _unit(prompts)).astype(np.float32)


def favoured(scores: np.ndarray, fraction: float = POOL_FRACTION) -> np.ndarray:
    """Indices of the memes in the top `fraction` by `scores` (at least two, when there are), best first."""
    count = min(len(scores), max(2, int(np.ceil(len(scores) * fraction))))
    return np.argsort(-np.asarray(scores), kind="stable")[:count]
