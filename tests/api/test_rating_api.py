"""The rating endpoints against a real database (SQLite, and PostgreSQL for the contract)."""

from __future__ import annotations

import pytest
import redis
from fastapi.testclient import TestClient
from memethresher_shared import coordination
from memethresher_shared.db import session_scope
from memethresher_shared.models import AcquisitionPair, Rating
from sqlalchemy import select

from tests.api.helpers import BASE_URL, add_batch, add_memes, add_model


def stored_ratings() -> list[tuple[int, int, str, str, int | None]]:
    with session_scope() as session:
        rows = session.scalars(select(Rating).order_by(Rating.id))
        return [(r.a_id, r.b_id, r.choice, r.origin, r.acquisition_pair_id) for r in rows]


def pair_status(pair_id: int) -> str:
    with session_scope() as session:
        return session.get_one(AcquisitionPair, pair_id).status


def test_no_pair_until_two_memes_are_embedded(any_client: TestClient) -> None:
    add_memes(1)
    add_memes(3, embedded=False, start=1)
    response = any_client.get("/api/pairs/next")
    assert response.status_code == 404
    assert "fewer than two memes" in response.json()["detail"]


def test_random_pairs_never_pair_a_meme_with_itself(any_client: TestClient) -> None:
    embedded = set(add_memes(3))
    add_memes(3, embedded=False, start=3)
    for _ in range(20):
        body = any_client.get("/api/pairs/next").json()
        assert body["origin"] == "random"
        assert body["a"]["id"] != body["b"]["id"]
        assert {body["a"]["id"], body["b"]["id"]} <= embedded
        assert body["a"]["image_url"] == f"/api/memes/{body['a']['id']}/image"
        assert body["a"]["title"].startswith("meme ")


def test_pairs_come_from_the_newest_batch_then_older_ones(any_client: TestClient) -> None:
    ids = add_memes(8)
    old_model = add_model()
    _, old_pairs = add_batch(old_model, [(ids[0], ids[1]), (ids[2], ids[3])])
    new_model = add_model()
    _, new_pairs = add_batch(new_model, [(ids[4], ids[5])], strategy="bald")
    first = any_client.get("/api/pairs/next").json()
    assert (first["origin"], first["pair_id"], first["strategy"]) == ("acquisition", new_pairs[0], "bald")
    assert {first["a"]["id"], first["b"]["id"]} == {ids[4], ids[5]}
    # The page holds the first pair; the next ones are the old batch's, in order, then random.
    upcoming = any_client.get("/api/pairs", params={"count": 4, "exclude": [new_pairs[0]]}).json()["pairs"]
    assert [p["pair_id"] for p in upcoming[:2]] == old_pairs
    assert [p["origin"] for p in upcoming[2:]] == ["random", "random"]


def test_a_rating_is_stored_and_marks_its_acquisition_pair(any_client: TestClient) -> None:
    ids = add_memes(4)
    _, (pair_id,) = add_batch(add_model(), [(ids[0], ids[1])])
    response = any_client.post("/api/ratings", json={"a": ids[1], "b": ids[0], "choice": "b+", "pair_id": pair_id})
    assert response.status_code == 201
    body = response.json()
    assert (body["a"], body["b"], body["choice"], body["origin"], body["pair_id"]) == (
        ids[1], ids[0], "b+", "acquisition", pair_id)  # fmt: skip
    assert pair_status(pair_id) == "rated"
    # A retried save of the same pair does not store it twice.
    again = any_client.post("/api/ratings", json={"a": ids[1], "b": ids[0], "choice": "b+", "pair_id": pair_id})
    assert again.json()["id"] == body["id"]
    random_rating = any_client.post("/api/ratings", json={"a": ids[2], "b": ids[3], "choice": "tie"})
    assert random_rating.json()["origin"] == "random"
    assert stored_ratings() == [
        (ids[1], ids[0], "b+", "acquisition", pair_id),
        (ids[2], ids[3], "tie", "random", None),
    ]


