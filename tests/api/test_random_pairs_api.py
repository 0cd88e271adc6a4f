"""Random pairs (no acquisition batch waiting) never ask again for a judgement already given."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import add_memes


def served_pair(client: TestClient) -> frozenset[int]:
    body = client.get("/api/pairs/next").json()
    assert body["origin"] == "random"
    return frozenset((body["a"]["id"], body["b"]["id"]))


def test_a_random_pair_is_never_one_already_rated_in_either_order(any_client: TestClient) -> None:
    a, b, c, d = add_memes(4)  # six possible pairs
    rated = [(a, b), (c, a), (b, c), (d, b), (c, d)]  # (c, a) and (d, b) in the other order
    for left, right in rated:
        assert any_client.post("/api/ratings", json={"a": left, "b": right, "choice": "a"}).status_code == 201
    served = {served_pair(any_client) for _ in range(30)}
    assert served == {frozenset((a, d))}  # the only pair never rated
    several = any_client.get("/api/pairs", params={"count": 4}).json()["pairs"]
    assert [frozenset((p["a"]["id"], p["b"]["id"])) for p in several] == [frozenset((a, d))]
    any_client.post("/api/ratings", json={"a": d, "b": a, "choice": "tie"})
    response = any_client.get("/api/pairs/next")
    assert response.status_code == 404 and "every pair" in response.json()["detail"]


def test_several_random_pairs_at_once_are_all_different_and_unrated(any_client: TestClient) -> None:
    ids = add_memes(5)  # ten possible pairs
    for left, right in [(ids[0], ids[1]), (ids[2], ids[0]), (ids[3], ids[4])]:
        any_client.post("/api/ratings", json={"a": left, "b": right, "choice": "b"})
    rated = {frozenset((ids[0], ids[1])), frozenset((ids[0], ids[2])), frozenset((ids[3], ids[4]))}
    for _ in range(10):
        pairs = [frozenset((p["a"]["id"], p["b"]["id"])) for p in any_client.get("/api/pairs?count=7").json()["pairs"]]
        assert len(pairs) == 7 and len(set(pairs)) == 7 and not set(pairs) & rated
        assert all(len(pair) == 2 for pair in pairs)
