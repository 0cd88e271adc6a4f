"""`memethresher offline train --export` learns from the export's keeps and discards, as the trainer does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from memethresher_trainer import artifacts
from memethresher_trainer.offline import offline
from memethresher_trainer.settings import get_trainer_settings

from tests.trainer.tastes import hidden_taste, unit_vectors
from tests.trainer.test_absolute_labels import auroc


def write_lines(path: Path, items: list[dict]) -> None:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))


def an_export(folder: Path, n: int = 240, decided: int = 160, library: int = 10) -> tuple[list[str], np.ndarray]:
    """An export folder of `n` embedded memes, two ratings, and the person's keeps and discards of the
    first `decided` (kept when liked); the next `library` liked memes are in the library folder unqueued."""
    folder.mkdir()
    vectors = unit_vectors(n, 16)
    taste = hidden_taste(vectors)
    shas = [f"{i:064x}" for i in range(n)]
    np.savez(folder / "vectors.npz", ids=np.array(shas), vectors=vectors)
    (folder / "manifest.json").write_text(json.dumps({"embeddings": {"enc": "vectors.npz"}}))
    write_lines(folder / "ratings.jsonl", [{"a": shas[0], "b": shas[1], "choice": "a", "axis": "overall"},
                                           {"a": shas[2], "b": shas[3], "choice": "b", "axis": "funny"}])  # fmt: skip
    (folder / "labels.jsonl").write_text("")
    liked = taste > np.median(taste)
    curation = [{"sha256": shas[i], "status": "kept" if liked[i] else "discarded", "axis": "overall"}
                for i in range(decided)]  # fmt: skip
    curation.append({"sha256": shas[decided], "status": "pending", "axis": "overall"})
    write_lines(folder / "curation.jsonl", curation)
    in_library = set(np.flatnonzero(liked[decided + 1 :])[:library] + decided + 1)
    write_lines(folder / "memes.jsonl", [{"sha256": sha, "in_library": i in in_library} for i, sha in enumerate(shas)])
    return shas, liked


def train(export: Path, out: Path, *extra: str) -> str:
    args = ["train", "--export", str(export), "--out", str(out), "--members", "4", *extra]
    result = CliRunner().invoke(offline, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_offline_training_learns_the_keeps_and_discards_of_an_export(tmp_path: Path) -> None:
    shas, liked = an_export(tmp_path / "export")
    output = train(tmp_path / "export", tmp_path / "model")
    assert "trained on 1 ratings and 170 keeps and discards" in output
    metrics = artifacts.read_metrics(tmp_path / "model")
    assert metrics["n_train_absolute"] + metrics["n_val_absolute"] == 170
    vectors = np.load(tmp_path / "export" / "vectors.npz")["vectors"]
    with torch.no_grad():
        scores = artifacts.load(tmp_path / "model").score_all(torch.from_numpy(vectors))[:, :, 0].mean(1).numpy()
    unseen = np.arange(171, 240)  # never decided (some in the library folder, liked)
    assert auroc(scores[unseen], liked[unseen]) > 0.8


def test_decisions_of_another_axis_and_the_library_setting_are_respected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    an_export(tmp_path / "export")
    assert "trained on 1 ratings on funny" in train(tmp_path / "export", tmp_path / "funny", "--axis", "funny")
    monkeypatch.setenv("MEMETHRESHER_LIBRARY_KEEPS", "false")
    get_trainer_settings.cache_clear()
    assert "and 160 keeps and discards" in train(tmp_path / "export", tmp_path / "no-library")