def test_rating_the_memes_of_a_pending_pair_without_its_id_still_marks_it(client: TestClient) -> None:
    ids = add_memes(2)
    _, (pair_id,) = add_batch(add_model(), [(ids[0], ids[1])])
    assert client.post("/api/ratings", json={"a": ids[1], "b": ids[0], "choice": "a"}).status_code == 201
    assert pair_status(pair_id) == "rated"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"a": 1, "b": 2, "choice": "best"}, "choice"),
        ({"a": 1, "b": 2}, "choice"),
        ({"a": "x", "b": 2, "choice": "a"}, "a"),
        ({"a": 1, "b": 1, "choice": "a"}, "b"),
        ({"a": 1, "b": 999, "choice": "a"}, "b"),
        ({"a": 998, "b": 2, "choice": "a"}, "a"),
        ({"a": 1, "b": 2, "choice": "a", "pair_id": 12345}, "pair_id"),
        ({"a": 1, "b": 2, "choice": "a", "axis": "smell"}, "axis"),
        ({"a": 1, "b": 2**40, "choice": "a"}, "b"),
    ],
)
def test_bad_ratings_are_422_naming_the_field(client: TestClient, body: dict, field: str) -> None:
    add_memes(2)
    response = client.post("/api/ratings", json=body)
    assert response.status_code == 422, response.text
    assert any(error["loc"][-1] == field for error in response.json()["detail"]), response.json()
    assert stored_ratings() == []


def test_undo_removes_the_rating_and_returns_the_pair(client: TestClient) -> None:
    ids = add_memes(2)
    _, (pair_id,) = add_batch(add_model(), [(ids[0], ids[1])])
    rating = client.post("/api/ratings", json={"a": ids[0], "b": ids[1], "choice": "a", "pair_id": pair_id}).json()
    assert client.delete(f"/api/ratings/{rating['id']}").status_code == 200
    assert stored_ratings() == [] and pair_status(pair_id) == "pending"
    assert client.get("/api/pairs/next").json()["pair_id"] == pair_id
    assert client.delete(f"/api/ratings/{rating['id']}").status_code == 404


def test_a_skipped_pair_is_not_offered_again(client: TestClient) -> None:
    ids = add_memes(4)
    _, pairs = add_batch(add_model(), [(ids[0], ids[1]), (ids[2], ids[3])])
    assert client.post(f"/api/pairs/{pairs[0]}/skip").json()["status"] == "skipped"
    assert client.get("/api/pairs/next").json()["pair_id"] == pairs[1]
    assert client.post("/api/pairs/99999/skip").status_code == 404


