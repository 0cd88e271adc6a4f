"""Scoring memes with a trained ensemble: per-member scores, then mean (or median) and spread."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from memethresher_trainer.model import ACTIVATIONS, Ensemble


@dataclass
class WideModel:
    """The ensemble fused into one wide MLP: members side by side, later layers block-diagonal.

    Scoring N memes is then a few plain matrix products, (N, D) @ (D, M*H) first.
    """

    weights: list[np.ndarray]  # layer i: (in_i, out_i) with members concatenated
    biases: list[np.ndarray]  # layer i: (out_i,)
    activation: str
    members: int
    axes: int

    def member_scores(self, x: np.ndarray, batch: int = 8192) -> np.ndarray:
        """(N, D) -> (N, M, A)."""
        act = ACTIVATIONS[self.activation]
        out = np.empty((len(x), self.members * self.axes), dtype=np.float32)
        weights = [torch.from_numpy(w) for w in self.weights]
        biases = [torch.from_numpy(b) for b in self.biases]
        with torch.no_grad():
            for start in range(0, len(x), batch):
                h = torch.from_numpy(np.ascontiguousarray(x[start : start + batch], dtype=np.float32))
                for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
                    h = torch.addmm(b, h, w)
                    if i < len(weights) - 1:
                        h = act(h)
                out[start : start + batch] = h.numpy()
        return out.reshape(len(x), self.members, self.axes)


def fuse(model: Ensemble) -> WideModel:
    """Fuse the members into one wide model with the same outputs."""
    m = model.config.members
    weights, biases = [], []
    for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        w, b = w.detach(), b.detach()
        if i == 0:
            wide = w.permute(1, 0, 2).reshape(w.shape[1], m * w.shape[2])  # (D, M*out): shared input
        else:
            wide = torch.block_diag(*w.unbind(0))  # (M*in, M*out): member m's block on the diagonal
        weights.append(wide.contiguous().numpy().astype(np.float32))
        biases.append(b.reshape(m * b.shape[2]).numpy().astype(np.float32))
    return WideModel(weights, biases, model.config.activation, m, len(model.config.axes))


def summarize(member_scores: np.ndarray, how: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Score and spread of each meme from (N, M) member scores; spread is the member std."""
    if how == "mean":
        centre = member_scores.mean(axis=1)
    elif how == "median":
        centre = np.median(member_scores, axis=1)
    else:
        raise ValueError(f"summary must be 'mean' or 'median', not {how!r}")
    return centre.astype(float), member_scores.std(axis=1).astype(float)
