"""A model version on disk: weights.safetensors, wide.safetensors, config.json, metrics.json."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file as load_numpy
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file, save_file

from memethresher_trainer.model import Ensemble, EnsembleConfig
from memethresher_trainer.score import WideModel, fuse

WEIGHTS = "weights.safetensors"
WIDE = "wide.safetensors"
CONFIG = "config.json"
METRICS = "metrics.json"


def save(model: Ensemble, folder: Path, metrics: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    """Write the artifact atomically: into a temporary sibling folder, then renamed into place."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    save_file(model.state(), str(tmp / WEIGHTS))
    wide = fuse(model)
    tensors = {f"layer{i}.weight": w for i, w in enumerate(wide.weights)}
    tensors.update({f"layer{i}.bias": b for i, b in enumerate(wide.biases)})
    save_numpy(tensors, str(tmp / WIDE))
    config = model.config.to_dict() | (extra or {})
    (tmp / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True))
    (tmp / METRICS).write_text(json.dumps(metrics, indent=2, sort_keys=True, default=float))
    if folder.exists():
        # Re-running a task rewrites the same version's folder.
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
    os.replace(tmp, folder)


def read_config(folder: Path) -> dict[str, Any]:
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a model folder: {CONFIG} is missing")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def load(folder: Path) -> Ensemble:
    config = EnsembleConfig.from_dict(read_config(folder))
    model = Ensemble(config)
    model.load_state(load_file(str(Path(folder) / WEIGHTS)))
    model.eval()
    return model


def load_wide(folder: Path) -> WideModel:
    config = EnsembleConfig.from_dict(read_config(folder))
    tensors = load_numpy(str(Path(folder) / WIDE))
    n_layers = len(tensors) // 2
    return WideModel(
        [np.asarray(tensors[f"layer{i}.weight"]) for i in range(n_layers)],
        [np.asarray(tensors[f"layer{i}.bias"]) for i in range(n_layers)],
        config.activation,
        config.members,
        len(config.axes),
    )


def read_metrics(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((Path(folder) / METRICS).read_text())
    return data