def test_a_retrain_is_requested_after_enough_new_ratings(
    client: TestClient, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMETHRESHER_RETRAIN_EVERY", "3")
    from memethresher_api.settings import get_api_settings

    get_api_settings.cache_clear()
    ids = add_memes(4)
    add_model(n_ratings=0)
    key = coordination.RETRAIN_QUEUED.format(encoder=get_api_settings().embedder)
    for i in range(2):
        client.post("/api/ratings", json={"a": ids[i], "b": ids[i + 1], "choice": "a"})
    assert not redis_conn.exists(key) and redis_conn.llen("train") == 0
    client.post("/api/ratings", json={"a": ids[2], "b": ids[3], "choice": "a"})
    assert redis_conn.exists(key) and redis_conn.llen("train") == 1
    client.post("/api/ratings", json={"a": ids[0], "b": ids[3], "choice": "a"})
    assert redis_conn.llen("train") == 1  # coalesced with the queued one


def test_a_broker_outage_never_loses_a_rating(env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_RETRAIN_EVERY", "1")
    monkeypatch.setenv("MEMETHRESHER_BROKER_URL", "redis://127.0.0.1:1/0")
    from tests.conftest import reset_all

    reset_all()
    from memethresher_api.main import create_app

    ids = add_memes(2)
    with TestClient(create_app(), base_url=BASE_URL) as client:
        response = client.post("/api/ratings", json={"a": ids[0], "b": ids[1], "choice": "a"})
        assert response.status_code == 201
        assert client.get("/healthz").json() == {"status": "degraded", "database": True, "broker": False, "folders": []}
    assert len(stored_ratings()) == 1


def test_stats_count_what_the_user_sees(any_client: TestClient) -> None:
    ids = add_memes(5)
    failed = add_memes(1, embedded=False, start=5)
    with session_scope() as session:
        from memethresher_shared.models import Meme

        session.get_one(Meme, failed[0]).status = "failed"
    model = add_model()
    from tests.api.helpers import add_scores

    add_scores(model, {ids[0]: 1.0, ids[1]: 0.5}, curate=True)
    any_client.post("/api/ratings", json={"a": ids[0], "b": ids[1], "choice": "a"})
    assert any_client.get("/api/stats").json() == {
        "memes": 6, "embedded": 5, "failed": 1, "ratings": 1, "model_versions": 1,
        "scored": 2, "curation_pending": 2, "library": 0, "ratings_by_axis": {"overall": 1},
        "scored_by_axis": {"overall": 2}, "curation_queued_by_axis": {"overall": 2}, "stopping": None,
    }  # fmt: skip
    status = any_client.get("/api/rating-status").json()
    assert (status["ratings_today"], status["ratings_total"], status["model_version_id"]) == (1, 1, model)
    assert status["retrain_running"] is False


def test_axes_are_saved_together_or_not_at_all(env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_RATING_AXES", '["funny", "aesthetic"]')
    from memethresher_api.main import create_app

    ids = add_memes(2)
    with TestClient(create_app(), base_url=BASE_URL) as client:
        assert 'data-config=\'{"axes": ["overall", "funny", "aesthetic"]' in client.get("/rate").text
        both = [
            {"a": ids[0], "b": ids[1], "choice": c, "axis": axis} for c, axis in (("a", "funny"), ("b+", "aesthetic"))
        ]
        response = client.post("/api/ratings/batch", json={"ratings": both})
        assert response.status_code == 201
        assert [(r["axis"], r["choice"]) for r in response.json()] == [("funny", "a"), ("aesthetic", "b+")]
        one_bad = [both[0], {**both[1], "b": 9999}]
        assert client.post("/api/ratings/batch", json={"ratings": one_bad}).status_code == 422
    assert len(stored_ratings()) == 2


def test_metrics_count_ratings_by_choice(client: TestClient) -> None:
    a, b = add_memes(2)

    def rated(choice: str) -> float:
        text = client.get("/metrics").text
        lines = [line for line in text.splitlines()
                 if line.startswith("memethresher_ratings_total") and f'choice="{choice}"' in line
                 and 'origin="random"' in line]  # fmt: skip
        return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0

    before = rated("b+")
    assert client.post("/api/ratings", json={"a": a, "b": b, "choice": "b+"}).status_code == 201
    assert rated("b+") == before + 1


@pytest.mark.postgres
def test_two_saves_of_one_pair_arriving_together_store_one_rating(pg_env) -> None:  # type: ignore[no-untyped-def]
    import threading

    from memethresher_api import ratings
    from memethresher_api.schemas import RatingIn

    ids = add_memes(2)
    _, (pair_id,) = add_batch(add_model(), [(ids[0], ids[1])])
    body = RatingIn(a=ids[0], b=ids[1], choice="a", pair_id=pair_id)
    second: list[tuple[int, bool]] = []

    def save_again() -> None:
        with session_scope() as session:  # waits for the first save's transaction to end
            out, new = ratings.store_rating(session, body, [])
            second.append((out.id, new))

    with session_scope() as session:
        first, first_new = ratings.store_rating(session, body, [])
        racer = threading.Thread(target=save_again)
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # held back by the first save's claim on the pair
    racer.join(10)
    assert first_new and second == [(first.id, False)]
    assert len(stored_ratings()) == 1 and pair_status(pair_id) == "rated"
