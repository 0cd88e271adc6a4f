"""Input whitening: folds into layer 0 exactly and trains on wide inputs."""

from __future__ import annotations

import numpy as np
import torch
from memethresher_trainer.model import Ensemble, EnsembleConfig
from memethresher_trainer.train import fit
from memethresher_trainer.whiten import Whitening

from tests.trainer.tastes import hidden_taste, rated_pairs, unit_vectors


def spread_vectors(n: int, dim: int) -> np.ndarray:
    """Vectors whose variance falls off across dimensions, as embeddings' does."""
    x = np.random.default_rng(0).normal(size=(n, dim)) * np.linspace(3.0, 0.1, dim)
    return x.astype(np.float32)


def test_whitened_components_have_zero_mean_and_unit_variance() -> None:
    x = spread_vectors(300, 40)
    whitening = Whitening.fit(x, 8)
    assert whitening is not None
    z = whitening.apply(torch.from_numpy(x))  # (N, 8)
    assert z.shape == (300, 8)
    assert float(z.mean(0).abs().max()) < 1e-4
    assert torch.allclose(z.std(0), torch.ones(8), atol=1e-3)


def test_no_whitening_when_it_would_not_shrink_the_input() -> None:
    assert Whitening.fit(spread_vectors(300, 8), 8) is None
    assert Whitening.fit(spread_vectors(300, 40), 0) is None


def test_folded_model_scores_raw_embeddings_as_the_inner_model_scores_components() -> None:
    x = spread_vectors(300, 40)
    whitening = Whitening.fit(x, 8)
    assert whitening is not None
    config = EnsembleConfig(dim=40, members=3, hidden=5, dropout=0.0)
    inner = Ensemble(whitening.inner_config(config)).eval()
    folded = whitening.fold(inner, config)
    with torch.no_grad():
        expected = inner.score_all(whitening.apply(torch.from_numpy(x)))
        assert torch.allclose(folded.score_all(torch.from_numpy(x)), expected, atol=1e-4)


def test_fit_on_wide_inputs_returns_a_raw_embedding_model_that_learned() -> None:
    x = unit_vectors(400, 96)
    taste = hidden_taste(x)
    config = EnsembleConfig(dim=96, members=4, input_components=16)
    result = fit(x, rated_pairs(taste, 600), config)
    assert result.metrics["input_components"] == 16
    assert result.model.weights[0].shape == (4, 96, config.hidden)
    with torch.no_grad():
        scores = result.model.score_all(torch.from_numpy(x))[:, :, 0].mean(1).numpy()
    assert np.corrcoef(scores, taste)[0, 1] > 0.5
