"""`memethresher offline` reads an export folder as it is; a model retrained with a fixed seed on the
export of the moved install scores every meme as one retrained on the original's."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import Env
from tests.shared.rated_install import fill, memethresher, snapshot

pytestmark = pytest.mark.usefixtures("small_models")


def scores_after_training(export: Path, out: Path, env: dict[str, str]) -> dict[str, str]:
    memethresher("offline", "train", "--export", export, "--out", out / "model", "--seed", "5", "--members", "4",
                 env=env)  # fmt: skip
    memethresher("offline", "score", "--export", export, "--model", out / "model", "--out", out / "S.csv", env=env)
    return {row["id"]: row["score"] for row in csv.DictReader((out / "S.csv").open())}


@pytest.mark.postgres
def test_offline_retraining_on_the_moved_install_gives_the_same_scores(
    env: Env, postgres_url: str, tmp_path: Path
) -> None:
    fill()
    memethresher("export", tmp_path / "sqlite-export", env=env.vars)
    on_postgres = {"MEMETHRESHER_DATABASE_URL": postgres_url, "MEMETHRESHER_STORAGE": str(tmp_path / "pg-images")}
    memethresher("migrate", env=on_postgres)
    memethresher("import", tmp_path / "sqlite-export", env=on_postgres)
    memethresher("export", tmp_path / "pg-export", env=on_postgres)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    before = scores_after_training(tmp_path / "sqlite-export", tmp_path / "a", env.vars)
    after = scores_after_training(tmp_path / "pg-export", tmp_path / "b", env.vars)

    assert len(before) == 24 and after == before
    assert snapshot(postgres_url)["ratings"] == snapshot(env.database_url)["ratings"]


def test_offline_evaluate_takes_the_labels_and_ratings_of_an_export(env: Env, tmp_path: Path) -> None:
    fill()
    export = tmp_path / "export"
    memethresher("export", export, env=env.vars)
    memethresher("offline", "train", "--export", export, "--out", tmp_path / "model", "--members", "4", env=env.vars)

    done = memethresher("offline", "evaluate", "--export", export, "--model", tmp_path / "model", "--json",
                        env=env.vars)  # fmt: skip

    report = json.loads(done.stdout)
    assert report["labels"] == 10 and report["good"] == 4
    assert 0 <= report["pairwise_accuracy"] <= 1


def test_offline_without_vectors_or_an_export_says_what_to_give(env: Env, tmp_path: Path) -> None:
    done = memethresher("offline", "train", "--out", tmp_path / "model", env=env.vars, check=False)
    assert done.returncode == 2 and "give --embeddings FILE, or --export DIR" in done.stderr


def test_offline_on_one_axis_of_an_export(env: Env, tmp_path: Path) -> None:
    """The export's funny ratings train a funny model; the service's model, scored offline on its funny
    head, gives the funny scores the service stored."""
    fill()
    export = tmp_path / "export"
    memethresher("export", export, env=env.vars)
    funny_ratings = [line for line in (export / "ratings.jsonl").read_text().splitlines() if '"funny"' in line]

    done = memethresher("offline", "train", "--export", export, "--axis", "funny", "--out", tmp_path / "m",
                        "--members", "4", env=env.vars)  # fmt: skip
    assert f"trained on {len(funny_ratings)} ratings on funny" in done.stdout

    model = json.loads((export / "models.jsonl").read_text().splitlines()[0])
    memethresher("offline", "score", "--export", export, "--model", export / model["artifact"], "--axis", "funny",
                 "--out", tmp_path / "S.csv", env=env.vars)  # fmt: skip
    offline = {row["id"]: float(row["score"]) for row in csv.DictReader((tmp_path / "S.csv").open())}
    stored = [json.loads(line) for line in (export / "scores.jsonl").read_text().splitlines()]
    funny = {s["sha256"]: s["mean"] for s in stored if s["axis"] == "funny" and s["model"] == model["key"]}
    assert len(funny) == 24 and offline.keys() == funny.keys()
    assert all(abs(offline[sha] - funny[sha]) < 1e-4 for sha in funny)
