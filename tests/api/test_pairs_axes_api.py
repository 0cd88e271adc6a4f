"""Pairs to rate on one axis: that axis' acquisition batch first, then pairs not yet rated on it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from memethresher_shared.db import session_scope
from memethresher_shared.models import Rating

from tests.api.helpers import add_batch, add_memes, add_model


def memes_of(pair: dict) -> frozenset[int]:
    return frozenset((pair["a"]["id"], pair["b"]["id"]))


def test_each_axis_is_served_its_own_batch(funny_client: TestClient) -> None:
    ids = add_memes(6)
    model = add_model()
    add_batch(model, [(ids[0], ids[1]), (ids[2], ids[3])], axis="overall")
    funny_batch, _ = add_batch(model, [(ids[4], ids[5])], axis="funny")
    funny = funny_client.get("/api/pairs", params={"axis": "funny", "count": 1}).json()["pairs"]
    assert [(memes_of(p), p["axis"], p["batch_id"]) for p in funny] == [(frozenset(ids[4:6]), "funny", funny_batch)]
    overall = funny_client.get("/api/pairs", params={"axis": "overall", "count": 2}).json()["pairs"]
    assert {memes_of(p) for p in overall} == {frozenset(ids[0:2]), frozenset(ids[2:4])}
    assert all(p["axis"] == "overall" for p in overall)
    # Without an axis the batches take turns, each one's best pair first (the rating page asks every
    # axis of a pair): no axis waits for another's whole batch.
    every = funny_client.get("/api/pairs", params={"count": 3}).json()["pairs"]
    assert [(memes_of(p), p["axis"]) for p in every] == [
        (frozenset(ids[4:6]), "funny"), (frozenset(ids[0:2]), "overall"), (frozenset(ids[2:4]), "overall")
    ]  # fmt: skip


def test_a_pair_rated_on_one_axis_is_still_asked_on_another(funny_client: TestClient) -> None:
    ids = add_memes(2)
    with session_scope() as session:
        session.add(Rating(a_id=ids[0], b_id=ids[1], choice="a", axis="overall"))
    funny = funny_client.get("/api/pairs/next", params={"axis": "funny"})
    assert funny.status_code == 200 and memes_of(funny.json()) == frozenset(ids)
    assert funny.json()["origin"] == "random"
    assert funny_client.get("/api/pairs/next", params={"axis": "overall"}).status_code == 404


def test_an_unknown_axis_is_refused(funny_client: TestClient) -> None:
    add_memes(2)
    response = funny_client.get("/api/pairs/next", params={"axis": "useful"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "axis"]


def test_the_rating_page_counts_what_is_left_in_every_axis_batch(funny_client: TestClient) -> None:
    ids = add_memes(8)
    old = add_model()
    add_batch(old, [(ids[6], ids[7])], axis="overall")  # superseded in life; here an older batch
    model = add_model()
    add_batch(model, [(ids[0], ids[1]), (ids[2], ids[3])], axis="overall")
    add_batch(model, [(ids[4], ids[5])], axis="funny")
    assert funny_client.get("/api/rating-status").json()["pending_in_batch"] == 3
