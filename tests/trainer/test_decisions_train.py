"""Keeps and discards made on the curation page train the model and bring the retrain closer: decisions
through the real API, the trainer's job on the same database (SQLite and PostgreSQL)."""

from __future__ import annotations

import numpy as np
import redis
from fastapi.testclient import TestClient
from memethresher_api.ratings import rating_counts
from memethresher_shared import coordination
from memethresher_shared.db import session_scope
from memethresher_shared.models import CurationItem, Embedding, EvaluationLabel, Meme, ModelVersion, Score
from memethresher_shared.settings import get_settings
from memethresher_shared.vectors import from_stored
from sqlalchemy import select, update

from tests.api.helpers import add_memes
from tests.trainer.test_absolute_labels import auroc

# The retrain trigger's tests' setting (RETRAIN_EVERY), app and training, on SQLite and PostgreSQL.
from tests.trainer.test_retrain_trigger import EVERY, any_env, client, train

__all__ = ["any_env", "client"]  # fixtures


def liked(ids: list[int]) -> dict[int, bool]:
    """A hidden taste over the memes' vectors: the person likes the half along one direction."""
    with session_scope() as session:
        rows = session.execute(select(Embedding.meme_id, Embedding.vector).where(Embedding.meme_id.in_(ids))).all()
    taste = {meme_id: float(from_stored(vector) @ np.linspace(-1, 1, 16)) for meme_id, vector in rows}
    cut = float(np.median(list(taste.values())))
    return {meme_id: value > cut for meme_id, value in taste.items()}


def queue(ids: list[int]) -> dict[int, int]:
    """Curation items for `ids`, pending: {meme id: item id}."""
    with session_scope() as session:
        items = [CurationItem(meme_id=meme_id, score=0.0) for meme_id in ids]
        session.add_all(items)
        session.flush()
        return {item.meme_id: item.id for item in items}


def decide(client: TestClient, item_id: int, keep: bool) -> None:
    if keep:
        response = client.post(f"/api/curation/{item_id}/keep", json={"name": f"kept {item_id}"})
    else:
        response = client.post(f"/api/curation/{item_id}/discard")
    assert response.status_code == 200, response.text


def scores_of(version_id: int) -> dict[int, float]:
    with session_scope() as session:
        query = select(Score.meme_id, Score.mean).where(Score.model_version_id == version_id)
        return {int(meme_id): float(mean) for meme_id, mean in session.execute(query)}


def counts() -> tuple[int, int]:
    """The rating events and those the newest version saw, as the API reads them."""
    with session_scope() as session:
        return rating_counts(session, get_settings().embedder)


def test_keeps_and_discards_alone_train_a_model_that_ranks_liked_memes_first(client: TestClient) -> None:
    ids = add_memes(90)
    likes = liked(ids)
    decided, unseen = ids[:60], ids[60:]
    items = queue(decided)
    for meme_id in decided:
        decide(client, items[meme_id], likes[meme_id])
    with session_scope() as session:  # evaluation labels measure the model: training never reads them
        session.add_all(EvaluationLabel(meme_id=meme_id, good=not likes[meme_id]) for meme_id in unseen)

    result = train()

    assert result["status"] == "trained", result
    metrics = result["metrics"]
    assert (metrics["pairs"], metrics["decisions"], metrics["library_keeps"]) == (0, 60, 0)
    assert metrics["n_train_absolute"] + metrics["n_val_absolute"] == 60
    scores = scores_of(result["model_version_id"])
    truth = np.array([likes[m] for m in unseen])
    assert auroc(np.array([scores[m] for m in unseen]), truth) > 0.8
    assert counts() == (60, 60)  # every decision is a rating event the version saw


def test_evaluation_labels_alone_train_nothing(client: TestClient) -> None:
    ids = add_memes(10)
    with session_scope() as session:
        session.add_all(EvaluationLabel(meme_id=meme_id, good=i % 2 == 0) for i, meme_id in enumerate(ids))
    assert train()["status"] == "skipped"


def test_a_decision_and_its_undo_bring_the_retrain_closer(client: TestClient) -> None:
    ids = add_memes(20)
    items = queue(ids)
    decide(client, items[ids[0]], keep=True)
    decide(client, items[ids[1]], keep=False)
    first = train()
    assert first["status"] == "trained" and counts() == (2, 2)
    assert not coordination.retrain_due(*counts(), EVERY)

    decide(client, items[ids[2]], keep=True)
    assert counts() == (3, 2)
    assert client.post("/api/curation/undo").json()["meme"]["id"] == ids[2]
    assert counts() == (4, 2)  # the undo counts too: the count never goes back
    decide(client, items[ids[2]], keep=False)
    assert counts() == (5, 2) and not coordination.retrain_due(*counts(), EVERY)
    decide(client, items[ids[3]], keep=True)
    decide(client, items[ids[4]], keep=True)
    assert counts() == (2 + EVERY, 2) and coordination.retrain_due(*counts(), EVERY)

    second = train()
    assert second["status"] == "trained" and second["model_version_id"] != first["model_version_id"]
    assert second["metrics"]["decisions"] == 5
    with session_scope() as session:
        assert session.get_one(ModelVersion, second["model_version_id"]).n_ratings == 7


def test_memes_put_in_the_library_folder_count_as_keeps(client: TestClient, any_env) -> None:  # type: ignore[no-untyped-def]
    ids = add_memes(12)
    items = queue(ids[:2])
    decide(client, items[ids[0]], keep=False)
    with session_scope() as session:
        # Four memes the person put in the library folder, one of them also kept through the queue.
        session.execute(update(Meme).where(Meme.id.in_(ids[1:5])).values(in_library=True))
    decide(client, items[ids[1]], keep=True)

    result = train()

    assert (result["metrics"]["decisions"], result["metrics"]["library_keeps"]) == (2, 3)
    scores = scores_of(result["model_version_id"])
    assert min(scores[m] for m in ids[1:5]) > scores[ids[0]]


def test_decisions_alone_ask_for_a_retrain_every_few(client: TestClient, redis_conn: redis.Redis) -> None:
    ids = add_memes(8)
    items = queue(ids)
    for n, meme_id in enumerate(ids[: EVERY - 1]):
        decide(client, items[meme_id], keep=n % 2 == 0)
    assert redis_conn.llen("train") == 0
    assert client.post("/api/curation/undo").status_code == 200  # the EVERY-th event, and no model yet
    assert redis_conn.llen("train") == 1
