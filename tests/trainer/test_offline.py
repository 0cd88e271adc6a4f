"""`memethresher offline` on files: the whole round trip, and clear errors for bad inputs."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from memethresher_trainer.offline import offline

from tests.trainer.tastes import hidden_taste, rated_pairs, unit_vectors

CHOICES = {0.8: "a", 0.2: "b"}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """150 memes with a hidden taste: embeddings, 400 ratings, and good/bad labels."""
    vectors = unit_vectors(150, 16)
    taste = hidden_taste(vectors)
    ids = [f"meme-{i}" for i in range(150)]
    np.savez(tmp_path / "E.npz", ids=np.array(ids), vectors=vectors)
    pairs = rated_pairs(taste, 400)
    lines = [{"a": ids[a], "b": ids[b], "choice": CHOICES[round(float(t), 1)]}
             for a, b, t in zip(pairs.a, pairs.b, pairs.target, strict=True)]  # fmt: skip
    (tmp_path / "R.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    good = taste > np.quantile(taste, 0.7)
    labels = [{"id": ids[i], "good": bool(good[i])} for i in range(150)]
    (tmp_path / "L.jsonl").write_text("\n".join(json.dumps(line) for line in labels))
    return {name: tmp_path / name for name in ("E.npz", "R.jsonl", "L.jsonl")} | {"dir": tmp_path}


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(offline, [str(a) for a in args])
    return result.exit_code, result.output


def test_train_score_acquire_evaluate(files: dict[str, Path]) -> None:
    out = files["dir"] / "model"
    code, text = run("train", "--embeddings", files["E.npz"], "--ratings", files["R.jsonl"], "--out", out,
                     "--members", "8", "--seed", "3")  # fmt: skip
    assert code == 0, text
    assert {"weights.safetensors", "config.json", "metrics.json"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "config.json").read_text())["seed"] == 3

    scores = files["dir"] / "S.csv"
    assert run("score", "--model", out, "--embeddings", files["E.npz"], "--out", scores)[0] == 0
    rows = list(csv.DictReader(scores.open()))
    assert len(rows) == 150 and set(rows[0]) == {"id", "score", "spread"} and float(rows[0]["spread"]) >= 0

    pairs_file = files["dir"] / "P.jsonl"
    code, text = run("acquire", "--model", out, "--embeddings", files["E.npz"], "--ratings", files["R.jsonl"],
                     "--n", "30", "--strategy", "bald", "--out", pairs_file)  # fmt: skip
    assert code == 0, text
    proposed = [json.loads(line) for line in pairs_file.read_text().splitlines()]
    rated = {frozenset((r["a"], r["b"])) for r in map(json.loads, files["R.jsonl"].read_text().splitlines())}
    assert len(proposed) == 30 and all(p["strategy"] == "bald" for p in proposed)
    assert not rated & {frozenset((p["a"], p["b"])) for p in proposed}
    # The service's default: random pairs, each meme in at most two of them, none rated before.
    code, text = run("acquire", "--model", out, "--embeddings", files["E.npz"], "--ratings", files["R.jsonl"],
                     "--n", "30", "--out", pairs_file)  # fmt: skip
    assert code == 0 and "by random" in text, text
    drawn = [json.loads(line) for line in pairs_file.read_text().splitlines()]
    assert len(drawn) == 30 and max(Counter(m for p in drawn for m in (p["a"], p["b"])).values()) <= 2
    assert not rated & {frozenset((p["a"], p["b"])) for p in drawn}

    code, text = run("evaluate", "--model", out, "--embeddings", files["E.npz"], "--labels", files["L.jsonl"],
                     "--ratings", files["R.jsonl"], "--json")  # fmt: skip
    assert code == 0, text
    report = json.loads(text)
    assert report["auroc"] > 0.85 and report["labels"] == 150 and report["pairwise_accuracy"] > 0.7
    assert set(report["precision"]) == {"p50", "p75", "p90", "p95"}


def test_bad_inputs_fail_with_a_clear_message(files: dict[str, Path]) -> None:
    d = files["dir"]
    (d / "bad.jsonl").write_text('{"a": "meme-1", "b": "meme-2", "choice": "a"}\n{"a": "meme-1", "b":\n')
    (d / "unknown.jsonl").write_text('{"a": "meme-1", "b": "meme-999", "choice": "a"}\n')
    (d / "choice.jsonl").write_text('{"a": "meme-1", "b": "meme-2", "choice": "A!"}\n')
    (d / "empty.jsonl").write_text("\n")
    np.savez(d / "wide.npz", ids=np.array(["x", "y"]), vectors=np.zeros((2, 9), dtype=np.float32))
    np.savez(d / "noids.npz", vectors=np.zeros((2, 16), dtype=np.float32))
    (d / "junk.npz").write_text("not a zip")
    train = ("train", "--embeddings", files["E.npz"], "--out", d / "m", "--ratings")
    cases = [
        (train + (d / "bad.jsonl",), "bad.jsonl:2: not valid JSON"),
        (train + (d / "unknown.jsonl",), "unknown.jsonl:1: unknown id 'meme-999' in 'b'"),
        (train + (d / "choice.jsonl",), "choice.jsonl:1: 'choice' must be one of"),
        (train + (d / "empty.jsonl",), "empty.jsonl: empty file"),
        (("train", "--embeddings", d / "noids.npz", "--out", d / "m", "--ratings", files["R.jsonl"]),
         "missing array(s) ['ids']"),
        (("train", "--embeddings", d / "junk.npz", "--out", d / "m", "--ratings", files["R.jsonl"]),
         "not a readable .npz"),
    ]  # fmt: skip
    for args, message in cases:
        code, text = run(*args)
        assert code == 1 and message in text and "Traceback" not in text, text
    assert run(*train, files["R.jsonl"], "--members", "2")[0] == 0
    code, text = run("score", "--model", d / "m", "--embeddings", d / "wide.npz", "--out", d / "s.csv")
    assert code == 1 and "dimension 9, the model was trained on 16" in text
    code, text = run("score", "--model", d, "--embeddings", files["E.npz"], "--out", d / "s.csv")
    assert code == 1 and "not a usable model folder" in text
