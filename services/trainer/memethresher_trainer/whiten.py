"""Input whitening: the collection's top principal components, scaled to unit variance.

With a few hundred ratings, a first layer over all 1280 embedding dimensions mostly fits noise.
Projecting onto the directions along which the collection's memes actually differ (computed from
every embedding, rated or not) and whitening them leaves far fewer weights to learn. The projection
is linear, so it folds into the first layer: the saved model takes raw embeddings as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from memethresher_trainer.model import Ensemble, EnsembleConfig

MAX_SAMPLE = 20_000


@dataclass(frozen=True)
class Whitening:
    """z = (x - mean) @ basis; basis (D, k) = top principal directions / their standard deviations."""

    mean: torch.Tensor  # (D,)
    basis: torch.Tensor  # (D, k)

    @classmethod
    def fit(cls, vectors: np.ndarray, components: int) -> Whitening | None:
        """The whitening for `vectors` (N, D), or None when it would not shrink the input."""
        n, dim = vectors.shape
        k = min(components, n - 1)
        if components <= 0 or k >= dim or k < 1:
            return None
        # A spread-out sample is plenty to find the main directions of a large collection.
        sample = vectors[:: max(1, n // MAX_SAMPLE)]
        x = torch.from_numpy(np.ascontiguousarray(sample, dtype=np.float64))
        mean = x.mean(0)
        centred = x - mean
        variance, directions = torch.linalg.eigh(centred.T @ centred / max(len(x) - 1, 1))  # ascending
        scale = variance.flip(0)[:k].clamp_min(1e-12).sqrt()
        basis = directions.flip(1)[:, :k] / scale  # (D, k)
        return cls(mean.float(), basis.float())

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) embeddings -> (N, k) whitened components."""
        return (x - self.mean) @ self.basis

    def inner_config(self, config: EnsembleConfig) -> EnsembleConfig:
        return replace(config, dim=self.basis.shape[1])

    def fold(self, inner: Ensemble, config: EnsembleConfig) -> Ensemble:
        """The equivalent model on raw embeddings: layer 0 absorbs the projection."""
        state = inner.state()
        w, b = state["layer0.weight"].double(), state["layer0.bias"].double()  # (M, k, H), (M, 1, H)
        basis, shift = self.basis.double(), (self.mean.double() @ self.basis.double())  # (D, k), (k,)
        state["layer0.weight"] = (basis @ w).float()  # (M, D, H)
        state["layer0.bias"] = (b - (shift @ w).unsqueeze(1)).float()
        model = Ensemble(config)
        model.load_state(state)
        return model.eval()
