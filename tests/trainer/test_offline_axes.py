"""`memethresher offline --axis`: train, score, acquire and evaluate on one rating axis."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.trainer.tastes import hidden_taste, rated_pairs, unit_vectors
from tests.trainer.test_offline import CHOICES, run


@pytest.fixture
def two_axes(tmp_path: Path) -> dict[str, object]:
    """150 memes; 300 overall ratings (lines without an axis) by one taste, 300 funny ones by another."""
    vectors = unit_vectors(150, 16)
    tastes = {"overall": hidden_taste(vectors, seed=1), "funny": hidden_taste(vectors, seed=9)}
    ids = [f"meme-{i}" for i in range(150)]
    np.savez(tmp_path / "E.npz", ids=np.array(ids), vectors=vectors)
    lines = []
    for axis, seed in (("overall", 2), ("funny", 4)):
        pairs = rated_pairs(tastes[axis], 300, seed=seed)
        for a, b, t in zip(pairs.a, pairs.b, pairs.target, strict=True):
            line = {"a": ids[a], "b": ids[b], "choice": CHOICES[round(float(t), 1)]}
            lines.append(line if axis == "overall" else line | {"axis": axis})
    (tmp_path / "R.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return {"dir": tmp_path, "tastes": tastes, "lines": lines}


def scores(path: Path) -> np.ndarray:
    rows = sorted(csv.DictReader(path.open()), key=lambda row: int(row["id"].split("-")[1]))
    return np.array([float(row["score"]) for row in rows])


def test_a_model_trained_on_one_axis_learns_that_axis_alone(two_axes: dict) -> None:
    folder, tastes = two_axes["dir"], two_axes["tastes"]
    model = folder / "funny-model"
    code, text = run("train", "--embeddings", folder / "E.npz", "--ratings", folder / "R.jsonl", "--out", model,
                     "--members", "8", "--axis", "funny")  # fmt: skip
    assert code == 0 and "trained on 300 ratings on funny" in text, text
    assert json.loads((model / "config.json").read_text())["axes"] == ["funny"]
    code, text = run("score", "--model", model, "--embeddings", folder / "E.npz", "--out", folder / "S.csv",
                     "--axis", "funny")  # fmt: skip
    assert code == 0, text
    funny = scores(folder / "S.csv")
    assert np.corrcoef(funny, tastes["funny"])[0, 1] > np.corrcoef(funny, tastes["overall"])[0, 1] + 0.3
    code, text = run("score", "--model", model, "--embeddings", folder / "E.npz", "--out", folder / "T.csv",
                     "--axis", "overall")  # fmt: skip
    assert code == 1 and "the model has no head for axis 'overall'; it has ['funny']" in text


def test_acquire_on_an_axis_skips_only_the_pairs_rated_on_it(two_axes: dict) -> None:
    folder = two_axes["dir"]
    model = folder / "model"
    assert run("train", "--embeddings", folder / "E.npz", "--ratings", folder / "R.jsonl", "--out", model,
               "--members", "4", "--axis", "funny")[0] == 0  # fmt: skip
    code, text = run("acquire", "--model", model, "--embeddings", folder / "E.npz", "--ratings", folder / "R.jsonl",
                     "--n", "40", "--axis", "funny", "--out", folder / "P.jsonl")  # fmt: skip
    assert code == 0, text
    proposed = {frozenset((p["a"], p["b"])) for p in map(json.loads, (folder / "P.jsonl").read_text().splitlines())}
    rated_funny = {frozenset((line["a"], line["b"])) for line in two_axes["lines"] if line.get("axis") == "funny"}
    assert len(proposed) == 40 and not proposed & rated_funny
