"""The rating loop's hot path: pairs held for the rater they were handed to, ratings saved in one
transaction on either database, retrain requests asked at most once a second."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from memethresher_api import ratings
from memethresher_api.offered import OfferedPairs
from memethresher_api.schemas import MemeOut, PairOut
from memethresher_shared.db import session_scope
from memethresher_shared.models import AcquisitionPair, Rating
from sqlalchemy import select

from tests.api.helpers import add_batch, add_memes, add_model


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pair(pair_id: int | None) -> PairOut:
    meme = MemeOut(id=1, image_url="", thumb_url="", title="")
    return PairOut(a=meme, b=meme, origin="random" if pair_id is None else "acquisition", pair_id=pair_id)


def test_offered_pairs_are_held_until_rated_or_the_hold_ends() -> None:
    clock = Clock()
    offered = OfferedPairs(hold_s=60, clock=clock)
    assert [p.pair_id for p in offered.take([pair(1), pair(2)], 1)] == [1]
    assert [p.pair_id for p in offered.take([pair(1), pair(2)], 1)] == [2]  # another tab: the next one
    assert [p.pair_id for p in offered.take([pair(1), pair(2)], 1)] == [1]  # every one held: again
    assert [p.pair_id for p in offered.take([pair(None)], 1)] == [None]  # random pairs are never held
    offered.release([2])
    assert offered.held() == [1]
    # A read that began before pair 2 was rated may still return it: passed over.
    assert [p.pair_id for p in offered.take([pair(2), pair(3)], 1)] == [3]
    clock.now += 61
    assert offered.held() == []


def test_offered_pairs_stay_bounded() -> None:
    offered = OfferedPairs(max_pairs=3)
    offered.offer(range(10))
    assert offered.held() == [7, 8, 9]


def test_raters_asking_together_are_handed_different_pairs(any_client: TestClient) -> None:
    ids = add_memes(6)
    _, pairs = add_batch(add_model(), [(ids[0], ids[1]), (ids[2], ids[3]), (ids[4], ids[5])])
    handed = [any_client.get("/api/pairs/next").json()["pair_id"] for _ in range(3)]
    assert handed == pairs
    # Every pending pair is held: they are handed out again rather than a random pair.
    assert any_client.get("/api/pairs/next").json()["pair_id"] == pairs[0]
    upcoming = any_client.get("/api/pairs", params={"count": 2}).json()["pairs"]
    assert [p["origin"] for p in upcoming] == ["acquisition", "acquisition"]
    a, b = ids[2], ids[3]
    assert any_client.post("/api/ratings", json={"a": a, "b": b, "choice": "a", "pair_id": pairs[1]}).status_code == 201
    assert pairs[1] not in any_client.app.state.offered.held()  # type: ignore[attr-defined]


def test_a_rating_without_its_pair_id_claims_the_pending_pair_on_any_database(any_client: TestClient) -> None:
    ids = add_memes(4)
    _, (pair_id,) = add_batch(add_model(), [(ids[0], ids[1])])
    claimed = any_client.post("/api/ratings", json={"a": ids[1], "b": ids[0], "choice": "a"}).json()
    assert (claimed["origin"], claimed["pair_id"]) == ("acquisition", pair_id)
    unpaired = any_client.post("/api/ratings", json={"a": ids[2], "b": ids[3], "choice": "tie"}).json()
    assert (unpaired["origin"], unpaired["pair_id"]) == ("random", None)
    with session_scope() as session:
        assert session.get_one(AcquisitionPair, pair_id).status == "rated"
        stored = session.execute(select(Rating.id, Rating.origin, Rating.created_at).order_by(Rating.id)).all()
    assert [(r.id, r.origin) for r in stored] == [(claimed["id"], "acquisition"), (unpaired["id"], "random")]


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"a": 1, "b": 999, "choice": "a"}, "b", 422),  # unknown meme: the foreign key refuses it
        ({"a": 1, "b": 2, "choice": "a", "pair_id": 12345}, "pair_id", 422),
        ({"a": 1, "b": 2, "choice": "a", "axis": "smell"}, "axis", 422),
        ({"a": 1, "b": "two", "choice": "a"}, "b", 422),
    ],
)
def test_refused_ratings_store_nothing_on_any_database(
    any_client: TestClient, body: dict, field: str, status: int
) -> None:
    add_memes(2)
    response = any_client.post("/api/ratings", json=body)
    assert response.status_code == status, response.text
    assert any(error["loc"][-1] == field for error in response.json()["detail"])
    with session_scope() as session:
        assert session.scalars(select(Rating)).all() == []


def test_a_rated_pair_comes_back_after_undo_on_any_database(any_client: TestClient) -> None:
    ids = add_memes(2)
    _, (pair_id,) = add_batch(add_model(), [(ids[0], ids[1])])
    shown = any_client.get("/api/pairs/next").json()
    body = {"a": shown["a"]["id"], "b": shown["b"]["id"], "choice": "a", "pair_id": pair_id}
    rating = any_client.post("/api/ratings", json=body).json()
    assert any_client.post("/api/ratings", json=body).json()["id"] == rating["id"]  # a retry stores nothing
    assert any_client.delete(f"/api/ratings/{rating['id']}").status_code == 200
    assert any_client.get("/api/pairs/next").json()["pair_id"] == pair_id


def test_a_form_body_is_a_422(client: TestClient) -> None:
    ids = add_memes(2)
    response = client.post("/api/ratings", content=f"a={ids[0]}&b={ids[1]}&choice=a")
    assert response.status_code == 422


def test_retrain_requests_are_asked_at_most_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(ratings, "request_retrain_quietly", asked.append)
    clock = Clock()
    retrain = ratings.RetrainRequests(interval_s=1.0, clock=clock)
    retrain.ask("enc")
    clock.now += 0.5
    retrain.ask("enc")
    retrain.ask("other")
    clock.now += 0.6
    retrain.ask("enc")
    assert asked == ["enc", "other", "enc"]
