"""Synthetic memes with a hidden taste, for tests that need something learnable."""

from __future__ import annotations

import numpy as np
from memethresher_trainer.train import Pairs


def unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def hidden_taste(x: np.ndarray, seed: int = 1) -> np.ndarray:
    """A fixed linear taste, scaled so preferences are clear but not all certain."""
    w = np.random.default_rng(seed).normal(size=x.shape[1])
    taste = x @ w
    return 4.0 * taste / taste.std()


def rated_pairs(taste: np.ndarray, n_pairs: int, seed: int = 2, noisy: bool = True) -> Pairs:
    """Random pairs rated by a Bradley-Terry rater with that taste ("a" or "b" soft targets)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(taste), size=n_pairs)
    b = (a + rng.integers(1, len(taste), size=n_pairs)) % len(taste)
    p = 1.0 / (1.0 + np.exp(-(taste[a] - taste[b])))
    a_wins = rng.random(n_pairs) < p if noisy else p > 0.5
    return Pairs(a, b, np.where(a_wins, 0.8, 0.2))
