"""Model versions through the API: delete one (never the current or a pinned one), and compare two on
the held-out evaluation labels, with the memes they disagree on most."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from memethresher_shared.db import session_scope
from memethresher_shared.models import EvaluationLabel, ModelVersion, Rating, Score
from memethresher_trainer import jobs
from memethresher_trainer.settings import get_trainer_settings

from tests.api.helpers import add_memes, add_model, add_scores
from tests.shared.rated_install import fill


def retrain_with_more_ratings(ids: list[int]) -> None:
    with session_scope() as session:
        for n in range(10):
            session.add(Rating(a_id=ids[n], b_id=ids[-1 - n], choice="a"))
    with session_scope() as session:
        assert jobs.train(session, get_trainer_settings(), get_trainer_settings().embedder)["status"] == "trained"


def versions(client: TestClient) -> dict[int, dict[str, object]]:
    return {m["id"]: m for m in client.get("/api/models").json()}


@pytest.fixture
def two_trained(env, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Two versions trained by the real trainer; the second is current."""
    monkeypatch.setenv("MEMETHRESHER_ENSEMBLE_MEMBERS", "4")
    ids = fill()
    retrain_with_more_ratings(ids)
    with session_scope() as session:
        old, new = session.query(ModelVersion.id).order_by(ModelVersion.id).all()
    return old[0], new[0]


def test_an_old_version_is_deleted_with_its_scores_and_folder(client: TestClient, two_trained: tuple[int, int]) -> None:
    old, new = two_trained
    with session_scope() as session:
        folder = Path(session.get_one(ModelVersion, old).artifact)
    assert (folder / "weights.safetensors").is_file()

    assert client.delete(f"/api/models/{old}").status_code == 204

    assert set(versions(client)) == {new}
    assert not folder.exists()
    with session_scope() as session:
        assert session.query(Score).filter_by(model_version_id=old).count() == 0
        assert session.query(Score).filter_by(model_version_id=new).count() == 24
    assert client.delete(f"/api/models/{old}").status_code == 404


def test_the_current_and_a_pinned_version_are_not_deleted(client: TestClient, two_trained: tuple[int, int]) -> None:
    old, new = two_trained
    current = client.delete(f"/api/models/{new}")
    assert current.status_code == 409 and "is the current one" in current.json()["detail"]

    assert client.post(f"/api/models/{old}/pin").status_code == 200
    pinned = client.delete(f"/api/models/{old}")
    assert pinned.status_code == 409 and "is pinned; unpin it" in pinned.json()["detail"]
    assert set(versions(client)) == {old, new}


def test_two_versions_side_by_side_on_the_labels(client: TestClient) -> None:
    ids = add_memes(30)
    taste = np.linspace(-1, 1, 30)
    right, wrong = add_model(current=False), add_model()
    add_scores(right, {m: float(t) for m, t in zip(ids, taste, strict=True)})
    # The second version agrees on all but the five best memes, which it ranks at the bottom.
    add_scores(wrong, {m: float(t if i < 25 else -2 - t) for i, (m, t) in enumerate(zip(ids, taste, strict=True))})
    with session_scope() as session:
        for i, meme_id in enumerate(ids):
            session.add(EvaluationLabel(meme_id=meme_id, good=i >= 24))
        session.add(Rating(a_id=ids[0], b_id=ids[1], choice="a"))  # these two are training data, not labels

    answer = client.get("/api/models/compare", params={"a": right, "b": wrong})

    assert answer.status_code == 200
    report = answer.json()
    assert report["labels"] == 28 and report["good"] == 6 and report["scored_by_both"] == 30
    assert report["a"]["id"] == right and report["a"]["auroc"] == 1.0
    assert report["b"]["auroc"] < 0.2
    assert report["a"]["precision_at_top"]["0.25"] == 6 / 7
    top = report["disagreements"][:5]
    assert {d["meme"]["id"] for d in top} == set(ids[25:])
    assert all(d["percentile_a"] > 80 and d["percentile_b"] < 20 and d["good"] for d in top)


def test_comparing_with_an_unknown_version_says_which(client: TestClient) -> None:
    known = add_model()
    answer = client.get("/api/models/compare", params={"a": known, "b": 999})
    assert answer.status_code == 404 and "no model version 999" in str(answer.json()["detail"])
    assert client.get("/api/models/compare", params={"a": known}).status_code == 422
