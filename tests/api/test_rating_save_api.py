"""The one save path of a rating, on SQLite and PostgreSQL alike: the pair it claims, the pair it
leaves alone, and what a rating of a pair that cannot be claimed stores."""

from __future__ import annotations

from fastapi.testclient import TestClient
from memethresher_shared.db import session_scope
from memethresher_shared.models import AcquisitionPair
from sqlalchemy import select

from tests.api.helpers import add_batch, add_memes, add_model
from tests.api.test_rating_api import stored_ratings


def pairs_now() -> dict[int, tuple[int, int, str]]:
    with session_scope() as session:
        return {p.id: (p.a_id, p.b_id, p.status) for p in session.scalars(select(AcquisitionPair))}


def test_a_save_marks_its_pair_rated_and_changes_nothing_else_on_it(any_client: TestClient) -> None:
    ids = add_memes(4)
    _, (first, second) = add_batch(add_model(), [(ids[0], ids[1]), (ids[2], ids[3])])
    # Shown the other way round: the pair keeps its own order of memes.
    body = {"a": ids[1], "b": ids[0], "choice": "a+", "pair_id": first}
    assert any_client.post("/api/ratings", json=body).status_code == 201
    assert any_client.post("/api/ratings", json={"a": ids[3], "b": ids[2], "choice": "tie"}).status_code == 201
    assert pairs_now() == {first: (ids[0], ids[1], "rated"), second: (ids[2], ids[3], "rated")}
    assert stored_ratings() == [
        (ids[1], ids[0], "a+", "acquisition", first),
        (ids[3], ids[2], "tie", "acquisition", second),
    ]


def test_a_skipped_pair_rated_after_all_is_stored_and_marked_rated(any_client: TestClient) -> None:
    ids = add_memes(2)
    _, (pair_id,) = add_batch(add_model(), [(ids[0], ids[1])])
    assert any_client.post(f"/api/pairs/{pair_id}/skip").json()["status"] == "skipped"
    response = any_client.post("/api/ratings", json={"a": ids[0], "b": ids[1], "choice": "b", "pair_id": pair_id})
    assert response.status_code == 201, response.text
    assert (response.json()["origin"], response.json()["pair_id"]) == ("acquisition", pair_id)
    assert pairs_now()[pair_id][2] == "rated"
    assert stored_ratings() == [(ids[0], ids[1], "b", "acquisition", pair_id)]


def test_naming_a_pair_of_other_memes_is_refused_and_claims_nothing(any_client: TestClient) -> None:
    ids = add_memes(3)
    _, (pair_id,) = add_batch(add_model(), [(ids[0], ids[1])])
    response = any_client.post("/api/ratings", json={"a": ids[0], "b": ids[2], "choice": "a", "pair_id": pair_id})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "pair_id"
    assert pairs_now()[pair_id][2] == "pending" and stored_ratings() == []


def test_a_retry_of_a_rated_pair_answers_the_first_rating_and_stores_no_second(any_client: TestClient) -> None:
    ids = add_memes(2)
    _, (pair_id,) = add_batch(add_model(), [(ids[0], ids[1])])
    body = {"a": ids[0], "b": ids[1], "choice": "a", "pair_id": pair_id}
    first = any_client.post("/api/ratings", json=body).json()
    again = any_client.post("/api/ratings", json=body | {"choice": "b+"})
    assert again.status_code == 201
    assert (again.json()["id"], again.json()["choice"]) == (first["id"], "a")
    assert stored_ratings() == [(ids[0], ids[1], "a", "acquisition", pair_id)]


def test_a_rating_of_unknown_memes_stores_nothing_and_leaves_the_pair_pending(any_client: TestClient) -> None:
    ids = add_memes(2)
    _, (pair_id,) = add_batch(add_model(), [(ids[0], ids[1])])
    response = any_client.post("/api/ratings", json={"a": ids[0], "b": 9999, "choice": "a"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "b"
    assert pairs_now()[pair_id][2] == "pending" and stored_ratings() == []
