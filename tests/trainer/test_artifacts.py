"""A model version on disk: weights, config, metrics and the fused wide export round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from memethresher_trainer import artifacts
from memethresher_trainer.model import Ensemble, EnsembleConfig


def test_saved_model_loads_and_scores_the_same(tmp_path: Path) -> None:
    model = Ensemble(EnsembleConfig(dim=6, members=3, hidden=5, seed=9)).eval()
    folder = tmp_path / "models" / "7"
    artifacts.save(model, folder, {"val_loss": 0.5}, extra={"encoder": "tiny:random"})
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [artifacts.WEIGHTS, artifacts.WIDE, artifacts.CONFIG, artifacts.METRICS]
    )
    assert json.loads((folder / artifacts.CONFIG).read_text())["encoder"] == "tiny:random"
    assert artifacts.read_metrics(folder) == {"val_loss": 0.5}
    x = np.random.default_rng(0).normal(size=(11, 6)).astype(np.float32)
    with torch.no_grad():
        expected = model.score_all(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(artifacts.load(folder).score_all(torch.from_numpy(x)).detach().numpy(), expected)
    np.testing.assert_allclose(artifacts.load_wide(folder).member_scores(x), expected, rtol=1e-5, atol=1e-6)
    # Saving again (a redelivered task) replaces the folder rather than failing.
    artifacts.save(model, folder, {"val_loss": 0.4})
    assert artifacts.read_metrics(folder) == {"val_loss": 0.4}


def test_a_folder_without_config_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        artifacts.load(tmp_path)
