"""Best of four through the API, on SQLite and PostgreSQL: one answer is three ratings (the best meme
better than each other one), claims both offered pairs, is stored once however often it is sent,
undoes as a whole, brings the retrain closer by three, and a bad answer is refused naming its field."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from httpx import Response
from memethresher_shared import coordination

from tests.api.helpers import BASE_URL, add_batch, add_memes, add_model
from tests.api.test_rating_api import pair_status, stored_ratings
from tests.api.test_rating_save_api import pairs_now


def answer(pairs: list[tuple[int, int, int | None]], best: int) -> dict[str, Any]:
    return {"pairs": [{"a": a, "b": b, "pair_id": pair_id} for a, b, pair_id in pairs], "best": best}


def ratings_in(response: Response) -> list[tuple[int, int, int, int | None]]:
    """(id, a, b, pair id) of the ratings a saved answer returned."""
    assert response.status_code == 201, response.text
    return [(r["id"], r["a"], r["b"], r["pair_id"]) for r in response.json()]


def two_offered_pairs(client: TestClient) -> list[tuple[int, int, int | None]]:
    """The next two pairs the rating page would be handed."""
    offered = client.get("/api/pairs", params={"count": 2}).json()["pairs"]
    return [(pair["a"]["id"], pair["b"]["id"], pair["pair_id"]) for pair in offered]


def test_the_best_of_four_beats_the_other_three_and_both_offered_pairs_are_claimed(any_client: TestClient) -> None:
    ids = add_memes(6)
    _, (first, second, third) = add_batch(add_model(), [(ids[0], ids[1]), (ids[2], ids[3]), (ids[4], ids[5])])
    shown = two_offered_pairs(any_client)
    assert {pair_id for *_, pair_id in shown} == {first, second}  # the batch's first two, as for pairs
    (a, b, own), (c, d, other) = shown
    response = any_client.post("/api/ratings/four", json=answer(shown, best=b))
    assert response.status_code == 201, response.text
    assert [(r["a"], r["b"], r["choice"], r["origin"], r["axis"]) for r in response.json()] == [
        (b, a, "a", "four", "overall"), (b, c, "a", "four", "overall"), (b, d, "a", "four", "overall"),
    ]  # fmt: skip
    assert stored_ratings() == [(b, a, "a", "four", own), (b, c, "a", "four", other), (b, d, "a", "four", other)]
    assert {pair_id: status for pair_id, (*_, status) in pairs_now().items()} == {
        first: "rated", second: "rated", third: "pending",
    }  # fmt: skip
    assert [pair_id for *_, pair_id in two_offered_pairs(any_client)] == [third, None]


def test_random_pairs_make_an_answer_too(any_client: TestClient) -> None:
    add_memes(8)
    shown = two_offered_pairs(any_client)
    assert [pair_id for *_, pair_id in shown] == [None, None]
    response = any_client.post("/api/ratings/four", json=answer(shown, best=shown[1][0]))
    assert response.status_code == 201, response.text
    losers = {shown[0][0], shown[0][1], shown[1][1]}
    assert sorted(stored_ratings()) == sorted((shown[1][0], loser, "a", "four", None) for loser in losers)


def test_a_retried_answer_is_stored_once_and_a_second_tab_does_not_overwrite_it(any_client: TestClient) -> None:
    ids = add_memes(4)
    _, (first, second) = add_batch(add_model(), [(ids[0], ids[1]), (ids[2], ids[3])])
    shown = [(ids[0], ids[1], first), (ids[2], ids[3], second)]
    stored = ratings_in(any_client.post("/api/ratings/four", json=answer(shown, best=ids[2])))
    assert ratings_in(any_client.post("/api/ratings/four", json=answer(shown, best=ids[2]))) == stored
    assert ratings_in(any_client.post("/api/ratings/four", json=answer(shown[::-1], best=ids[0]))) == stored
    assert [(a, b) for a, b, *_ in stored_ratings()] == [(ids[2], ids[0]), (ids[2], ids[1]), (ids[2], ids[3])]


def test_undoing_the_three_ratings_puts_both_pairs_back(any_client: TestClient) -> None:
    ids = add_memes(4)
    _, (first, second) = add_batch(add_model(), [(ids[0], ids[1]), (ids[2], ids[3])])
    shown = [(ids[0], ids[1], first), (ids[2], ids[3], second)]
    stored = any_client.post("/api/ratings/four", json=answer(shown, best=ids[0])).json()
    for rating in stored:
        assert any_client.delete(f"/api/ratings/{rating['id']}").status_code == 200
    assert stored_ratings() == [] and (pair_status(first), pair_status(second)) == ("pending", "pending")
    assert {pair_id for *_, pair_id in two_offered_pairs(any_client)} == {first, second}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda ids, pairs: answer([(ids[0], ids[1], pairs[0]), (ids[1], ids[3], None)], ids[0]), "pairs"),
        (lambda ids, pairs: answer([(ids[0], ids[1], pairs[0]), (ids[2], 9999, None)], ids[0]), "pairs"),
        (lambda ids, pairs: answer([(ids[0], ids[1], pairs[0]), (ids[2], ids[3], pairs[1])], ids[4]), "best"),
        (lambda ids, pairs: answer([(ids[0], ids[1], pairs[0]), (ids[2], ids[3], pairs[0])], ids[0]), "pairs"),
        (lambda ids, pairs: answer([(ids[0], ids[1], pairs[0]), (ids[2], ids[3], 77777)], ids[0]), "pairs"),
        (lambda ids, pairs: answer([(ids[0], ids[1], pairs[0])], ids[0]), "pairs"),
        (lambda ids, pairs: answer([(ids[0], ids[1], pairs[0]), (ids[2], ids[3], None)], 2**40), "best"),
    ],
    ids=[
        "a meme twice",
        "unknown meme",
        "best not shown",
        "pair not of its memes",
        "no such pair",
        "one pair",
        "best not an id",
    ],  # fmt: skip
)
def test_a_bad_answer_is_refused_naming_its_field_and_stores_nothing(any_client: TestClient, change, field) -> None:  # type: ignore[no-untyped-def]
    ids = add_memes(5)
    _, pairs = add_batch(add_model(), [(ids[0], ids[1]), (ids[2], ids[3])])
    response = any_client.post("/api/ratings/four", json=change(ids, pairs))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(error["loc"][:2] == ["body", field] for error in detail), detail
    assert all(error["msg"] for error in detail)
    assert stored_ratings() == [] and {status for *_, status in pairs_now().values()} == {"pending"}


@pytest.fixture
def retrain_key(env, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    """A retrain is due every three ratings: the key that says one is queued."""
    monkeypatch.setenv("MEMETHRESHER_RETRAIN_EVERY", "3")
    from memethresher_api.settings import get_api_settings

    get_api_settings.cache_clear()
    return coordination.RETRAIN_QUEUED.format(encoder=get_api_settings().embedder)


def test_an_answer_counts_as_three_ratings_toward_the_retrain(
    retrain_key: str, client: TestClient, redis_conn: redis.Redis
) -> None:
    ids = add_memes(6)
    add_model(n_ratings=0)
    assert client.post("/api/ratings", json={"a": ids[4], "b": ids[5], "choice": "a"}).status_code == 201
    assert not redis_conn.exists(retrain_key)
    response = client.post("/api/ratings/four", json=answer([(ids[0], ids[1], None), (ids[2], ids[3], None)], ids[3]))
    assert response.status_code == 201
    assert redis_conn.exists(retrain_key) and redis_conn.llen("train") == 1
    assert client.get("/api/rating-status").json()["ratings_total"] == 4


def rate_page(client: TestClient) -> tuple[str, dict[str, Any]]:
    """The rating page, and the configuration it hands its script."""
    page = client.get("/rate").text
    found = re.search(r"data-config='([^']*)'", page)
    assert found, page
    return page, json.loads(html.unescape(found.group(1)))


def test_the_rating_page_names_the_keys_of_best_of_four(client: TestClient) -> None:
    page, config = rate_page(client)
    four = config["four"]
    assert four["hint"] == "1 / 2 / 3 / 4 best of the four · Backspace / U undo · S skip · ? help · F pairs"
    assert (four["keys"], four["mode_key"]) == (["1", "2", "3", "4"], "f")
    assert four["legend"][:4] == [["1", "best: top left"], ["2", "best: top right"], ["3", "best: bottom left"],
                                  ["4", "best: bottom right"]]  # fmt: skip
    assert re.search(r'<button[^>]*id="mode"[^>]*>best of four \(F\)</button>', page)
    assert page.count('class="place-key"') == 4


def test_a_key_map_that_takes_the_mode_key_keeps_it(env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_KEY_MAP", json.dumps({"f": "skip", "3": "undo", "j": "a"}))
    from memethresher_api.main import create_app

    with TestClient(create_app(), base_url=BASE_URL) as client:
        page, config = rate_page(client)
    # "3" picks the third meme in best of four, so it is not also undo there; F stays skip.
    assert config["four"]["hint"] == "1 / 2 / 3 / 4 best of the four · F skip"
    assert config["four"]["mode_key"] is None
    assert re.search(r'<button[^>]*id="mode"[^>]*>best of four</button>', page)


@pytest.mark.postgres
def test_two_saves_of_one_answer_arriving_together_store_it_once(pg_env) -> None:  # type: ignore[no-untyped-def]
    import threading

    from memethresher_api.best_of_four import store_best_of_four
    from memethresher_api.schemas import BestOfFourIn
    from memethresher_shared.db import get_engine

    ids = add_memes(4)
    _, (first_pair, second_pair) = add_batch(add_model(), [(ids[0], ids[1]), (ids[2], ids[3])])
    body = BestOfFourIn.model_validate(answer([(ids[0], ids[1], first_pair), (ids[2], ids[3], second_pair)], ids[1]))
    # A second tab, its pairs the other way round.
    other = BestOfFourIn.model_validate(answer([(ids[2], ids[3], second_pair), (ids[0], ids[1], first_pair)], ids[2]))
    second: list[list[tuple[int, bool]]] = []

    def save_again() -> None:
        with get_engine().begin() as connection:  # waits for the first save's transaction to end
            second.append([(rating.id, new) for rating, new in store_best_of_four(connection, other)])

    with get_engine().begin() as connection:
        first = store_best_of_four(connection, body)
        racer = threading.Thread(target=save_again)
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # held back by the first save's claims on the pairs
    racer.join(10)
    assert second == [[(rating.id, False) for rating, _ in first]]
    assert [(a, b) for a, b, *_ in stored_ratings()] == [(ids[1], ids[0]), (ids[1], ids[2]), (ids[1], ids[3])]
    assert (pair_status(first_pair), pair_status(second_pair)) == ("rated", "rated")


def test_the_history_lists_best_of_four_answers_by_their_origin(any_client: TestClient) -> None:
    add_memes(8)
    shown = two_offered_pairs(any_client)
    stored = ratings_in(any_client.post("/api/ratings/four", json=answer(shown, best=shown[1][0])))
    (a, b, _), _ = two_offered_pairs(any_client)
    single = any_client.post("/api/ratings", json={"a": a, "b": b, "choice": "b"}).json()["id"]

    def listed(origin: str) -> list[int]:
        response = any_client.get("/api/ratings", params={"origin": origin})
        assert response.status_code == 200, response.text
        return sorted(row["id"] for row in response.json()["ratings"])

    assert listed("four") == sorted(rating_id for rating_id, *_ in stored)
    assert listed("random") == [single]
