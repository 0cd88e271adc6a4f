"""`memethresher offline train` trains the trainer service's recipe: the same defaults and settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from memethresher_trainer.model import EnsembleConfig
from memethresher_trainer.offline import offline
from memethresher_trainer.settings import get_trainer_settings

from tests.trainer.tastes import hidden_taste, rated_pairs, unit_vectors

RECIPE = ("members", "hidden", "depth", "dropout", "lr", "weight_decay", "input_components", "max_epochs", "patience",
          "bootstrap", "keep_target", "discard_target", "library_keeps")  # fmt: skip


def train_offline(tmp_path: Path, *extra: str) -> dict:
    vectors = unit_vectors(60, 16)
    ids = [f"m{i}" for i in range(60)]
    np.savez(tmp_path / "E.npz", ids=np.array(ids), vectors=vectors)
    pairs = rated_pairs(hidden_taste(vectors), 80)
    lines = [{"a": ids[a], "b": ids[b], "choice": "a" if t > 0.5 else "b"}
             for a, b, t in zip(pairs.a, pairs.b, pairs.target, strict=True)]  # fmt: skip
    (tmp_path / "R.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "model"
    args = ["train", "--embeddings", tmp_path / "E.npz", "--ratings", tmp_path / "R.jsonl", "--out", out, *extra]
    result = CliRunner().invoke(offline, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return json.loads((out / "config.json").read_text())


def test_offline_training_uses_the_trainers_recipe(tmp_path: Path) -> None:
    config = train_offline(tmp_path)
    service = get_trainer_settings().ensemble_config(16)
    assert {k: config[k] for k in RECIPE} == {k: getattr(service, k) for k in RECIPE}
    assert config["input_components"] == EnsembleConfig(dim=16).input_components


def test_trainer_settings_reach_the_offline_cli_and_options_override_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMETHRESHER_ENSEMBLE_HIDDEN", "24")
    monkeypatch.setenv("MEMETHRESHER_ENSEMBLE_MEMBERS", "6")
    monkeypatch.setenv("MEMETHRESHER_ENSEMBLE_BOOTSTRAP", "true")
    config = train_offline(tmp_path, "--members", "4")
    assert (config["hidden"], config["members"], config["bootstrap"]) == (24, 4, True)
