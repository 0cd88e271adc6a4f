"""The ensemble's maths: batched members equal separate MLPs, seeds, soft targets, fused export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from memethresher_trainer.model import Ensemble, EnsembleConfig
from memethresher_trainer.score import fuse, summarize


def per_member_scores(model: Ensemble, x: torch.Tensor, member: int) -> torch.Tensor:
    """The same member computed alone, layer by layer, as a plain MLP would."""
    h = x
    last = len(model.weights) - 1
    for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        h = F.linear(h, w[member].T, b[member, 0])
        if i < last:
            h = F.silu(h)
    return h


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_batched_members_equal_separate_mlps(depth: int) -> None:
    config = EnsembleConfig(dim=12, members=5, hidden=7, depth=depth, dropout=0.0)
    model = Ensemble(config).eval()
    x = torch.randn(9, 12)
    together = model.score_all(x)  # (N, M, A)
    stacked = model(x.expand(5, 9, 12))  # (M, N, A)
    for m in range(5):
        alone = per_member_scores(model, x, m)
        torch.testing.assert_close(together[:, m], alone)
        torch.testing.assert_close(stacked[m], alone)


def test_members_start_different_and_reproducibly() -> None:
    a = Ensemble(EnsembleConfig(dim=8, members=4, seed=3))
    b = Ensemble(EnsembleConfig(dim=8, members=4, seed=3))
    c = Ensemble(EnsembleConfig(dim=8, members=4, seed=4))
    w = a.weights[0].detach()
    assert not torch.allclose(w[0], w[1])
    torch.testing.assert_close(w, b.weights[0].detach())
    assert not torch.allclose(w, c.weights[0].detach())


def test_config_refuses_nonsense_and_round_trips() -> None:
    with pytest.raises(ValueError, match="activation"):
        EnsembleConfig(dim=4, activation="swishy")
    with pytest.raises(ValueError, match="target"):
        EnsembleConfig(dim=4, targets={"a": 1.5})
    config = EnsembleConfig(dim=4, axes=("overall", "funny"), hidden=3)
    assert EnsembleConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_fused_wide_model_scores_like_the_ensemble(depth: int) -> None:
    config = EnsembleConfig(dim=10, members=4, hidden=6, depth=depth, axes=("overall", "funny"))
    model = Ensemble(config).eval()
    x = np.random.default_rng(0).normal(size=(50, 10)).astype(np.float32)
    wide = fuse(model).member_scores(x, batch=16)
    with torch.no_grad():
        expected = model.score_all(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(wide, expected, rtol=1e-5, atol=1e-5)


def test_summary_is_mean_or_median_with_member_spread() -> None:
    member = np.array([[1.0, 2.0, 6.0], [0.0, 0.0, 0.0]])
    mean, spread = summarize(member)
    np.testing.assert_allclose(mean, [3.0, 0.0])
    np.testing.assert_allclose(spread, [np.std([1, 2, 6]), 0.0])
    median, _ = summarize(member, "median")
    np.testing.assert_allclose(median, [2.0, 0.0])
